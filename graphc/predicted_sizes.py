"""Sizes of a model's values predicted from a run's feeds before anything runs.

ONNX shape inference over the model, with the run's concrete input shapes (and the values of small
integer inputs, which give shapes as data: Expand's ``shape``, Col2Im's ``image_shape``), gives
each value it can type a shape; :func:`infer_sizes` returns the bytes of those fully known. The
memory checks of the numpy target's onnx.reference fallback and of the ort target use it to refuse
a run whose values would be over the budget before they are allocated. Values inference cannot
size (a custom op's outputs and what depends on them) are left out.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["infer_sizes", "SizeCache", "feed_signature"]

#: integer inputs up to this many elements are given to shape inference as values
SMALL_INT = 64


def feed_signature(feeds: Mapping[str, Any]) -> Any:
    """A hashable key of what inference sees in ``feeds``: shapes, dtypes, small integer values."""
    return tuple(sorted((name, _signature(a)) for name, a in feeds.items()))


def _signature(a: Any) -> Any:
    if not isinstance(a, np.ndarray):
        return type(a).__name__
    if a.dtype.kind in "iu" and a.size <= SMALL_INT:
        return (a.shape, a.dtype.str, a.tobytes())
    return (a.shape, a.dtype.str)


def infer_sizes(model: onnx.ModelProto, feeds: Mapping[str, Any]) -> dict[str, tuple[tuple[int, ...], int]]:
    """value name -> (shape, bytes) for every value of ``model``'s main graph (inputs excluded) whose
    type and shape inference fixes with ``feeds``; empty when inference refuses the model."""
    model_copy = onnx.ModelProto()
    model_copy.CopyFrom(model)
    graph = model_copy.graph
    for vi in graph.input:
        a = feeds.get(vi.name)
        if not isinstance(a, np.ndarray) or vi.type.WhichOneof("value") not in (None, "tensor_type"):
            continue
        if not vi.type.tensor_type.elem_type:  # an untyped input: the feed's dtype
            try:
                vi.type.tensor_type.elem_type = onnx.helper.np_dtype_to_tensor_dtype(a.dtype)
            except (KeyError, ValueError, TypeError):
                continue
        if a.dtype.kind in "iu" and a.size <= SMALL_INT and not any(t.name == vi.name for t in graph.initializer):
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(a), vi.name))
        dims = vi.type.tensor_type.shape
        dims.Clear()
        for d in a.shape:
            dims.dim.add().dim_value = int(d)
    del graph.value_info[:]  # the compile's symbolic shapes: inference recomputes them from the feeds
    try:
        inferred = onnx.shape_inference.infer_shapes(model_copy, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - inference refusing the model: the run will say why
        return {}
    inputs = {vi.name for vi in graph.input}
    sizes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        size = _size(vi)
        if size is not None and vi.name not in inputs:
            sizes[vi.name] = size
    return sizes


def _size(vi: onnx.ValueInfoProto) -> tuple[tuple[int, ...], int] | None:
    """(shape, bytes) of a fully inferred tensor, else None."""
    t = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if t is None or not t.elem_type or not t.HasField("shape"):
        return None
    if any(not d.HasField("dim_value") or d.dim_value < 0 for d in t.shape.dim):
        return None
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
    except (KeyError, ValueError, TypeError):
        return None
    if dtype == object:
        return None
    shape = tuple(int(d.dim_value) for d in t.shape.dim)
    return shape, math.prod(shape) * dtype.itemsize


class SizeCache:
    """:func:`infer_sizes` of one model, remembered for the last ``size`` feed signatures."""

    def __init__(self, model: onnx.ModelProto, size: int = 16) -> None:
        self.model = model
        self.size = size
        self._known: OrderedDict[Any, dict[str, tuple[tuple[int, ...], int]]] = OrderedDict()

    def sizes(self, feeds: Mapping[str, Any]) -> dict[str, tuple[tuple[int, ...], int]]:
        """The predicted sizes for ``feeds``."""
        key = feed_signature(feeds)
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        sizes = self._known[key] = infer_sizes(self.model, feeds)
        while len(self._known) > self.size:
            self._known.popitem(last=False)
        return sizes
