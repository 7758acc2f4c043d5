"""Kernels: misc.

Einsum, Det, BitCast and the window generators (Hann, Hamming, Blackman): cheap
single-node ops that belong to no other family.
"""

from __future__ import annotations

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


def _window(ctx: OpContext, size: np.ndarray) -> tuple[np.ndarray, float, np.dtype]:
    """(n, N - 1 or N, output dtype) for a window of ``size`` points."""
    n = int(np.asarray(size).reshape(-1)[0])
    dtype = helper.tensor_dtype_to_np_dtype(int(ctx.attr("output_datatype", 1)))
    denom = n if ctx.attr("periodic", 1) else n - 1
    return np.arange(n, dtype=np.float64), float(denom), dtype


@kernel("HannWindow")
def hann_window(ctx: OpContext, size: np.ndarray) -> np.ndarray:
    """sin^2(pi n / N)."""
    n, denom, dtype = _window(ctx, size)
    return (np.sin(n * np.pi / denom) ** 2).astype(dtype)


@kernel("HammingWindow")
def hamming_window(ctx: OpContext, size: np.ndarray) -> np.ndarray:
    """alpha - beta cos(2 pi n / N) with alpha = 25/46."""
    n, denom, dtype = _window(ctx, size)
    alpha = 25.0 / 46.0
    return (alpha - np.cos(n * 2 * np.pi / denom) * (1 - alpha)).astype(dtype)


@kernel("BlackmanWindow")
def blackman_window(ctx: OpContext, size: np.ndarray) -> np.ndarray:
    """0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)."""
    n, denom, dtype = _window(ctx, size)
    y = 0.42 - 0.5 * np.cos(n * 2 * np.pi / denom) + 0.08 * np.cos(n * 4 * np.pi / denom)
    return y.astype(dtype)
