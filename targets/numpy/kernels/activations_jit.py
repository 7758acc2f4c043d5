"""Compiled PRelu and small Softmax: one call per node where numpy needs two to five.

On the small maps of per-crop models (MTCNN) a numpy ufunc call costs about 1 us whatever its size,
so PRelu's ``max(x, slope * x)`` (two calls) and Softmax's max / subtract / exp / sum / divide (five)
are mostly call overhead. Measured per call (float32, thread time): PRelu 1x10x10x10 0.21 us
compiled against 1.37 numpy, 1x32x46x46 2.3 against 12.5, 1x64x100x100 41 against 83 (one pass
instead of two: it wins at every size). Softmax 1x2x5x5 0.31 against 3.6, 4x64 1.9 against 3.6, but
1x1000 7.2 against 3.9 and 1x2x50x50 9.6 against 7.1: the compiled loop calls a scalar ``exp``
while numpy's is vectorized, so Softmax takes it only up to :data:`SOFTMAX_MAX_ELEMENTS`.

Both keep the numpy kernels' NaN semantics: PRelu of NaN is NaN; a NaN in a Softmax row makes the
row NaN (its max is NaN, as ``np.max`` gives).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import jit

__all__ = ["PReluPlan", "SoftmaxPlan", "plan_prelu", "plan_softmax", "SOFTMAX_MAX_ELEMENTS"]

#: Softmax inputs of at most this many elements take the compiled kernel (crossover measured at 500-1000)
SOFTMAX_MAX_ELEMENTS = 512

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@jit.compiled
def _prelu(x_nd, slope, out_nd, outer, inner):  # pragma: no cover - compiled
    """out[o, c, i] = x if x >= 0 else slope[c] * x, for the contiguous x viewed as (outer, channels, inner)."""
    channels = slope.shape[0]
    x = x_nd.reshape((outer, channels, inner))
    out = out_nd.reshape((outer, channels, inner))
    for o in range(outer):
        for c in range(channels):
            s = slope[c]
            for i in range(inner):
                v = x[o, c, i]
                out[o, c, i] = v if v >= 0 else s * v


@jit.compiled
def _softmax_rows(x_nd, out_nd, rows, n):  # pragma: no cover - compiled
    """Softmax along the last axis of the contiguous x viewed as (rows, n)."""
    x = x_nd.reshape((rows, n))
    out = out_nd.reshape((rows, n))
    for r in range(rows):
        m = x[r, 0]
        for k in range(1, n):
            b = x[r, k]
            m = b if (b > m) | (b != b) else m
        total = 0.0
        for k in range(n):
            e = math.exp(x[r, k] - m)
            out[r, k] = e
            total += e
        for k in range(n):
            out[r, k] = out[r, k] / total


@jit.compiled
def _softmax_inner(x_nd, out_nd, outer, n, inner):  # pragma: no cover - compiled
    """Softmax along the middle axis of the contiguous x viewed as (outer, n, inner)."""
    x = x_nd.reshape((outer, n, inner))
    out = out_nd.reshape((outer, n, inner))
    m = np.empty(inner, x.dtype)
    total = np.empty(inner, x.dtype)
    for o in range(outer):
        for i in range(inner):
            m[i] = x[o, 0, i]
            total[i] = 0
        for k in range(1, n):
            for i in range(inner):
                a = m[i]
                b = x[o, k, i]
                m[i] = b if (b > a) | (b != b) else a
        for k in range(n):
            for i in range(inner):
                e = math.exp(x[o, k, i] - m[i])
                out[o, k, i] = e
                total[i] += e
        for k in range(n):
            for i in range(inner):
                out[o, k, i] = out[o, k, i] / total[i]


class PReluPlan:
    """PRelu with a constant per-channel (axis 1) or scalar slope, on the compiled kernel."""

    __slots__ = ("slope", "kernel")

    def __init__(self, slope: np.ndarray) -> None:
        self.slope = slope
        self.kernel = _prelu.dispatcher()

    def run(self, x: np.ndarray, out: np.ndarray) -> np.ndarray | None:
        """PRelu of ``x`` into ``out``; None when this call does not fit (dtype, layout, channels)."""
        slope = self.slope
        if x.dtype != slope.dtype or out.shape != x.shape or not (x.flags.c_contiguous and out.flags.c_contiguous):
            return None
        channels = slope.shape[0]
        if channels == 1:
            self.kernel(x, slope, out, 1, x.size)
        elif x.ndim >= 2 and x.shape[1] == channels:
            outer = x.shape[0]
            self.kernel(x, slope, out, outer, x.size // (outer * channels) if outer else 0)
        else:
            return None
        return out


def plan_prelu(x_shape: Any, slope: Any) -> PReluPlan | None:
    """The compiled plan of a PRelu whose constant float ``slope`` is a scalar or one value per channel of
    axis 1 (shape (C, 1, ..., 1) against x's trailing axes, or (C,) for a 2-D x); None otherwise."""
    if not jit.available() or not isinstance(slope, np.ndarray) or slope.dtype not in _FLOATS or not slope.size:
        return None
    if slope.size > 1:
        ndim = len(x_shape) if x_shape is not None else None
        if ndim is None or ndim < 2 or slope.ndim > ndim - 1:
            return None
        dims = (1,) * (ndim - slope.ndim) + tuple(slope.shape)
        if dims[1] != slope.size or any(d != 1 for i, d in enumerate(dims) if i != 1):
            return None
    return PReluPlan(np.ascontiguousarray(slope.reshape(-1)))


class SoftmaxPlan:
    """Softmax (or its opset < 13 2-D coercion) of a small float input on the compiled kernels."""

    __slots__ = ("rows", "inner")

    def __init__(self) -> None:
        self.rows = _softmax_rows.dispatcher()
        self.inner = _softmax_inner.dispatcher()

    def run(self, x: np.ndarray, out: np.ndarray, axis: int, coerce_2d: bool) -> np.ndarray | None:
        """Softmax of ``x`` along ``axis`` into ``out``; None when this call does not fit (size, dtype, layout)."""
        if x.size > SOFTMAX_MAX_ELEMENTS or x.dtype not in _FLOATS or x.dtype != out.dtype or x.size == 0 \
                or not (x.flags.c_contiguous and out.flags.c_contiguous) or not 0 <= axis < x.ndim:
            return None
        shape = x.shape
        n = math.prod(shape[axis:]) if coerce_2d else shape[axis]
        inner = 1 if coerce_2d else math.prod(shape[axis + 1:])
        outer = x.size // (n * inner)
        if inner == 1:
            self.rows(x, out, outer, n)
        else:
            self.inner(x, out, outer, n, inner)
        return out


def plan_softmax() -> SoftmaxPlan | None:
    """The compiled Softmax plan when compiled kernels are available."""
    return SoftmaxPlan() if jit.available() else None
