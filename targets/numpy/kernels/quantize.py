"""Kernels: linear quantization.

QuantizeLinear / DequantizeLinear with per-tensor, per-axis (``axis``) and blocked
(``block_size``, opset 21+) scales; integer types int8/uint8/int16/uint16/int32 and the
types ml_dtypes gives numpy (int4/uint4/int2/uint2, float8 e4m3fn/e4m3fnuz/e5m2/e5m2fnuz,
float4 e2m1). DynamicQuantizeLinear computes a uint8 scale and zero point from the data.
The per-tensor parameter and requantization helpers of the com.microsoft QOperator kernels
(:func:`scalar_param`, :func:`output_dtype`, :func:`requantize`) live here too. QLinearConv
lives with the convolutions, the quantized matrix products (MatMulInteger, QLinearMatMul,
QGemm, MatMulNBits, ...) in :mod:`targets.numpy.kernels.quantized_linear` and the other
com.microsoft QLinear* ops in :mod:`targets.numpy.kernels.quantized_ops`.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from onnx import helper

from graphc.errors import ShapeInferenceError

from .registry import OpContext, kernel

_FLOAT8 = {
    np.dtype(ml_dtypes.float8_e4m3fn),
    np.dtype(ml_dtypes.float8_e4m3fnuz),
    np.dtype(ml_dtypes.float8_e5m2),
    np.dtype(ml_dtypes.float8_e5m2fnuz),
}
_SMALL_FLOATS = {np.dtype(getattr(ml_dtypes, n)) for n in ("float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn")
                 if hasattr(ml_dtypes, n)}


def _int_range(dtype: np.dtype) -> tuple[int, int] | None:
    """(min, max) of an integer quantized type, None for float types."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return int(info.min), int(info.max)
    try:
        ml_info = ml_dtypes.iinfo(dtype)
    except (ValueError, TypeError):
        return None
    return int(ml_info.min), int(ml_info.max)


def round_saturate(q: np.ndarray, zero_point: np.ndarray | int | None, dtype: np.dtype) -> np.ndarray:
    """saturate(round_half_even(q) + zero_point) in the integer type ``dtype``.

    ``q`` is the real value already divided by the scale; ``zero_point`` broadcasts against it.
    Shared by QuantizeLinear and the com.microsoft QLinear* kernels (quantized_ops, quantized_linear).
    """
    dtype = np.dtype(dtype)
    rng = _int_range(dtype)
    if rng is None:
        raise ShapeInferenceError(f"round_saturate: {dtype} is not an integer quantized type")
    qf = np.rint(np.asarray(q, dtype=np.float64))  # float64 holds every 32-bit integer exactly
    if zero_point is not None:
        qf = qf + np.asarray(zero_point).astype(np.float64)
    # NaN quantizes to the type's minimum, as onnxruntime's float-to-int conversion gives on x86
    # (an int64 cast of NaN would wrap past the zero point to the maximum instead)
    np.copyto(qf, rng[0], where=np.isnan(qf))
    np.clip(qf, rng[0], rng[1], out=qf)
    return qf.astype(dtype)


def scalar_param(ctx: OpContext, p: np.ndarray | None, what: str, default: float | int = 0) -> np.ndarray:
    """A per-tensor scale or zero point as a 0-d array (``default`` when omitted)."""
    if p is None:
        return np.asarray(default)
    if p.size != 1:
        raise ctx.shape_error(f"{what} must be a scalar or a 1-element tensor, got shape {p.shape}")
    return p.reshape(())


def output_dtype(x: np.ndarray, zp: np.ndarray | None) -> np.dtype:
    """A quantized op's output type: its output zero point's, else the input's."""
    return zp.dtype if zp is not None else x.dtype


def requantize(ctx: OpContext, q: np.ndarray, zp: np.ndarray | None, dtype: np.dtype, float_zp: bool = False
             ) -> np.ndarray:
    """``q`` (already divided by the output scale) rounded, shifted, saturated into output 0's buffer.

    ``float_zp``: add the zero point in float32 before rounding, as MLAS's QLinearAdd/Mul kernels
    do (``q + zp`` can round to a tie the integer sum would not reach).
    """
    z = None if zp is None else scalar_param(ctx, zp, "output zero_point")
    if float_zp and z is not None:
        q, z = q + z.astype(np.float32), None
    res = round_saturate(q, z, dtype)
    buf = ctx.out(0, res.shape, dtype)
    np.copyto(buf, res)
    return buf


def _broadcast_param(ctx: OpContext, p: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A scale/zero point shaped to broadcast against ``shape``: scalar, per-axis or blocked."""
    if p.size == 1 and p.ndim <= 1:
        return p.reshape(())
    rank = len(shape)
    axis = int(ctx.attr("axis", 1))
    axis = axis + rank if axis < 0 else axis
    block = int(ctx.attr("block_size", 0) or 0)
    if p.ndim == 1 and not block:
        if p.shape[0] != shape[axis]:
            raise ctx.shape_error(
                f"per-axis parameter of length {p.shape[0]} does not match "
                f"axis {axis} of size {shape[axis]}"
            )
        return p.reshape([-1 if i == axis else 1 for i in range(rank)])
    if block <= 0 or p.ndim != rank:
        raise ctx.shape_error(
            f"parameter shape {p.shape} needs block_size > 0 and rank {rank}"
        )
    return np.repeat(p, block, axis=axis)[tuple(slice(0, s) for s in shape)]


def _output_dtype(ctx: OpContext, zp: np.ndarray | None) -> np.dtype:
    if zp is not None:
        return zp.dtype
    to = int(ctx.attr("output_dtype", 0) or 0)
    return np.dtype(helper.tensor_dtype_to_np_dtype(to)) if to else np.dtype(np.uint8)


@kernel("QuantizeLinear")
def quantize_linear(ctx: OpContext, x: np.ndarray, y_scale: np.ndarray, y_zp: np.ndarray | None = None
                    ) -> np.ndarray:
    """saturate(round_half_even(x / y_scale) + y_zero_point) in the zero point's type."""
    dtype = _output_dtype(ctx, y_zp)
    precision = int(ctx.attr("precision", 0) or 0)
    scale = _broadcast_param(ctx, y_scale, x.shape)
    if precision:
        pt = helper.tensor_dtype_to_np_dtype(precision)
        q = x.astype(pt) / scale.astype(pt)
    else:
        q = x / scale
    rng = _int_range(dtype)
    buf = ctx.out(0, x.shape, dtype)
    if rng is not None:
        zp = _broadcast_param(ctx, y_zp, x.shape) if y_zp is not None else None
        np.copyto(buf, round_saturate(q, zp, dtype))
        return buf
    if dtype in _FLOAT8:
        if ctx.attr("saturate", 1):
            info = ml_dtypes.finfo(dtype)
            q = np.clip(q, float(info.min), float(info.max))
        np.copyto(buf, q.astype(dtype))
        return buf
    if dtype in _SMALL_FLOATS:
        if y_zp is not None:
            q = q + _broadcast_param(ctx, y_zp, x.shape).astype(np.float32)
        np.copyto(buf, q.astype(dtype))
        return buf
    raise ctx.shape_error(
        f"output type {dtype} is not a quantized type numpy can hold"
    )


@kernel("DequantizeLinear")
def dequantize_linear(ctx: OpContext, x: np.ndarray, x_scale: np.ndarray, x_zp: np.ndarray | None = None
                      ) -> np.ndarray:
    """(x - x_zero_point) * x_scale, in the scale's type (or ``output_dtype``)."""
    to = int(ctx.attr("output_dtype", 0) or 0)
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(to)) if to else x_scale.dtype
    if ctx.opset < 19:
        dtype = np.dtype(np.float32)
    dx = x.astype(np.float32)
    if x_zp is not None and x.dtype not in _FLOAT8 and x.dtype not in _SMALL_FLOATS:
        dx -= _broadcast_param(ctx, x_zp, x.shape).astype(np.float32)
    y = dx * _broadcast_param(ctx, x_scale, x.shape)
    buf = ctx.out(0, x.shape, dtype)
    np.copyto(buf, y, casting="unsafe")
    return buf


@kernel("DynamicQuantizeLinear")
def dynamic_quantize_linear(ctx: OpContext, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 quantization with scale (max(0, x) - min(0, x)) / 255 and a matching zero point."""
    lo = min(0.0, float(x.min())) if x.size else 0.0
    hi = max(0.0, float(x.max())) if x.size else 0.0
    scale = np.float32((hi - lo) / np.float32(255))
    if scale == 0:
        zp = np.uint8(0)
        y = np.zeros(x.shape, np.uint8)
    else:
        zp = np.uint8(np.clip(np.rint(np.float32(0) - np.float32(lo) / scale), 0, 255))
        y = np.clip(np.rint(x / scale) + zp, 0, 255).astype(np.uint8)
    buf = ctx.out(0, x.shape, np.uint8)
    np.copyto(buf, y)
    s = ctx.out(1, (), np.float32)
    s[...] = scale
    z = ctx.out(2, (), np.uint8)
    z[...] = zp
    return buf, s, z
