"""load_model / save_model: the public way in and out of the IR."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from .errors import GraphcError, ModelFormatError
from .ir import Graph

__all__ = ["load_model", "save_model", "as_graph", "FRAMEWORK_SUFFIXES"]

#: file suffix -> framework frontend (ONNX for anything else)
FRAMEWORK_SUFFIXES = {
    ".pbtxt": "tensorflow", ".pb": "tensorflow",
    ".prototxt": "caffe", ".caffemodel": "caffe",
    ".keras": "keras", ".json": "keras",
}


def load_model(source: str | os.PathLike | bytes | onnx.ModelProto | Graph, *, layers: Any = None,
               **options: Any) -> Graph:
    """Load a model into a Graph; a path's suffix chooses the format.

    ``.onnx`` (and bytes / ModelProto): ONNX. ``.pbtxt``/``.pb``: TensorFlow GraphDef
    (``outputs=[...]`` optional). ``.prototxt`` (``weights=`` a ``.caffemodel``, or the
    one beside it) and ``.caffemodel``: Caffe. ``.keras``/``.json``: Keras (``weights=``
    a ``.weights.h5`` for a bare config). ``layers`` (a LayerRegistry) lets registered
    layers take framework ops and checks custom Keras layers' saved params.
    """
    if isinstance(source, Graph):
        return source
    if isinstance(source, (str, os.PathLike)):
        suffix = Path(source).suffix.lower()
        framework = FRAMEWORK_SUFFIXES.get(suffix)
        if framework == "tensorflow":
            from .frontends.tensorflow import load_tensorflow

            return load_tensorflow(source, layers=layers, **options)
        if framework == "caffe":
            from .frontends.caffe import load_caffe

            return load_caffe(source, layers=layers, **options)
        if framework == "keras":
            from .frontends.keras import load_keras

            return load_keras(source, layers=layers, **options)
        if suffix == ".h5":
            raise ModelFormatError(f"{source}: legacy Keras .h5 models are not supported; "
                                   f"save the model as .keras (Keras 3) or export it to ONNX")
    if options:
        raise GraphcError(f"load_model: options {sorted(options)} apply to framework models only, not ONNX")
    from .frontends.onnx import load_onnx

    return load_onnx(source)


def as_graph(model: str | os.PathLike | bytes | onnx.ModelProto | Graph, *, layers: Any = None) -> Graph:
    """A Graph the caller may mutate: a copy when a Graph was given."""
    return model.copy() if isinstance(model, Graph) else load_model(model, layers=layers)


def save_model(graph: Graph, path: str | os.PathLike) -> None:
    """Write ``graph`` as an ONNX file, atomically (temporary file, then rename)."""
    from .atomic import atomic_write_bytes
    from .exporters.onnx import to_onnx

    model = to_onnx(graph)
    try:
        data = model.SerializeToString()
    except ValueError as e:  # > 2 GB
        raise GraphcError(f"cannot serialize the model: {e}") from e
    atomic_write_bytes(Path(path), data)
