"""Shared machinery of the framework frontends (TensorFlow, Caffe, Keras).

:class:`GraphBuilder` wraps a fresh :class:`~graphc.ir.Graph` whose model imports the
ONNX opset the frontends emit (``ONNX_OPSET``) and one framework domain at version 1.
It adds ops and constants, folds layout transposes of constants at import time, and
remembers the NCHW twin of every NHWC value it produced by a transpose so that a chain
of NCHW-only ops (Conv, MaxPool, ...) in an NHWC graph does not bounce through
transposes between every pair of ops.

:func:`encodable_attrs` turns a framework's parameter dict into attributes ONNX can
carry, so a framework-domain node exports without losing anything.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
from onnx import AttributeProto

from ..errors import ModelFormatError
from ..ir import Graph, ModelInfo, TensorType, Value

__all__ = ["GraphBuilder", "encodable_attrs", "ONNX_OPSET", "NHWC_TO_NCHW", "NCHW_TO_NHWC", "check_param_coverage",
           "OVERRIDDEN_MAPPING", "mark_overridden"]

#: the ONNX opset every frontend emits (ReduceMean axes as an attribute, Split equal parts)
ONNX_OPSET = 17
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)
#: Op.metadata key on a framework node that a registered layer took from graphc's built-in mapping
#: (value: what the mapping was, e.g. "Caffe Crop"); ``legalize`` reports it as an override
OVERRIDDEN_MAPPING = "graphc.overrides_mapping"


def mark_overridden(outputs: Sequence[Value], what: str) -> None:
    """Record on the op producing ``outputs`` that a registered layer replaces graphc's mapping of ``what``."""
    op = outputs[0].producer() if outputs else None
    if op is not None:
        op.metadata[OVERRIDDEN_MAPPING] = what


def encodable_attrs(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """Attributes ONNX can carry for ``params``, and the kinds of the ambiguous ones.

    Scalars, strings, arrays and flat homogeneous lists are kept as they are (bools
    stay Python bools; ONNX stores them as ints). An empty list is kept with an
    explicit kind (FLOATS). ``None`` means "not set" and is left out. Anything else
    (dicts, nested or mixed lists) is kept as its JSON text, so nothing is dropped.
    """
    attrs: dict[str, Any] = {}
    kinds: dict[str, int] = {}
    for key, val in params.items():
        if val is None:
            continue
        if isinstance(val, tuple):
            val = list(val)
        if isinstance(val, (bool, int, float, str, np.ndarray)):
            attrs[key] = val
        elif isinstance(val, bytes):
            attrs[key] = val.decode("utf-8", errors="replace")
        elif isinstance(val, list) and not val:
            attrs[key] = []
            kinds[key] = AttributeProto.FLOATS
        elif isinstance(val, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in val):
            attrs[key] = [float(x) for x in val] if any(isinstance(x, float) for x in val) else list(val)
        elif isinstance(val, list) and all(isinstance(x, bool) for x in val):
            attrs[key] = [int(x) for x in val]
        elif isinstance(val, list) and all(isinstance(x, str) for x in val):
            attrs[key] = list(val)
        else:
            attrs[key] = json.dumps(val, default=_json_default, sort_keys=True)
    return attrs, kinds


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    raise TypeError(f"{type(obj).__name__} is not JSON data")


def check_param_coverage(layers: Any, domain: str, op_type: str, node: str, params: dict[str, Any],
                         hint: str) -> None:
    """Refuse a framework node whose registered layer declares params it does not carry.

    ``layers`` is a LayerRegistry or None (no check). ``hint`` says how to fix the
    saved model (e.g. "override get_config in the Keras layer ...").
    """
    if layers is None:
        return
    entry = layers.lookup(domain, op_type, 1)
    if entry is None:
        return
    missing = [k for k in entry.cls.declared_params() if k not in params]
    if missing:
        raise ModelFormatError(
            f"node {node!r} ({domain}::{op_type}): the registered layer {entry.display_name} declares "
            f"params {missing} that the saved model does not carry (it has {sorted(params) or 'none'}); "
            f"{hint}"
        )


class GraphBuilder:
    """Builds a frontend's Graph: ONNX ops, framework-domain ops, constants, layouts."""

    def __init__(self, name: str, domain: str, producer: str,
                 input_shapes: dict[str, Sequence[int | str | None]] | None = None):
        self.domain = domain
        self.graph = Graph(name or "main", model=ModelInfo(
            ir_version=8, opset_imports={"": ONNX_OPSET, domain: 1}, producer_name=producer))
        #: NHWC value -> the NCHW value it is a transpose of (and back)
        self._twins: dict[tuple[int, tuple[int, ...]], Value] = {}
        #: the caller's input shapes, overriding what the model file declares (None: a free dim)
        self.input_shapes = {k: list(v) for k, v in (input_shapes or {}).items()}

    # ------------------------------------------------------------------ values
    def input(self, name: str, dtype: Any, shape: Sequence[int | str | None] | None) -> Value:
        """A graph input; its shape is the caller's ``input_shapes[name]`` when given (OpenCV lets an SSD
        face detector take any image size: ``data=1,3,?,?``), else the model's."""
        shape = self.input_shapes.get(name, shape)
        return self.graph.add_input(name, TensorType(np.dtype(dtype), None if shape is None else tuple(shape)),
                                    exact=True)

    def const(self, array: Any, name: str | None = None, dtype: Any = None) -> Value:
        arr = np.asarray(array, dtype=dtype)
        return self.graph.add_constant(arr, name or "const")

    def ints(self, values: Sequence[int] | np.ndarray, name: str = "ints") -> Value:
        return self.const(np.asarray(list(values), dtype=np.int64), name)

    # --------------------------------------------------------------------- ops
    def op(self, op_type: str, inputs: Sequence[Value | None], attrs: dict[str, Any] | None = None, *,
           name: str | None = None, outputs: int | Sequence[str] = 1, domain: str = "",
           attr_kinds: dict[str, int] | None = None) -> list[Value]:
        """Add an op; returns its output values."""
        op = self.graph.add_op(op_type, list(inputs), outputs=outputs, attrs=attrs or {}, domain=domain,
                               name=name, attr_kinds=attr_kinds)
        return list(op.outputs)

    def op1(self, op_type: str, inputs: Sequence[Value | None], attrs: dict[str, Any] | None = None, *,
            name: str | None = None, out: str | None = None) -> Value:
        """Add a single-output op (named output ``out`` if given and free)."""
        outs: int | list[str] = 1
        if out is not None:
            outs = [self.graph.unique_name(out)]
        return self.op(op_type, inputs, attrs, name=name, outputs=outs)[0]

    def custom(self, op_type: str, inputs: Sequence[Value | None], params: dict[str, Any], *,
               name: str, outputs: int | Sequence[str] = 1) -> list[Value]:
        """A node in the framework's domain carrying every parameter as an attribute."""
        attrs, kinds = encodable_attrs(params)
        if not isinstance(outputs, int):
            outputs = [self.graph.unique_name(o) for o in outputs]
        return self.op(op_type, inputs, attrs, name=name, outputs=outputs, domain=self.domain, attr_kinds=kinds)

    def transpose(self, v: Value, perm: Sequence[int], name: str | None = None) -> Value:
        """``v`` transposed by ``perm``: folded for constants, cancelled against a twin."""
        perm = tuple(int(p) for p in perm)
        if v.const is not None:
            return self.const(np.ascontiguousarray(np.transpose(v.const, perm)), f"{v.name}_t")
        twin = self._twins.get((id(v), perm))
        if twin is not None:
            return twin
        out = self.op1("Transpose", [v], {"perm": list(perm)}, name=name or f"{v.name}_transpose")
        inverse = tuple(int(i) for i in np.argsort(perm))
        self._twins[(id(out), inverse)] = v
        return out

    def to_nchw(self, v: Value) -> Value:
        return self.transpose(v, NHWC_TO_NCHW)

    def to_nhwc(self, v: Value) -> Value:
        return self.transpose(v, NCHW_TO_NHWC)

    def name_output(self, v: Value, name: str) -> None:
        """Give an op's output the framework's tensor name when it is free."""
        if v.const is None and not self.graph.is_input(v) and v.name != name and name not in self.graph.values:
            self.graph.rename_value(v, name)

    def finish(self, outputs: Sequence[Value]) -> Graph:
        """Set the graph outputs and return the graph (checked by ``verify``)."""
        unknown = sorted(set(self.input_shapes) - {v.name for v in self.graph.inputs})
        if unknown:
            raise ModelFormatError(f"input shape given for {', '.join(map(repr, unknown))}, which the model has no "
                                   f"input named; its inputs: {', '.join(v.name for v in self.graph.inputs)}")
        seen: set[int] = set()
        for v in outputs:
            if id(v) in seen:
                continue
            seen.add(id(v))
            self.graph.add_output(v)
        self.graph.verify()
        return self.graph
