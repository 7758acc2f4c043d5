"""AffineGrid and GridSample (spatial transformers) against onnxruntime, every mode and padding."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from tests.oracle import ort_run


def _model(node, inputs, opset):
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, t, None) for n, t in inputs],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _check(model, feeds):
    want = ort_run(model, feeds)["y"]
    art = graphc.compile(model, "numpy", fallback=False)
    assert art.describe()["runs"].keys() == {"native"}
    got = art.run(feeds)["y"]
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode,padding,align", list(itertools.product(
    ["linear", "nearest", "cubic"], ["zeros", "border", "reflection"], [0, 1])))
def test_grid_sample_2d_opset20(mode, padding, align):
    rng = np.random.default_rng(zlib.crc32(f"{mode}/{padding}/{align}".encode()))  # the same in every process
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    grid = rng.uniform(-1.6, 1.6, (2, 4, 6, 2)).astype(np.float32)  # reaches beyond the borders
    grid[0, 0, :3] = [[-1, -1], [1, 1], [0, 0]]  # exact corners and centre
    node = helper.make_node("GridSample", ["x", "grid"], ["y"], mode=mode, padding_mode=padding, align_corners=align)
    _check(_model(node, [("x", TensorProto.FLOAT), ("grid", TensorProto.FLOAT)], 20), {"x": x, "grid": grid})


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_grid_sample_opset16_mode_names(mode):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 6, 4)).astype(np.float32)
    grid = rng.uniform(-1.2, 1.2, (1, 3, 5, 2)).astype(np.float32)
    node = helper.make_node("GridSample", ["x", "grid"], ["y"], mode=mode, padding_mode="border")
    _check(_model(node, [("x", TensorProto.FLOAT), ("grid", TensorProto.FLOAT)], 16), {"x": x, "grid": grid})


@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_grid_sample_volumetric(mode):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 3, 4, 5)).astype(np.float32)
    grid = rng.uniform(-1.1, 1.1, (1, 2, 3, 4, 3)).astype(np.float32)
    node = helper.make_node("GridSample", ["x", "grid"], ["y"], mode=mode, padding_mode="zeros")
    _check(_model(node, [("x", TensorProto.FLOAT), ("grid", TensorProto.FLOAT)], 20), {"x": x, "grid": grid})


@pytest.mark.parametrize("size,align", [((2, 3, 5, 6), 0), ((2, 3, 5, 6), 1), ((2, 1, 3, 4, 5), 0), ((2, 1, 3, 4, 5), 1)])
def test_affine_grid(size, align):
    rng = np.random.default_rng(3)
    r = len(size) - 2
    theta = rng.standard_normal((2, r, r + 1)).astype(np.float32)
    node = helper.make_node("AffineGrid", ["theta", "size"], ["y"], align_corners=align)
    model = _model(node, [("theta", TensorProto.FLOAT), ("size", TensorProto.INT64)], 20)
    _check(model, {"theta": theta, "size": np.array(size, np.int64)})
