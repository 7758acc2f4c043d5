"""Numeric helpers shared by several kernel families: the compute dtype, the sigmoid, and the name of the
halved-SiLU epilogue (shared by the numpy and the compiled epilogues)."""

from __future__ import annotations

import numpy as np

__all__ = ["HALF_SILU", "RELU_CLIP_MIN_ELEMENTS", "compute_dtype", "relu_into", "sigmoid", "sigmoid_into"]

#: a prepared convolution's SiLU epilogue when its weights and bias were halved at lowering (exact: a
#: power of two): the output holds h = x / 2 and SiLU(x) = h (1 + tanh h) takes three passes, not four
HALF_SILU = "SiLU(2h)"


#: a float32/float64 Relu of at least this many elements is ``np.clip(x, 0, inf)``: numpy 2.4's clip loop runs
#: about 3x faster per element than ``np.maximum(x, 0)`` (float32 (64, 1600): 9.4 against 29.5 us; float64 17
#: against 44), with the same NaN propagation, but costs about 2.3 us per call against 1 (thread clock: float32
#: equal near 6000 elements, float64 near 5000). float16 and integers keep np.maximum (clip is slower there)
RELU_CLIP_MIN_ELEMENTS = 8192


def relu_into(out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """max(x, 0) written into ``out`` (which may be ``x``), NaN kept; returns ``out``."""
    t = x.dtype.type
    if x.size >= RELU_CLIP_MIN_ELEMENTS and x.dtype in (np.float32, np.float64):
        return np.clip(x, t(0), t(np.inf), out=out)
    return np.maximum(x, t(0), out=out)


def compute_dtype(x: np.ndarray) -> np.dtype:
    """The dtype low-precision kernels compute in: float64 stays float64, everything else is float32."""
    return np.dtype(np.float64) if x.dtype == np.float64 else np.dtype(np.float32)


def sigmoid_into(buf: np.ndarray, x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) written into ``buf`` (which may be ``x``); returns ``buf``.

    Computed as 0.5 + 0.5 tanh(x / 2): no overflow to guard against, and numpy's SIMD float32 ``tanh``
    is about 3x cheaper than its ``exp`` here, so the four passes take half the time of
    ``1 / (1 + exp(-x))`` (a (1, 144, 56, 56) tensor: 162 against 299 us). The absolute error is at
    most about one float32 step of 1 (6e-8), which is also the error bound near 0. Other dtypes
    (float16 would lose digits in the half-range rounding) take ``1 / (1 + exp(-x))``.
    """
    if x.dtype != np.float32:
        with np.errstate(over="ignore"):
            np.negative(x, out=buf)
            np.exp(buf, out=buf)
            np.add(buf, 1, out=buf)
            return np.reciprocal(buf, out=buf)
    t = x.dtype.type
    np.multiply(x, t(0.5), out=buf)
    np.tanh(buf, out=buf)
    np.multiply(buf, t(0.5), out=buf)
    np.add(buf, t(0.5), out=buf)
    return buf


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) as a new array of x's dtype."""
    return sigmoid_into(np.empty_like(x), x)
