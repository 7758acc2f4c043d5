"""Faster R-CNN's ``Proposal``, Fast R-CNN's ``ROIPooling`` and R-FCN's ``PSROIPooling`` Caffe
layers as built-in layers, with OpenCV dnn's semantics (for the two poolings those of their Caffe
forks, rbgirshick/caffe-fast-rcnn and daijifeng001/caffe-rfcn).

Inputs (Caffe's bottoms): the feature map ``[N, C, H, W]`` and the regions ``[R, 5]`` (any shape
of ``R * 5`` values), each ``(batch_index, x1, y1, x2, y2)`` in image pixels.

* ``ROIPooling``: the region scaled by ``spatial_scale`` and rounded (half away from zero) to
  feature-map cells, ``max(end - start + 1, 1)`` cells wide and high, cut into
  ``pooled_h x pooled_w`` bins ``[floor(i * size / pooled), ceil((i + 1) * size / pooled))``
  clipped to the map; each bin's maximum, 0 for an empty bin. Output ``[R, C, pooled_h, pooled_w]``.
* ``PSROIPooling``: the region rounded, then scaled (``x2 + 1`` the end), at least 0.1 cells
  wide and high, cut into ``group_size x group_size`` bins (floor / ceil of the float edges,
  clipped); bin ``(i, j)`` of output channel ``c`` averages input channel
  ``(c * group_size + i) * group_size + j`` (0 for an empty bin). Output
  ``[R, output_dim, group_size, group_size]``; the input has ``output_dim * group_size^2`` channels.
* ``Proposal`` (inputs: objectness scores ``[1, 2A, H, W]``, background then object; box deltas
  ``[1, 4A, H, W]``; ``im_info`` ``(rows, cols, ...)``): OpenCV's composition of PriorBox and
  DetectionOutput. Anchors per cell, in ``ratio`` then ``scale`` order: width
  ``floor(base_size / sqrt(ratio) + 0.5)``, height ``floor(width * ratio + 0.5)``, both times
  the scale, centred at ``(cell + 0.5 * base_size / feat_stride) * feat_stride`` (pixel boxes:
  ``xmax = centre + width / 2 - 1``); the deltas decoded CENTER_SIZE with pixel sizes
  (``x2 - x1 + 1``), clipped to ``[0, cols - 1] x [0, rows - 1]``; the ``pre_nms_topn`` best
  scores, greedy NMS at ``nms_thresh`` keeping at most ``post_nms_topn``. Outputs ``rois``
  ``[post_nms_topn, 5]`` rows ``(0, x1, y1, x2, y2)`` by score, zero rows after the last, and
  ``scores`` ``[post_nms_topn, 1]``. ``min_size`` is not applied, as in OpenCV; batch 1 only.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import LayerError
from ..base import Layer, Param
from ..registry import BUILTIN_LAYERS
from ..slots import merge_slots
from .caffe_ssd import box_sizes, decode_boxes, nms_fast

__all__ = ["Proposal", "ROIPooling", "PSROIPooling", "round_half_away", "anchor_sizes", "anchors"]

_F32 = np.float32


def round_half_away(x: float) -> int:
    """C's ``round``: halves away from zero (numpy's ``round`` takes them to even)."""
    return int(np.sign(x) * np.floor(abs(x) + 0.5))


class _RegionLayer(Layer):
    """Shared input handling: the feature map and the regions, in Caffe's bottom order."""

    def _full(self, items: Sequence[Any], blobs: Sequence[Any] | None = None) -> list[Any]:
        return merge_slots(list(items), list(self.blobs if blobs is None else blobs), list(self.blob_slots))

    def _regions(self, shapes: Sequence[tuple[int, ...]]) -> int:
        if len(shapes) < 2:
            raise LayerError(f"{type(self).__name__} takes the feature map and the regions; got {len(shapes)} input(s)")
        total = int(np.prod(shapes[1], dtype=np.int64))
        if total % 5:
            raise LayerError(f"{type(self).__name__}: the regions hold {total} values, not rows of 5 "
                             "(batch_index, x1, y1, x2, y2)")
        return total // 5

    def output_dtypes(self, input_dtypes: Sequence[np.dtype]) -> list[np.dtype]:
        return [np.dtype(np.float32)]

    def _inputs(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        data, rois = (np.asarray(a, _F32) for a in self._full(inputs)[:2])
        rois = rois.reshape(-1, 5)
        batch = rois[:, 0].astype(np.int64)
        if np.any((batch < 0) | (batch >= data.shape[0])):
            raise LayerError(f"{type(self).__name__}: a region's batch index is outside [0, {data.shape[0]})")
        return data, rois


@BUILTIN_LAYERS.register("ROIPooling", domain="caffe")
class ROIPooling(_RegionLayer):
    """Fast R-CNN's max pooling of each region into ``pooled_h x pooled_w`` bins (module docstring)."""

    pooled_h = Param(int, default=0)
    pooled_w = Param(int, default=0)
    spatial_scale = Param(float, default=1.0, doc="image pixels -> feature-map cells")

    def output_shapes(self, input_shapes: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
        shapes = self._full(input_shapes, [np.shape(b) for b in self.blobs])
        if self.pooled_h < 1 or self.pooled_w < 1:
            raise LayerError(f"ROIPooling needs pooled_h and pooled_w >= 1 (has {self.pooled_h} x {self.pooled_w})")
        return [(self._regions(shapes), int(shapes[0][1]), int(self.pooled_h), int(self.pooled_w))]

    def forward(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
                internals: Sequence[np.ndarray]) -> None:
        data, rois = self._inputs(inputs)
        height, width = data.shape[2:]
        out = outputs[0]
        out[...] = 0
        scale = float(_F32(self.spatial_scale))
        for r, roi in enumerate(rois):
            x1, y1, x2, y2 = (round_half_away(float(v) * scale) for v in roi[1:])
            rows = _bins(y1, max(y2 - y1 + 1, 1), int(self.pooled_h), height)
            cols = _bins(x1, max(x2 - x1 + 1, 1), int(self.pooled_w), width)
            image = data[int(roi[0])]
            for i, (h0, h1) in enumerate(rows):
                for j, (w0, w1) in enumerate(cols):
                    if h1 > h0 and w1 > w0:
                        out[r, :, i, j] = image[:, h0:h1, w0:w1].max(axis=(1, 2))


def _bins(start: int, size: int, pooled: int, limit: int) -> list[tuple[int, int]]:
    """Fast R-CNN's bin edges along one axis, clipped to ``[0, limit]``."""
    step = _F32(size) / _F32(pooled)
    edges = []
    for i in range(pooled):
        lo = int(np.floor(_F32(i) * step)) + start
        hi = int(np.ceil(_F32(i + 1) * step)) + start
        edges.append((min(max(lo, 0), limit), min(max(hi, 0), limit)))
    return edges


@BUILTIN_LAYERS.register("PSROIPooling", domain="caffe")
class PSROIPooling(_RegionLayer):
    """R-FCN's position-sensitive average pooling into ``group_size x group_size`` bins (module docstring)."""

    spatial_scale = Param(float, doc="image pixels -> feature-map cells")
    output_dim = Param(int, doc="output channels")
    group_size = Param(int, doc="bins per side; the input has output_dim * group_size^2 channels")

    def output_shapes(self, input_shapes: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
        shapes = self._full(input_shapes, [np.shape(b) for b in self.blobs])
        k, dim = int(self.group_size), int(self.output_dim)
        if k < 1 or dim < 1:
            raise LayerError(f"PSROIPooling needs group_size and output_dim >= 1 (has {k}, {dim})")
        if int(shapes[0][1]) != dim * k * k:
            raise LayerError(f"PSROIPooling: the input has {shapes[0][1]} channels; output_dim {dim} x group_size "
                             f"{k}^2 needs {dim * k * k}")
        return [(self._regions(shapes), dim, k, k)]

    def forward(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
                internals: Sequence[np.ndarray]) -> None:
        data, rois = self._inputs(inputs)
        height, width = data.shape[2:]
        k, dim = int(self.group_size), int(self.output_dim)
        scale = _F32(self.spatial_scale)
        out = outputs[0]
        out[...] = 0
        channels = (np.arange(dim)[:, None, None] * k + np.arange(k)[None, :, None]) * k + np.arange(k)[None, None, :]
        for r, roi in enumerate(rois):
            x1, y1, x2, y2 = (_F32(round_half_away(float(v))) for v in roi[1:])
            start_w, start_h = x1 * scale, y1 * scale
            end_w, end_h = (x2 + _F32(1)) * scale, (y2 + _F32(1)) * scale
            bin_w = max(end_w - start_w, _F32(0.1)) / _F32(k)
            bin_h = max(end_h - start_h, _F32(0.1)) / _F32(k)
            image = data[int(roi[0])]
            for i in range(k):
                h0 = min(max(int(np.floor(_F32(i) * bin_h + start_h)), 0), height)
                h1 = min(max(int(np.ceil(_F32(i + 1) * bin_h + start_h)), 0), height)
                for j in range(k):
                    w0 = min(max(int(np.floor(_F32(j) * bin_w + start_w)), 0), width)
                    w1 = min(max(int(np.ceil(_F32(j + 1) * bin_w + start_w)), 0), width)
                    if h1 > h0 and w1 > w0:
                        window = image[channels[:, i, j], h0:h1, w0:w1]
                        out[r, :, i, j] = window.sum(axis=(1, 2)) / _F32((h1 - h0) * (w1 - w0))


def anchor_sizes(base_size: float, ratios: Sequence[float], scales: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's Proposal anchor widths and heights, ``ratio`` major, ``scale`` minor."""
    widths, heights = [], []
    for ratio in (_F32(r) for r in ratios):
        width = np.floor(_F32(base_size) / np.sqrt(ratio) + _F32(0.5))
        height = np.floor(width * ratio + _F32(0.5))
        for scale in (_F32(s) for s in scales):
            widths.append(scale * width)
            heights.append(scale * height)
    return np.array(widths, _F32), np.array(heights, _F32)


def anchors(widths: np.ndarray, heights: np.ndarray, fmap_hw: tuple[int, int], stride: float,
            offset: float) -> np.ndarray:
    """Pixel boxes ``[H * W * A, 4]`` (cell row, cell, anchor), as OpenCV's unnormalized PriorBox."""
    cy = ((np.arange(fmap_hw[0]).astype(_F32) + _F32(offset)) * _F32(stride)).reshape(-1, 1, 1)
    cx = ((np.arange(fmap_hw[1]).astype(_F32) + _F32(offset)) * _F32(stride)).reshape(1, -1, 1)
    half_w, half_h = (widths * _F32(0.5)).reshape(1, 1, -1), (heights * _F32(0.5)).reshape(1, 1, -1)
    grid = (fmap_hw[0], fmap_hw[1], widths.size)
    corners = [cx - half_w, cy - half_h, cx + half_w - _F32(1), cy + half_h - _F32(1)]
    return np.stack([np.broadcast_to(c, grid) for c in corners], axis=-1).reshape(-1, 4).astype(_F32)


@BUILTIN_LAYERS.register("Proposal", domain="caffe")
class Proposal(Layer):
    """Faster R-CNN's region proposals, as OpenCV computes them (module docstring)."""

    feat_stride = Param(int, default=16)
    base_size = Param(int, default=16)
    min_size = Param(int, default=16, doc="not applied, as in OpenCV")
    ratio = Param(list, doc="anchor aspect ratios (height / width)")
    scale = Param(list, doc="anchor scales")
    pre_nms_topn = Param(int, default=6000)
    post_nms_topn = Param(int, default=300)
    nms_thresh = Param(float, default=0.7)

    num_outputs = 2

    def output_shapes(self, input_shapes: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
        if len(input_shapes) != 3:
            raise LayerError(f"Proposal takes scores, box deltas and im_info; got {len(input_shapes)} input(s)")
        scores, deltas = input_shapes[0], input_shapes[1]
        count = len(self.ratio or []) * len(self.scale or [])
        if not count:
            raise LayerError("Proposal needs ratio and scale values (proposal_param { ratio: ... scale: ... })")
        if len(scores) != 4 or scores[0] != 1 or scores[1] != 2 * count or tuple(deltas) != (1, 4 * count,
                                                                                              *scores[2:]):
            raise LayerError(f"Proposal with {count} anchors per cell takes scores [1, {2 * count}, H, W] and deltas "
                             f"[1, {4 * count}, H, W] (batch 1, as OpenCV); got {list(scores)} and {list(deltas)}")
        return [(int(self.post_nms_topn), 5), (int(self.post_nms_topn), 1)]

    def output_dtypes(self, input_dtypes: Sequence[np.dtype]) -> list[np.dtype]:
        return [np.dtype(np.float32)] * 2

    def forward(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
                internals: Sequence[np.ndarray]) -> None:
        scores, deltas, info = (np.asarray(a, _F32) for a in inputs)
        height, width = scores.shape[2:]
        widths, heights = anchor_sizes(self.base_size, self.ratio, self.scale)
        priors = anchors(widths, heights, (height, width), self.feat_stride,
                         0.5 * self.base_size / self.feat_stride)
        count = widths.size
        objectness = np.transpose(scores[0, count:], (1, 2, 0)).reshape(-1)
        loc = np.transpose(deltas[0], (1, 2, 0)).reshape(-1, 4)
        rows, cols = int(info.reshape(-1)[0]), int(info.reshape(-1)[1])
        boxes = decode_boxes(loc, priors, None, "CENTER_SIZE", False, (float(cols - 1), float(rows - 1)))
        kept = nms_fast(boxes, box_sizes(boxes, False), objectness, float(np.finfo(_F32).min),
                        float(self.nms_thresh), int(self.pre_nms_topn), False, int(self.post_nms_topn))
        rois, best = outputs
        rois[...] = 0
        best[...] = 0
        rois[: len(kept), 1:] = boxes[kept]
        best[: len(kept), 0] = objectness[kept]
