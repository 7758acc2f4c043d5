"""ONNX exporter: graphc Graph -> ModelProto.

Everything the frontend read comes back: names, doc strings, metadata_props, opset
imports, IR version, model-local functions, value_info for typed intermediates.
An op's blobs are constant inputs in their slots (``fold-blobs`` moves nothing), so
they are exported as the initializers they are and the model is plain ONNX.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..attributes import encode_attribute
from ..frontends.types import type_to_proto
from ..ir import Graph, ModelInfo, Op, TensorType, Value

__all__ = ["to_onnx", "graph_to_proto", "node_proto", "attribute_proto"]

_PRIVATE_META = "graphc."


def to_onnx(graph: Graph) -> onnx.ModelProto:
    """Export ``graph`` (a root graph) as a ModelProto."""
    info = graph.model or ModelInfo()
    opsets = dict(info.opset_imports)
    _collect_domains(graph, opsets)
    model = helper.make_model(
        graph_to_proto(graph),
        opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
        ir_version=info.ir_version,
        producer_name=info.producer_name,
        producer_version=info.producer_version,
        domain=info.domain,
        model_version=info.model_version,
        doc_string=info.doc_string,
    )
    for k, v in info.metadata_props.items():
        model.metadata_props.add(key=k, value=v)
    model.functions.extend(info.functions)
    model.training_info.extend(info.training_info)
    if info.configuration:
        model.configuration.extend(info.configuration)
    return model


def _collect_domains(graph: Graph, opsets: dict[str, int]) -> None:
    for op in graph.ops.values():
        opsets.setdefault(op.domain, 1)
        for _, sub in op.subgraphs():
            _collect_domains(sub, opsets)


def _value_info(v: Value, t: TensorType | None = None) -> onnx.ValueInfoProto:
    vi = onnx.ValueInfoProto(name=v.name)
    if v.doc_string:
        vi.doc_string = v.doc_string
    t = t or v.type
    if t.kind != "tensor" or t.dtype is not None or t.shape is not None:
        vi.type.CopyFrom(type_to_proto(t))
    for k, val in v.metadata.items():
        vi.metadata_props.add(key=k, value=val)
    return vi


def _tensor(v: Value) -> onnx.TensorProto:
    arr = v.const
    assert arr is not None
    if v.source_tensor is not None and v.source_tensor[0] is arr and v.source_tensor[1].name == v.name:
        return v.source_tensor[1]
    return numpy_helper.from_array(np.asarray(arr), v.name)


def graph_to_proto(graph: Graph) -> onnx.GraphProto:
    """Encode one graph (recursively its subgraphs)."""
    gp = onnx.GraphProto(name=graph.name)
    if graph.doc_string:
        gp.doc_string = graph.doc_string
    for k, val in graph.metadata.items():
        gp.metadata_props.add(key=k, value=val)
    io = {v.name for v in graph.inputs} | {v.name for v in graph.outputs}
    gp.input.extend(_value_info(v) for v in graph.inputs)
    gp.output.extend(_value_info(v) for v in graph.outputs)
    for v in graph.values.values():
        if v.const is not None:
            gp.initializer.append(_tensor(v))
    for op in graph.topological_order():
        gp.node.append(node_proto(op, gp))
    root = graph.root.model
    if graph.parent is None and root is not None and root.ir_version < 4:
        # IR < 4: every initializer is also a graph input (constants passes created included)
        declared = {vi.name for vi in gp.input}
        for t in gp.initializer:
            if t.name not in declared:
                gp.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    for v in graph.values.values():
        if v.const is None and v.name not in io and (v.type.dtype is not None or v.type.kind != "tensor"):
            if v.producer() is not None:
                gp.value_info.append(_value_info(v))
    return gp


def node_proto(op: Op, gp: onnx.GraphProto) -> onnx.NodeProto:
    """``op`` as an ONNX node (its blobs are constant inputs, exported as initializers by name)."""
    inputs = [v.name if v is not None else "" for v in op.inputs]
    omitted = {int(i) for i in op.metadata.get(f"{_PRIVATE_META}omitted_outputs", "").split(",") if i}
    outputs = ["" if i in omitted else v.name for i, v in enumerate(op.outputs)]
    node = onnx.NodeProto(op_type=op.op_type, input=inputs, output=outputs)
    for field, text in (("name", "" if op.anonymous else op.name), ("domain", op.domain), ("doc_string", op.doc_string)):
        if text:
            setattr(node, field, text)
    if op.overload:
        node.overload = op.overload
    for k, val in op.metadata.items():
        if not k.startswith(_PRIVATE_META):
            node.metadata_props.add(key=k, value=val)
    node.attribute.extend(attribute_proto(op, k, val) for k, val in op.attrs.items())
    return node


def attribute_proto(op: Op, name: str, value: Any) -> onnx.AttributeProto:
    """Attribute ``name`` of ``op`` as ONNX: the proto it was read from when unchanged, else encoded anew."""
    source = op.source_attrs.get(name)
    if source is not None and source[0] is value:
        return source[1]
    kind = op.attr_kinds.get(name)
    return encode_attribute(name, value, kind, encode_graph=graph_to_proto)
