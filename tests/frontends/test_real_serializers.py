"""Frontends read files written by the real frameworks' serializers (issue 21 item 9).

The other frontend tests write their models with graphc's own schemas, so a wrong field number
would read back as written. The files here were written by TensorFlow 2.15, tf.keras 2.15,
Keras 3 and protobuf classes compiled from upstream BVLC ``caffe.proto``
(``tools/make_frontend_fixtures.py``; provenance in ``tests/frontends/data/README.md``), and the
expected outputs are what TensorFlow, Keras or OpenCV dnn computed on the stored inputs.
The schemas graphc declares are also compared, field by field, with the upstream descriptors.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format

import graphc
from graphc.frontends.caffe_schema import LAYER_PARAM_FIELDS, caffe_messages
from graphc.frontends.tf_schema import tf_messages

DATA = Path(__file__).parent / "data"
TARGETS = ["numpy", "ort"]
RTOL, ATOL = 1e-5, 1e-6


def _check_outputs(path: Path, target: str, npz: str, inputs: list[str], **options) -> None:
    """Compile ``path`` for ``target``, run it on the stored inputs and compare every stored output."""
    ref = np.load(DATA / npz)
    feeds = {name: ref[name] for name in inputs}
    art = graphc.compile(path, target, **options)
    snapshot = {k: v.copy() for k, v in feeds.items()}
    got = art.run(feeds)
    expected = {k: ref[k] for k in ref.files if k not in inputs}
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        np.testing.assert_allclose(got[name], want, rtol=RTOL, atol=ATOL, err_msg=f"{path.name} {target} {name}")
    for name, before in snapshot.items():
        np.testing.assert_array_equal(feeds[name], before)


# ---------------------------------------------------------------- numerics against the framework

@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", ["tf_conv_frozen.pb", "tf_conv_frozen.pbtxt", "tf_wide_frozen.pb"])
def test_a_tensorflow_frozen_graph_matches_tensorflow(name, target):
    """TF 2.15's frozen graphs. tf_conv: NHWC convs, NoOp, FusedBatchNormV3, Relu6, depthwise, a
    computed-shape Reshape, l2_normalize. tf_wide: SAME stride 2 on an odd size, dilated EXPLICIT-padded
    Conv2D, FusedBatchNorm (V1), LeakyRelu, AvgPool SAME, the element-wise ops, ConcatV2, Transpose,
    Max/Min/Sum/Prod reductions, SquaredDifference, ExpandDims/Squeeze, MatMul transpose_b, Softmax,
    PadV2 with a constant, Mean keepdims, a SAME Conv2D with dilations (onnxruntime refused it as auto_pad)."""
    _check_outputs(DATA / name, target, name.rsplit(".", 1)[0] + ".npz", ["input"])


KERAS_FILES = [
    ("keras2_full.h5", "keras2.npz", {}),
    ("keras2_tf215.keras", "keras2.npz", {}),
    ("keras2_weights.json", "keras2.npz", {"weights": "keras2_weights.h5"}),
    ("keras3.keras", "keras3.npz", {}),
    ("keras3.json", "keras3.npz", {"weights": "keras3.weights.h5"}),
    ("keras2_wide.h5", "keras2_wide.npz", {}),
    ("keras3_wide.keras", "keras3_wide.npz", {}),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name,npz,options", KERAS_FILES, ids=[f[0] for f in KERAS_FILES])
def test_a_keras_file_matches_keras(name, npz, options, target):
    """keras2/keras3: Conv2D, BatchNormalization, SeparableConv2D (multiplier 2), DepthwiseConv2D, pooling,
    Dense. *_wide: ZeroPadding2D, strided Conv2D with relu6, LeakyReLU, Cropping2D, UpSampling2D, SAME
    convolutions with dilations (Conv2D 2x3 at (3, 2), DepthwiseConv2D, SeparableConv2D: onnxruntime
    refused them as auto_pad with dilations), Add/Multiply/Subtract/Maximum/Average/Concatenate,
    Rescaling, ReLU(max_value), ReLU(negative_slope), GlobalMaxPooling2D, Permute, Reshape, Dropout,
    Flatten, Dense tanh/selu, Activation, Softmax."""
    pytest.importorskip("h5py")
    options = {k: str(DATA / v) for k, v in options.items()}
    _check_outputs(DATA / name, target, npz, ["image"], **options)


CAFFE_NETS = ("caffe_tiny", "caffe_wide", "caffe_ssd")
CAFFE_FILES = [(f"{net}.{form}", net) for net in CAFFE_NETS for form in ("caffemodel", "prototxt")]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name,net", CAFFE_FILES, ids=[f[0] for f in CAFFE_FILES])
def test_a_caffe_net_from_upstream_caffe_proto_matches_opencv(name, net, target):
    """caffe_tiny: BatchNorm's scale-factor blob (2.5), Scale with bias, leaky in-place ReLU, Split, MAX
    pooling with Caffe's ceil rounding (8x8, k3 s2 -> 4x4), global AVE pooling, InnerProduct, Softmax.
    caffe_wide: grouped rectangular strided Convolution, PReLU, LRN, padded AVE pooling (Caffe counts the
    pads), dilated Convolution without bias, Deconvolution, Slice, Eltwise SUM with coefficients / PROD /
    MAX, Concat, Crop at offsets, Power, TanH, Dropout, Flatten, Reshape with 0 and -1, Sigmoid, Softmax on
    axis 2. caffe_ssd (the SSD fork's caffe.proto): Normalize (per-channel scale), Permute, PriorBox (min,
    max, flipped ratio 2, clip, step, variances), DetectionOutput (CENTER_SIZE, NMS, keep_top_k 12).
    A .prototxt reads its weights from the .caffemodel; a .caffemodel alone holds both."""
    options = {"weights": str(DATA / f"{net}.caffemodel")} if name.endswith(".prototxt") else {}
    _check_outputs(DATA / name, target, f"{net}.npz", ["data"], **options)


# ---------------------------------------------------------------- field-level agreement

CAFFE_BLOBS = {"data": [], "conv1": [(4, 3, 3, 3), (4,)], "bn1": [(4,), (4,), (1,)], "scale1": [(4,), (4,)],
               "relu1": [], "split1": [], "pool1": [], "fc": [(5, 64), (5,)], "prob": [], "pool2": []}


def test_the_caffemodel_parses_to_the_layers_and_blobs_it_was_written_with():
    net = caffe_messages()["NetParameter"]()
    net.ParseFromString((DATA / "caffe_tiny.caffemodel").read_bytes())
    assert net.name == "caffe_tiny"
    assert {lp.name: [tuple(b.shape.dim) for b in lp.blobs] for lp in net.layer} == CAFFE_BLOBS
    by_name = {lp.name: lp for lp in net.layer}
    assert by_name["bn1"].blobs[2].data[0] == 2.5 and by_name["bn1"].batch_norm_param.eps == pytest.approx(1e-4)
    assert list(by_name["split1"].top) == ["split1_a", "split1_b"]
    assert by_name["pool1"].pooling_param.kernel_size == 3 and by_name["pool1"].pooling_param.stride == 2
    assert by_name["pool2"].pooling_param.global_pooling
    assert by_name["relu1"].relu_param.negative_slope == pytest.approx(0.1)
    assert by_name["fc"].inner_product_param.num_output == 5


@pytest.mark.parametrize("net", CAFFE_NETS)
def test_the_text_and_binary_caffe_nets_parse_to_the_same_layers(net):
    """protobuf's text_format wrote the prototxt by field name, SerializeToString the caffemodel by number:
    parsed with graphc's schema they must be the same net once the blobs are dropped."""
    binary, text = caffe_messages()["NetParameter"](), caffe_messages()["NetParameter"]()
    binary.ParseFromString((DATA / f"{net}.caffemodel").read_bytes())
    text_format.Parse((DATA / f"{net}.prototxt").read_text(), text)
    assert sum(len(lp.blobs) for lp in binary.layer) >= 7
    for lp in binary.layer:
        del lp.blobs[:]
    assert len(text.layer) >= 10 and text == binary


def test_the_binary_and_text_graphdefs_parse_to_the_same_nodes():
    """TensorFlow wrote the .pbtxt by field name and the .pb by number: with a wrong number in graphc's
    schema the binary parse would lose or misplace that field."""
    GraphDef = tf_messages()["GraphDef"]
    binary, text = GraphDef(), GraphDef()
    binary.ParseFromString((DATA / "tf_conv_frozen.pb").read_bytes())
    # what graphc leaves out (NodeDef.experimental_type) is skipped in text, kept as unknown in binary
    text_format.Parse((DATA / "tf_conv_frozen.pbtxt").read_text(), text, allow_unknown_field=True)
    binary.DiscardUnknownFields()
    assert len(binary.node) > 30 and binary == text
    assert binary.versions.producer > 0


def _field_table(cls: type) -> dict[str, dict[str, list]]:
    """Every message reachable from ``cls``: field name -> [number, type, repeated, default, type name]."""
    out: dict[str, dict[str, list]] = {}
    package = cls.DESCRIPTOR.file.package + "."

    def walk(desc) -> None:
        name = desc.full_name[len(package):]
        if name in out or desc.GetOptions().map_entry:
            return
        out[name] = {}
        for f in desc.fields:
            sub = f.message_type or f.enum_type
            repeated = f.is_repeated if hasattr(f, "is_repeated") else f.label == f.LABEL_REPEATED
            default = f.default_value if f.has_default_value else None
            if f.enum_type is not None and default is not None:
                default = f.enum_type.values_by_number[default].name
            out[name][f.name] = [f.number, f.type, repeated, default,
                                 None if sub is None else sub.full_name[len(package):]]
            target = f.message_type
            if target is not None and target.GetOptions().map_entry:  # map<string, V>: follow V
                target = target.fields_by_name["value"].message_type
            if target is not None:
                walk(target)

    walk(cls.DESCRIPTOR)
    return out


def _same_default(ours, theirs: str | None) -> bool:
    """graphc's default (a Python value) equals upstream's proto text (floats at float32)."""
    if ours is None or theirs is None:
        return ours is None and theirs is None
    if isinstance(ours, bool):
        return theirs == ("true" if ours else "false")
    if isinstance(ours, float):
        return np.float32(ours) == np.float32(float(theirs))
    return str(ours) == theirs


def _compare(ours: dict[str, dict[str, list]], upstream: dict, *, defaults: bool) -> list[str]:
    """What graphc declares differently from upstream (fields upstream has and graphc leaves out are fine:
    the parsers skip them)."""
    wrong = []
    for msg, fields in ours.items():
        theirs = upstream["messages"].get(msg)
        if theirs is None:
            wrong.append(f"{msg}: no such message upstream")
            continue
        for name, (number, ftype, repeated, default, sub) in fields.items():
            if name not in theirs:
                wrong.append(f"{msg}.{name}: no such field upstream")
                continue
            t_number, t_type, t_repeated, t_default, t_sub = theirs[name]
            if (number, ftype, repeated, sub) != (t_number, t_type, t_repeated, t_sub):
                wrong.append(f"{msg}.{name}: graphc {[number, ftype, repeated, sub]}, "
                             f"upstream {[t_number, t_type, t_repeated, t_sub]}")
            elif defaults and not _same_default(default, t_default):
                wrong.append(f"{msg}.{name}: default graphc {default!r}, upstream {t_default!r}")
    return wrong


def _enum_mismatches(cls: type, upstream: dict) -> list[str]:
    wrong = []
    pool, package = cls.DESCRIPTOR.file.pool, cls.DESCRIPTOR.file.package + "."
    for name, values in upstream["enums"].items():
        try:
            desc = pool.FindEnumTypeByName(package + name)
        except KeyError:
            continue
        ours = {v.name: v.number for v in desc.values}
        wrong += [f"{name}.{k} = {v}, upstream {values.get(k)}" for k, v in ours.items() if values.get(k) != v]
    return wrong


def test_graphc_tensorflow_schema_agrees_with_tensorflow_descriptors():
    """tf_descriptors.json: TensorFlow 2.15's own graph_pb2 descriptors (field number, type, label)."""
    upstream = json.loads((DATA / "tf_descriptors.json").read_text())
    ours = _field_table(tf_messages()["GraphDef"])
    assert {"GraphDef", "NodeDef", "AttrValue", "TensorProto", "TensorShapeProto"} <= set(ours)
    assert _compare(ours, upstream, defaults=False) == []  # proto3: no declared defaults
    assert _enum_mismatches(tf_messages()["GraphDef"], upstream) == []


#: fork blocks at a number an upstream file uses for another block, knowingly: OpenCV's merged caffe.proto
#: puts Faster R-CNN's proposal_param at 201, the SSD fork's (training-only) multibox_loss_param, so an SSD
#: training net's MultiBoxLoss block reads as a ProposalParameter of nonsense values, on a layer no
#: converter reads it from
KNOWN_COLLISIONS = {"proposal_param": 201}

#: fields other forks add to an upstream message: NVCaffe's / OpenCV's fp16 blobs (BlobProto 10 and 12, as in
#: OpenCV's res10_300x300_ssd_iter_140000_fp16.caffemodel); they must not take a number upstream uses there
FORK_FIELDS = {"BlobProto": {"raw_data_type": 10, "raw_data": 12}}


def _fork_blocks(layer: dict[str, list], upstream_layer: dict[str, list]) -> dict[str, list]:
    """LayerParameter fields graphc declares that neither upstream file has: other forks' blocks
    (DeepLab's Interp at OpenCV's number, ShuffleNet's ShuffleChannel, the R-CNN forks' blocks...)."""
    return {k: v for k, v in layer.items() if k not in upstream_layer}


def _nested(ours: dict[str, dict[str, list]], roots: set[str]) -> set[str]:
    """``roots`` and every message they reach through their fields."""
    seen, stack = set(), list(roots)
    while stack:
        msg = stack.pop()
        if msg in seen or msg not in ours:
            continue
        seen.add(msg)
        stack += [f[4] for f in ours[msg].values() if f[4]]
    return seen


def test_graphc_caffe_schema_agrees_with_upstream_caffe_proto():
    """caffe_descriptors.json: BVLC caffe.proto compiled by protoc; caffe_ssd_descriptors.json: the SSD
    fork's (weiliu89/caffe, branch ssd). Numbers, types, labels and proto2 defaults (a wrong default
    changes what a net means when the field is left out) must agree for every message either declares.
    Other forks' blocks (in neither file) must not take a number or a message name upstream uses: a
    misspelt upstream block would be one of them, at an upstream number."""
    bvlc = json.loads((DATA / "caffe_descriptors.json").read_text())
    ssd = json.loads((DATA / "caffe_ssd_descriptors.json").read_text())
    ours = _field_table(caffe_messages()["NetParameter"])
    layer = ours.pop("LayerParameter")
    upstream_layer = {**ssd["messages"]["LayerParameter"], **bvlc["messages"]["LayerParameter"]}
    forks = _fork_blocks(layer, upstream_layer)
    assert _compare({"LayerParameter": {k: v for k, v in layer.items() if k not in forks}},
                    {"messages": {"LayerParameter": upstream_layer}}, defaults=True) == []
    upstream_numbers = {f[0] for f in upstream_layer.values()}
    assert {k: v[0] for k, v in forks.items() if v[0] in upstream_numbers} == \
        {k: n for k, n in KNOWN_COLLISIONS.items() if k in forks}
    fork_messages = _nested(ours, {v[4] for v in forks.values()})
    assert fork_messages.isdisjoint(bvlc["messages"]) and fork_messages.isdisjoint(ssd["messages"])
    wrong = []
    for msg, fields in ours.items():
        upstream = bvlc if msg in bvlc["messages"] else ssd if msg in ssd["messages"] else None
        if upstream is None:
            wrong += [] if msg in fork_messages else [f"{msg}: in neither upstream caffe.proto nor a fork block"]
            continue
        added = FORK_FIELDS.get(msg, {})
        assert {k: fields[k][0] for k in added if k in fields} == added, f"{msg}: fork fields moved"
        taken = {f[0] for f in upstream["messages"][msg].values()}
        wrong += [f"{msg}.{k}: fork field at upstream number {n}" for k, n in added.items() if n in taken]
        wrong += _compare({msg: {k: v for k, v in fields.items() if k not in added}}, upstream, defaults=True)
    assert wrong == []
    assert _enum_mismatches(caffe_messages()["NetParameter"], bvlc) == []
    assert len([m for m in ours if m in bvlc["messages"]]) > 30
    assert {"PriorBoxParameter", "DetectionOutputParameter", "NormalizeParameter", "PermuteParameter"} <= set(ours)
    # the *_param table the frontend dispatches on: BVLC's numbers, the SSD fork's for its four blocks
    for name, (number, message) in LAYER_PARAM_FIELDS.items():
        if name not in forks:
            assert upstream_layer[name][0] == number and upstream_layer[name][4] == message, name
    assert LAYER_PARAM_FIELDS["interp_param"][0] == 2143  # DeepLab's own 143 is BVLC's input_param
