"""Numeric helpers shared by several kernel families: the compute dtype and the sigmoid."""

from __future__ import annotations

import numpy as np

__all__ = ["compute_dtype", "sigmoid", "sigmoid_into"]


def compute_dtype(x: np.ndarray) -> np.dtype:
    """The dtype low-precision kernels compute in: float64 stays float64, everything else is float32."""
    return np.dtype(np.float64) if x.dtype == np.float64 else np.dtype(np.float32)


def sigmoid_into(buf: np.ndarray, x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) written into ``buf`` (which may be ``x``), overflow-free; returns ``buf``."""
    with np.errstate(over="ignore"):
        np.negative(x, out=buf)
        np.exp(buf, out=buf)
        np.add(buf, 1, out=buf)
        np.reciprocal(buf, out=buf)
    return buf


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) as a new array of x's dtype."""
    return sigmoid_into(np.empty_like(x), x)
