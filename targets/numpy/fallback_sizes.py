"""What an onnx.reference fallback node will produce, checked against the run's memory budget first.

The evaluator allocates its outputs itself, outside :meth:`OpContext.out`. Before it runs, ONNX
shape inference over the node's one-node model, with the run's concrete input shapes (and the
values of small integer inputs, which give shapes as data: Col2Im's ``image_shape``, Expand's
``shape``), predicts each output's shape; an output whose size is then known and over the budget,
alone or with the values of run-time size still alive, is a PlanError naming the node before
anything is evaluated. Outputs shape inference cannot size are left to the evaluator.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["OutputSizes"]

#: integer inputs up to this many elements are passed to shape inference as values
_SMALL_INT = 64
#: input signatures remembered per node
_CACHE = 16
#: outputs up to this many bytes are not checked (as :meth:`OpContext.out`)
_CHECKED = 1 << 20


class OutputSizes:
    """Predicts (and checks) the outputs of one fallback node's model from its runtime inputs."""

    def __init__(self, model: onnx.ModelProto, input_names: Sequence[str], output_names: dict[str, str]) -> None:
        self.model = model
        self.input_names = list(input_names)
        #: the model's output name -> the graph value it stands for (named in errors)
        self.output_names = dict(output_names)
        self._known: OrderedDict[Any, list[tuple[str, tuple[int, ...], int] | None]] = OrderedDict()

    def check(self, node: str, op_type: str, args: Sequence[Any]) -> None:
        """PlanError when a predicted output is over the run's memory budget (with the live values)."""
        from graphc.limits import current_budget

        for size in self._predict(args):
            if size is not None and size[2] > _CHECKED:
                current_budget().check_allocation(node, op_type, size[1], size[2],
                                                  what=f"output {self.output_names.get(size[0], size[0])!r} "
                                                  "(predicted before the onnx.reference fallback runs)")

    def _predict(self, args: Sequence[Any]) -> list[tuple[str, tuple[int, ...], int] | None]:
        key = tuple(_signature(a) for a in args)
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        sizes = self._infer(args)
        self._known[key] = sizes
        while len(self._known) > _CACHE:
            self._known.popitem(last=False)
        return sizes

    def _infer(self, args: Sequence[Any]) -> list[tuple[str, tuple[int, ...], int] | None]:
        """(output name, shape, bytes) per output of the node, None where inference cannot tell."""
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        graph = model.graph
        given = dict(zip(self.input_names, args))
        for vi in graph.input:
            a = given.get(vi.name)
            if not isinstance(a, np.ndarray) or not vi.type.HasField("tensor_type"):
                continue
            if a.dtype.kind in "iu" and a.size <= _SMALL_INT:
                graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(a), vi.name))
            dims = vi.type.tensor_type.shape
            dims.Clear()
            for d in a.shape:
                dims.dim.add().dim_value = int(d)
        try:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        except Exception:  # noqa: BLE001 - inference refusing the node: the evaluator will say why
            return []
        return [_size(vi) for vi in inferred.graph.output]


def _signature(a: Any) -> Any:
    if not isinstance(a, np.ndarray):
        return type(a).__name__
    if a.dtype.kind in "iu" and a.size <= _SMALL_INT:
        return (a.shape, a.dtype.str, a.tobytes())
    return (a.shape, a.dtype.str)


def _size(vi: onnx.ValueInfoProto) -> tuple[str, tuple[int, ...], int] | None:
    """(name, shape, bytes) of a fully inferred tensor output, else None."""
    t = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if t is None or not t.elem_type or not t.HasField("shape"):
        return None
    if any(not d.HasField("dim_value") or d.dim_value < 0 for d in t.shape.dim):
        return None
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).itemsize
    except (KeyError, ValueError, TypeError):
        return None
    shape = tuple(int(d.dim_value) for d in t.shape.dim)
    return vi.name, shape, math.prod(shape) * itemsize
