"""Squeeze/Unsqueeze with constant axes on inputs of run-time shape: the node remembers the output shape per
input shape (kernels/shape_ops.py), so later calls are one reshape; results must stay numpy's."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import shape_ops


def _model():
    """y = Squeeze(Unsqueeze(x, [0, 3]), [0]) over x of shape (n, m): y is x with a unit axis at position 2."""
    axes_u = numpy_helper.from_array(np.array([0, 3], np.int64), "au")
    axes_s = numpy_helper.from_array(np.array([0], np.int64), "as")
    nodes = [helper.make_node("Unsqueeze", ["x", "au"], ["u"]), helper.make_node("Squeeze", ["u", "as"], ["y"])]
    g = helper.make_graph(nodes, "memo", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "m"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [axes_u, axes_s])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_run_time_shapes_are_remembered_and_stay_correct():
    art = graphc.compile(_model(), "numpy", fallback=False)
    rng = np.random.default_rng(0)
    shapes = [(2, 3), (5, 1), (2, 3)] + [(k, 4) for k in range(1, shape_ops.RESHAPE_MEMO_SIZE + 3)]
    for shape in shapes:
        x = rng.standard_normal(shape).astype(np.float32)
        y = art.run({"x": x})["y"]
        assert y.shape == (shape[0], shape[1], 1)
        np.testing.assert_array_equal(y[:, :, 0], x)
    memos = [s.state for s in art.program.steps if s.op.op_type in ("Squeeze", "Unsqueeze")]
    assert len(memos) == 2
    for memo in memos:
        assert isinstance(memo, dict) and len(memo) == shape_ops.RESHAPE_MEMO_SIZE
    assert memos[0][(2, 3)] == (1, 2, 3, 1)


def test_axes_fed_at_run_time_are_not_memoized():
    node = helper.make_node("Unsqueeze", ["x", "axes"], ["y"])
    g = helper.make_graph([node], "fed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                                          helper.make_tensor_value_info("axes", TensorProto.INT64, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    art = graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "numpy", fallback=False)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert art.run({"x": x, "axes": np.array([0], np.int64)})["y"].shape == (1, 2, 3)
    assert art.run({"x": x, "axes": np.array([2], np.int64)})["y"].shape == (2, 3, 1)
