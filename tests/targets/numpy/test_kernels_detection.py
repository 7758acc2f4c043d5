"""NonMaxSuppression against onnxruntime on random boxes (ties, degenerate and flipped boxes), both selection paths."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from tests.oracle import ort_run


def _nms_model(center_point_box: int, with_score_threshold: bool):
    inputs = ["boxes", "scores", "max_out", "iou"] + (["score_thr"] if with_score_threshold else [])
    node = helper.make_node("NonMaxSuppression", inputs, ["selected"], center_point_box=center_point_box)
    inits = [numpy_helper.from_array(np.array([7], np.int64), "max_out"),
             numpy_helper.from_array(np.array([0.45], np.float32), "iou")]
    if with_score_threshold:
        inits.append(numpy_helper.from_array(np.array([0.3], np.float32), "score_thr"))
    g = helper.make_graph([node], "nms",
                          [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [2, 300, 4]),
                           helper.make_tensor_value_info("scores", TensorProto.FLOAT, [2, 3, 300])],
                          [helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])


@pytest.mark.parametrize("pairwise", [True, False], ids=["iou-matrix", "per-kept-box"])
@pytest.mark.parametrize("center_point_box", [0, 1])
@pytest.mark.parametrize("with_score_threshold", [False, True])
def test_nms_matches_onnxruntime(center_point_box, with_score_threshold, pairwise, monkeypatch):
    from targets.numpy.kernels import detection

    if not pairwise:  # the path for more candidates than the IoU matrix takes
        monkeypatch.setattr(detection, "PAIRWISE_MAX", 0)
    rng = np.random.default_rng(center_point_box * 2 + with_score_threshold)
    xy = rng.uniform(0, 50, (2, 300, 2)).astype(np.float32)
    wh = rng.uniform(0, 12, (2, 300, 2)).astype(np.float32)
    wh[:, ::17] = 0  # degenerate boxes never suppress
    if center_point_box:
        boxes = np.concatenate([xy, wh], axis=2)
    else:
        boxes = np.concatenate([xy, xy + wh], axis=2)[..., [1, 0, 3, 2]]
        boxes[:, ::5] = boxes[:, ::5][..., [2, 3, 0, 1]]  # flipped corners
    scores = rng.choice(np.linspace(0, 1, 40, dtype=np.float32), (2, 3, 300))  # many ties
    model = _nms_model(center_point_box, with_score_threshold)
    feeds = {"boxes": boxes, "scores": scores}
    got = graphc.compile(model, target="numpy", fallback=False).run(feeds)["selected"]
    want = ort_run(model, feeds)["selected"]
    np.testing.assert_array_equal(got, want)
