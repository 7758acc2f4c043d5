"""fold-constants inside If branches and Loop bodies, checked against onnxruntime."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import graphc
from tests.oracle import ort_run


def _branch(name: str, pad: int) -> object:
    """x padded on the right by ``pad``, the pads computed from constants (as a torch export computes them)."""
    zeros = helper.make_node("ConstantOfShape", [f"{name}_n"], [f"{name}_z"],
                             value=numpy_helper.from_array(np.array([0], np.int64)))
    concat = helper.make_node("Concat", [f"{name}_z", f"{name}_p"], [f"{name}_pads64"], axis=0)
    cast = helper.make_node("Cast", [f"{name}_pads64"], [f"{name}_pads"], to=TensorProto.INT64)
    pad_op = helper.make_node("Pad", ["x", f"{name}_pads"], [f"{name}_y"], mode="reflect")
    return helper.make_graph(
        [zeros, concat, cast, pad_op], name, [],
        [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array([3], np.int64), f"{name}_n"),
         numpy_helper.from_array(np.array([pad], np.int64), f"{name}_p")])


def _model():
    node = helper.make_node("If", ["c"], ["y"], then_branch=_branch("t", 2), else_branch=_branch("e", 1))
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_constant_chains_in_if_branches_fold_and_match_onnxruntime():
    model = _model()
    art = graphc.compile(model, "numpy")
    (if_step,) = art.program.steps
    for attr in ("then_branch", "else_branch"):
        ops = [s.op.op_type for s in if_step.subprograms[attr][0].steps]
        assert ops == ["Pad"], f"{attr} still runs {ops}"
    x = np.arange(6, dtype=np.float32).reshape(1, 6)
    for cond in (True, False):
        feeds = {"c": np.array(cond), "x": x}
        np.testing.assert_array_equal(art.run(feeds)["y"], ort_run(model, feeds)["y"])


def test_loop_body_constant_folds_and_the_carried_value_matches_onnxruntime():
    # body: acc + (two * three) where two and three are outer/inner constants; acc is carried
    body = helper.make_graph(
        [helper.make_node("Mul", ["two", "three"], ["six"]),
         helper.make_node("Add", ["acc", "six"], ["acc_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.array(3.0, np.float32), "three")])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["m", "", "a0"], ["a"], body=body)], "g",
        [helper.make_tensor_value_info("m", TensorProto.INT64, []),
         helper.make_tensor_value_info("a0", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    art = graphc.compile(model, "numpy")
    (loop_step,) = art.program.steps
    assert [s.op.op_type for s in loop_step.subprograms["body"][0].steps] == ["Add", "Identity"]
    feeds = {"m": np.array(4, np.int64), "a0": np.array([1.0, -1.0], np.float32)}
    np.testing.assert_array_equal(art.run(feeds)["a"], ort_run(model, feeds)["a"])
