"""Relu through ``np.clip(x, 0, inf)`` on large float arrays (_numeric.relu_into) against onnxruntime:
NaN must propagate and infinities pass as with ``np.maximum``, below and above the size threshold."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from targets.numpy.kernels import _numeric
from tests.oracle import ort_run


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [100, _numeric.RELU_CLIP_MIN_ELEMENTS, 3 * _numeric.RELU_CLIP_MIN_ELEMENTS + 5])
def test_relu_keeps_nan_and_inf(size, dtype):
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                              [helper.make_tensor_value_info("x", elem, [size])],
                              [helper.make_tensor_value_info("y", elem, [size])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(0).standard_normal(size).astype(dtype)
    x[[1, 7, 20]] = np.nan, np.inf, -np.inf
    x[30] = -0.0
    want = ort_run(model, {"x": x})["y"]
    got = graphc.compile(model, "numpy", fallback=False).run({"x": x})["y"]
    np.testing.assert_array_equal(got, want)  # NaN positions compare equal
    out = np.empty_like(x)
    np.testing.assert_array_equal(_numeric.relu_into(out, x), np.maximum(x, 0))
