"""The custom-layer issue's five cases, end to end on the numpy target (graphc.compile / load / CLI)."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import pytest
from onnx import helper

import graphc
from graphc import LayerError, UnsupportedOpError
from graphc.layers import LayerRegistry, load_layer_modules

from tests.conftest import ort_session
from tests.layers.models import (
    CAFFE_LAYERS, CROP_LAYERS, TF_LAYERS, center_crop_model, interp_model, priorbox_model,
    priorbox_expected, priorbox_feeds, resize_bilinear_model, run_priorbox_in_fresh_process, three_unknown_model,
)



@pytest.fixture(scope="module")
def layers():
    return load_layer_modules([str(CAFFE_LAYERS), str(TF_LAYERS)])


def _nchw_resize_reference(x, sizes, mode):
    """onnxruntime's Resize (linear) of NCHW ``x`` to ``sizes``: an independent reference."""
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear", coordinate_transformation_mode=mode)
    m = helper.make_model(helper.make_graph(
        [node], "r", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(np.array(sizes, np.int64), "sizes")]), opset_imports=[helper.make_opsetid("", 18)])
    return ort_session(m).run(None, {"x": x})[0]


# 1. Caffe-style Interp in a custom domain
def test_case1_interp_compiles_and_runs(layers, rng):
    x = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    art = graphc.compile(interp_model(9, 8), "numpy", layers=layers)
    y = art.run({"x": x})["y"]
    want = 1 / (1 + np.exp(-_nchw_resize_reference(np.maximum(x, 0), [1, 3, 9, 8], "align_corners")))
    assert y.shape == (1, 3, 9, 8)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_case1_without_the_layer_fails_with_the_scaffold_hint(tmp_path):
    path = tmp_path / "interp.onnx"
    onnx.save(interp_model(), path)
    with pytest.raises(UnsupportedOpError, match=f"graphc scaffold {path} --target numpy -o my_layers.py"):
        graphc.compile(str(path), "numpy", layers=LayerRegistry())


# 2. TF-style ResizeBilinear: the Const size is blobs[0] (slot 1), align_corners a param
@pytest.mark.parametrize("align_corners, mode", [(0, "asymmetric"), (1, "align_corners")])
def test_case2_resize_bilinear_const_size_is_a_blob(layers, rng, align_corners, mode):
    seen = {}
    cls = layers.lookup("tf", "ResizeBilinear").cls

    class Spy(cls):  # records what the layer was built with
        def __init__(self, params, blobs=(), blob_slots=()):
            super().__init__(params, blobs, blob_slots)
            seen.update(params=dict(params), blobs=[b.copy() for b in blobs], slots=list(blob_slots))

        def forward(self, inputs, outputs, internals):
            seen["n_inputs"] = len(inputs)
            return super().forward(inputs, outputs, internals)

    reg = LayerRegistry()
    reg.register("ResizeBilinear", domain="tf")(Spy)
    x = rng.standard_normal((1, 4, 5, 3)).astype(np.float32)
    y = graphc.compile(resize_bilinear_model(align_corners), "numpy", layers=reg).run({"x": x})["y"]
    assert seen["params"] == {"align_corners": bool(align_corners)}
    assert seen["blobs"][0].dtype == np.int32 and seen["blobs"][0].tolist() == [9, 8] and seen["slots"] == [1]
    assert seen["n_inputs"] == 1
    want = _nchw_resize_reference(x.transpose(0, 3, 1, 2), [1, 3, 9, 8], mode).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


# 3. Overriding a built-in (HED's center crop)
def _crop_feeds():
    return {"x": np.arange(126, dtype=np.float32).reshape(1, 2, 7, 9), "ref": np.zeros((1, 2, 4, 4), np.float32)}


def test_case3_center_crop_overrides_the_builtin_and_is_logged(caplog):
    feeds = _crop_feeds()
    crop = load_layer_modules([str(CROP_LAYERS)])
    with caplog.at_level(logging.WARNING, logger="graphc.layers"):
        y = graphc.compile(center_crop_model(), "numpy", layers=crop).run(feeds)["y"]
    np.testing.assert_array_equal(y, feeds["x"][:, :, 2:6, 2:6])  # offsets round(1.5), round(2.5)
    assert any("overrides the target's built-in CenterCropPad" in r.getMessage() for r in caplog.records)
    builtin = graphc.compile(center_crop_model(), "numpy", layers=LayerRegistry()).run(feeds)["y"]
    np.testing.assert_array_equal(builtin, feeds["x"][:, :, 1:5, 2:6])  # ONNX floors the offset
    np.testing.assert_array_equal(builtin, ort_session(center_crop_model()).run(None, feeds)[0])


def test_case3_override_is_shown_by_inspect(tmp_path, capsys):
    from graphc.cli.main import main

    path = tmp_path / "crop.onnx"
    onnx.save(center_crop_model(), path)
    assert main(["inspect", str(path), "--target", "numpy", "--layers", str(CROP_LAYERS)]) == 0
    out = capsys.readouterr().out
    assert "override" in out.lower() and "crop" in out


# 4. SSD's PriorBox: params survive compile -> save -> load -> run in a fresh process
def test_case4_priorbox_params_survive_save_and_load_in_a_fresh_process(layers, tmp_path):
    art = graphc.compile(priorbox_model(), "numpy", layers=layers)
    want = priorbox_expected()
    np.testing.assert_allclose(art.run(priorbox_feeds())["priors"], want, rtol=1e-6, atol=1e-6)
    saved = tmp_path / "ssd.graphc"
    art.save(saved)
    y, params = run_priorbox_in_fresh_process(
        saved, CAFFE_LAYERS, "next(op.layer for op in art.graph.topological_order() if op.layer is not None).params")
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
    assert params["aspect_ratios"] == [2.0, 3.0] and params["flip"] is True and params["clip"] is True
    assert params["min_size"] == [30.0] and params["img_size"] == 0


def test_case4_priorbox_that_cannot_serialize_a_parameter_is_refused_at_compile_time(layers):
    base = layers.lookup("caffe", "PriorBox").cls

    class UnsavablePriorBox(graphc.Layer):
        """Keeps its parameters undeclared and hands back a callable for clipping."""

        def __init__(self, params, blobs):
            self.inner = base(params, blobs)
            self.clip_fn = np.clip if params.get("clip") else None

        def get_config(self):
            return {**self.inner.get_config(), "clip": self.clip_fn}

    reg = LayerRegistry()
    reg.register("PriorBox", domain="caffe")(UnsavablePriorBox)
    with pytest.raises(LayerError) as e:
        graphc.compile(priorbox_model(), "numpy", layers=reg)
    msg = str(e.value)
    assert "node 'priorbox' (caffe::PriorBox)" in msg and "params['clip']" in msg
    assert "neither JSON data" in msg and "get_config()" in msg


# 5. Three unknown ops, one error
def test_case5_three_unknown_ops_in_one_error(layers):
    with pytest.raises(UnsupportedOpError) as e:
        graphc.compile(three_unknown_model(), "numpy", layers=layers)
    msg = str(e.value)
    assert msg.startswith("3 op types cannot run on target 'numpy'")
    for text in ("caffe::Interpolate", "'interp1', 'interp2'", "caffe::Permute", "'permute'", "caffe::Normalise",
                 "'norm'", "closest registered layers: caffe::Interp", "graphc scaffold MODEL --target numpy -o my_layers.py"):
        assert text in msg
