"""NaN and Inf inputs on the numpy target against onnxruntime (issue 20, Low).

* Convolutions give onnxruntime's IEEE results on every prepared path; the Winograd path, whose
  input transform subtracts neighbouring pixels (inf - inf = NaN), falls back to the direct
  convolution when the input is not finite.
* ReduceMean of an empty set (the specification: undefined) is 0, as onnxruntime gives
  (onnx.reference gives NaN).
* Max-type windows and reductions (MaxPool, GlobalMaxPool, ReduceMax, ReduceMin) are a documented
  deviation: one NaN makes graphc's result NaN, while onnxruntime's depends on where the NaN sits
  (it keeps or skips it by position, and its MaxPool can return -FLT_MAX for a window of numbers).
  Every result whose window holds no NaN equals onnxruntime's exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import jit
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _model(nodes, x_shape, inits=(), opset=21):
    graph = helper.make_graph(nodes, "nan", [helper.make_tensor_value_info("x", F, x_shape)],
                              [helper.make_tensor_value_info("y", F, None)], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _with(value, shape, count, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[rng.choice(x.size, count, replace=False)] = value
    return x


def _paths(art):
    return [s.state.path for s in art.program.steps if s.state is not None]


CONVS = {
    # name: (channels, size, kernel, pad, stride, group, path prepared at lowering)
    "winograd": (256, 14, 3, 1, 1, 1, "winograd"),
    "phase": (16, 12, 3, 1, 1, 1, "phase"),
    "phase-strided": (16, 12, 3, 1, 2, 1, "small" if jit.available() else "phase"),  # 83K multiply-adds
    "depthwise": (16, 12, 3, 1, 1, 16, "depthwise" if jit.available() else "phase"),
    "pointwise-padded": (16, 12, 1, 1, 1, 1, "small" if jit.available() else "phase"),
    "k5-padded": (16, 12, 5, 2, 1, 1, "phase"),  # 16 input channels: above conv2d.STEM_MAX_CHANNELS
}


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("name", sorted(CONVS))
def test_conv_with_non_finite_input_matches_onnxruntime(name, value):
    c, h, k, pad, stride, group, path = CONVS[name]
    w = np.random.default_rng(1).standard_normal((c, c // group, k, k)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[pad] * 4, strides=[stride] * 2, group=group)
    model = _model([node], [1, c, h, h], [numpy_helper.from_array(w, "w")])
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == [path]
    x = _with(value, (1, c, h, h), 6)
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):  # the second run reuses the scratch buffers the first left behind
        got = art.run({"x": x})["y"]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)  # equal_nan, inf == inf by sign
    finite = _with(0.0, (1, c, h, h), 1, seed=3)  # after a non-finite run, the fast path again
    np.testing.assert_allclose(art.run({"x": finite})["y"], ort_run(model, {"x": finite})["y"], rtol=1e-4,
                               atol=1e-3)


@pytest.mark.parametrize("axes, shape", [([1], [2, 0]), (None, [2, 0]), ([0, 2], [0, 3, 4])])
def test_reduce_mean_of_an_empty_set_is_zero_as_in_onnxruntime(axes, shape):
    inits = [] if axes is None else [numpy_helper.from_array(np.array(axes, np.int64), "axes")]
    node = helper.make_node("ReduceMean", ["x"] + (["axes"] if axes else []), ["y"], keepdims=1)
    model = _model([node], shape, inits)
    x = np.zeros(shape, np.float32)
    want = ort_run(model, {"x": x})["y"]
    got = graphc.compile(model, "numpy", fallback=False).run({"x": x})["y"]
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert not np.isnan(want).any()  # what the claim rests on: onnxruntime gives 0, not NaN


def _nan_windows(x, kernel, stride, pad):
    """Per output position of a 2-D max pool: whether its window holds a NaN (hand-computed)."""
    nan = np.pad(np.isnan(x), [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    win = sliding_window_view(nan, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.any(axis=(-1, -2))


@pytest.mark.parametrize("kernel, stride, pad", [(2, 2, 0), (3, 1, 1), (2, 1, 0), (3, 2, 1)])
def test_max_pool_with_nan_agrees_with_onnxruntime_outside_nan_windows(kernel, stride, pad):
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[kernel] * 2, strides=[stride] * 2,
                            pads=[pad] * 4)
    model = _model([node], [2, 3, 9, 9])
    x = _with(np.nan, (2, 3, 9, 9), 5)
    got = graphc.compile(model, "numpy", fallback=False).run({"x": x})["y"]
    want = ort_run(model, {"x": x})["y"]
    has_nan = _nan_windows(x, kernel, stride, pad)
    assert has_nan.any() and (~has_nan).any()
    np.testing.assert_array_equal(got[~has_nan], want[~has_nan])
    assert np.isnan(got[has_nan]).all()  # the deviation: onnxruntime's value there depends on the NaN's place


@pytest.mark.parametrize("op_type", ["GlobalMaxPool", "ReduceMax", "ReduceMin"])
def test_max_reductions_with_nan_agree_with_onnxruntime_on_rows_without_nan(op_type):
    x = np.random.default_rng(2).standard_normal((3, 5, 4, 4)).astype(np.float32)
    x[0, 1, 0, 0] = x[1, 2, 3, 3] = x[2, 0, 1, 2] = np.nan  # first, last and middle of their rows
    if op_type == "GlobalMaxPool":
        node, inits = helper.make_node(op_type, ["x"], ["y"]), []
    else:
        node = helper.make_node(op_type, ["x", "axes"], ["y"], keepdims=1)
        inits = [numpy_helper.from_array(np.array([2, 3], np.int64), "axes")]
    model = _model([node], [3, 5, 4, 4], inits)
    got = graphc.compile(model, "numpy", fallback=False).run({"x": x})["y"]
    want = ort_run(model, {"x": x})["y"]
    has_nan = np.isnan(x).any(axis=(2, 3), keepdims=True)
    assert got.shape == want.shape == has_nan.shape
    np.testing.assert_array_equal(got[~has_nan], want[~has_nan])
    assert np.isnan(got[has_nan]).all()
