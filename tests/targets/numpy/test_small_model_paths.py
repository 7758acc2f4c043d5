"""Kernel paths the issue-19 suite's models take, against onnxruntime: PRelu's two-pass forms, Pad reflect/edge
along one axis, float32 Sigmoid as a tanh, GlobalAveragePool as a matrix-vector product, MaxPool's prepared
geometry."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _model(nodes, inputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "m", inputs, [helper.make_tensor_value_info("y", F, None)], list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _check(model, feeds, rtol=1e-6, atol=1e-7):
    got = graphc.compile(model, "numpy").run(feeds)["y"]
    want = ort_run(model, feeds)["y"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("slope", [
    np.array([0.25, 0.0, 1.0], np.float32).reshape(3, 1, 1),  # within [0, 1]: max(x, slope * x)
    np.array([-0.5, 1.5, 0.1], np.float32).reshape(3, 1, 1),  # outside: min(x, 0) * slope + max(x, 0)
    np.array(0.2, np.float32),
    np.array([0.3, -2.0, 0.5, 0.7, 1.0], np.float32),  # along the last axis
])
@pytest.mark.parametrize("constant", [True, False])
def test_prelu_matches_onnxruntime(slope, constant):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    inputs = [helper.make_tensor_value_info("x", F, list(x.shape))]
    feeds = {"x": x}
    inits = []
    if constant:
        inits.append(numpy_helper.from_array(slope, "s"))
    else:
        inputs.append(helper.make_tensor_value_info("s", F, list(slope.shape)))
        feeds["s"] = slope
    _check(_model([helper.make_node("PRelu", ["x", "s"], ["y"])], inputs, inits), feeds)


def test_prelu_slope_broadcasting_past_x():
    x = np.random.default_rng(1).standard_normal((3, 1)).astype(np.float32)
    slope = np.array([0.5, 2.0, -1.0, 0.0], np.float32)
    inits = [numpy_helper.from_array(slope, "s")]
    model = _model([helper.make_node("PRelu", ["x", "s"], ["y"])], [helper.make_tensor_value_info("x", F, [3, 1])],
                   inits)
    _check(model, {"x": x})


@pytest.mark.parametrize("mode", ["reflect", "edge"])
@pytest.mark.parametrize("pads", [(0, 0, 0, 0, 0, 64), (0, 2, 0, 0, 3, 0), (0, 0, 4, 0, 0, 4), (0, 0, 0, 0, 0, 0)])
def test_pad_along_one_axis_matches_onnxruntime(mode, pads):
    x = np.random.default_rng(2).standard_normal((1, 5, 512 if pads[5] == 64 else 9)).astype(np.float32)
    inits = [numpy_helper.from_array(np.array(pads, np.int64), "p")]
    model = _model([helper.make_node("Pad", ["x", "p"], ["y"], mode=mode)],
                   [helper.make_tensor_value_info("x", F, list(x.shape))], inits)
    _check(model, {"x": x}, rtol=0, atol=0)


def test_sigmoid_float32_within_a_float32_step():
    x = np.concatenate([np.linspace(-40, 40, 4001), [0.0, -0.0, 1e-8, -1e-8, 88.0, -88.0, -104.0]]).astype(np.float32)
    model = _model([helper.make_node("Sigmoid", ["x"], ["y"])], [helper.make_tensor_value_info("x", F, [x.size])])
    got = graphc.compile(model, "numpy").run({"x": x})["y"]
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(got, exact, rtol=0, atol=1.2e-7)
    assert np.all((got >= 0) & (got <= 1))
    _check(model, {"x": x}, rtol=1e-6, atol=1.2e-7)


@pytest.mark.parametrize("shape", [(1, 1280, 7, 7), (2, 3, 5, 4), (1, 8, 1, 1), (1, 16, 30)])
def test_global_average_pool_matches_onnxruntime(shape):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    model = _model([helper.make_node("GlobalAveragePool", ["x"], ["y"])],
                   [helper.make_tensor_value_info("x", F, list(shape))])
    _check(model, {"x": x}, rtol=1e-5, atol=1e-6)



@pytest.mark.parametrize("shape,attrs", [
    ((1, 10, 10, 10), dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),  # MTCNN P-Net
    ((1, 28, 22, 22), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),  # R-Net: a partial last window
    ((2, 3, 9, 8), dict(kernel_shape=[3, 2], strides=[1, 2], pads=[1, 0, 1, 1], dilations=[2, 1])),
    ((1, 4, 12), dict(kernel_shape=[3], strides=[2], auto_pad="SAME_UPPER")),
])
@pytest.mark.parametrize("static", [True, False])
def test_max_pool_prepared_geometry_matches_onnxruntime(shape, attrs, static):
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    dims = list(shape) if static else ["N", shape[1]] + [f"d{i}" for i in range(len(shape) - 2)]
    model = _model([helper.make_node("MaxPool", ["x"], ["y"], **attrs)], [helper.make_tensor_value_info("x", F, dims)])
    art = graphc.compile(model, "numpy")
    assert (art.program.steps[0].state is not None) == static  # the geometry prepared for a static shape
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):
        np.testing.assert_array_equal(art.run({"x": x})["y"], want)
