"""Kernels: misc.

Einsum, Det, BitCast and the window generators (Hann, Hamming, Blackman): cheap
single-node ops that belong to no other family.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from onnx import helper

from .registry import OpContext, kernel


@kernel("Einsum")
def einsum(ctx: OpContext, *inputs: np.ndarray) -> np.ndarray:
    """Einstein summation over the inputs per ``equation``."""
    equation = ctx.attr("equation").replace(" ", "")
    dtype = inputs[0].dtype
    if dtype.kind == "V":  # bfloat16 and friends: compute in float32
        inputs = tuple(x.astype(np.float32) for x in inputs)
    res = np.einsum(equation, *inputs, optimize=len(inputs) > 1)
    res = np.asarray(res).astype(dtype, copy=False)
    if any(np.may_share_memory(res, x) for x in inputs):  # einsum may return a view
        res = res.copy()
    return res


@kernel("Det")
def det(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Determinant of the trailing square matrices."""
    return np.asarray(np.linalg.det(x), dtype=x.dtype)


@kernel("BitCast", view=True)
def bit_cast(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Reinterpret x's bytes as the same-width dtype ``to``."""
    dtype = helper.tensor_dtype_to_np_dtype(int(ctx.attr("to")))
    if dtype.itemsize != x.dtype.itemsize or x.dtype == object or dtype == object:
        raise ValueError(f"BitCast node {ctx.name!r}: {x.dtype} and {dtype} differ in width")
    return (x if x.flags.c_contiguous else x.copy()).view(dtype)


_WINDOW_CHUNK = 1 << 16  # points computed at once in float64: bounds a window kernel's scratch


def _window(ctx: OpContext, size: np.ndarray, formula: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """A window of ``size`` points, ``formula`` applied to ``2 pi n / N`` (N = size, or size - 1
    when not periodic). The output comes from ``ctx.out`` (so its size is checked against the
    run's memory budget before allocation) and is filled a chunk at a time: the float64 scratch
    stays small whatever the size (a size of 3e9 used to allocate 22 GiB of it first)."""
    n = int(np.asarray(size).reshape(-1)[0])
    dtype = helper.tensor_dtype_to_np_dtype(int(ctx.attr("output_datatype", 1)))
    denom = np.float64(n if ctx.attr("periodic", 1) else n - 1)
    out = ctx.out(0, (max(n, 0),), dtype)
    for start in range(0, n, _WINDOW_CHUNK):
        points = np.arange(start, min(start + _WINDOW_CHUNK, n), dtype=np.float64)
        out[start:start + len(points)] = formula(points * (2 * np.pi) / denom)
    return out


@kernel("HannWindow")
def hann_window(ctx: OpContext, size: np.ndarray) -> np.ndarray:
    """sin^2(pi n / N)."""
    return _window(ctx, size, lambda t: np.sin(t / 2) ** 2)


@kernel("HammingWindow")
def hamming_window(ctx: OpContext, size: np.ndarray) -> np.ndarray:
    """alpha - beta cos(2 pi n / N) with alpha = 25/46."""
    alpha = 25.0 / 46.0
    return _window(ctx, size, lambda t: alpha - np.cos(t) * (1 - alpha))


@kernel("BlackmanWindow")
def blackman_window(ctx: OpContext, size: np.ndarray) -> np.ndarray:
    """0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)."""
    return _window(ctx, size, lambda t: 0.42 - 0.5 * np.cos(t) + 0.08 * np.cos(2 * t))
