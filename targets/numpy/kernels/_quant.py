"""Zero-point arithmetic shared by the integer and quantized kernels."""

from __future__ import annotations

import numpy as np

__all__ = ["shift_zero_point"]


def shift_zero_point(x: np.ndarray, zp: np.ndarray | None, axis: int = 0, dtype: type = np.int32) -> np.ndarray:
    """``x - zp`` in the integer type ``dtype``.

    A one-element zero point is a scalar; a 1-D one applies along ``axis`` of ``x`` (per
    channel, row or column); any other shape broadcasts as it is.
    """
    xi: np.ndarray = x.astype(dtype)
    if zp is None:
        return xi
    z: np.ndarray = np.asarray(zp).astype(dtype)
    if z.size == 1:
        z = z.reshape(())
    elif z.ndim == 1:
        shape = [1] * xi.ndim
        shape[axis] = z.size
        z = z.reshape(shape)
    if np.broadcast_shapes(xi.shape, z.shape) == xi.shape:
        xi -= z
        return xi
    return xi - z
