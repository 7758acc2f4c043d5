"""load_model / save_model: the public way in and out of the IR."""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from .errors import GraphcError, ModelFormatError
from .ir import Graph

__all__ = ["load_model", "save_model", "as_graph"]


def load_model(source: str | os.PathLike | bytes | onnx.ModelProto | Graph) -> Graph:
    """Load a model into a Graph (ONNX now; the format is chosen by suffix)."""
    if isinstance(source, Graph):
        return source
    if isinstance(source, (str, os.PathLike)):
        suffix = Path(source).suffix.lower()
        if suffix in (".pbtxt", ".pb", ".prototxt", ".caffemodel", ".keras", ".json", ".h5"):
            raise ModelFormatError(f"{source}: {suffix} models are not supported yet; convert to ONNX first")
    from .frontends.onnx import load_onnx

    return load_onnx(source)


def as_graph(model: str | os.PathLike | bytes | onnx.ModelProto | Graph) -> Graph:
    """A Graph the caller may mutate: a copy when a Graph was given."""
    return model.copy() if isinstance(model, Graph) else load_model(model)


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
