"""TensorFlow's ``CropAndResize`` (``tf.image.crop_and_resize``) as a built-in layer, with TensorFlow's
exact semantics (``tensorflow/core/kernels/image/crop_and_resize_op.cc``), computed in float32.

Inputs (TensorFlow's order): ``image [N, H, W, C]`` (any real dtype, read as float32), ``boxes [R, 4]``
rows ``(y1, x1, y2, x2)`` normalized to the image (``y * (H - 1)`` is a pixel row; ``y1 > y2``
flips the crop), ``box_ind [R]`` (the image of each box, in ``[0, N)``) and ``crop_size``
``(crop_height, crop_width)``, a constant. Output ``[R, crop_height, crop_width, C]`` float32.

Sample ``i`` of a crop of height ``h > 1`` reads row ``y1 * (H - 1) + i * (y2 - y1) * (H - 1) / (h - 1)``
(``h == 1``: the centre, ``0.5 * (y1 + y2) * (H - 1)``); columns likewise. A sample outside
``[0, H - 1] x [0, W - 1]`` is ``extrapolation_value``. ``method="bilinear"`` interpolates the four
neighbours (``top + (bottom - top) * frac`` after the same along x); ``"nearest"`` takes the pixel at
``round`` (halves away from zero) of the coordinates.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import LayerError
from ..base import Layer, Param
from ..registry import BUILTIN_LAYERS
from ..slots import merge_slots

__all__ = ["CropAndResize", "crop_and_resize"]

_F32 = np.float32
_CHUNK_VALUES = 1 << 22  # gathered values per block of boxes (bounds the memory of the four-corner gathers)


def _sample_coords(lo: np.ndarray, hi: np.ndarray, size: int, n: int) -> np.ndarray:
    """``[R, n]`` float32 source coordinates of each box's ``n`` samples along an axis of ``size`` pixels."""
    extent = _F32(size - 1)
    if n == 1:
        return (_F32(0.5) * (lo + hi) * extent)[:, None]
    scale = (hi - lo) * extent / _F32(n - 1)
    return lo[:, None] * extent + np.arange(n, dtype=_F32)[None, :] * scale[:, None]


def crop_and_resize(image: np.ndarray, boxes: np.ndarray, box_ind: np.ndarray, crop_size: Sequence[int],
                    method: str = "bilinear", extrapolation_value: float = 0.0) -> np.ndarray:
    """``tf.image.crop_and_resize`` (module docstring): ``[R, crop_height, crop_width, C]`` float32."""
    img = np.asarray(image, _F32)
    n, height, width, channels = img.shape
    bx = np.asarray(boxes, _F32).reshape(-1, 4)
    ind = np.asarray(box_ind).reshape(-1).astype(np.int64)
    if ind.shape[0] != bx.shape[0]:
        raise LayerError(f"CropAndResize: {bx.shape[0]} boxes but {ind.shape[0]} box indices")
    if np.any((ind < 0) | (ind >= n)):
        raise LayerError(f"CropAndResize: a box index is outside [0, {n}) (the batch of images)")
    ch, cw = (int(v) for v in crop_size)
    ys = _sample_coords(bx[:, 0], bx[:, 2], height, ch)  # [R, ch]
    xs = _sample_coords(bx[:, 1], bx[:, 3], width, cw)  # [R, cw]
    out = np.empty((bx.shape[0], ch, cw, channels), _F32)
    step = max(1, _CHUNK_VALUES // max(1, ch * cw * channels))
    for s in range(0, bx.shape[0], step):  # blocks of boxes, each block one vectorized gather
        sl = slice(s, s + step)
        out[sl] = _crop_block(img, ind[sl], ys[sl], xs[sl], method, height, width)
    outside = ((ys < 0) | (ys > height - 1))[:, :, None] | ((xs < 0) | (xs > width - 1))[:, None, :]
    out[outside] = _F32(extrapolation_value)
    return out


def _crop_block(img: np.ndarray, ind: np.ndarray, ys: np.ndarray, xs: np.ndarray, method: str,
                height: int, width: int) -> np.ndarray:
    b = ind[:, None, None]
    if method == "nearest":
        yi = np.clip(np.floor(ys + _F32(0.5)), 0, height - 1).astype(np.intp)  # roundf on coordinates >= 0
        xi = np.clip(np.floor(xs + _F32(0.5)), 0, width - 1).astype(np.intp)
        return img[b, yi[:, :, None], xi[:, None, :]]
    y0, x0 = np.floor(ys), np.floor(xs)
    top = np.clip(y0, 0, height - 1).astype(np.intp)[:, :, None]
    bottom = np.clip(np.ceil(ys), 0, height - 1).astype(np.intp)[:, :, None]
    left = np.clip(x0, 0, width - 1).astype(np.intp)[:, None, :]
    right = np.clip(np.ceil(xs), 0, width - 1).astype(np.intp)[:, None, :]
    y_lerp = (ys - y0).astype(_F32)[:, :, None, None]
    x_lerp = (xs - x0).astype(_F32)[:, None, :, None]
    top_left, top_right = img[b, top, left], img[b, top, right]
    bottom_left, bottom_right = img[b, bottom, left], img[b, bottom, right]
    upper = top_left + (top_right - top_left) * x_lerp
    lower = bottom_left + (bottom_right - bottom_left) * x_lerp
    return upper + (lower - upper) * y_lerp


@BUILTIN_LAYERS.register("CropAndResize", domain="tf")
class CropAndResize(Layer):
    """``tf.image.crop_and_resize`` (module docstring); ``crop_size`` must be a constant."""

    method = Param(str, default="bilinear", doc="bilinear or nearest")
    extrapolation_value = Param(float, default=0.0, doc="the value of samples outside the image")
    T = Param(str, default="float32", doc="the image's dtype (read as float32)")

    def _full(self, items: Sequence[Any], blobs: Sequence[Any] | None = None) -> list[Any]:
        return merge_slots(list(items), list(self.blobs if blobs is None else blobs), list(self.blob_slots))

    def _crop_size(self) -> tuple[int, int]:
        if 3 not in self.blob_slots:
            raise LayerError("CropAndResize: crop_size (input 3) must be a constant; it is computed in this graph")
        size = np.asarray(self.blobs[list(self.blob_slots).index(3)]).reshape(-1)
        if size.size != 2 or np.any(size < 1):
            raise LayerError(f"CropAndResize: crop_size must be 2 positive ints, got {size.tolist()}")
        return int(size[0]), int(size[1])

    def output_shapes(self, input_shapes: Sequence[tuple[int, ...]]) -> list[tuple[int, ...]]:
        if self.method not in ("bilinear", "nearest"):
            raise LayerError(f"CropAndResize: method {self.method!r} is not bilinear or nearest")
        shapes = self._full(input_shapes, [np.shape(b) for b in self.blobs])
        if len(shapes) < 4 or any(s is None for s in shapes[:3]) or len(shapes[0]) != 4:
            raise LayerError("CropAndResize takes image [N, H, W, C], boxes [R, 4], box_ind [R] and crop_size")
        return [(int(shapes[1][0]), *self._crop_size(), int(shapes[0][3]))]

    def output_dtypes(self, input_dtypes: Sequence[np.dtype]) -> list[np.dtype]:
        return [np.dtype(np.float32)]

    def forward(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
                internals: Sequence[np.ndarray]) -> None:
        image, boxes, box_ind = self._full(inputs)[:3]
        outputs[0][...] = crop_and_resize(image, boxes, box_ind, self._crop_size(), self.method,
                                          float(self.extrapolation_value))
