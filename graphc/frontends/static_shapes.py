"""Static shapes of values while a frontend builds its graph, without typing the graph.

A frontend that can fold a result when shapes are known at import (Caffe's PriorBox) asks
:func:`static_shape`: ONNX shape inference runs over the value's ancestors with the types
kept in a local table, so the graph being built is left as it is (``infer-shapes`` types it
later, after any change to its inputs).
"""

from __future__ import annotations

import logging

import onnx
from onnx import helper, numpy_helper

from ..domains import is_onnx_domain
from ..ir import Op, TensorType, Value
from .types import type_from_proto, type_to_proto

__all__ = ["static_shape"]
logger = logging.getLogger("graphc.frontends")

_DATA_LIMIT = 4096  # constants up to this many elements are shown to inference (Reshape shapes...)


def static_shape(v: Value) -> tuple[int, ...] | None:
    """``v``'s shape when ONNX shape inference fixes every dimension from the graph's inputs and
    constants, else None (a dynamic dimension, an op of another domain, an inference failure)."""
    known: dict[int, TensorType] = {}
    for op in _ancestors(v):
        types = _infer(op, known)
        for out, t in zip(op.outputs, types or []):
            if t is not None:
                known[id(out)] = t
    t = known.get(id(v), v.type)
    return t.static_shape if t.is_static and all(d >= 0 for d in t.static_shape) else None


def _ancestors(v: Value) -> list[Op]:
    """The ops ``v`` depends on, producers first."""
    seen: dict[int, Op] = {}
    stack = [v]
    while stack:
        op = stack.pop().producer()
        if op is None or id(op) in seen:
            continue
        seen[id(op)] = op
        stack.extend(x for x in op.inputs if x is not None)
    if not seen:
        return []
    assert v.graph is not None  # a value with a producer is in its graph
    return [op for op in v.graph.topological_order() if id(op) in seen]


def _infer(op: Op, known: dict[int, TensorType]) -> list[TensorType | None] | None:
    from ..exporters.onnx import node_proto  # the exporter imports the frontends

    if not is_onnx_domain(op.domain):
        return None
    try:
        schema = onnx.defs.get_schema(op.op_type, op.opset, op.domain)
    except Exception:  # noqa: BLE001 - no schema: unknown
        return None
    types: dict[str, onnx.TypeProto] = {}
    data: dict[str, onnx.TensorProto] = {}
    for x in op.inputs:
        if x is None:
            continue
        t = known.get(id(x), x.type)
        if t.dtype is None:
            return None
        types[x.name] = type_to_proto(t)
        if x.const is not None and x.const.size <= _DATA_LIMIT and x.const.dtype != object:
            data[x.name] = numpy_helper.from_array(x.const, x.name)
    assert op.graph is not None  # an ancestor op is in the graph
    root = op.graph.root
    opsets = [helper.make_opsetid(d, n) for d, n in (root.model.opset_imports.items() if root.model else [("", 17)])]
    try:
        out = onnx.shape_inference.infer_node_outputs(schema, node_proto(op, onnx.GraphProto()), types, data, None,
                                                      opsets, root.model.ir_version if root.model else 8)
    except Exception as e:  # noqa: BLE001 - inference failed: the shape is not known at import
        logger.debug("import-time shape inference failed for %s (%s): %s", op.name, op.op_type, e)
        return None
    return [type_from_proto(out[x.name]) if x.name in out else None for x in op.outputs]
