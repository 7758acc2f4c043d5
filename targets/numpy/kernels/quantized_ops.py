"""Kernels: onnxruntime's quantized ``com.microsoft`` QLinear* ops other than matrix products.

onnxruntime's static quantizer (``quant_format=QuantFormat.QOperator``) and the int8 models
of the ONNX model zoo use, next to the standard QLinearConv / QLinearMatMul, these ops that
only onnxruntime defines. Each kernel follows onnxruntime's CPU implementation
(``onnxruntime/contrib_ops/cpu/quantization``): dequantize, compute in float32, requantize
with round-half-to-even and saturation (:func:`targets.numpy.kernels.quantize.round_saturate`).
onnxruntime evaluates several of them through 256-entry lookup tables or MLAS fixed
formulas; the results agree to within one quantization step.

* elementwise: ``QLinearAdd``, ``QLinearMul`` (numpy broadcasting), ``QLinearSigmoid``,
  ``QLinearLeakyRelu`` (``alpha``);
* pooling: ``QLinearGlobalAveragePool`` and ``QLinearAveragePool`` (``channels_last``;
  pool attributes as AveragePool, with ``count_include_pad``);
* ``QLinearConcat``: inputs ``Y_scale, Y_zero_point`` then ``(X, X_scale, X_zero_point)``
  triples, each input requantized to the output's parameters;
* ``QLinearSoftmax`` (``axis``, ``opset``: below 13 the input is coerced to 2-D at ``axis``),
  with onnxruntime's ``floor(1 / y_scale)`` output multiplier.

The quantized matrix products (QGemm, MatMulIntegerToFloat, DynamicQuantizeMatMul,
MatMulNBits) live in :mod:`targets.numpy.kernels.quantized_linear`. Optional zero points
default to 0 and an omitted output zero point gives the input's type.
"""

from __future__ import annotations

import numpy as np

from ._numeric import sigmoid
from ._window import pool_geometry, pool_padded, reduce_taps, window_counts
from .quantize import output_dtype, requantize, round_saturate, scalar_param
from .registry import OpContext, kernel

DOMAIN = "com.microsoft"


def _deq(ctx: OpContext, x: np.ndarray, scale: np.ndarray, zp: np.ndarray | None, what: str) -> np.ndarray:
    """(x - zero_point) * scale in float32, per-tensor parameters."""
    s = scalar_param(ctx, scale, f"{what}_scale").astype(np.float32)
    z = scalar_param(ctx, zp, f"{what}_zero_point").astype(np.float32)
    return (x.astype(np.float32) - z) * s


# --------------------------------------------------------------------------- elementwise


@kernel("QLinearAdd", domain=DOMAIN)
def qlinear_add(ctx: OpContext, a: np.ndarray, a_scale: np.ndarray, a_zp: np.ndarray | None, b: np.ndarray,
                b_scale: np.ndarray, b_zp: np.ndarray | None, c_scale: np.ndarray, c_zp: np.ndarray | None = None
                ) -> np.ndarray:
    """C = quantize(dequantize(A) + dequantize(B)), broadcasting; MLAS's (a-za) sa/sc + (b-zb) sb/sc form."""
    sc = scalar_param(ctx, c_scale, "C_scale").astype(np.float32)
    ra = scalar_param(ctx, a_scale, "A_scale").astype(np.float32) / sc
    rb = scalar_param(ctx, b_scale, "B_scale").astype(np.float32) / sc
    za = scalar_param(ctx, a_zp, "A_zero_point").astype(np.float32)
    zb = scalar_param(ctx, b_zp, "B_zero_point").astype(np.float32)
    q = (a.astype(np.float32) - za) * ra + (b.astype(np.float32) - zb) * rb
    return requantize(ctx, q, c_zp, output_dtype(a, c_zp), float_zp=True)


@kernel("QLinearMul", domain=DOMAIN)
def qlinear_mul(ctx: OpContext, a: np.ndarray, a_scale: np.ndarray, a_zp: np.ndarray | None, b: np.ndarray,
                b_scale: np.ndarray, b_zp: np.ndarray | None, c_scale: np.ndarray, c_zp: np.ndarray | None = None
                ) -> np.ndarray:
    """C = quantize(dequantize(A) * dequantize(B)), broadcasting: (a-za)(b-zb) sa sb / sc."""
    mult = (scalar_param(ctx, a_scale, "A_scale").astype(np.float32)
            * scalar_param(ctx, b_scale, "B_scale").astype(np.float32)
            / scalar_param(ctx, c_scale, "C_scale").astype(np.float32))
    za = scalar_param(ctx, a_zp, "A_zero_point").astype(np.float32)
    zb = scalar_param(ctx, b_zp, "B_zero_point").astype(np.float32)
    q = (a.astype(np.float32) - za) * (b.astype(np.float32) - zb) * mult
    return requantize(ctx, q, c_zp, output_dtype(a, c_zp), float_zp=True)


def _lookup(ctx: OpContext, x: np.ndarray, x_scale: np.ndarray, x_zp: np.ndarray | None, y_scale: np.ndarray,
            y_zp: np.ndarray | None, fn) -> np.ndarray:
    """Apply float ``fn`` through a 256-entry table over every value of the 8-bit input type."""
    if x.dtype not in (np.dtype(np.uint8), np.dtype(np.int8)):
        raise ctx.shape_error(f"input type {x.dtype} is not uint8 or int8")
    info = np.iinfo(x.dtype)
    codes = np.arange(info.min, info.max + 1, dtype=np.int64).astype(x.dtype)
    dtype = output_dtype(x, y_zp)
    s = scalar_param(ctx, y_scale, "Y_scale").astype(np.float32)
    z = None if y_zp is None else scalar_param(ctx, y_zp, "Y_zero_point")
    table = round_saturate(fn(_deq(ctx, codes, x_scale, x_zp, "X")) / s, z, dtype)
    idx = x.astype(np.int64) - info.min
    buf = ctx.out(0, x.shape, dtype)
    np.take(table, idx, out=buf if buf.flags.c_contiguous else None)
    if not buf.flags.c_contiguous:
        np.copyto(buf, table[idx])
    return buf


@kernel("QLinearSigmoid", domain=DOMAIN)
def qlinear_sigmoid(ctx: OpContext, x: np.ndarray, x_scale: np.ndarray, x_zp: np.ndarray | None,
                    y_scale: np.ndarray, y_zp: np.ndarray | None = None) -> np.ndarray:
    """Y = quantize(sigmoid(dequantize(X)))."""
    return _lookup(ctx, x, x_scale, x_zp, y_scale, y_zp,
                   sigmoid)


@kernel("QLinearLeakyRelu", domain=DOMAIN)
def qlinear_leaky_relu(ctx: OpContext, x: np.ndarray, x_scale: np.ndarray, x_zp: np.ndarray | None,
                       y_scale: np.ndarray, y_zp: np.ndarray | None = None) -> np.ndarray:
    """Y = quantize(leaky_relu(dequantize(X), alpha)), ``alpha`` default 0.01."""
    alpha = np.float32(ctx.attr("alpha", 0.01))
    return _lookup(ctx, x, x_scale, x_zp, y_scale, y_zp, lambda v: np.where(v >= 0, v, v * alpha))


# --------------------------------------------------------------------------- pooling


def _to_nchw(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, -1, 1)


@kernel("QLinearGlobalAveragePool", domain=DOMAIN)
def qlinear_global_average_pool(ctx: OpContext, x: np.ndarray, x_scale: np.ndarray, x_zp: np.ndarray | None,
                                y_scale: np.ndarray, y_zp: np.ndarray | None = None) -> np.ndarray:
    """Mean over the spatial axes (N C spatial, or N spatial C with ``channels_last``), requantized.

    As MLAS: the integer window sum minus ``N * x_zero_point`` times ``x_scale / (y_scale * N)``.
    """
    if x.ndim < 3:
        raise ctx.shape_error(f"input must be N x C x spatial, got {x.shape}")
    last = bool(ctx.attr("channels_last", 0))
    axes = tuple(range(1, x.ndim - 1)) if last else tuple(range(2, x.ndim))
    n = int(np.prod([x.shape[a] for a in axes]))
    total = x.sum(axis=axes, keepdims=True, dtype=np.int64)
    zx = scalar_param(ctx, x_zp, "x_zero_point").astype(np.int64)
    mult = (scalar_param(ctx, x_scale, "x_scale").astype(np.float32)
            / (scalar_param(ctx, y_scale, "y_scale").astype(np.float32) * np.float32(n)))
    q = (total - zx * n).astype(np.float32) * mult
    return requantize(ctx, q, y_zp, output_dtype(x, y_zp))


@kernel("QLinearAveragePool", domain=DOMAIN)
def qlinear_average_pool(ctx: OpContext, x: np.ndarray, x_scale: np.ndarray, x_zp: np.ndarray | None,
                         y_scale: np.ndarray, y_zp: np.ndarray | None = None) -> np.ndarray:
    """Windowed mean of the dequantized input, requantized; N C spatial, or N spatial C with ``channels_last``.

    As onnxruntime: the window's float32 sum in row-major tap order divided by the count of
    input positions it covers, or by the full kernel size with ``count_include_pad``.
    """
    last = bool(ctx.attr("channels_last", 0))
    xf = _deq(ctx, x, x_scale, x_zp, "x")
    if last:
        xf = _to_nchw(xf)
    geo = pool_geometry(ctx, xf)
    acc = reduce_taps(pool_padded(xf, geo, 0), geo, np.empty(xf.shape[:2] + geo.out, np.float32), np.add)
    if ctx.attr("count_include_pad", 0):
        counts = np.float32(np.prod(geo.kernel))
    else:
        counts = window_counts(geo, xf.shape[2:], False).astype(np.float32)
    q = acc / counts / scalar_param(ctx, y_scale, "y_scale").astype(np.float32)
    if y_zp is not None:
        q += scalar_param(ctx, y_zp, "y_zero_point").astype(np.float32)
    if last:
        q = np.moveaxis(q, 1, -1)
    return requantize(ctx, q, None, output_dtype(x, y_zp))


# --------------------------------------------------------------------------- concat


@kernel("QLinearConcat", domain=DOMAIN)
def qlinear_concat(ctx: OpContext, y_scale: np.ndarray, y_zp: np.ndarray | None, *triples: np.ndarray | None
                   ) -> np.ndarray:
    """Concatenate along ``axis``; an input whose scale and zero point differ from Y's is requantized."""
    if not triples or len(triples) % 3:
        raise ctx.shape_error(f"expects (X, X_scale, X_zero_point) triples after Y_scale, Y_zero_point; got "
                         f"{len(triples)} more inputs")
    xs = [x for x in triples[0::3] if x is not None]
    if len(xs) * 3 != len(triples) or any(s is None for s in triples[1::3]):
        raise ctx.shape_error("every X and X_scale of the triples is required; one has an empty input name")
    dtype = output_dtype(xs[0], y_zp)
    ys = scalar_param(ctx, y_scale, "Y_scale").astype(np.float32)
    yz = scalar_param(ctx, y_zp, "Y_zero_point").astype(np.int64)
    parts = []
    for i in range(0, len(triples), 3):
        x, s, z = triples[i:i + 3]
        assert x is not None and s is not None  # checked above
        s0 = scalar_param(ctx, s, f"input {i // 3} scale").astype(np.float32)
        z0 = scalar_param(ctx, z, f"input {i // 3} zero_point").astype(np.int64)
        if s0 == ys and z0 == yz and x.dtype == dtype:
            parts.append(x)
        else:
            parts.append(round_saturate(_deq(ctx, x, s, z, "X") / ys, yz, dtype))
    rank = xs[0].ndim
    axis = int(ctx.attr("axis", 0))
    if not -rank <= axis < rank:
        raise ctx.shape_error(f"axis {axis} out of range for rank {rank}")
    axis %= rank
    try:
        shape = list(parts[0].shape)
        shape[axis] = sum(p.shape[axis] for p in parts)
        buf = ctx.out(0, shape, dtype)
        np.concatenate(parts, axis=axis, out=buf)
    except ValueError as err:
        raise ctx.shape_error(f"inputs of shapes {[p.shape for p in parts]} do not concatenate on axis {axis}: {err}"
                    ) from None
    return buf


# --------------------------------------------------------------------------- softmax


@kernel("QLinearSoftmax", domain=DOMAIN)
def qlinear_softmax(ctx: OpContext, x: np.ndarray, x_scale: np.ndarray, x_zp: np.ndarray | None,
                    y_scale: np.ndarray, y_zp: np.ndarray | None = None) -> np.ndarray:
    """Softmax of the dequantized input along ``axis`` (rows from ``axis`` on when ``opset`` < 13).

    The input zero point cancels out; like onnxruntime the probabilities are multiplied by
    ``floor(1 / y_scale)`` (not divided by ``y_scale``) before rounding.
    """
    opset = int(ctx.attr("opset", 13))
    axis = int(ctx.attr("axis", 1 if opset < 13 else -1))
    if x.ndim == 0:
        raise ctx.shape_error("input must have rank >= 1")
    if not -x.ndim <= axis < x.ndim:
        raise ctx.shape_error(f"axis {axis} out of range for rank {x.ndim}")
    axis %= x.ndim
    xs = scalar_param(ctx, x_scale, "X_scale").astype(np.float32)
    xi = x.astype(np.float32)
    if opset < 13:
        rows = xi.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1)
        red = 1
    else:
        rows, red = xi, axis
    e = np.exp((rows - rows.max(axis=red, keepdims=True)) * xs)
    p = e / e.sum(axis=red, keepdims=True)
    mult = np.float32(np.floor(np.float32(1) / scalar_param(ctx, y_scale, "y_scale").astype(np.float32)))
    return requantize(ctx, (p * mult).reshape(x.shape), y_zp, output_dtype(x, y_zp))
