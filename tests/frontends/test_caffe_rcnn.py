"""Faster R-CNN's Proposal, Fast R-CNN's ROIPooling and R-FCN's PSROIPooling load with no user
code (issue 17, item 3): caffe nodes graphc's built-in layers run
(graphc/layers/builtin/caffe_rcnn.py), on both targets, against ports of the forks' kernels and
of py-faster-rcnn's proposal layer (tests/frontends/frontend_refs.py) and, where cv2 is
importable, against OpenCV's dnn."""

from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.frontends.caffe import load_caffe, parse_net, save_caffemodel

from tests.frontends import frontend_refs as refs

TARGETS = ["numpy", "ort"]
INPUTS = ('layer { name: "in" type: "Input" top: "data" top: "rois" input_param { shape { dim: 2 dim: 18 dim: 12 '
          'dim: 10 } shape { dim: 7 dim: 5 } } }\n')
LAYERS = {
    "ROIPooling": 'roi_pooling_param { pooled_h: 3 pooled_w: 4 spatial_scale: 0.125 }',
    "PSROIPooling": 'psroi_pooling_param { spatial_scale: 0.125 output_dim: 2 group_size: 3 }',
}
#: regions (batch, x1, y1, x2, y2) in image pixels: the whole map, fractions rounding both ways,
#: a one-cell region, one past every border, an inverted one and one wholly outside the map
ROIS = np.array([[0, 0, 0, 79, 95], [1, 10.5, 20.4, 50, 60], [0, 30, 30, 31, 31], [1, -20, -8, 200, 300],
                 [0, 60, 70, 40, 50], [1, 2.5, 3.5, 13.5, 17.5], [0, 500, 500, 600, 600]], np.float32)


def _reference(kind: str, x: np.ndarray) -> np.ndarray:
    if kind == "ROIPooling":
        return refs.fast_rcnn_roi_pool(x, ROIS, 3, 4, 0.125)
    return refs.rfcn_psroi_pool(x, ROIS, 0.125, 2, 3)


def _net(tmp_path, kind: str):
    path = tmp_path / f"{kind}.prototxt"
    path.write_text(INPUTS + f'layer {{ name: "pool" type: "{kind}" bottom: "data" bottom: "rois" top: "pool" '
                             f'{LAYERS[kind]} }}\n')
    return path


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_region_pooling_runs_with_no_layers_flag(tmp_path, kind, target):
    path = _net(tmp_path, kind)
    assert load_caffe(path).ops["pool"].qualified_type == f"caffe::{kind}"
    x = np.random.default_rng(0).standard_normal((2, 18, 12, 10)).astype(np.float32)
    (got,) = graphc.compile(path, target=target).run({"data": x, "rois": ROIS}).values()
    np.testing.assert_allclose(got, _reference(kind, x), rtol=1e-6, atol=1e-6)
    assert not got[-1].any()  # the region outside the map: every bin empty


def test_blocks_are_typed_at_the_forks_numbers(tmp_path):
    """roi_pooling_param = 8266711 and psroi_pooling_param = 10002, as OpenCV's caffe.proto has them."""
    for kind, want in (("ROIPooling", {"pooled_h": 3, "pooled_w": 4, "spatial_scale": 0.125}),
                       ("PSROIPooling", {"spatial_scale": 0.125, "output_dim": 2, "group_size": 3})):
        net, _ = parse_net(_net(tmp_path, kind))
        binary = tmp_path / f"{kind}.caffemodel"
        binary.write_bytes(net.SerializeToString())
        assert load_caffe(binary).ops["pool"].attrs == want


def test_wrong_channel_count_is_an_error(tmp_path):
    path = tmp_path / "bad.prototxt"
    path.write_text(INPUTS + 'layer { name: "pool" type: "PSROIPooling" bottom: "data" bottom: "rois" top: "pool" '
                             'psroi_pooling_param { spatial_scale: 0.125 output_dim: 3 group_size: 3 } }\n')
    with pytest.raises(graphc.GraphcError, match="the input has 18 channels; output_dim 3 x group_size 3\\^2 needs 27"):
        graphc.compile(path, target="numpy")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_same_output_as_opencv_dnn_when_installed(tmp_path, kind, target):
    """OpenCV 4.x itself, where it is installed (graphc does not depend on it): checked with 4.14."""
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        pytest.skip(f"OpenCV {cv2.__version__} has no Caffe importer")
    path = _net(tmp_path, kind)
    x = np.random.default_rng(1).standard_normal((2, 18, 12, 10)).astype(np.float32)
    net = cv2.dnn.readNetFromCaffe(str(path))
    net.setInput(x, "data")
    net.setInput(ROIS, "rois")
    want = net.forward()
    (got,) = graphc.compile(path, target=target).run({"data": x, "rois": ROIS}).values()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ Proposal
ANCHORS = 6  # ratio 0.5, 1, 2 x scale 4, 8
PROPOSAL = (f'layer {{ name: "in" type: "Input" top: "scores" top: "deltas" top: "im_info" input_param {{ '
            f'shape {{ dim: 1 dim: {2 * ANCHORS} dim: 7 dim: 9 }} shape {{ dim: 1 dim: {4 * ANCHORS} dim: 7 dim: 9 }} '
            'shape { dim: 1 dim: 3 } } }\n'
            'layer { name: "proposal" type: "Proposal" bottom: "scores" bottom: "deltas" bottom: "im_info" top: "rois" '
            'TOPS proposal_param { feat_stride: 16 base_size: 16 ratio: 0.5 ratio: 1 ratio: 2 scale: 4 scale: 8 '
            'pre_nms_topn: 200 post_nms_topn: POST nms_thresh: 0.6 } }\n')


def _proposal_inputs(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"scores": rng.random((1, 2 * ANCHORS, 7, 9)).astype(np.float32),
            "deltas": (rng.standard_normal((1, 4 * ANCHORS, 7, 9)) * 0.3).astype(np.float32),
            "im_info": np.array([[100, 130, 1]], np.float32)}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("post_nms", [40, 300])  # 300: fewer survive the NMS, zero rows follow
def test_proposal_matches_py_faster_rcnn(tmp_path, target, post_nms):
    path = tmp_path / "rpn.prototxt"
    path.write_text(PROPOSAL.replace("TOPS", 'top: "rpn_scores"').replace("POST", str(post_nms)))
    feeds = _proposal_inputs(4)
    rois, scores = graphc.compile(path, target=target).run(feeds).values()
    want, want_scores = refs.py_faster_rcnn_proposals(feeds["scores"], feeds["deltas"], feeds["im_info"], 16,
                                                      [0.5, 1, 2], [4, 8], 200, post_nms, 0.6)
    assert rois.shape == (post_nms, 5) and scores.shape == (post_nms, 1)
    kept = len(want)
    assert kept == min(post_nms, kept) and (post_nms == 40) == (kept == 40)
    np.testing.assert_allclose(rois[:kept], want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(scores[:kept, 0], want_scores, rtol=1e-6)
    assert not rois[kept:].any() and not scores[kept:].any()


def test_proposal_with_one_top_and_without_anchors(tmp_path):
    path = tmp_path / "rpn.prototxt"
    path.write_text(PROPOSAL.replace("TOPS", "").replace("POST", "40"))
    g = load_caffe(path)
    assert g.ops["proposal"].qualified_type == "caffe::Proposal" and [v.name for v in g.outputs] == ["rois"]
    (rois,) = graphc.compile(g, target="numpy").run(_proposal_inputs(5)).values()
    assert rois.shape == (40, 5)
    path.write_text(PROPOSAL.replace("TOPS", "").replace("POST", "40").replace("scale: 4 scale: 8 ", ""))
    with pytest.raises(graphc.GraphcError, match="layer 'proposal' \\(Proposal\\): proposal_param needs ratio and "
                                                 "scale values"):
        load_caffe(path)


@pytest.mark.parametrize("target", TARGETS)
def test_proposal_same_as_opencv_dnn_when_installed(tmp_path, target):
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        pytest.skip(f"OpenCV {cv2.__version__} has no Caffe importer")
    path = tmp_path / "rpn.prototxt"
    path.write_text(PROPOSAL.replace("TOPS", 'top: "rpn_scores"').replace("POST", "300"))
    feeds = _proposal_inputs(6)
    net = cv2.dnn.readNetFromCaffe(str(path))
    for name, value in feeds.items():
        net.setInput(value, name)
    (want_rois, want_scores), = net.forwardAndRetrieve(["proposal"])
    rois, scores = graphc.compile(path, target=target).run(feeds).values()
    # pixel coordinates up to 130: float32 steps of 7.6e-6 there, more where a decode cancels
    np.testing.assert_allclose(rois, want_rois.reshape(rois.shape), rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(scores, want_scores.reshape(scores.shape))


# ---------------------------------------------------- a whole Faster R-CNN
FASTER_RCNN = '''name: "tiny_faster_rcnn"
layer { name: "in" type: "Input" top: "data" top: "im_info" input_param { shape { dim: 1 dim: 3 dim: 64 dim: 80 }
        shape { dim: 1 dim: 3 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 8 kernel_size: 4 stride: 4 } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "rpn_cls_score" type: "Convolution" bottom: "conv" top: "rpn_cls_score"
        convolution_param { num_output: 12 kernel_size: 1 } }
layer { name: "rpn_bbox_pred" type: "Convolution" bottom: "conv" top: "rpn_bbox_pred"
        convolution_param { num_output: 24 kernel_size: 1 } }
layer { name: "rpn_cls_score_reshape" type: "Reshape" bottom: "rpn_cls_score" top: "rpn_cls_score_reshape"
        reshape_param { shape { dim: 0 dim: 2 dim: -1 dim: 0 } } }
layer { name: "rpn_cls_prob" type: "Softmax" bottom: "rpn_cls_score_reshape" top: "rpn_cls_prob" }
layer { name: "rpn_cls_prob_reshape" type: "Reshape" bottom: "rpn_cls_prob" top: "rpn_cls_prob_reshape"
        reshape_param { shape { dim: 0 dim: 12 dim: -1 dim: 0 } } }
layer { name: "proposal" type: "Proposal" bottom: "rpn_cls_prob_reshape" bottom: "rpn_bbox_pred" bottom: "im_info"
        top: "rois" proposal_param { feat_stride: 4 base_size: 4 ratio: 0.5 ratio: 1 ratio: 2 scale: 2 scale: 4
        pre_nms_topn: 100 post_nms_topn: 20 nms_thresh: 0.7 } }
layer { name: "roi_pool" type: "ROIPooling" bottom: "conv" bottom: "rois" top: "roi_pool"
        roi_pooling_param { pooled_h: 2 pooled_w: 2 spatial_scale: 0.25 } }
layer { name: "cls_score" type: "InnerProduct" bottom: "roi_pool" top: "cls_score"
        inner_product_param { num_output: 3 } }
layer { name: "cls_prob" type: "Softmax" bottom: "cls_score" top: "cls_prob" }
'''


@pytest.fixture
def faster_rcnn(tmp_path):
    rng = np.random.default_rng(7)

    def conv(o, i, k, scale):
        return [(rng.standard_normal((o, i, k, k)) * scale).astype(np.float32),
                (rng.standard_normal(o) * 0.1).astype(np.float32)]

    blobs = {"conv": conv(8, 3, 4, 0.3), "rpn_cls_score": conv(12, 8, 1, 0.5), "rpn_bbox_pred": conv(24, 8, 1, 0.05),
             "cls_score": [(rng.standard_normal((3, 32)) * 0.3).astype(np.float32), np.zeros(3, np.float32)]}
    (tmp_path / "faster_rcnn.prototxt").write_text(FASTER_RCNN)
    save_caffemodel(tmp_path / "faster_rcnn.caffemodel", blobs)
    feeds = {"data": rng.standard_normal((1, 3, 64, 80)).astype(np.float32),
             "im_info": np.array([[64, 80, 1]], np.float32)}
    return tmp_path / "faster_rcnn.prototxt", tmp_path / "faster_rcnn.caffemodel", feeds, blobs


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def _faster_rcnn_reference(feeds: dict[str, np.ndarray], blobs) -> np.ndarray:
    """The net in numpy: convolutions, the RPN softmax over (background, object), py-faster-rcnn's
    proposals (OpenCV's anchors: base 4, ratios x scales), Fast R-CNN's pooling, the classifier."""
    conv = np.maximum(refs.conv_nchw(feeds["data"], *blobs["conv"], s=4), 0)
    scores = refs.conv_nchw(conv, *blobs["rpn_cls_score"])
    deltas = refs.conv_nchw(conv, *blobs["rpn_bbox_pred"])
    prob = _softmax(scores.reshape(1, 2, -1, scores.shape[3]), 1).reshape(scores.shape).astype(np.float32)
    rois, _ = refs.py_faster_rcnn_proposals(prob, deltas.astype(np.float32), feeds["im_info"], 4, [0.5, 1, 2],
                                            [2, 4], 100, 20, 0.7, base_size=4)
    rois = np.concatenate([rois, np.zeros((20 - len(rois), 5))]).astype(np.float32)
    pooled = refs.fast_rcnn_roi_pool(conv.astype(np.float32), rois, 2, 2, 0.25)
    w, b = blobs["cls_score"]
    return _softmax(pooled.reshape(20, -1) @ w.T + b, 1)


@pytest.mark.parametrize("target", TARGETS)
def test_faster_rcnn_runs_with_no_layers_flag(faster_rcnn, target):
    """RPN -> Proposal -> ROIPooling -> classifier, every layer mapped or built in."""
    proto, weights, feeds, blobs = faster_rcnn
    g = load_caffe(proto, weights)
    assert sorted(op.qualified_type for op in g.ops.values() if op.domain) == ["caffe::Proposal", "caffe::ROIPooling"]
    (probs,) = graphc.compile(g, target=target).run(feeds).values()
    np.testing.assert_allclose(probs, _faster_rcnn_reference(feeds, blobs), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("target", TARGETS)
def test_faster_rcnn_same_as_opencv_dnn_when_installed(faster_rcnn, target):
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        pytest.skip(f"OpenCV {cv2.__version__} has no Caffe importer")
    proto, weights, feeds, _ = faster_rcnn
    net = cv2.dnn.readNetFromCaffe(str(proto), str(weights))
    for name, value in feeds.items():
        net.setInput(value, name)
    want = net.forward("cls_prob")
    (got,) = graphc.compile(proto, target=target).run(feeds).values()
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-5, atol=1e-6)
