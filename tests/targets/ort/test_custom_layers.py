"""The custom-layer issue's cases under the ort target, against the numpy target where it exists."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import helper

import graphc
from graphc import LayerError
from graphc.layers import LayerRegistry, Param, load_layer_modules

from tests.layers.models import (
    CAFFE_LAYERS, TF_LAYERS, interp_model, priorbox_model, priorbox_expected, priorbox_feeds, resize_bilinear_model,
    run_priorbox_in_fresh_process,
)

TARGETS = ["ort", "numpy"]


@pytest.fixture(scope="module")
def layers():
    return load_layer_modules([str(CAFFE_LAYERS), str(TF_LAYERS)])


def _both(model, feeds, layers, out):
    """The ort target's output and the numpy target's (both always compile: the old `if np_y is not
    None` branches that skipped the comparison could never be taken, issue 21 Low)."""
    ort_y = graphc.compile(model, "ort", layers=layers).run(feeds)[out]
    np_y = graphc.compile(model, "numpy", layers=layers).run(feeds)[out]
    return ort_y, np_y


@pytest.mark.parametrize("target", TARGETS)
def test_interp_in_a_custom_domain(layers, rng, target):
    x = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    art = graphc.compile(interp_model(9, 8), target, layers=layers)
    y = art.run({"x": x})["y"]
    assert y.shape == (1, 3, 9, 8)
    if target == "ort":
        assert [e["lowering"] for e in art.manifest["custom_ops"]] == ["python-op"]
        onnx.checker.check_model(art.model)
    ort_y, np_y = _both(interp_model(9, 8), {"x": x}, layers, "y")
    np.testing.assert_allclose(ort_y, np_y, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y, ort_y if target == "ort" else np_y)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("align_corners", [0, 1])
def test_resize_bilinear_const_size_is_blobs0(layers, rng, target, align_corners):
    seen = {}
    cls = layers.lookup("tf", "ResizeBilinear").cls

    class Spy(cls):
        def __init__(self, params, blobs=(), blob_slots=()):
            super().__init__(params, blobs, blob_slots)
            seen.update(blobs=[b.copy() for b in blobs], slots=list(blob_slots), params=dict(params))

    reg = LayerRegistry()
    reg.register("ResizeBilinear", domain="tf")(Spy)
    x = rng.standard_normal((1, 4, 5, 3)).astype(np.float32)
    art = graphc.compile(resize_bilinear_model(align_corners), target, layers=reg)
    y = art.run({"x": x})["y"]
    assert y.shape == (1, 9, 8, 3)
    assert seen["blobs"][0].tolist() == [9, 8] and seen["blobs"][0].dtype == np.int32 and seen["slots"] == [1]
    assert seen["params"] == {"align_corners": bool(align_corners)}
    if target == "ort":  # the Const size is an initializer input of the contrib node; the config is one JSON string
        node = next(n for n in art.model.graph.node if n.domain == "ai.onnx.contrib")
        assert len(node.input) == 2 and node.input[1] in {t.name for t in art.model.graph.initializer}
        assert [a.name for a in node.attribute] == ["config"]
        assert json.loads(helper.get_attribute_value(node.attribute[0])) == {"align_corners": bool(align_corners)}
    ort_y, np_y = _both(resize_bilinear_model(align_corners), {"x": x}, reg, "y")
    np.testing.assert_allclose(ort_y, np_y, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y, ort_y if target == "ort" else np_y)


def test_priorbox_params_survive_save_and_load_in_a_fresh_process(layers, tmp_path):
    art = graphc.compile(priorbox_model(), "ort", layers=layers)
    want = priorbox_expected()
    np.testing.assert_allclose(art.run(priorbox_feeds())["priors"], want, rtol=1e-6, atol=1e-6)
    saved = tmp_path / "ssd.zip"
    art.save(saved)
    y, cfg = run_priorbox_in_fresh_process(  # the params live in the ONNX model itself
        saved, CAFFE_LAYERS,
        "json.loads(onnx.helper.get_attribute_value(next(n for n in art.model.graph.node if n.domain == 'ai.onnx.contrib').attribute[0]))")
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
    assert cfg["aspect_ratios"] == [2.0, 3.0] and cfg["min_size"] == [30.0] and cfg["max_size"] == [60.0]
    assert cfg["flip"] is True and cfg["clip"] is True


class _Scale(graphc.Layer):
    factor = Param(float, default=2.0)

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]


class Raising(_Scale):
    def forward(self, inputs, outputs, internals):
        raise ZeroDivisionError("the layer divided by zero")


class WrongDtype(_Scale):
    def forward(self, inputs, outputs, internals):
        return [(inputs[0] * self.factor).astype(np.float64)]


class Decomposed(_Scale):
    def forward(self, inputs, outputs, internals):
        outputs[0][...] = np.maximum(inputs[0], 0) * self.factor

    def to_onnx(self, g):
        return [g.op("Mul", g.op("Relu", g.inputs[0]), g.const(np.float32(self.factor)))]


def _scale_model():
    node = helper.make_node("Scale", ["x"], ["y"], domain="acme", name="scale1", factor=3.0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("acme", 1)])


def _registry(cls):
    reg = LayerRegistry()
    reg.register("Scale", domain="acme")(cls)
    return reg


@pytest.mark.parametrize("target", TARGETS)
def test_a_layer_raising_in_forward_is_a_layer_error_naming_the_node(target):
    art = graphc.compile(_scale_model(), target, layers=_registry(Raising))
    with pytest.raises(LayerError, match=r"scale1.*ZeroDivisionError: the layer divided by zero"):
        art.run({"x": np.ones((2, 3), np.float32)})
    with pytest.raises(LayerError):  # and again: the process and the artifact survive
        art.run({"x": np.ones((2, 3), np.float32)})


@pytest.mark.parametrize("target", TARGETS)
def test_a_wrong_output_dtype_is_a_layer_error_not_a_silent_cast(target):
    art = graphc.compile(_scale_model(), target, layers=_registry(WrongDtype))
    with pytest.raises(LayerError, match=r"scale1.*float64"):
        art.run({"x": np.ones((2, 3), np.float32)})


def test_a_layer_with_to_onnx_runs_with_no_python_op(tmp_path):
    art = graphc.compile(_scale_model(), "ort", layers=_registry(Decomposed))
    assert [e["lowering"] for e in art.manifest["custom_ops"]] == ["function"]
    assert not art.python_ops
    assert {n.domain for n in art.model.graph.node} == {"graphc.layers"}
    assert [f.name for f in art.model.functions] == ["Scale_scale1"]
    onnx.checker.check_model(art.model)
    x = np.array([[-1, 0, 1], [2, -3, 4]], np.float32)
    np.testing.assert_allclose(art.run({"x": x})["y"], np.maximum(x, 0) * 3.0)
    # plain onnxruntime runs the saved model.onnx, no extensions library registered
    art.save(tmp_path / "b")
    from tests.conftest import ort_session

    y = ort_session(onnx.load(tmp_path / "b" / "model.onnx")).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, np.maximum(x, 0) * 3.0)
