"""Evaluate one op on concrete arrays with onnx.reference (constant folding's default)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx import helper

from .ir import Op

__all__ = ["reference_evaluate", "single_op_model"]


def single_op_model(op: Op, inputs: Sequence[Any]) -> onnx.ModelProto:
    """A one-node ONNX model computing ``op`` on inputs named in0, in1, ... ."""
    from .exporters.onnx import attribute_proto  # one encoder for attributes

    names = [f"in{i}" if x is not None else "" for i, x in enumerate(inputs)]
    outs = [f"out{i}" for i in range(len(op.outputs))]
    node = helper.make_node(op.op_type, names, outs, domain=op.domain)
    node.attribute.extend(attribute_proto(op, k, v) for k, v in op.attrs.items())
    graph = helper.make_graph(
        [node], "single",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(np.asarray(x).dtype) if np.asarray(x).dtype != object else onnx.TensorProto.STRING, None)
         for n, x in zip(names, inputs) if n],
        [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in outs],
    )
    opsets = [helper.make_opsetid(op.domain, op.opset)]
    if op.domain:
        opsets.append(helper.make_opsetid("", op.graph.opset("") if op.graph else 21))
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


def reference_evaluate(op: Op, inputs: Sequence[Any]) -> list[Any]:
    """Run ``op`` on ``inputs`` (None for omitted ones) through onnx.reference."""
    from onnx.reference import ReferenceEvaluator

    model = single_op_model(op, inputs)
    feeds = {f"in{i}": x for i, x in enumerate(inputs) if x is not None}
    with np.errstate(all="ignore"):
        return list(ReferenceEvaluator(model).run(None, feeds))
