"""TensorFlow-style ResizeBilinear: the output size is a Const input (a blob after fold-blobs)."""

from __future__ import annotations

import numpy as np

import graphc
from graphc import Param


def resize_bilinear_nhwc(x: np.ndarray, height: int, width: int, align_corners: bool) -> np.ndarray:
    """TF1 ResizeBilinear (half_pixel_centers=False) on an NHWC tensor."""
    _, hi, wi, _ = x.shape

    def coords(n_out: int, n_in: int) -> np.ndarray:
        if align_corners and n_out > 1:
            return np.arange(n_out) * ((n_in - 1) / (n_out - 1))
        return np.arange(n_out) * (n_in / n_out)

    ys, xs = coords(height, hi), coords(width, wi)
    y0 = np.minimum(np.floor(ys).astype(int), hi - 1)
    x0 = np.minimum(np.floor(xs).astype(int), wi - 1)
    y1, x1 = np.minimum(y0 + 1, hi - 1), np.minimum(x0 + 1, wi - 1)
    wy = (ys - y0)[None, :, None, None].astype(x.dtype)
    wx = (xs - x0)[None, None, :, None].astype(x.dtype)
    top = x[:, y0][:, :, x0] * (1 - wx) + x[:, y0][:, :, x1] * wx
    bottom = x[:, y1][:, :, x0] * (1 - wx) + x[:, y1][:, :, x1] * wx
    return top * (1 - wy) + bottom * wy


@graphc.register_layer("ResizeBilinear", domain="tf")
class ResizeBilinear(graphc.Layer):
    """inputs[0]: images (N, H, W, C); blobs[0]: the int32 [height, width] Const (input slot 1)."""

    align_corners = Param(bool, default=False)

    def output_shapes(self, input_shapes):
        n, _, _, c = input_shapes[0]
        height, width = (int(d) for d in self.blobs[0])
        return [(n, height, width, c)]

    def forward(self, inputs, outputs, internals):
        height, width = (int(d) for d in self.blobs[0])
        outputs[0][...] = resize_bilinear_nhwc(inputs[0], height, width, self.align_corners)
