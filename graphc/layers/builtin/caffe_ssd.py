"""SSD's ``DetectionOutput`` (weiliu89/caffe) as a built-in layer, with OpenCV dnn's semantics.

Inputs (Caffe's bottoms): location predictions ``[N, P*L*4]`` (``L`` = 1 with
``share_location``, else ``num_classes``), class confidences ``[N, P*num_classes]`` (after
softmax), priors ``[1, 2, P*4]`` (boxes, then variances; ``[1, 1, P*4]`` with
``variance_encoded_in_target``) and, for unnormalized boxes clipped to the image, the image.

What it computes, as OpenCV's ``detection_output_layer.cpp`` does:

1. decode every prior's box (``code_type`` CENTER_SIZE; any other code type as CORNER:
   prior + variance * prediction), clipped to [0, 1] with ``clip``;
2. for every class but ``background_label_id``: the scores above ``confidence_threshold``,
   the ``top_k`` best (stable order), then greedy NMS keeping a box whose IoU with every
   kept box is at most ``nms_threshold`` (at most ``keep_top_k`` boxes when there is a
   single target class; ``eta`` is not used, as in OpenCV);
3. over all classes of an image, the ``keep_top_k`` best-scoring boxes;
4. rows ``(image_id, label, confidence, xmin, ymin, xmax, ymax)``, each image's sorted by
   confidence (what OpenCV 4.5-4.14 return for a Caffe net; ``group_by_classes`` keeps them
   by class instead; equal confidences stay in class order), images one after another, in an output of shape ``[1, 1, keep_top_k * N, 7]`` whose
   unused rows are zero (OpenCV's shape: an image without detections adds no row, and an
   output without any detection is all zeros). With ``keep_top_k < 0`` (no cap) the output
   has room for every candidate: ``N * classes * P`` rows (``top_k`` instead of ``P`` when set).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import LayerError
from ..base import Layer, Param
from ..registry import BUILTIN_LAYERS
from ..slots import merge_slots

__all__ = ["DetectionOutput", "decode_boxes", "box_sizes", "overlaps", "nms_fast"]

_F32 = np.float32


def box_sizes(boxes: np.ndarray, normalized: bool) -> np.ndarray:
    """OpenCV's BBoxSize per row of ``boxes`` ``[..., 4]`` (xmin, ymin, xmax, ymax): the area,
    ``(w + 1) * (h + 1)`` for pixel boxes, 0 for an inverted box."""
    w = boxes[..., 2] - boxes[..., 0]
    h = boxes[..., 3] - boxes[..., 1]
    area = w * h if normalized else (w + _F32(1)) * (h + _F32(1))
    return np.where((w < 0) | (h < 0), _F32(0), area).astype(_F32)


def decode_boxes(loc: np.ndarray, priors: np.ndarray, variances: np.ndarray | None, code_type: str,
                 normalized: bool, clip_to: tuple[float, float] | None) -> np.ndarray:
    """Boxes ``[..., P, 4]`` from predictions ``loc`` ``[..., P, 4]`` and ``priors`` ``[P, 4]``.

    ``variances`` ``[P, 4]`` scale the predictions (None when encoded in the target);
    ``clip_to`` = (xmax, ymax) bounds the result to [0, xmax] x [0, ymax].
    """
    v = loc if variances is None else loc * variances
    if code_type == "CENTER_SIZE":
        pw = priors[:, 2] - priors[:, 0]
        ph = priors[:, 3] - priors[:, 1]
        if not normalized:
            pw, ph = pw + _F32(1), ph + _F32(1)
        pcx = priors[:, 0] + pw * _F32(0.5)
        pcy = priors[:, 1] + ph * _F32(0.5)
        cx = v[..., 0] * pw + pcx
        cy = v[..., 1] * ph + pcy
        w = np.exp(v[..., 2]) * pw
        h = np.exp(v[..., 3]) * ph
        out = np.stack([cx - w * _F32(0.5), cy - h * _F32(0.5), cx + w * _F32(0.5), cy + h * _F32(0.5)], axis=-1)
    else:
        out = priors + v
    out = out.astype(_F32)
    if clip_to is not None:
        hi = np.array([clip_to[0], clip_to[1], clip_to[0], clip_to[1]], _F32)
        out = np.maximum(np.minimum(out, hi), _F32(0))
    return out


#: candidates up to this many get their pairwise overlaps in one matrix (16 MiB of float32)
_MATRIX_LIMIT = 2048


def overlaps(a: np.ndarray, a_sizes: np.ndarray, b: np.ndarray, b_sizes: np.ndarray, normalized: bool) -> np.ndarray:
    """OpenCV's JaccardOverlap of every row of ``a`` ``[n, 4]`` with every row of ``b`` ``[m, 4]``: ``[n, m]``."""
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    area = w * h if normalized else (w + _F32(1)) * (h + _F32(1))
    isize = np.where((w < 0) | (h < 0), _F32(0), area)  # box_sizes of the intersections
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = isize / (a_sizes[:, None] + b_sizes[None, :] - isize)
    return np.where(isize > 0, iou, _F32(0))


def nms_fast(boxes: np.ndarray, sizes: np.ndarray, scores: np.ndarray, threshold: float, nms_threshold: float,
             top_k: int, normalized: bool, limit: int | None = None) -> list[int]:
    """OpenCV's NMSFast_ (eta 1): indices of the boxes kept, best first.

    The candidates (scores above ``threshold``, best first, stable; the ``top_k`` first) are
    visited in order; one is kept when its overlap with every box kept so far is at most
    ``nms_threshold``; the walk stops after ``limit`` kept boxes.
    """
    candidates = np.nonzero(scores > _F32(threshold))[0]
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    if top_k > 0:
        order = order[:top_k]
    if len(order) > _MATRIX_LIMIT:
        return _nms_by_rows(boxes, sizes, order, nms_threshold, normalized, limit)
    # the overlap is symmetric: "overlaps no kept box" is "not suppressed by an earlier kept box"
    over = overlaps(boxes[order], sizes[order], boxes[order], sizes[order], normalized) > _F32(nms_threshold)
    suppressed = np.zeros(len(order), bool)
    kept: list[int] = []
    for j in range(len(order)):
        if suppressed[j]:
            continue
        kept.append(int(order[j]))
        if limit is not None and len(kept) >= limit:
            break
        suppressed |= over[j]
    return kept


def _nms_by_rows(boxes: np.ndarray, sizes: np.ndarray, order: np.ndarray, nms_threshold: float, normalized: bool,
                 limit: int | None) -> list[int]:
    """:func:`nms_fast`'s walk for many candidates: each one's overlaps with the kept boxes only."""
    kept: list[int] = []
    for idx in order:
        if kept and np.any(overlaps(boxes[idx:idx + 1], sizes[idx:idx + 1], boxes[kept], sizes[kept],
                                    normalized) > _F32(nms_threshold)):
            continue
        kept.append(int(idx))
        if limit is not None and len(kept) >= limit:
            break
    return kept


@BUILTIN_LAYERS.register("DetectionOutput", domain="caffe")
class DetectionOutput(Layer):
    """SSD's DetectionOutput (see the module docstring); parameters are those of Caffe's
    ``detection_output_param`` with ``nms_param``'s fields flattened, as OpenCV reads them."""

    num_classes = Param(int, doc="classes, background included")
    share_location = Param(bool, default=True)
    background_label_id = Param(int, default=0)
    nms_threshold = Param(float, default=0.3)
    top_k = Param(int, default=-1, doc="candidates per class before NMS (-1: all)")
    code_type = Param(str, default="CORNER", doc="CENTER_SIZE, or CORNER")
    keep_top_k = Param(int, default=-1, doc="detections per image after NMS (-1: all)")
    variance_encoded_in_target = Param(bool, default=False)
    confidence_threshold = Param(float, default=0.0)
    normalized_bbox = Param(bool, default=True, doc="OpenCV: priors and boxes in [0, 1]")
    clip = Param(bool, default=False, doc="OpenCV: clip decoded boxes to the image")
    group_by_classes = Param(bool, default=False, doc="OpenCV: rows by class instead of by confidence")

    # ------------------------------------------------------------------ shapes
    def _num_loc_classes(self) -> int:
        return 1 if self.share_location else int(self.num_classes)

    def _target_classes(self) -> int:
        bg = 1 if 0 <= self.background_label_id < self.num_classes else 0
        return int(self.num_classes) - bg

    def _full(self, items: Sequence[Any], blobs: Sequence[Any] | None = None) -> list[Any]:
        """Runtime inputs and blobs (the priors, once folded) back in Caffe's bottom order."""
        return merge_slots(list(items), list(self.blobs if blobs is None else blobs), list(self.blob_slots))

    def output_shapes(self, input_shapes: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
        shapes = self._full(input_shapes, [np.shape(b) for b in self.blobs])
        if len(shapes) < 3:
            raise LayerError(f"DetectionOutput takes locations, confidences and priors; got {len(shapes)} input(s)")
        num = int(shapes[0][0])
        num_priors = int(shapes[2][-1]) // 4
        if self.keep_top_k >= 0:
            rows = int(self.keep_top_k) * num
        else:
            per_class = min(self.top_k, num_priors) if self.top_k > 0 else num_priors
            rows = num * self._target_classes() * per_class
        return [(1, 1, rows, 7)]

    def output_dtypes(self, input_dtypes: Sequence[np.dtype]) -> list[np.dtype]:
        return [np.dtype(np.float32)]

    # ----------------------------------------------------------------- forward
    def forward(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
                internals: Sequence[np.ndarray]) -> None:
        arrays = [None if a is None else np.asarray(a, _F32) for a in self._full(inputs)]
        loc, conf, prior = arrays[:3]
        assert loc is not None and conf is not None and prior is not None  # required inputs (output_shapes checks them)
        num = loc.shape[0]
        num_priors = prior.shape[-1] // 4
        locs = loc.reshape(num, num_priors, self._num_loc_classes(), 4)
        confs = conf.reshape(num, num_priors, int(self.num_classes))
        prior = prior.reshape(prior.shape[-2], num_priors, 4)
        variances = None if self.variance_encoded_in_target else prior[1]
        clip_to = self._clip_bounds(arrays)
        code = "CENTER_SIZE" if self.code_type.upper() == "CENTER_SIZE" else "CORNER"
        rows: list[np.ndarray] = []
        for i in range(num):
            decoded = decode_boxes(np.moveaxis(locs[i], 1, 0), prior[0], variances, code,
                                   self.normalized_bbox, clip_to)  # [L, P, 4]
            rows.extend(self._image_rows(i, decoded, confs[i]))
        out = outputs[0]
        out[...] = 0
        if rows:
            table = np.stack(rows)
            out.reshape(-1, 7)[: len(table)] = table

    def _clip_bounds(self, arrays: list[np.ndarray | None]) -> tuple[float, float] | None:
        if not self.clip:
            return None
        if self.normalized_bbox:
            return (1.0, 1.0)
        if len(arrays) < 4 or arrays[3] is None or arrays[3].ndim != 4:
            raise LayerError("DetectionOutput with clip and normalized_bbox false needs the image as a 4th input")
        return (float(arrays[3].shape[3] - 1), float(arrays[3].shape[2] - 1))

    def _image_rows(self, image: int, decoded: np.ndarray, conf: np.ndarray) -> list[np.ndarray]:
        """The detection rows of one image: NMS per class, keep_top_k over classes, by class."""
        sizes = box_sizes(decoded, self.normalized_bbox)
        limit = int(self.keep_top_k) if self._target_classes() == 1 and self.keep_top_k >= 0 else None
        kept: dict[int, list[int]] = {}
        for c in range(int(self.num_classes)):
            if c == self.background_label_id:
                continue
            loc_c = 0 if self.share_location else c
            kept[c] = nms_fast(decoded[loc_c], sizes[loc_c], conf[:, c], self.confidence_threshold,
                               self.nms_threshold, int(self.top_k), self.normalized_bbox, limit)
        total = sum(len(v) for v in kept.values())
        if self.keep_top_k >= 0 and total > self.keep_top_k:
            kept = self._best_over_classes(kept, conf)
        rows = []
        for c in sorted(kept):
            loc_c = 0 if self.share_location else c
            for idx in kept[c]:
                rows.append(np.array([image, c, conf[idx, c], *decoded[loc_c, idx]], _F32))
        if not self.group_by_classes:
            rows.sort(key=lambda row: -row[2])  # stable: equal confidences stay in class order
        return rows

    def _best_over_classes(self, kept: dict[int, list[int]], conf: np.ndarray) -> dict[int, list[int]]:
        pairs = [(conf[idx, c], c, idx) for c in sorted(kept) for idx in kept[c]]
        order = sorted(range(len(pairs)), key=lambda j: -pairs[j][0])[: int(self.keep_top_k)]
        best: dict[int, list[int]] = {}
        for j in order:
            best.setdefault(pairs[j][1], []).append(pairs[j][2])
        return best
