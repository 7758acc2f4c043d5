"""Kernels: detection post-processing.

NonMaxSuppression: per batch and class, candidates above ``score_threshold`` in
descending score order (ties: lower box index first), greedily kept while their IoU
with every kept box is at most ``iou_threshold``; at most ``max_output_boxes_per_class``
per class. Up to ``PAIRWISE_MAX`` candidates the IoU of every pair is one vectorized
matrix and the greedy walk only reads booleans; beyond, the IoU of each kept box is
computed against all remaining candidates at once.
"""

from __future__ import annotations

import numpy as np

from .registry import OpContext, kernel


def _corners(boxes: np.ndarray, center_point_box: int) -> np.ndarray:
    """Boxes as (x_min, y_min, x_max, y_max) in float64."""
    b = boxes.astype(np.float64)
    if center_point_box:
        half_w, half_h = b[:, 2] / 2, b[:, 3] / 2
        return np.stack([b[:, 0] - half_w, b[:, 1] - half_h, b[:, 0] + half_w, b[:, 1] + half_h], axis=1)
    # [y1, x1, y2, x2], either corner order
    return np.stack([np.minimum(b[:, 1], b[:, 3]), np.minimum(b[:, 0], b[:, 2]),
                     np.maximum(b[:, 1], b[:, 3]), np.maximum(b[:, 0], b[:, 2])], axis=1)


def _overlaps(a: np.ndarray, b: np.ndarray, iou_threshold: float) -> np.ndarray:
    """(len(a), len(b)): which pairs overlap with IoU > iou_threshold (degenerate boxes never do)."""
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    valid = (inter > 0) & (area_a[:, None] > 0) & (area_b[None, :] > 0) & (union > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(valid, inter / np.where(union > 0, union, 1.0), 0.0)
    return valid & (iou > iou_threshold)


def _scalar(x: np.ndarray | None, default: float) -> float:
    return default if x is None or x.size == 0 else float(x.reshape(-1)[0])


#: up to this many candidates, all pairwise overlaps are computed at once (n x n float64 temporaries: 2 MB each)
PAIRWISE_MAX = 512


def _select(corners: np.ndarray, scores: np.ndarray, limit: int, iou_threshold: float,
            score_threshold: float | None) -> list[int]:
    idx = np.arange(scores.shape[0])
    if score_threshold is not None:
        idx = idx[scores > score_threshold]
    order = idx[np.lexsort((idx, -scores[idx].astype(np.float64)))]
    kept: list[int] = []
    if order.size <= PAIRWISE_MAX:  # one vectorized IoU matrix, then a greedy walk over booleans
        boxes = corners[order]
        over = _overlaps(boxes, boxes, iou_threshold)
        suppressed = np.zeros(order.size, dtype=bool)
        for i in range(order.size):
            if suppressed[i]:
                continue
            kept.append(int(order[i]))
            if len(kept) >= limit:
                break
            suppressed |= over[i]
        return kept
    while order.size and len(kept) < limit:  # many candidates: IoU of each kept box against the rest
        best = int(order[0])
        kept.append(best)
        rest = order[1:]
        order = rest[~_overlaps(corners[best:best + 1], corners[rest], iou_threshold)[0]]
    return kept


@kernel("NonMaxSuppression")
def non_max_suppression(ctx: OpContext, boxes: np.ndarray, scores: np.ndarray,
                        max_output_boxes_per_class: np.ndarray | None = None,
                        iou_threshold: np.ndarray | None = None,
                        score_threshold: np.ndarray | None = None) -> np.ndarray:
    """Selected (batch, class, box) index triples, int64 [num_selected, 3]."""
    limit = max(int(_scalar(max_output_boxes_per_class, 0)), 0)
    iou = _scalar(iou_threshold, 0.0)
    threshold = None if score_threshold is None or score_threshold.size == 0 else _scalar(score_threshold, 0.0)
    center = int(ctx.attr("center_point_box", 0))
    rows: list[tuple[int, int, int]] = []
    if limit:
        for b in range(boxes.shape[0]):
            corners = _corners(boxes[b], center)
            for c in range(scores.shape[1]):
                rows.extend((b, c, i) for i in _select(corners, scores[b, c], limit, iou, threshold))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)
