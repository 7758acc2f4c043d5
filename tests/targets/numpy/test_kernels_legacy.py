"""The experimental ops ONNX dropped but onnxruntime still runs (ImageScaler, Crop, Affine, Scale,
ScaledTanh, ParametricSoftplus, DynamicSlice) and MaxRoiPool, held to onnxruntime on opset-8 models."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphc
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _model(node: onnx.NodeProto, inputs: dict[str, np.ndarray], opset: int = 8) -> onnx.ModelProto:
    vis = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
           for k, v in inputs.items()]
    graph = helper.make_graph([node], "legacy", vis, [onnx.ValueInfoProto(name="y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 4
    return model


def _x(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 3


CASES = {
    "ImageScaler": (dict(scale=0.5, bias=[1.0, -2.0, 0.25]), [_x(2, 3, 5, 4)]),
    "Crop-border": (dict(border=[1, 2, 0, 1]), [_x(1, 3, 7, 6)]),
    "Crop-scale": (dict(border=[1, 2, 0, 0], scale=[3, 4]), [_x(2, 2, 7, 6)]),
    "Affine": (dict(alpha=1.5, beta=-0.5), [_x(3, 4)]),
    "Scale": (dict(scale=-2.0), [_x(2, 3, 4)]),
    "ScaledTanh": (dict(alpha=2.0, beta=0.5), [_x(4, 5)]),
    "ParametricSoftplus": (dict(alpha=0.5, beta=3.0), [_x(4, 5) * 20]),  # large |beta x|: no overflow
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_legacy_op_matches_onnxruntime(case):
    attrs, arrays = CASES[case]
    op = case.partition("-")[0]
    feeds = {f"x{i}": a for i, a in enumerate(arrays)}
    model = _model(helper.make_node(op, list(feeds), ["y"], **attrs), feeds)
    got = graphc.compile(model, "numpy", fallback=False).run(feeds)["y"]
    np.testing.assert_allclose(got, ort_run(model, feeds)["y"], rtol=1e-5, atol=1e-5)


def test_dynamic_slice_matches_onnxruntime():
    feeds = {"x": _x(4, 6, 5), "starts": np.array([1, -4], np.int64), "ends": np.array([100, -1], np.int64),
             "axes": np.array([0, 1], np.int64)}
    model = _model(helper.make_node("DynamicSlice", list(feeds), ["y"]), feeds)
    got = graphc.compile(model, "numpy", fallback=False).run(feeds)["y"]
    np.testing.assert_array_equal(got, ort_run(model, feeds)["y"])


def test_max_roi_pool_matches_onnxruntime():
    rng = np.random.default_rng(3)
    rois = np.array([[0, 1.2, 0.6, 9.4, 6.5], [1, 0, 0, 3, 3], [1, 5.5, 2.5, 11.5, 11.5], [0, 7, 7, 7, 7],
                     [1, -3, -2, 4, 20]], np.float32)
    feeds = {"x": rng.standard_normal((2, 3, 12, 10)).astype(np.float32), "rois": rois}
    for pooled, scale in (([2, 3], 1.0), ([3, 3], 0.5)):
        node = helper.make_node("MaxRoiPool", ["x", "rois"], ["y"], pooled_shape=pooled, spatial_scale=scale)
        model = _model(node, feeds, opset=10)
        got = graphc.compile(model, "numpy", fallback=False).run(feeds)["y"]
        np.testing.assert_array_equal(got, ort_run(model, feeds)["y"])


def test_bad_crop_border_names_the_node():
    feeds = {"x0": _x(1, 1, 4, 4)}
    model = _model(helper.make_node("Crop", ["x0"], ["y"], border=[3, 3, 3, 3], name="crop"), feeds)
    with pytest.raises(graphc.GraphcError, match="Crop node 'crop'"):
        graphc.compile(model, "numpy", fallback=False).run(feeds)
