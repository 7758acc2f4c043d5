"""Caffe SSD nets run with no user layers (issue 17 item 3): Split, Permute, Normalize, PriorBox
(static and dynamic input sizes), Flatten/Concat/Softmax and DetectionOutput, on both targets,
against numpy references of OpenCV's semantics (tests/frontends/ssd_refs.py); training-only
layers of a .caffemodel's net are dropped; compiled artifacts load in a fresh process."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc.errors import ModelFormatError
from graphc.frontends.caffe import load_caffe, save_caffemodel
from graphc.frontends.caffe_schema import caffe_messages
from graphc.layers import LayerRegistry, load_layer_modules
from graphc.layers.builtin import caffe_ssd as caffe_ssd_layer
from graphc.layers.builtin.caffe_ssd import DetectionOutput

from tests.frontends import ssd_refs
from tests.frontends.frontend_refs import conv_nchw

TARGETS = ["numpy", "ort"]
NUM_CLASSES = 3
KEEP_TOP_K = 20

#: (source blob, channels, priors per cell, prior_box_param, its reference arguments)
SOURCES = [
    ("conv1_norm", 8, 4, "min_size: 4 max_size: 9 aspect_ratio: 2 flip: true clip: false "
                         "variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step: 2",
     dict(min_sizes=[4], max_sizes=[9], aspect_ratios=[2], clip=False, variance=[0.1, 0.1, 0.2, 0.2], step=(2, 2))),
    ("conv2", 8, 5, "min_size: 10 aspect_ratio: 2 aspect_ratio: 3 aspect_ratio: 1 variance: 0.1 offset: 0.5",
     dict(min_sizes=[10], aspect_ratios=[2, 3, 1], clip=True, variance=[0.1])),  # clip unset: OpenCV clips
]


def ssd_prototxt(input_dims: str, conf_threshold: float = 0.3, keep_top_k: int = KEEP_TOP_K) -> str:
    """A small SSD: conv -> Split -> Normalize / conv, two heads with Permute + Flatten, PriorBox
    on each, Concat, Reshape + Softmax + Flatten, DetectionOutput (CENTER_SIZE)."""
    shape = f"input_param {{ shape {{ {input_dims} }} }}" if input_dims else ""
    text = f'''name: "tiny_ssd"
layer {{ name: "data" type: "Input" top: "data" {shape} }}
layer {{ name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param {{ num_output: 8 kernel_size: 3 pad: 1 stride: 2 }} }}
layer {{ name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }}
layer {{ name: "conv1_split" type: "Split" bottom: "conv1" top: "conv1_a" top: "conv1_b" }}
layer {{ name: "conv1_norm" type: "Normalize" bottom: "conv1_a" top: "conv1_norm"
        norm_param {{ across_spatial: false channel_shared: false scale_filler {{ type: "constant" value: 20 }} }} }}
layer {{ name: "conv2" type: "Convolution" bottom: "conv1_b" top: "conv2"
        convolution_param {{ num_output: 8 kernel_size: 3 pad: 1 stride: 2 }} }}
'''
    for name, _, k, pb, _ in SOURCES:
        for head, n in (("loc", 4 * k), ("conf", NUM_CLASSES * k)):
            text += f'''layer {{ name: "{name}_{head}" type: "Convolution" bottom: "{name}" top: "{name}_{head}"
        convolution_param {{ num_output: {n} kernel_size: 3 pad: 1 }} }}
layer {{ name: "{name}_{head}_perm" type: "Permute" bottom: "{name}_{head}" top: "{name}_{head}_perm"
        permute_param {{ order: 0 order: 2 order: 3 order: 1 }} }}
layer {{ name: "{name}_{head}_flat" type: "Flatten" bottom: "{name}_{head}_perm" top: "{name}_{head}_flat"
        flatten_param {{ axis: 1 }} }}
'''
        text += f'''layer {{ name: "{name}_priorbox" type: "PriorBox" bottom: "{name}" bottom: "data"
        top: "{name}_priorbox" prior_box_param {{ {pb} }} }}
'''
    return text + f'''
layer {{ name: "mbox_loc" type: "Concat" bottom: "conv1_norm_loc_flat" bottom: "conv2_loc_flat" top: "mbox_loc" }}
layer {{ name: "mbox_conf" type: "Concat" bottom: "conv1_norm_conf_flat" bottom: "conv2_conf_flat" top: "mbox_conf" }}
layer {{ name: "mbox_priorbox" type: "Concat" bottom: "conv1_norm_priorbox" bottom: "conv2_priorbox"
        top: "mbox_priorbox" concat_param {{ axis: 2 }} }}
layer {{ name: "mbox_conf_reshape" type: "Reshape" bottom: "mbox_conf" top: "mbox_conf_reshape"
        reshape_param {{ shape {{ dim: 0 dim: -1 dim: {NUM_CLASSES} }} }} }}
layer {{ name: "mbox_conf_softmax" type: "Softmax" bottom: "mbox_conf_reshape" top: "mbox_conf_softmax"
        softmax_param {{ axis: 2 }} }}
layer {{ name: "mbox_conf_flatten" type: "Flatten" bottom: "mbox_conf_softmax" top: "mbox_conf_flatten" }}
layer {{ name: "detection_out" type: "DetectionOutput" bottom: "mbox_loc" bottom: "mbox_conf_flatten"
        bottom: "mbox_priorbox" top: "detection_out"
        detection_output_param {{ num_classes: {NUM_CLASSES} share_location: true background_label_id: 0
          nms_param {{ nms_threshold: 0.45 top_k: 60 }} code_type: CENTER_SIZE keep_top_k: {keep_top_k}
          confidence_threshold: {conf_threshold} }} }}
'''


def ssd_blobs(seed: int = 0) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)

    def conv(o, i, scale):
        return [(rng.standard_normal((o, i, 3, 3)) * scale).astype(np.float32),
                (rng.standard_normal(o) * 0.1).astype(np.float32)]

    blobs = {"conv1": conv(8, 3, 0.5), "conv2": conv(8, 8, 0.3),
             "conv1_norm": [(20 + rng.standard_normal(8)).astype(np.float32)]}
    for name, c, k, _, _ in SOURCES:
        blobs[f"{name}_loc"] = conv(4 * k, c, 0.02)
        blobs[f"{name}_conf"] = conv(NUM_CLASSES * k, c, 0.02 if name == "conv1_norm" else 0.05)
    return blobs


def ssd_reference(x: np.ndarray, blobs, conf_threshold: float = 0.3, keep_top_k: int = KEEP_TOP_K) -> dict:
    """The whole net in numpy (OpenCV's semantics for the SSD layers)."""
    conv1 = np.maximum(conv_nchw(x, *blobs["conv1"], s=2, p=1), 0)
    feats = {"conv1_norm": ssd_refs.normalize(conv1, blobs["conv1_norm"][0], across_spatial=False),
             "conv2": conv_nchw(conv1, *blobs["conv2"], s=2, p=1)}
    locs, confs, priors = [], [], []
    for name, _, _, _, args in SOURCES:
        f = feats[name]
        for head, out in (("loc", locs), ("conf", confs)):
            y = conv_nchw(f, *blobs[f"{name}_{head}"], s=1, p=1)
            out.append(np.transpose(y, (0, 2, 3, 1)).reshape(x.shape[0], -1))
        priors.append(ssd_refs.prior_box(f.shape[2:], x.shape[2:], **args))
    loc, priors = np.concatenate(locs, 1), np.concatenate(priors, 2)
    logits = np.concatenate(confs, 1).reshape(x.shape[0], -1, NUM_CLASSES)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    conf = (e / e.sum(-1, keepdims=True)).reshape(x.shape[0], -1).astype(np.float32)
    det = ssd_refs.detection_output(loc.astype(np.float32), conf, priors, NUM_CLASSES, nms_threshold=0.45, top_k=60,
                                    code_type="CENTER_SIZE", keep_top_k=keep_top_k,
                                    confidence_threshold=conf_threshold)
    return {"loc": loc, "conf": conf, "priors": priors, "detections": det}


def assert_same_detections(got: np.ndarray, want: np.ndarray) -> None:
    """Same shape, same rows (image, label) in the same order, scores and boxes to float32 rounding."""
    assert got.shape == want.shape
    g, w = got.reshape(-1, 7), want.reshape(-1, 7)
    np.testing.assert_array_equal(g[:, :2], w[:, :2])
    np.testing.assert_allclose(g[:, 2:], w[:, 2:], rtol=1e-4, atol=2e-6)


@pytest.fixture
def ssd_files(tmp_path):
    """(static prototxt, dynamic prototxt, caffemodel, blobs)."""
    blobs = ssd_blobs()
    (tmp_path / "ssd.prototxt").write_text(ssd_prototxt("dim: 1 dim: 3 dim: 32 dim: 32"))
    (tmp_path / "ssd_any.prototxt").write_text(ssd_prototxt(""))
    save_caffemodel(tmp_path / "ssd.caffemodel", blobs)
    save_caffemodel(tmp_path / "ssd_any.caffemodel", blobs)
    return tmp_path / "ssd.prototxt", tmp_path / "ssd_any.prototxt", tmp_path / "ssd.caffemodel", blobs


# ------------------------------------------------------------------ import
def test_ssd_layers_import_natively(ssd_files):
    static, _, weights, blobs = ssd_files
    g = load_caffe(static, weights)
    types = {op.qualified_type for op in g.topological_order()}
    assert "caffe::DetectionOutput" in types and types & {"caffe::Permute", "caffe::Normalize", "caffe::PriorBox",
                                                           "caffe::Split"} == set()
    perm = g.ops["conv1_norm_loc_perm"]
    assert perm.op_type == "Transpose" and perm.attrs["perm"] == [0, 2, 3, 1]
    assert g.ops["conv1_split"].op_type == "Identity"  # one value under both top names
    det = g.ops["detection_out"]
    assert det.attrs == {"num_classes": 3, "share_location": True, "background_label_id": 0,
                         "code_type": "CENTER_SIZE", "keep_top_k": KEEP_TOP_K, "variance_encoded_in_target": False,
                         "confidence_threshold": 0.3, "nms_threshold": 0.45, "top_k": 60}
    # static shapes: each PriorBox is one constant, exactly OpenCV's priors
    x = np.zeros((1, 3, 32, 32), np.float32)
    want = ssd_reference(x, blobs)["priors"]
    priors = np.concatenate([g.ops["mbox_priorbox"].inputs[i].const for i in range(2)], axis=2)
    np.testing.assert_array_equal(priors, want)


def test_dynamic_input_keeps_prior_box_as_ops(ssd_files):
    _, dynamic, weights, _ = ssd_files
    g = load_caffe(dynamic, weights)
    assert g.ops["mbox_priorbox"].inputs[0].const is None
    assert "Shape" in {op.op_type for op in g.topological_order()}


# --------------------------------------------------------------- numerics
@pytest.mark.parametrize("target", TARGETS)
def test_static_ssd_matches_opencv_reference(ssd_files, target):
    static, _, _, blobs = ssd_files
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)
    want = ssd_reference(x, blobs)["detections"]
    got = graphc.compile(static, target=target).run({"data": x})["detection_out"]
    assert (want[0, 0, :, 2] > 0).sum() == KEEP_TOP_K  # keep_top_k cut the candidates
    assert set(want[0, 0, :, 1].astype(int)) == {1, 2}
    assert_same_detections(got, want)


@pytest.mark.parametrize("target", TARGETS)
def test_dynamic_ssd_runs_at_any_size(ssd_files, target):
    _, dynamic, _, blobs = ssd_files
    art = graphc.compile(dynamic, target=target)
    rng = np.random.default_rng(2)
    for shape in ((1, 3, 32, 32), (2, 3, 40, 24)):
        x = rng.standard_normal(shape).astype(np.float32)
        want = ssd_reference(x, blobs)["detections"]
        got = art.run({"data": x})["detection_out"]
        assert got.shape == (1, 1, KEEP_TOP_K * shape[0], 7)
        assert_same_detections(got, want)
    assert set(got[0, 0, :, 0].astype(int)) == {0, 1}  # rows of both images


PRIORS_ONLY = '''
layer { name: "fmap" type: "Input" top: "fmap" INPUT_F }
layer { name: "image" type: "Input" top: "image" INPUT_I }
layer { name: "pb" type: "PriorBox" bottom: "fmap" bottom: "image" top: "pb" prior_box_param { PARAMS } }
layer { name: "out" type: "Concat" bottom: "pb" bottom: "pb" top: "out" concat_param { axis: 2 } }
'''

PRIOR_CASES = [
    ("min_size: 30 max_size: 60 aspect_ratio: 2 aspect_ratio: 3 flip: true clip: false variance: 0.1 variance: 0.1 "
     "variance: 0.2 variance: 0.2 step: 8 offset: 0.5",
     dict(min_sizes=[30], max_sizes=[60], aspect_ratios=[2, 3], clip=False, variance=[0.1, 0.1, 0.2, 0.2],
          step=(8, 8))),
    ("min_size: 20 min_size: 50 max_size: 45 max_size: 90 aspect_ratio: 2 flip: false step_h: 6 step_w: 9 "
     "offset: 0.25 img_size: 300",  # img_size is ignored, as OpenCV does
     dict(min_sizes=[20, 50], max_sizes=[45, 90], aspect_ratios=[2], flip=False, step=(6, 9), offset=0.25)),
    ("min_size: 16 aspect_ratio: 2 aspect_ratio: 0.5", dict(min_sizes=[16], aspect_ratios=[2, 0.5])),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("params, ref", PRIOR_CASES)
def test_prior_box_is_opencvs_static_and_dynamic(tmp_path, target, params, ref):
    fmap, image = (1, 4, 5, 7), (1, 3, 37, 61)
    feeds = {"fmap": np.zeros(fmap, np.float32), "image": np.zeros(image, np.float32)}
    want = ssd_refs.prior_box(fmap[2:], image[2:], **ref)
    want = np.concatenate([want, want], axis=2)
    for dims in ((fmap, image), None):
        text = PRIORS_ONLY.replace("PARAMS", params)
        for key, shape in zip(("INPUT_F", "INPUT_I"), dims or ((), ())):
            dim_text = " ".join(f"dim: {d}" for d in shape)
            text = text.replace(key, f"input_param {{ shape {{ {dim_text} }} }}" if dims else "")
        (tmp_path / "pb.prototxt").write_text(text)
        g = load_caffe(tmp_path / "pb.prototxt")
        assert (g.ops["out"].inputs[0].const is not None) == (dims is not None)  # folded when static
        got = graphc.compile(g, target=target).run(feeds)["out"]
        np.testing.assert_array_equal(got, want)


NORMALIZE = '''
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 4 dim: 3 dim: 5 } } }
layer { name: "norm" type: "Normalize" bottom: "data" top: "norm" norm_param { PARAMS } }
'''


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("params, scale, across", [
    ("across_spatial: false channel_shared: false", np.array([1.5, 2, -1, 3], np.float32), False),
    ("across_spatial: true channel_shared: true eps: 0.001", np.array([4.0], np.float32), True),
    ("channel_shared: false", np.array([1.5, 2, -1, 3], np.float32), True),
])
def test_normalize_matches_opencv(tmp_path, target, params, scale, across):
    (tmp_path / "n.prototxt").write_text(NORMALIZE.replace("PARAMS", params))
    save_caffemodel(tmp_path / "n.caffemodel", {"norm": [scale]})
    x = np.random.default_rng(3).standard_normal((2, 4, 3, 5)).astype(np.float32)
    eps = 0.001 if "eps" in params else 1e-10
    got = graphc.compile(tmp_path / "n.prototxt", target=target).run({"data": x})["norm"]
    np.testing.assert_allclose(got, ssd_refs.normalize(x, scale, across, eps), rtol=1e-5, atol=1e-6)


def test_normalize_without_its_scale_is_missing_weights(tmp_path):
    (tmp_path / "n.prototxt").write_text(NORMALIZE.replace("PARAMS", "across_spatial: false"))
    with pytest.raises(ModelFormatError, match="layer 'norm' \\(Normalize\\) needs 1 weight blob"):
        load_caffe(tmp_path / "n.prototxt")
    g = load_caffe(tmp_path / "n.prototxt", structure_only=True)  # scaffold / inspect
    assert [v.name for v in g.inputs] == ["data", "norm_scale"]


def test_permute_completes_a_partial_order_and_refuses_a_bad_one(tmp_path):
    base = 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 5 } } }\n'
    (tmp_path / "p.prototxt").write_text(base + 'layer { name: "p" type: "Permute" bottom: "data" top: "p" '
                                                'permute_param { order: 0 order: 3 } }')
    x = np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5)
    got = graphc.compile(tmp_path / "p.prototxt", target="numpy").run({"data": x})["p"]
    np.testing.assert_array_equal(got, np.transpose(x, (0, 3, 1, 2)))
    (tmp_path / "p.prototxt").write_text(base + 'layer { name: "p" type: "Permute" bottom: "data" top: "p" '
                                                'permute_param { order: 0 order: 0 order: 7 } }')
    with pytest.raises(ModelFormatError, match="layer 'p' \\(Permute\\): order \\[0, 0, 7\\]"):
        load_caffe(tmp_path / "p.prototxt")


# ---------------------------------------------------- DetectionOutput layer
def _layer(**params) -> DetectionOutput:
    full = {p: v.default for p, v in DetectionOutput.declared_params().items() if not v.required}
    return DetectionOutput({**full, **params})


def _run_layer(layer: DetectionOutput, inputs: list[np.ndarray]) -> np.ndarray:
    (shape,) = layer.output_shapes([a.shape for a in inputs])
    out = np.full(shape, np.nan, np.float32)
    layer.forward(inputs, [out], [])
    return out


@pytest.mark.parametrize("params", [
    dict(num_classes=4, share_location=False, code_type="CORNER", keep_top_k=7, top_k=30, nms_threshold=0.3,
         confidence_threshold=0.2),
    dict(num_classes=2, background_label_id=0, code_type="CENTER_SIZE", keep_top_k=5, nms_threshold=0.5,
         confidence_threshold=0.1, variance_encoded_in_target=True),  # one target class: NMS stops at keep_top_k
    dict(num_classes=3, background_label_id=-1, code_type="CENTER_SIZE", keep_top_k=50, nms_threshold=0.4,
         confidence_threshold=0.25, clip=True),
])
@pytest.mark.parametrize("matrix_limit", [2048, 3])  # overlaps as one matrix, or row by row
def test_detection_output_layer_matches_opencv(params, matrix_limit, monkeypatch):
    monkeypatch.setattr(caffe_ssd_layer, "_MATRIX_LIMIT", matrix_limit)
    rng = np.random.default_rng(4)
    num, num_priors, classes = 2, 40, params["num_classes"]
    num_loc = 1 if params.get("share_location", True) else classes
    centers = rng.uniform(0.1, 0.9, (num_priors, 2))
    sizes = rng.uniform(0.1, 0.4, (num_priors, 2))
    boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], 1).astype(np.float32)
    channels = 1 if params.get("variance_encoded_in_target") else 2
    priors = np.stack([boxes.reshape(-1), np.tile(np.float32([0.1, 0.1, 0.2, 0.2]), num_priors)])[:channels]
    loc = (rng.standard_normal((num, num_priors * num_loc * 4)) * 0.3).astype(np.float32)
    logits = rng.standard_normal((num, num_priors, classes)) * 1.5
    conf = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).reshape(num, -1).astype(np.float32)
    priors = priors.reshape(1, channels, -1).astype(np.float32)
    got = _run_layer(_layer(**params), [loc, conf, priors])
    want = ssd_refs.detection_output(loc, conf, priors, **params)
    assert_same_detections(got, want)
    assert (want[0, 0, :, 2] > 0).sum() > 2


def test_nothing_kept_is_all_zero_rows_as_opencv(ssd_files):
    static, _, _, blobs = ssd_files
    static.write_text(ssd_prototxt("dim: 1 dim: 3 dim: 32 dim: 32", conf_threshold=1.0))  # no score is above 1
    x = np.random.default_rng(7).standard_normal((1, 3, 32, 32)).astype(np.float32)
    assert not ssd_reference(x, blobs, conf_threshold=1.0)["detections"].any()
    for target in TARGETS:
        got = graphc.compile(static, target=target).run({"data": x})
        np.testing.assert_array_equal(got["detection_out"], np.zeros((1, 1, KEEP_TOP_K, 7), np.float32))


def test_a_users_detection_output_layer_still_wins(ssd_files, tmp_path):
    static, _, weights, _ = ssd_files
    layer_file = tmp_path / "my_det.py"
    layer_file.write_text(
        "import numpy as np\nimport graphc\n\n\n"
        "@graphc.register_layer('DetectionOutput', domain='caffe')\n"
        "class Mine(graphc.Layer):\n"
        "    def __init__(self, params, blobs=(), blob_slots=()):\n"
        "        super().__init__(params, blobs, blob_slots)\n\n"
        "    def get_config(self):\n        return dict(self.params)\n\n"
        "    def output_shapes(self, input_shapes):\n        return [(1, 1, 1, 7)]\n\n"
        "    def forward(self, inputs, outputs, internals):\n        outputs[0][...] = 7\n")
    layers = load_layer_modules([str(layer_file)])
    g = load_caffe(static, weights, layers=layers)
    assert set(g.ops["detection_out"].attrs) >= {"nms_param", "num_classes"}  # the block as written, for the user
    got = graphc.compile(static, target="numpy", layers=layers).run({"data": np.ones((1, 3, 32, 32), np.float32)})
    np.testing.assert_array_equal(got["detection_out"], np.full((1, 1, 1, 7), 7, np.float32))
    with pytest.raises(graphc.UnsupportedOpError, match="caffe::DetectionOutput"):
        graphc.compile(static, target="numpy", layers=LayerRegistry())  # a bare registry has no built-ins


# ------------------------------------------------------ saved artifacts
_FRESH = """
import json, sys
import numpy as np
import graphc
art = graphc.load(sys.argv[1])
x = np.load(sys.argv[2])
print(json.dumps(art.run({"data": x})["detection_out"].tolist()))
"""


@pytest.mark.parametrize("target", TARGETS)
def test_saved_artifact_runs_in_a_fresh_process_without_layers(ssd_files, tmp_path, target):
    _, dynamic, _, blobs = ssd_files
    x = np.random.default_rng(5).standard_normal((1, 3, 24, 40)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    art = graphc.compile(dynamic, target=target)
    art.save(tmp_path / "ssd.graphc")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", _FRESH, str(tmp_path / "ssd.graphc"), str(tmp_path / "x.npy")],
                          cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = np.array(json.loads(proc.stdout.strip().splitlines()[-1]), np.float32)
    np.testing.assert_array_equal(got, art.run({"data": x})["detection_out"])
    assert_same_detections(got, ssd_reference(x, blobs)["detections"])


# ------------------------------------------------- training-only layers
def _train_net(blobs: dict[str, list[np.ndarray]]) -> bytes:
    """A ResNet-style train net as a .caffemodel holds it: Data, a Split feeding loss and accuracy."""
    net = caffe_messages()["NetParameter"]()
    net.name = "train"
    net.layer.add(name="data", type="Data", top=["data", "label"])
    conv = net.layer.add(name="conv", type="Convolution", bottom=["data"], top=["conv"])
    conv.convolution_param.num_output = 4
    conv.convolution_param.kernel_size.append(3)
    net.layer.add(name="relu", type="ReLU", bottom=["conv"], top=["conv"])
    ip = net.layer.add(name="fc", type="InnerProduct", bottom=["conv"], top=["fc"])
    ip.inner_product_param.num_output = 5
    net.layer.add(name="fc_split", type="Split", bottom=["fc"], top=["fc_split_0", "fc_split_1"])
    net.layer.add(name="loss", type="SoftmaxWithLoss", bottom=["fc_split_0", "label"], top=["loss"])
    net.layer.add(name="accuracy", type="Accuracy", bottom=["fc_split_1", "label"], top=["accuracy"])
    net.layer.add(name="silence", type="Silence", bottom=["label"])
    for layer in net.layer:
        for arr in blobs.get(layer.name, []):
            blob = layer.blobs.add()
            blob.shape.dim.extend(arr.shape)
            blob.data.extend(arr.reshape(-1).tolist())
    return net.SerializeToString()


@pytest.mark.parametrize("target", TARGETS)
def test_training_layers_are_dropped_with_a_note(tmp_path, caplog, target):
    rng = np.random.default_rng(6)
    blobs = {"conv": [rng.standard_normal((4, 3, 3, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)],
             "fc": [rng.standard_normal((5, 4 * 4 * 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]}
    path = tmp_path / "resnet_train.caffemodel"
    path.write_bytes(_train_net(blobs))
    with caplog.at_level(logging.WARNING, logger="graphc.frontends"):
        g = graphc.load_model(path)
    note = " ".join(r.getMessage() for r in caplog.records)
    assert "dropped 4 training-only layer(s)" in note and "'loss' (SoftmaxWithLoss)" in note and "'data' (Data" in note
    assert [v.name for v in g.inputs] == ["data"] and len(g.outputs) == 1  # no label input, one output
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    (got,) = graphc.compile(g, target=target).run({"data": x}).values()
    hidden = np.maximum(conv_nchw(x, *blobs["conv"]), 0).reshape(2, -1)
    np.testing.assert_allclose(got, hidden @ blobs["fc"][0].T + blobs["fc"][1], rtol=1e-5, atol=1e-5)


# ------------------------------------------------------- OpenCV as oracle
@pytest.mark.parametrize("target", TARGETS)
def test_same_detections_as_opencv_dnn_when_installed(ssd_files, target):
    """OpenCV 4.x itself, where it is installed (graphc does not depend on it): checked with 4.5.5 and 4.14."""
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        pytest.skip(f"OpenCV {cv2.__version__} has no Caffe importer")
    _, dynamic, weights, _ = ssd_files
    x = np.random.default_rng(8).standard_normal((2, 3, 40, 24)).astype(np.float32)
    net = cv2.dnn.readNetFromCaffe(str(dynamic), str(weights))
    net.setInput(x)
    want = net.forward()
    got = graphc.compile(dynamic, target=target).run({"data": x})["detection_out"]
    assert_same_detections(got, want)


@pytest.mark.parametrize("target", TARGETS)
def test_inspect_says_built_in_layers_need_no_layers_flag(ssd_files, tmp_path, target, capsys):
    from graphc.cli.main import main

    static, _, _, _ = ssd_files
    out = tmp_path / f"ssd_{target}.graphc"
    assert main(["compile", str(static), "--target", target, "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "graphc's built-in layers run with no --layers: graphc.layers.builtin.caffe_ssd:DetectionOutput" in text
    assert "it needs its layers to run" not in text


def test_fields_outside_ssds_schema(ssd_files):
    """OpenCV's own normalized_bbox / clip reach the layer, save_output_param is left out, and a field
    graphc does not implement (OpenCV's explicit PriorBox widths) is refused rather than ignored."""
    static, _, weights, _ = ssd_files
    text = static.read_text()
    static.write_text(text.replace("confidence_threshold: 0.3 }", 'confidence_threshold: 0.3 clip: true '
                                   'save_output_param { label_map_file: "labelmap.prototxt" } }'))
    det = load_caffe(static, weights).ops["detection_out"]
    assert det.attrs["clip"] is True and "save_output_param" not in det.attrs
    static.write_text(text.replace("offset: 0.5", "offset: 0.5 width: 10 height: 12"))
    with pytest.raises(ModelFormatError, match="layer 'conv2_priorbox' \\(PriorBox\\): prior_box_param field\\(s\\) "
                                               "height, width are not supported"):
        load_caffe(static, weights)
