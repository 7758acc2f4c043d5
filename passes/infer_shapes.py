"""infer-shapes: per-node ONNX type and shape inference, plus custom layers' output_shapes."""

from __future__ import annotations

import logging

import onnx
from onnx import helper, numpy_helper

from graphc.errors import ShapeInferenceError
from graphc.exporters.onnx import node_proto
from graphc.frontends.types import type_from_proto, type_to_proto
from graphc.ir import Dim, Graph, Op, TensorType, Value
from graphc.passinfra import PassContext, PassResult, graph_pass

__all__ = ["infer_shapes", "merge_types"]
logger = logging.getLogger(__name__)

_DATA_LIMIT = 4096  # constants up to this many elements are shown to inference (Reshape shapes...)


@graph_pass("infer-shapes", "type every value: ONNX per-node inference, layers' output_shapes",
            establishes=("shapes-known",))
def infer_shapes(graph: Graph, ctx: PassContext) -> PassResult:
    """For each op in topological order (recursing into subgraphs):

    1. a custom-layer op (``op.layer`` bound by legalize): the layer's ``output_shapes``;
    2. a standard op: ``onnx.shape_inference.infer_node_outputs`` with small constant
       inputs passed as data, so Reshape/Expand/Slice shapes resolve;
    3. the result is merged with what the value already declared: a dimension ONNX
       leaves unknown keeps its known value or symbol; two different integers are a
       conflict, raised as ShapeInferenceError naming the node.
    Ops ONNX has no schema for (unregistered domains) keep their declared types.
    """
    result = PassResult()
    _infer(graph, ctx, result)
    return result


def _infer(graph: Graph, ctx: PassContext, result: PassResult) -> None:
    root = graph.root
    opsets = [helper.make_opsetid(d, v) for d, v in (root.model.opset_imports.items() if root.model else [("", 21)])]
    ir_version = root.model.ir_version if root.model else 10
    protos: dict[TensorType, onnx.TypeProto] = {}  # one TypeProto per distinct tensor type, built once
    for op in graph.walk("post"):  # a subgraph's ops before the op holding it
        ctx.focus(op)
        inferred = _layer_types(op) if op.layer is not None else _onnx_types(op, opsets, ir_version, protos)
        if inferred is None:
            result.count("untyped")
            continue
        for v, t in zip(op.outputs, inferred):
            if t is None:
                continue
            merged = merge_types(v.type, t, op, v)
            if merged != v.type:
                v.type = merged
                result.count("typed")


def _layer_types(op: Op) -> list[TensorType | None] | None:
    from graphc.layers.shapes import layer_output_types

    return layer_output_types(op)


def _onnx_types(op: Op, opsets, ir_version: int,
                protos: dict[TensorType, onnx.TypeProto] | None = None) -> list[TensorType | None] | None:
    try:
        schema = onnx.defs.get_schema(op.op_type, op.opset, op.domain)
    except Exception:  # noqa: BLE001 - no schema: leave declared types
        return None
    input_types: dict[str, onnx.TypeProto] = {}
    input_data: dict[str, onnx.TensorProto] = {}
    for v in op.inputs:
        if v is None:
            continue
        if v.type.kind == "tensor" and v.type.dtype is None:
            return None  # ONNX inference needs every input's element type
        input_types[v.name] = _type_proto(v.type, protos)
        if v.const is not None and v.const.size <= _DATA_LIMIT and v.const.dtype != object:
            input_data[v.name] = numpy_helper.from_array(v.const, v.name)
    for name, outer in _captured_types(op).items():
        input_types.setdefault(name, outer)
    gp = onnx.GraphProto()
    node = node_proto(op, gp)
    for t in gp.initializer:  # blobs folded into the op become inputs again
        input_types[t.name] = helper.make_tensor_type_proto(t.data_type, list(t.dims))
        input_data[t.name] = t
    try:
        out = onnx.shape_inference.infer_node_outputs(schema, node, input_types, input_data, None, opsets, ir_version)
    except Exception as e:  # noqa: BLE001
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        if "Inferred" in msg or "mismatch" in msg.lower() or "incompatible" in msg.lower():
            raise ShapeInferenceError(f"node {op.name!r} ({op.op_type}): {msg}") from e
        logger.debug("shape inference failed for %s (%s): %s", op.name, op.op_type, msg)
        return None
    return [type_from_proto(out[v.name]) if v.name in out else None for v in op.outputs]


def _type_proto(t: TensorType, memo: dict[TensorType, onnx.TypeProto] | None) -> onnx.TypeProto:
    """``type_to_proto(t)``, built once per distinct tensor type when ``memo`` is given."""
    if memo is None or t.kind != "tensor" or not isinstance(t.shape, (tuple, type(None))):
        return type_to_proto(t)
    proto = memo.get(t)
    if proto is None:
        proto = memo[t] = type_to_proto(t)
    return proto


def predicted_output_types(op: Op) -> list[TensorType | None] | None:
    """What ONNX shape inference says ``op`` will produce (None: it cannot tell)."""
    assert op.graph is not None, f"op {op.name!r} is not in a graph"
    root = op.graph.root
    opsets = [helper.make_opsetid(d, v) for d, v in (root.model.opset_imports.items() if root.model else [("", 21)])]
    try:
        return _onnx_types(op, opsets, root.model.ir_version if root.model else 10)
    except ShapeInferenceError:
        return None


def _captured_types(op: Op) -> dict[str, onnx.TypeProto]:
    return {v.name: type_to_proto(v.type) for v in op.graph.captures(op) if v.type.dtype is not None} if op.graph else {}


def merge_types(old: TensorType, new: TensorType, op: Op, value: Value) -> TensorType:
    """Combine a declared type with an inferred one; raise on integer conflicts."""
    if new.kind != "tensor" or old.kind != "tensor":
        return new if new.kind != "tensor" else old
    dtype = new.dtype if new.dtype is not None else old.dtype
    if old.dtype is not None and new.dtype is not None and old.dtype != new.dtype:
        raise ShapeInferenceError(
            f"node {op.name!r} ({op.op_type}): output {value.name!r} is declared {old.dtype} but computes {new.dtype}"
        )
    if new.shape is None:
        return TensorType(dtype, old.shape)
    if old.shape is None:
        return TensorType(dtype, new.shape)
    if len(old.shape) != len(new.shape):
        raise ShapeInferenceError(
            f"node {op.name!r} ({op.op_type}): output {value.name!r} is declared rank {len(old.shape)} "
            f"{old.shape} but inference gives rank {len(new.shape)} {new.shape}"
        )
    return TensorType(dtype, tuple(_merge_dim(a, b, op, value) for a, b in zip(old.shape, new.shape)))


def _merge_dim(a: Dim, b: Dim, op: Op, value: Value) -> Dim:
    if isinstance(b, int) and isinstance(a, int) and a != b:
        raise ShapeInferenceError(
            f"node {op.name!r} ({op.op_type}): output {value.name!r} is declared with dimension {a} "
            f"but its inputs give {b}; check the model's value_info or the inputs' shapes"
        )
    if isinstance(b, int):
        return b
    if isinstance(a, int):
        return a
    return b if b not in (None, "") else a
