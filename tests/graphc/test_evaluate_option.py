"""compile()'s ``evaluate=`` option: the evaluator fold-constants runs constant ops with
(``evaluate(op, inputs) -> outputs``; default onnx.reference)."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from graphc.compiler import PIPELINE_OPTIONS, run_pipeline

F = TensorProto.FLOAT
C1 = np.array([1.0, 2.0, 3.0], np.float32)
C2 = np.array([0.5, 4.0, -1.0], np.float32)


def _model():
    """y = x * (c1 + c2): the Add reads only constants."""
    nodes = [helper.make_node("Add", ["c1", "c2"], ["s"], name="add"),
             helper.make_node("Mul", ["x", "s"], ["y"], name="mul")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [3])],
                          [helper.make_tensor_value_info("y", F, [3])],
                          [numpy_helper.from_array(C1, "c1"), numpy_helper.from_array(C2, "c2")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _folded_factor(graph) -> np.ndarray:
    (mul,) = [op for op in graph.walk() if op.op_type == "Mul"]
    assert not [op for op in graph.walk() if op.op_type == "Add"]
    return np.asarray(mul.inputs[1].const)


def test_the_evaluate_option_folds_with_the_callers_evaluator():
    calls = []

    def subtract(op, inputs):  # deliberately not Add's meaning: only this evaluator can produce c1 - c2
        calls.append((op.op_type, op.name))
        return [inputs[0] - inputs[1]]

    assert "evaluate" in PIPELINE_OPTIONS
    graph, _, _ = run_pipeline(_model(), "numpy", passes="canonicalize,fold-constants",
                               options={"evaluate": subtract})
    assert calls == [("Add", "add")]
    np.testing.assert_array_equal(_folded_factor(graph), C1 - C2)


def test_without_the_option_onnx_reference_folds():
    graph, _, _ = run_pipeline(_model(), "numpy", passes="canonicalize,fold-constants")
    np.testing.assert_array_equal(_folded_factor(graph), C1 + C2)
