"""Kernels: linear algebra.

MatMul, Gemm and onnxruntime's contrib ops ``com.microsoft::FusedGemm`` (Gemm + activation
epilogue) and ``com.microsoft::FusedMatMul`` (MatMul with transposes, batch transposes and a
scale); Einsum and Det. Products are one ``np.matmul`` written into the planned buffer.
:func:`integer_matmul` (exact integer products through float64 BLAS) serves the quantized
matrix products, which live in :mod:`targets.numpy.kernels.quantized_linear` (MatMulInteger,
QLinearMatMul, QGemm, MatMulNBits, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import jit
from .epilogue import apply_activation, fused_gemm_activation
from .registry import OpContext, kernel

#: the compiled GEMV serves Gemm nodes of at most this many weights, called with at most GEMV_MAX_ROWS rows of A
GEMV_MAX_WEIGHTS = 1 << 17
GEMV_MAX_ROWS = 4


def matmul_shape(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> tuple[int, ...]:
    """numpy/ONNX MatMul result shape (1-D operands promoted then squeezed); a ShapeInferenceError if none."""
    try:
        a2 = a.shape if a.ndim > 1 else (1,) + a.shape
        b2 = b.shape if b.ndim > 1 else b.shape + (1,)
        if a2[-1] != b2[-2]:
            raise ValueError
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        raise ctx.shape_error(
            f"shapes {a.shape} and {b.shape} do not multiply"
        ) from None
    shape = batch + (a2[-2], b2[-1])
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:]
    if b.ndim == 1:
        shape = shape[:-1]
    return shape


def _matmul_into(ctx: OpContext, a: np.ndarray, b: np.ndarray, dtype: np.dtype) -> np.ndarray:
    buf = ctx.out(0, matmul_shape(ctx, a, b), dtype)
    if buf.ndim == 0:
        buf[...] = np.matmul(a, b)
        return buf
    np.matmul(a, b, out=buf, casting="unsafe")
    return buf


@kernel("MatMul")
def matmul(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched matrix product with numpy broadcasting."""
    return _matmul_into(ctx, a, b, a.dtype)


def _gemm(ctx: OpContext, a: np.ndarray, b: np.ndarray, c: np.ndarray | None) -> np.ndarray:
    """alpha * A' @ B' + beta * C into the planned buffer."""
    if a.ndim != 2 or b.ndim != 2:
        raise ctx.shape_error(f"A and B must be 2-D, got {a.shape}, {b.shape}")
    if ctx.attr("transA", 0):
        a = a.T
    if ctx.attr("transB", 0):
        b = b.T
    alpha = float(ctx.attr("alpha", 1.0))
    beta = float(ctx.attr("beta", 1.0))
    if a.shape[1] != b.shape[0]:
        raise ctx.shape_error(f"A' {a.shape} and B' {b.shape} do not multiply")
    buf = ctx.out(0, (a.shape[0], b.shape[1]), a.dtype)
    np.matmul(a, b, out=buf, casting="unsafe")
    t = buf.dtype.type
    if alpha != 1.0:
        np.multiply(buf, t(alpha), out=buf, casting="unsafe")
    if c is not None and beta != 0.0:
        cc = c if beta == 1.0 else c * t(beta)
        np.add(buf, cc, out=buf, casting="unsafe")
    return buf


@dataclass(frozen=True)
class GemvPlan:
    """A Gemm with constant float32 B (and C) run as :func:`targets.numpy.kernels.gemv_jit.gemv_conv`:
    per row of A, one dot product per output column plus its bias, in one compiled call (a tiny
    classifier head costs about 2 us in numpy's matmul and bias add, mostly fixed cost)."""

    weights: np.ndarray  # (M, K) C-contiguous: op(B) transposed
    bias: np.ndarray  # (M,): beta * C, zeros without C
    params: np.ndarray  # the kernel's activation parameters (none used: code 0)
    kernel: Any


def _prepare_gemm(ctx: OpContext, inputs: Sequence[Any]) -> GemvPlan | None:
    """A :class:`GemvPlan` when numba is available, B is a small constant float32 matrix, C is absent or a
    constant of one value per output column ((M,) or (1, M)), alpha is 1 and A is not transposed."""
    b = inputs[1] if len(inputs) > 1 else None
    c = inputs[2] if len(inputs) > 2 else None
    if not jit.available() or not isinstance(b, np.ndarray) or b.ndim != 2 or b.dtype != np.float32 \
            or b.size > GEMV_MAX_WEIGHTS or ctx.attr("transA", 0) or float(ctx.attr("alpha", 1.0)) != 1.0:
        return None
    w = np.ascontiguousarray(b if ctx.attr("transB", 0) else b.T)
    m = w.shape[0]
    beta = float(ctx.attr("beta", 1.0))
    if c is None or beta == 0.0:
        bias = np.zeros(m, np.float32)
    elif isinstance(c, np.ndarray) and c.dtype == np.float32 and c.shape in ((m,), (1, m)):
        bias = c.reshape(m) if beta == 1.0 else c.reshape(m) * np.float32(beta)  # as the numpy path scales C
        bias = np.ascontiguousarray(bias)
    else:
        return None
    from . import gemv_jit  # imports numba: only once jit.available() said True

    return GemvPlan(w, bias, np.array([0.0, 0.0, 0.0, 1.0], np.float32), gemv_jit.gemv_conv.dispatcher())


@kernel("Gemm", prepare=_prepare_gemm)
def gemm(ctx: OpContext, a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
    """alpha * op(A) @ op(B) + beta * C (C unidirectionally broadcast); a few rows of float32 A times a small
    constant B in one compiled call (prepared :class:`GemvPlan`)."""
    plan = ctx.state
    if plan is not None and a.dtype == np.float32 and a.ndim == 2 and a.shape[0] <= GEMV_MAX_ROWS \
            and a.shape[1] == plan.weights.shape[1] and a.flags.c_contiguous:
        buf = ctx.out(0, (a.shape[0], plan.weights.shape[0]), a.dtype)
        if buf.flags.c_contiguous:
            plan.kernel(a, plan.weights, plan.bias, buf, 0, plan.params)
            return buf
    return _gemm(ctx, a, b, c)


@kernel("FusedGemm", domain="com.microsoft")
def fused_gemm(ctx: OpContext, a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
    """Gemm followed by the ``activation`` epilogue."""
    name, params = fused_gemm_activation(ctx)
    return apply_activation(_gemm(ctx, a, b, c), name, params)


def _batch_to_rows(x: np.ndarray) -> np.ndarray:
    """transBatch: (b0, b1, ..., m, k) -> (b1, ..., m, b0, k): axis 0 moves to just before the last."""
    return np.moveaxis(x, 0, -2)


@kernel("FusedMatMul", domain="com.microsoft")
def fused_matmul(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """alpha * op(A) @ op(B) (onnxruntime's contrib op).

    op first applies transBatchA/B (permutation [1, ..., rank-2, 0, rank-1]: the leading
    axis moves next to the last; both operands must then have the same rank >= 3, as
    onnxruntime requires), then transA/B (swap of the last two axes).
    """
    tba, tbb = bool(ctx.attr("transBatchA", 0)), bool(ctx.attr("transBatchB", 0))
    if (tba or tbb) and (a.ndim < 3 or a.ndim != b.ndim):
        raise ctx.shape_error(
            f"transBatchA/transBatchB need A and B of the same rank >= 3, "
            f"got {a.shape} and {b.shape}"
        )
    if tba:
        a = _batch_to_rows(a)
    if tbb:
        b = _batch_to_rows(b)
    if ctx.attr("transA", 0) and a.ndim >= 2:
        a = np.swapaxes(a, -1, -2)
    if ctx.attr("transB", 0) and b.ndim >= 2:
        b = np.swapaxes(b, -1, -2)
    buf = _matmul_into(ctx, a, b, a.dtype)
    alpha = float(ctx.attr("alpha", 1.0))
    if alpha != 1.0:
        np.multiply(buf, buf.dtype.type(alpha), out=buf)
    return buf


def integer_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` of integer arrays as int64, through float64 BLAS when that is exact.

    numpy has no BLAS for integers (its loop is ~50x slower than dgemm); float64 holds
    every partial sum exactly while max|a| * max|b| * K stays below 2**53, which 8-bit
    quantized operands (|x - zero_point| <= 255) meet for any realistic K.
    """
    k = a.shape[-1] if a.ndim else 1
    bound = int(np.abs(a).max(initial=0)) * int(np.abs(b).max(initial=0)) * max(k, 1)
    if bound >= 2 ** 53:
        return np.matmul(a.astype(np.int64), b.astype(np.int64))
    return np.rint(np.matmul(a.astype(np.float64), b.astype(np.float64))).astype(np.int64)


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
