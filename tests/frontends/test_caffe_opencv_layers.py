"""OpenCV's other native Caffe layers map to ONNX with no user code (issue 17, item 3): each net
(Input -> one layer) is written as a prototxt + .caffemodel, compiled for both targets and
compared with a numpy port of the Caffe / OpenCV definition (tests/frontends/frontend_refs.py),
and, where cv2 is importable, with OpenCV's dnn itself."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

import graphc
from graphc.errors import ModelFormatError
from graphc.frontends.caffe import load_caffe, save_caffemodel
from graphc.frontends.caffe_schema import CAFFE_PARAMS, caffe_messages, field, register_caffe_param

from tests.frontends import frontend_refs as refs

TARGETS = ["numpy", "ort"]
SHAPE = (2, 6, 5, 4)
HEADER = 'name: "one_layer"\nlayer { name: "data" type: "Input" top: "data" input_param { shape { %s } } }\n'

_SLOPES = (np.arange(6) * 0.1 - 0.2).astype(np.float32)
_BIAS_C = np.linspace(-1, 1, 6).astype(np.float32)
_BIAS_CH = np.linspace(-2, 2, 30).astype(np.float32).reshape(6, 5)


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: fn(x.astype(np.float64))


#: name -> (layer text, blobs of layer "l", numpy reference, input: "any", "positive" or "non-negative",
#:          compared with OpenCV 4.x (False: OpenCV cannot create it or means something else))
CASES: dict[str, tuple[str, list[np.ndarray], Callable[[np.ndarray], np.ndarray], str, bool]] = {
    "prelu": ('type: "PReLU"', [_SLOPES], _unary(lambda x: np.where(x > 0, x, x * _SLOPES.reshape(6, 1, 1))),
              "any", True),
    "prelu_shared": ('type: "PReLU" prelu_param { channel_shared: true }', [np.array([0.25], np.float32)],
                     _unary(lambda x: np.where(x > 0, x, 0.25 * x)), "any", True),
    "elu": ('type: "ELU" elu_param { alpha: 0.7 }', [], _unary(lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
            "any", True),
    "absval": ('type: "AbsVal"', [], _unary(np.abs), "any", True),
    "bnll": ('type: "BNLL"', [], _unary(lambda x: np.where(x > 0, x + np.log1p(np.exp(-x)), np.log1p(np.exp(x)))),
             "any", True),
    "relu6": ('type: "ReLU6"', [], _unary(lambda x: np.minimum(np.maximum(x, 0), 6)), "any", True),
    "mvn": ('type: "MVN" mvn_param { eps: 0.5 }', [], lambda x: refs.opencv_mvn(x, eps=0.5), "any", True),
    "mvn_across": ('type: "MVN" mvn_param { across_channels: true eps: 0.25 }', [],
                   lambda x: refs.opencv_mvn(x, across_channels=True, eps=0.25), "any", True),
    "mvn_mean_only": ('type: "MVN" mvn_param { normalize_variance: false }', [],
                      lambda x: refs.opencv_mvn(x, normalize_variance=False), "any", True),
    "bias": ('type: "Bias"', [_BIAS_C], _unary(lambda x: x + _BIAS_C.reshape(6, 1, 1)), "any", False),
    "bias_two_axes": ('type: "Bias" bias_param { axis: 1 num_axes: 2 }', [_BIAS_CH],
                      _unary(lambda x: x + _BIAS_CH.reshape(6, 5, 1)), "any", False),
    "bias_scalar": ('type: "Bias" bias_param { num_axes: 0 }', [np.array([1.5], np.float32)],
                    _unary(lambda x: x + 1.5), "any", False),
    "exp": ('type: "Exp" exp_param { base: 2 scale: 0.5 shift: 0.3 }', [], _unary(lambda x: 2 ** (0.3 + 0.5 * x)),
            "any", True),
    "exp_e": ('type: "Exp" exp_param { scale: -1.5 shift: 0.2 }', [], _unary(lambda x: np.exp(0.2 - 1.5 * x)),
              "any", True),
    "log": ('type: "Log"', [], _unary(np.log), "positive", True),
    "log_base": ('type: "Log" log_param { base: 10 scale: 2 shift: 0.5 }', [],  # OpenCV ignores the fields
                 _unary(lambda x: np.log10(0.5 + 2 * x)), "positive", False),
    "threshold": ('type: "Threshold" threshold_param { threshold: 0.2 }', [], _unary(lambda x: (x > 0.2) * 1.0),
                  "any", False),
    "argmax_axis": ('type: "ArgMax" argmax_param { axis: 1 }', [], lambda x: refs.caffe_argmax(x, axis=1),
                    "any", False),
    "argmax_top3_values": ('type: "ArgMax" argmax_param { axis: -1 top_k: 3 out_max_val: true }', [],
                           lambda x: refs.caffe_argmax(x, 3, True, axis=3), "any", False),
    "argmax_flat": ('type: "ArgMax" argmax_param { top_k: 4 }', [], lambda x: refs.caffe_argmax(x, 4), "any", False),
    "argmax_flat_values": ('type: "ArgMax" argmax_param { top_k: 2 out_max_val: true }', [],
                           lambda x: refs.caffe_argmax(x, 2, True), "any", False),
    "reduction_sum_all": ('type: "Reduction"', [], lambda x: refs.caffe_reduction(x), "any", False),
    "reduction_asum": ('type: "Reduction" reduction_param { operation: ASUM axis: 1 coeff: 0.5 }', [],
                       lambda x: refs.caffe_reduction(x, "ASUM", 1, 0.5), "any", False),
    "reduction_sumsq": ('type: "Reduction" reduction_param { operation: SUMSQ axis: -2 }', [],
                        lambda x: refs.caffe_reduction(x, "SUMSQ", 2), "any", False),
    "reduction_mean": ('type: "Reduction" reduction_param { operation: MEAN axis: 3 coeff: -2 }', [],
                       lambda x: refs.caffe_reduction(x, "MEAN", 3, -2.0), "any", False),
    "tile": ('type: "Tile" tile_param { axis: 2 tiles: 3 }', [], lambda x: np.tile(x, (1, 1, 3, 1)), "any", False),
    "shuffle_channel": ('type: "ShuffleChannel" shuffle_channel_param { group: 3 }', [],
                        lambda x: refs.shuffle_channel(x, 3), "any", True),
    "interp_size": ('type: "Interp" interp_param { height: 9 width: 7 }', [],
                    lambda x: refs.deeplab_interp(x, height=9, width=7), "any", True),
    "interp_zoom": ('type: "Interp" interp_param { zoom_factor: 3 }', [], lambda x: refs.deeplab_interp(x, zoom=3),
                    "any", True),
    # OpenCV fails on shrink_factor alone and ignores it beside zoom_factor, and ignores the pads
    "interp_shrink": ('type: "Interp" interp_param { shrink_factor: 2 }', [],
                      lambda x: refs.deeplab_interp(x, shrink=2), "any", False),
    "interp_shrink_zoom": ('type: "Interp" interp_param { shrink_factor: 2 zoom_factor: 3 }', [],
                           lambda x: refs.deeplab_interp(x, zoom=3, shrink=2), "any", False),
    "interp_size_before_both": ('type: "Interp" interp_param { shrink_factor: 2 zoom_factor: 3 height: 4 width: 3 }',
                                [], lambda x: refs.deeplab_interp(x, height=4, width=3, zoom=3, shrink=2), "any",
                                False),
    "interp_pads": ('type: "Interp" interp_param { zoom_factor: 2 pad_beg: -1 pad_end: 0 }', [],
                    lambda x: refs.deeplab_interp(x, zoom=2, pad_beg=-1), "any", False),
    # FlowNet's Resample as OpenCV runs it (asymmetric coordinates)
    "resample_linear": ('type: "Resample" resample_param { type: LINEAR width: 7 height: 9 }', [],
                        lambda x: refs.opencv_resize_asymmetric(x, 9, 7, "linear"), "any", True),
    "resample_linear_down": ('type: "Resample" resample_param { type: LINEAR width: 3 height: 2 }', [],
                             lambda x: refs.opencv_resize_asymmetric(x, 2, 3, "linear"), "any", True),
    "resample_nearest": ('type: "Resample" resample_param { type: NEAREST width: 7 height: 9 }', [],
                         lambda x: refs.opencv_resize_asymmetric(x, 9, 7, "nearest"), "any", True),
    "resample_nearest_factor": ('type: "Resample" resample_param { type: NEAREST factor: 3 }', [],
                                lambda x: refs.opencv_resize_asymmetric(x, 15, 12, "nearest"), "any", True),
    "lrn_within_channel": ('type: "LRN" lrn_param { norm_region: WITHIN_CHANNEL local_size: 3 alpha: 2 beta: 0.75 '
                           'k: 5 }', [], lambda x: refs.caffe_lrn_within_channel(x, 3, 2.0, 0.75), "any", True),
    # test-time Caffe (OpenCV 4.x: "Not implemented"); Caffe meant it for non-negative inputs
    "pool_stochastic": ('type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 3 stride: 2 }', [],
                        lambda x: refs.caffe_stochastic_pool_test(x, 3, 2), "non-negative", False),
}


def _input(kind: str, seed: int = 0, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if kind in ("positive", "non-negative"):
        x = np.abs(x) + 0.05
    if kind == "non-negative":
        x[0, 0, :3, :3] = 0  # an all-zero window
    return x


def _layer(fields: str) -> str:
    """Layer "l" reading "data": its type and param block as ``fields`` gives them."""
    return f'layer {{ name: "l" bottom: "data" top: "l" {fields} }}\n'


def _write(tmp_path, name: str, dims: str = "dim: 2 dim: 6 dim: 5 dim: 4"):
    layer, blobs, *_ = CASES[name]
    proto = tmp_path / f"{name}.prototxt"
    proto.write_text(HEADER % dims + _layer(layer))
    weights = tmp_path / f"{name}.caffemodel"
    save_caffemodel(weights, {"l": blobs} if blobs else {})
    return proto, weights


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_maps_and_matches_its_definition(tmp_path, name, target):
    proto, weights = _write(tmp_path, name)
    _, _, ref, kind, _ = CASES[name]
    g = load_caffe(proto, weights)
    assert not [op.qualified_type for op in g.ops.values() if op.domain], "mapped to ONNX ops, no caffe node"
    x = _input(kind)
    (got,) = graphc.compile(g, target=target).run({"data": x}).values()
    want = ref(x)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", ["interp_zoom", "interp_shrink_zoom", "interp_pads", "interp_size",
                                  "shuffle_channel", "mvn", "lrn_within_channel"])
def test_free_input_dims_are_computed_at_run_time(tmp_path, name, target):
    proto, weights = _write(tmp_path, name)
    g = load_caffe(proto, weights, input_shapes={"data": [None, 6, None, None]})
    artifact = graphc.compile(g, target=target)
    for shape in ((1, 6, 7, 5), (3, 6, 4, 9)):
        x = _input("any", 1, shape)
        (got,) = artifact.run({"data": x}).values()
        np.testing.assert_allclose(got, CASES[name][2](x), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("target", TARGETS)
def test_bias_from_a_second_bottom(tmp_path, target):
    text = ('layer { name: "in" type: "Input" top: "x" top: "b" input_param { shape { dim: 2 dim: 6 dim: 5 dim: 4 } '
            'shape { dim: 6 dim: 5 } } }\n'
            'layer { name: "bias" type: "Bias" bottom: "x" bottom: "b" top: "y" }\n')
    (tmp_path / "b.prototxt").write_text(text)
    rng = np.random.default_rng(2)
    x, b = rng.standard_normal(SHAPE).astype(np.float32), rng.standard_normal((6, 5)).astype(np.float32)
    (got,) = graphc.compile(tmp_path / "b.prototxt", target=target).run({"x": x, "b": b}).values()
    np.testing.assert_allclose(got, x + b[:, :, None], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("target", TARGETS)
def test_resample_to_a_second_bottoms_size(tmp_path, target):
    text = ('layer { name: "in" type: "Input" top: "x" top: "like" input_param { shape { dim: 2 dim: 3 dim: 5 dim: 4 } '
            'shape { dim: 1 dim: 1 dim: 3 dim: 7 } } }\n'
            'layer { name: "up" type: "Resample" bottom: "x" bottom: "like" top: "y" '
            'resample_param { type: LINEAR } }\n')
    (tmp_path / "r.prototxt").write_text(text)
    x = _input("any", 6, (2, 3, 5, 4))
    feeds = {"x": x, "like": np.zeros((1, 1, 3, 7), np.float32)}
    (got,) = graphc.compile(tmp_path / "r.prototxt", target=target).run(feeds).values()
    np.testing.assert_allclose(got, refs.opencv_resize_asymmetric(x, 3, 7, "linear"), rtol=2e-6, atol=2e-6)


def test_registered_resample_block_reads_from_a_caffemodel_alone(tmp_path):
    """A .caffemodel carries the block at the fork's number once it is registered."""
    register_caffe_param("resample_param", 155, "ResampleParameter", [
        field("width", 1, "uint32"), field("height", 2, "uint32"),
        field("type", 3, "enum:ResampleParameter.ResampleType", default="LINEAR"),
        field("antialias", 4, "bool", default=True), field("factor", 5, "float", default=1.0)],
        enums={"ResampleType": [("NEAREST", 1), ("LINEAR", 2), ("CUBIC", 3), ("AREA", 4)]})
    try:
        net = caffe_messages()["NetParameter"]()
        net.input.append("data")
        net.input_shape.add().dim.extend(SHAPE)
        layer = net.layer.add(name="l", type="Resample", bottom=["data"], top=["l"])
        layer.resample_param.type = 1  # NEAREST
        layer.resample_param.factor = 3
        (tmp_path / "r.caffemodel").write_bytes(net.SerializeToString())
        x = _input("any", 7)
        (got,) = graphc.compile(load_caffe(tmp_path / "r.caffemodel"), target="numpy").run({"data": x}).values()
    finally:
        CAFFE_PARAMS.remove("resample_param")
    np.testing.assert_array_equal(got, refs.opencv_resize_asymmetric(x, 15, 12, "nearest"))


@pytest.mark.parametrize("target", TARGETS)
def test_argmax_of_class_scores_is_rank_3(tmp_path, target):
    """A classifier's [N, classes] scores: Caffe's top is [N, 1, top_k] (at least rank 3)."""
    (tmp_path / "a.prototxt").write_text(HEADER % "dim: 3 dim: 10" + _layer('type: "ArgMax" argmax_param { top_k: 2 }'))
    x = _input("any", 5, (3, 10))
    (got,) = graphc.compile(tmp_path / "a.prototxt", target=target).run({"data": x}).values()
    assert got.shape == (3, 1, 2)
    np.testing.assert_array_equal(got, refs.caffe_argmax(x, 2))
    np.testing.assert_array_equal(got[:, 0], np.argsort(-x, axis=1)[:, :2])


@pytest.mark.parametrize("layer, message", [
    ('type: "Interp" interp_param { zoom_factor: 2 pad_beg: 1 }', "must be <= 0"),
    ('type: "Interp" interp_param { pad_beg: -1 }', "needs height and width, zoom_factor or shrink_factor"),
    ('type: "Tile" tile_param { axis: 1 }', "needs tiles >= 1"),
    ('type: "Reduction" reduction_param { axis: 4 }', "axis 4 is out of range for a rank-4 blob"),
    ('type: "Log" log_param { base: 0 }', "base 0.0 must be positive or -1"),
    ('type: "LRN" lrn_param { norm_region: WITHIN_CHANNEL local_size: 4 }', "local_size 4 must be odd"),
    ('type: "Resample" resample_param { type: CUBIC width: 4 height: 4 }', "type CUBIC is not supported"),
    ('type: "Resample" resample_param { type: LINEAR factor: 2 }', "LINEAR with factor 2.0 is not supported"),
])
def test_bad_parameters_name_the_layer(tmp_path, layer, message):
    (tmp_path / "bad.prototxt").write_text(HEADER % "dim: 1 dim: 2 dim: 3 dim: 3" + _layer(layer))
    with pytest.raises(ModelFormatError, match=f"layer 'l' .*{message}"):
        load_caffe(tmp_path / "bad.prototxt")


def test_padded_or_global_stochastic_pooling_stays_a_caffe_node(tmp_path):
    """Caffe's test-time STOCHASTIC ignores the padding, which no ONNX pooling window reproduces."""
    (tmp_path / "p.prototxt").write_text(HEADER % "dim: 1 dim: 2 dim: 6 dim: 6" + _layer(
        'type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 3 stride: 2 pad: 1 }'))
    assert load_caffe(tmp_path / "p.prototxt").ops["l"].qualified_type == "caffe::Pooling"


# ------------------------------------------------------- OpenCV as oracle
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(n for n, case in CASES.items() if case[4]))
def test_same_output_as_opencv_dnn_when_installed(tmp_path, name, target):
    """OpenCV 4.x itself, where it is installed (graphc does not depend on it): checked with 4.14."""
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        pytest.skip(f"OpenCV {cv2.__version__} has no Caffe importer")
    proto, weights = _write(tmp_path, name)
    x = _input(CASES[name][3], 3)
    net = cv2.dnn.readNetFromCaffe(str(proto), str(weights))
    net.setInput(x)
    want = net.forward()
    (got,) = graphc.compile(load_caffe(proto, weights), target=target).run({"data": x}).values()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
