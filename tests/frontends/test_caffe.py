"""Caffe frontend: Interp after a convolution (mapped to Resize, or a registered layer of
yours), the HED center-crop override (case 2), and the mapped layers checked numerically
against numpy references (case 4)."""

from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.errors import ModelFormatError
from graphc.frontends.caffe import load_caffe
from graphc.frontends.caffe_schema import caffe_messages

from tests.frontends.frontend_refs import bilinear_align_corners, caffe_pool, conv_nchw, run_ort


def write_caffemodel(path, blobs: dict[str, list[np.ndarray]]) -> None:
    """A binary NetParameter holding only the named layers' blobs."""
    net = caffe_messages()["NetParameter"]()
    for name, arrays in blobs.items():
        layer = net.layer.add(name=name)
        for arr in arrays:
            blob = layer.blobs.add()
            blob.shape.dim.extend(arr.shape)
            blob.data.extend(arr.reshape(-1).tolist())
    path.write_bytes(net.SerializeToString())


INTERP_NET = """
name: "deeplab_tail"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 5 dim: 6 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 3 kernel_size: 3 pad: 1 weight_filler { type: "xavier" } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "interp" type: "Interp" bottom: "conv" top: "interp" interp_param { height: 9 width: 8 } }
"""


@pytest.fixture
def interp_net(tmp_path):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    (tmp_path / "net.prototxt").write_text(INTERP_NET)
    write_caffemodel(tmp_path / "net.caffemodel", {"conv": [w, b]})
    return tmp_path / "net.prototxt", w, b


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_interp_maps_to_resize_with_aligned_corners(interp_net, target):
    path, w, b = interp_net
    g = graphc.load_model(path)  # net.caffemodel beside it supplies the weights
    interp = g.ops["interp"]
    assert interp.op_type == "Resize" and interp.attrs["coordinate_transformation_mode"] == "align_corners"
    np.testing.assert_array_equal(g.ops["conv"].inputs[1].const, w)
    # the in-place ReLU's output carries the blob name; the conv output was renamed
    assert interp.inputs[0].name == "conv" and interp.inputs[0].producer().op_type == "Relu"
    assert [v.name for v in g.outputs] == ["interp"]
    x = np.random.default_rng(4).standard_normal((1, 2, 5, 6)).astype(np.float32)
    (y,) = graphc.compile(g, target).run({"data": x}).values()
    ref = bilinear_align_corners(np.maximum(conv_nchw(x, w, b, 1, 1), 0), 9, 8)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_unknown_param_blocks_pass_through(tmp_path):
    text = INTERP_NET.replace('type: "Interp"', 'type: "MyUpsample"').replace(
        "interp_param { height: 9 width: 8 }", 'my_upsample_param { scale: 2 mode: "nearest" pads: [1, 2] }')
    rng = np.random.default_rng(0)
    blobs = {"conv": [rng.standard_normal((3, 2, 3, 3)).astype(np.float32), np.zeros(3, np.float32)]}
    (tmp_path / "n.prototxt").write_text(text)
    write_caffemodel(tmp_path / "w.caffemodel", blobs)
    g = load_caffe(tmp_path / "n.prototxt", tmp_path / "w.caffemodel")
    assert g.ops["interp"].attrs == {"scale": 2, "mode": "nearest", "pads": [1, 2]}


def test_missing_weights_name_the_layer(tmp_path):
    (tmp_path / "n.prototxt").write_text(INTERP_NET)
    with pytest.raises(ModelFormatError, match="layer 'conv' \\(Convolution\\) needs 2 weight blob"):
        graphc.load_model(tmp_path / "n.prototxt")


class Interp(graphc.Layer):
    """A user's Interp: registered, it takes the type over graphc's mapping."""

    height = graphc.Param(int)
    width = graphc.Param(int)

    def output_shapes(self, input_shapes):
        n, c, _, _ = input_shapes[0]
        return [(n, c, self.height, self.width)]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = bilinear_align_corners(inputs[0], self.height, self.width)


class CenterCrop(graphc.Layer):
    """HED's Crop: bottom[0] cut to bottom[1]'s spatial size, centered."""

    def get_config(self):
        return {}

    def output_shapes(self, input_shapes):
        a, ref = input_shapes
        return [tuple(a[:2]) + tuple(ref[2:])]

    def forward(self, inputs, outputs, internals):
        a, ref = inputs
        oh, ow = (a.shape[2] - ref.shape[2]) // 2, (a.shape[3] - ref.shape[3]) // 2
        outputs[0][...] = a[:, :, oh: oh + ref.shape[2], ow: ow + ref.shape[3]]


def test_interp_compiles_with_registered_layer(interp_net):
    path, w, b = interp_net
    reg = graphc.LayerRegistry()
    reg.register("Interp", domain="caffe")(Interp)
    x = np.random.default_rng(4).standard_normal((1, 2, 5, 6)).astype(np.float32)
    assert graphc.load_model(path, layers=reg).ops["interp"].qualified_type == "caffe::Interp"
    (y,) = graphc.compile(path, "numpy", layers=reg).run({"data": x}).values()
    ref = bilinear_align_corners(np.maximum(conv_nchw(x, w, b, 1, 1), 0), 9, 8)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


CROP_NET = """
layer { name: "a" type: "Input" top: "a" top: "ref" input_param { shape { dim: 1 dim: 2 dim: 7 dim: 8 }
                                                       shape { dim: 1 dim: 1 dim: 3 dim: 4 } } }
layer { name: "crop" type: "Crop" bottom: "a" bottom: "ref" top: "crop" crop_param { axis: 2 offset: 1 } }
"""


def test_crop_has_caffe_top_left_semantics(tmp_path):
    (tmp_path / "crop.prototxt").write_text(CROP_NET)
    g = graphc.load_model(tmp_path / "crop.prototxt")
    assert "caffe" not in {op.domain for op in g.ops.values()}
    a = np.random.default_rng(5).standard_normal((1, 2, 7, 8)).astype(np.float32)
    ref = np.zeros((1, 1, 3, 4), np.float32)
    (y,) = run_ort(g, {"a": a, "ref": ref})
    np.testing.assert_array_equal(y, a[:, :, 1:4, 1:5])


def test_registered_center_crop_overrides_builtin_crop(tmp_path):
    (tmp_path / "crop.prototxt").write_text(CROP_NET)
    reg = graphc.LayerRegistry()
    reg.register("Crop", domain="caffe")(CenterCrop)
    assert graphc.load_model(tmp_path / "crop.prototxt", layers=reg).ops["crop"].qualified_type == "caffe::Crop"
    a = np.random.default_rng(5).standard_normal((1, 2, 7, 8)).astype(np.float32)
    ref = np.zeros((1, 1, 3, 4), np.float32)
    (y,) = graphc.compile(tmp_path / "crop.prototxt", "numpy", layers=reg).run({"a": a, "ref": ref}).values()
    np.testing.assert_array_equal(y, a[:, :, 2:5, 2:6])


# ------------------------------------------------------------------------ case 4
MAPPED_NET = """
name: "mapped"
input: "data"
input_shape { dim: 2 dim: 3 dim: 9 dim: 9 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" batch_norm_param { eps: 0.001 } }
layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" relu_param { negative_slope: 0.1 } }
layer { name: "pool_max" type: "Pooling" bottom: "conv" top: "pool_max"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "pool_ave" type: "Pooling" bottom: "conv" top: "pool_ave"
        pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "sum" type: "Eltwise" bottom: "pool_max" bottom: "pool_ave" top: "sum"
        eltwise_param { operation: SUM coeff: 0.5 coeff: -2 } }
layer { name: "prod" type: "Eltwise" bottom: "pool_max" bottom: "pool_ave" top: "prod" eltwise_param { operation: PROD } }
layer { name: "cat" type: "Concat" bottom: "sum" bottom: "prod" top: "cat" concat_param { axis: 1 } }
layer { name: "lrn" type: "LRN" bottom: "cat" top: "lrn" lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 } }
layer { name: "power" type: "Power" bottom: "lrn" top: "power" power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "slice" type: "Slice" bottom: "power" top: "s0" top: "s1" slice_param { axis: 1 slice_point: 3 } }
layer { name: "drop" type: "Dropout" bottom: "s0" top: "s0" }
layer { name: "tanh" type: "TanH" bottom: "s1" top: "s1" }
layer { name: "flat" type: "Flatten" bottom: "s0" top: "flat" }
layer { name: "fc" type: "InnerProduct" bottom: "flat" top: "fc" inner_product_param { num_output: 5 } }
layer { name: "sig" type: "Sigmoid" bottom: "fc" top: "sig" }
layer { name: "prob" type: "Softmax" bottom: "sig" top: "prob" }
layer { name: "reshape" type: "Reshape" bottom: "s1" top: "reshaped" reshape_param { shape { dim: 0 dim: -1 } } }
"""


def test_mapped_layers_match_numpy(tmp_path):
    rng = np.random.default_rng(6)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    cb = rng.standard_normal(4).astype(np.float32)
    mean, var = rng.standard_normal(4).astype(np.float32), rng.random(4).astype(np.float32) + 0.5
    factor = np.array([2.0], np.float32)
    gamma, beta = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    fw = rng.standard_normal((5, 3 * 3 * 3)).astype(np.float32)
    fb = rng.standard_normal(5).astype(np.float32)
    (tmp_path / "m.prototxt").write_text(MAPPED_NET)
    write_caffemodel(tmp_path / "m.caffemodel", {"conv": [w, cb], "bn": [mean * 2, var * 2, factor],
                                                 "scale": [gamma, beta], "fc": [fw, fb]})
    g = graphc.load_model(tmp_path / "m.prototxt")
    assert not [op for op in g.ops.values() if op.domain]
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    outs = dict(zip([v.name for v in g.outputs], run_ort(g, {"data": x})))
    assert set(outs) == {"prob", "reshaped"}

    y = conv_nchw(x, w, cb, 2, 1)  # 2x4x5x5
    y = (y - mean.reshape(1, -1, 1, 1)) / np.sqrt(var.reshape(1, -1, 1, 1) + 1e-3)
    y = y * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)
    y = np.where(y > 0, y, 0.1 * y)
    pm = caffe_pool(y, 2, 2, 0, "max")  # ceil: 5 -> 3
    pa = caffe_pool(y, 3, 2, 1, "ave")
    assert pm.shape == pa.shape == (2, 4, 3, 3)
    cat = np.concatenate([0.5 * pm - 2 * pa, pm * pa], axis=1)
    sq = np.pad(cat ** 2, ((0, 0), (1, 1), (0, 0), (0, 0)))
    lrn = cat / (2 + 0.5 / 3 * (sq[:, :-2] + sq[:, 1:-1] + sq[:, 2:])) ** 0.75
    p = (1 + 0.5 * lrn) ** 2
    s0, s1 = p[:, :3], np.tanh(p[:, 3:])
    fc = s0.reshape(2, -1) @ fw.T + fb
    sig = 1 / (1 + np.exp(-fc))
    prob = np.exp(sig) / np.exp(sig).sum(1, keepdims=True)
    np.testing.assert_allclose(outs["prob"], prob, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outs["reshaped"], s1.reshape(2, -1), rtol=1e-4, atol=1e-5)


def test_deconvolution_and_max_eltwise(tmp_path):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)  # [Cin, Cout, kh, kw]
    text = """
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 3 dim: 3 } } }
    layer { name: "up" type: "Deconvolution" bottom: "x" top: "up"
            convolution_param { num_output: 3 kernel_size: 2 stride: 2 bias_term: false } }
    layer { name: "mx" type: "Eltwise" bottom: "up" bottom: "up" top: "mx" eltwise_param { operation: MAX } }
    """
    (tmp_path / "d.prototxt").write_text(text)
    write_caffemodel(tmp_path / "d.caffemodel", {"up": [w]})
    g = graphc.load_model(tmp_path / "d.prototxt")
    x = rng.standard_normal((1, 2, 3, 3)).astype(np.float32)
    (y,) = run_ort(g, {"x": x})
    ref = np.einsum("nchw,cokl->nohkwl", x, w).reshape(1, 3, 6, 6)  # stride == kernel: no overlap
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
