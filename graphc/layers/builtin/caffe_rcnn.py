"""Fast R-CNN's ``ROIPooling`` and R-FCN's ``PSROIPooling`` Caffe layers as built-in layers,
with the semantics of their Caffe forks (rbgirshick/caffe-fast-rcnn, daijifeng001/caffe-rfcn),
which OpenCV dnn's pooling layer reproduces.

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
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import LayerError
from ..base import Layer, Param
from ..registry import BUILTIN_LAYERS
from ..slots import merge_slots

__all__ = ["ROIPooling", "PSROIPooling", "round_half_away"]

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
