"""load_model / save_model: the public way in and out of the IR."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import onnx

from .errors import GraphcError, ModelFormatError
from .formats import Detected, detect_format
from .ir import Graph

__all__ = ["load_model", "save_model", "as_graph", "source_format"]
logger = logging.getLogger(__name__)


def source_format(source: str | os.PathLike | bytes | onnx.ModelProto | Graph) -> Detected:
    """The format ``load_model`` reads ``source`` as (:func:`graphc.formats.detect_format` for a path)."""
    if isinstance(source, (str, os.PathLike)):
        return detect_format(source)
    return Detected("onnx", False, f"a {type(source).__name__} is read as ONNX", sniffed=False)


def load_model(source: str | os.PathLike | bytes | onnx.ModelProto | Graph, *, layers: Any = None,
               **options: Any) -> Graph:
    """Load a model into a Graph; the format comes from a path's suffix, or its content when
    the suffix is not one graphc knows (:func:`graphc.formats.detect_format`).

    ONNX (``.onnx``, bytes, a ModelProto). TensorFlow GraphDef (``.pbtxt`` text, ``.pb``
    binary; ``outputs=[...]`` optional). Caffe: a prototxt (``weights=`` a ``.caffemodel``, or
    the one beside it) or a ``.caffemodel``. Keras: a ``.keras`` archive or a ``to_json()`` config
    (``weights=`` a ``.weights.h5`` for a bare config). ``layers`` (a LayerRegistry) lets registered
    layers take framework ops and checks custom Keras layers' saved params.
    """
    if isinstance(source, Graph):
        return source
    detected = source_format(source)
    if detected.sniffed:
        logger.info("%s: read as %s", source, detected.describe())
    fmt = detected.format
    if fmt == "tensorflow":
        from .frontends.tensorflow import load_tensorflow

        return load_tensorflow(source, text=detected.text, layers=layers, **options)
    if fmt == "caffe":
        from .frontends.caffe import load_caffe

        return load_caffe(source, binary=not detected.text, layers=layers, **options)
    if fmt == "keras":
        from .frontends.keras import load_keras

        assert isinstance(source, (str, os.PathLike))  # source_format reads anything but a path as ONNX
        return load_keras(source, layers=layers, **options)
    if fmt == "keras-h5":
        from .frontends.keras import load_keras_h5

        assert isinstance(source, (str, os.PathLike))  # source_format reads anything but a path as ONNX
        return load_keras_h5(source, layers=layers, **options)
    if fmt == "graphc-artifact":
        assert isinstance(source, (str, os.PathLike))  # source_format reads anything but a path as ONNX
        raise ModelFormatError(f"{source}: a compiled graphc artifact ({detected.describe()}), not a model: "
                               f"run it with graphc.load() / `graphc run`")
    if options:
        raise GraphcError(f"load_model: options {sorted(options)} apply to framework models only, not ONNX")
    from .frontends.onnx import load_onnx

    if fmt == "unknown":
        try:
            return load_onnx(source)
        except ModelFormatError as e:
            raise ModelFormatError(f"{e} (the format was not recognized: {detected.how}; graphc reads ONNX, "
                                   f"TensorFlow GraphDef, Caffe and Keras models)") from e
    return load_onnx(source)


def as_graph(model: str | os.PathLike | bytes | onnx.ModelProto | Graph, *, layers: Any = None,
             **options: Any) -> Graph:
    """A Graph the caller may mutate: a copy when a Graph was given (``options``, the loader's, then
    make no sense: an error)."""
    if isinstance(model, Graph):
        if options:
            raise GraphcError(f"options {sorted(options)} apply when loading a model file, not to a Graph")
        return model.copy()
    return load_model(model, layers=layers, **options)


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
