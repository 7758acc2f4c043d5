"""Bilinear resampling shared by the test layers (a plain module: it registers nothing)."""

from __future__ import annotations

import numpy as np


def bilinear_nchw(x: np.ndarray, height: int, width: int, align_corners: bool = True) -> np.ndarray:
    """Bilinear resize of the last two axes (Caffe Interp uses align-corners sampling)."""
    hi, wi = x.shape[-2:]

    def coords(n_out: int, n_in: int) -> np.ndarray:
        if align_corners:
            return np.linspace(0.0, n_in - 1, n_out) if n_out > 1 else np.zeros(1)
        return np.minimum(np.arange(n_out) * (n_in / n_out), n_in - 1)

    ys, xs = coords(height, hi), coords(width, wi)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, hi - 1), np.minimum(x0 + 1, wi - 1)
    wy = (ys - y0)[:, None].astype(x.dtype)
    wx = (xs - x0)[None, :].astype(x.dtype)
    top = x[..., y0, :][..., x0] * (1 - wx) + x[..., y0, :][..., x1] * wx
    bottom = x[..., y1, :][..., x0] * (1 - wx) + x[..., y1, :][..., x1] * wx
    return top * (1 - wy) + bottom * wy
