"""Kernels: elementwise.

Binary arithmetic with numpy broadcasting, logical/bitwise/comparison ops, Where,
unary math, Clip, Cast/CastLike and a vectorized ``erf`` shared with activations.
``com.microsoft::BiasAdd`` (X + bias + skip) and BitCast (a byte reinterpretation) live here too.
Outputs are written into the planned buffer (``ctx.out``) whenever numpy allows it,
which also keeps 0-d results as arrays rather than numpy scalars.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import ml_dtypes
import numpy as np
from onnx import TensorProto, helper, numpy_helper

from . import jit
from .registry import OpContext, kernel

__all__ = ["erf", "cast_array"]


def _shape(*arrays: np.ndarray) -> tuple[int, ...]:
    """The broadcast shape (equal shapes and a scalar operand, the common cases, without numpy's helper)."""
    first = arrays[0].shape
    if len(arrays) == 2:
        other = arrays[1].shape
        if other == first or not other:
            return first
        if not first:
            return other
    return np.broadcast_shapes(*(a.shape for a in arrays))


def _binary(ctx: OpContext, ufunc: np.ufunc, a: np.ndarray, b: np.ndarray, dtype: Any) -> np.ndarray:
    """``ufunc(a, b)`` broadcast, written into the planned buffer of output 0."""
    buf = ctx.out(0, _shape(a, b), dtype)
    ufunc(a, b, out=buf, casting="unsafe")
    return buf


def _unary(ctx: OpContext, ufunc: np.ufunc, x: np.ndarray) -> np.ndarray:
    buf = ctx.out(0, x.shape, x.dtype)
    ufunc(x, out=buf, casting="unsafe")
    return buf


# --------------------------------------------------------------------------- arithmetic


@kernel("Add", inplace={0: 0})
def add(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A + B."""
    return _binary(ctx, np.add, a, b, a.dtype)


@kernel("Sub", inplace={0: 0})
def sub(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A - B."""
    return _binary(ctx, np.subtract, a, b, a.dtype)


@kernel("Mul", inplace={0: 0})
def mul(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A * B."""
    scaled = _channel_scale(ctx, a, b)
    if scaled is not None:
        return scaled
    return _binary(ctx, np.multiply, a, b, a.dtype)


def _channel_scale(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """A C-contiguous float32 (N, C, *spatial) map times its (N, C, 1, ...) scale (squeeze-excitation),
    in either order, by the compiled loop (:func:`targets.numpy.kernels.epilogue_jit.channel_scale`:
    about half the time of numpy's broadcast multiply on (1, 96..1280, 7..112, 7..112), thread clock);
    None when the operands are anything else or compiled kernels are not available."""
    if a.ndim < 3 or b.ndim != a.ndim or a.dtype != np.float32 or b.dtype != np.float32:
        return None
    if a.size < b.size:
        a, b = b, a
    if (b.shape != a.shape[:2] + (1,) * (a.ndim - 2) or a.size == b.size or not a.flags.c_contiguous
            or not b.flags.c_contiguous or not jit.available()):
        return None
    buf = ctx.out(0, a.shape, a.dtype)
    if not buf.flags.c_contiguous:
        return np.multiply(a, b, out=buf)
    from .epilogue_jit import channel_scale

    return channel_scale(a, b, buf)


@kernel("Div", inplace={0: 0})
def div(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A / B; integer division truncates toward zero like C."""
    if a.dtype.kind in "iu":
        buf = ctx.out(0, _shape(a, b), a.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            if a.dtype.kind == "u":
                np.floor_divide(a, b, out=buf, casting="unsafe")
            else:
                rem = np.fmod(a, b)
                np.subtract(a, rem, out=buf, casting="unsafe")
                np.floor_divide(buf, b, out=buf, casting="unsafe")
        return buf
    return _binary(ctx, np.divide, a, b, a.dtype)


@kernel("Pow")
def pow_(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A ** B with the base's dtype."""
    shape = _shape(a, b)
    buf = ctx.out(0, shape, a.dtype)
    if a.dtype.kind in "iu":
        if b.dtype.kind in "iu" and (b.size == 0 or b.min() >= 0):
            np.power(a, b.astype(a.dtype, copy=False), out=buf, casting="unsafe")
        else:
            np.copyto(buf, np.power(a.astype(np.float64), b.astype(np.float64)), casting="unsafe")
        return buf
    if b.ndim == 0 or b.size == 1:
        e = float(b.reshape(()))
        if e == 2.0:
            return np.multiply(a, a, out=buf)
        if e == 1.0:
            np.copyto(buf, np.broadcast_to(a, shape))
            return buf
        if e == 0.5:
            np.sqrt(np.broadcast_to(a, shape), out=buf)
            return buf
    np.power(a, b.astype(a.dtype, copy=False), out=buf, casting="unsafe")
    return buf


@kernel("Mod")
def mod(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Remainder: C fmod when ``fmod=1``, else the sign of the divisor (Python %)."""
    ufunc = np.fmod if ctx.attr("fmod", 0) else np.mod
    with np.errstate(divide="ignore", invalid="ignore"):
        return _binary(ctx, ufunc, a, b, a.dtype)


def _variadic(ctx: OpContext, ufunc: np.ufunc, inputs: tuple[np.ndarray, ...]) -> np.ndarray:
    """Fold ``ufunc`` over all inputs into one broadcast buffer."""
    buf = ctx.out(0, _shape(*inputs), inputs[0].dtype)
    if len(inputs) == 1:
        np.copyto(buf, inputs[0])
        return buf
    ufunc(inputs[0], inputs[1], out=buf, casting="unsafe")
    for x in inputs[2:]:
        ufunc(buf, x, out=buf, casting="unsafe")
    return buf


@kernel("Max")
def max_(ctx: OpContext, *inputs: np.ndarray) -> np.ndarray:
    """Elementwise maximum of all inputs (NaN propagates)."""
    return _variadic(ctx, np.maximum, inputs)


@kernel("Min")
def min_(ctx: OpContext, *inputs: np.ndarray) -> np.ndarray:
    """Elementwise minimum of all inputs (NaN propagates)."""
    return _variadic(ctx, np.minimum, inputs)


@kernel("Sum")
def sum_(ctx: OpContext, *inputs: np.ndarray) -> np.ndarray:
    """Elementwise sum of all inputs."""
    return _variadic(ctx, np.add, inputs)


@kernel("Mean")
def mean(ctx: OpContext, *inputs: np.ndarray) -> np.ndarray:
    """Elementwise mean of all inputs."""
    buf = _variadic(ctx, np.add, inputs)
    np.divide(buf, len(inputs), out=buf, casting="unsafe")
    return buf


# --------------------------------------------------------------------------- logical, bitwise


def _register_binary(op: str, ufunc: np.ufunc, out_dtype: Any = None) -> None:
    def fn(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _binary(ctx, ufunc, a, b, a.dtype if out_dtype is None else out_dtype)

    fn.__name__ = fn.__qualname__ = op.lower()
    fn.__doc__ = f"ONNX {op}: numpy.{ufunc.__name__} with broadcasting."
    kernel(op)(fn)


_uf: np.ufunc  # the loops below register several numpy ufuncs each
for _op, _uf in (("And", np.logical_and), ("Or", np.logical_or), ("Xor", np.logical_xor)):
    _register_binary(_op, _uf, np.bool_)
for _op, _uf in (
    ("BitwiseAnd", np.bitwise_and), ("BitwiseOr", np.bitwise_or), ("BitwiseXor", np.bitwise_xor)
):
    _register_binary(_op, _uf)
for _op, _uf in (
    ("Equal", np.equal),
    ("Greater", np.greater),
    ("Less", np.less),
    ("GreaterOrEqual", np.greater_equal),
    ("LessOrEqual", np.less_equal),
):
    _register_binary(_op, _uf, np.bool_)


@kernel("BitShift")
def bit_shift(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shift ``a`` by ``b`` bits; shifts outside [0, bits) give 0 (or -1 for negative >>)."""
    right = ctx.attr("direction", "RIGHT") == "RIGHT"
    bits = a.dtype.itemsize * 8
    shape = _shape(a, b)
    bad = b >= bits
    if b.dtype.kind == "i":
        bad |= b < 0
    has_bad = bool(bad.any())
    sh = np.where(bad, 0, b).astype(a.dtype) if has_bad else b.astype(a.dtype, copy=False)
    buf = ctx.out(0, shape, a.dtype)
    if right:
        np.right_shift(a, sh, out=buf)
        if has_bad:
            fill = np.where(a < 0, -1, 0).astype(a.dtype) if a.dtype.kind == "i" else a.dtype.type(0)
            np.copyto(buf, fill, where=np.broadcast_to(bad, shape))
        return buf
    if a.dtype.kind == "i":
        u = np.dtype(f"u{a.dtype.itemsize}")
        np.left_shift(a.view(u), sh.view(u), out=buf.view(u))
    else:
        np.left_shift(a, sh, out=buf)
    if has_bad:
        np.copyto(buf, 0, where=np.broadcast_to(bad, shape))
    return buf


@kernel("Not")
def not_(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Logical not."""
    return _unary(ctx, np.logical_not, x)


@kernel("BitwiseNot")
def bitwise_not(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Bitwise complement."""
    return _unary(ctx, np.invert, x)


@kernel("Where")
def where(ctx: OpContext, cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x`` where ``cond`` else ``y``, broadcast."""
    shape = _shape(cond, x, y)
    planned = ctx.outs[0] if ctx.outs else None
    if planned is not None and planned.shape == shape and planned.dtype == x.dtype:
        np.copyto(planned, y)
        np.copyto(planned, x, where=cond)
        return planned
    res = np.where(cond, x, y)
    return res if isinstance(res, np.ndarray) and res.dtype == x.dtype else np.asarray(res, dtype=x.dtype)


# --------------------------------------------------------------------------- unary math


def _register_unary(op: str, ufunc: np.ufunc) -> None:
    def fn(ctx: OpContext, x: np.ndarray) -> np.ndarray:
        return _unary(ctx, ufunc, x)

    fn.__name__ = fn.__qualname__ = op.lower()
    fn.__doc__ = f"ONNX {op}: elementwise numpy.{ufunc.__name__}."
    kernel(op, inplace={0: 0})(fn)


for _op, _uf in (
    ("Abs", np.absolute),
    ("Neg", np.negative),
    ("Reciprocal", np.reciprocal),
    ("Sqrt", np.sqrt),
    ("Exp", np.exp),
    ("Log", np.log),
    ("Sin", np.sin),
    ("Cos", np.cos),
    ("Tan", np.tan),
    ("Asin", np.arcsin),
    ("Acos", np.arccos),
    ("Atan", np.arctan),
    ("Sinh", np.sinh),
    ("Cosh", np.cosh),
    ("Tanh", np.tanh),
    ("Asinh", np.arcsinh),
    ("Acosh", np.arccosh),
    ("Atanh", np.arctanh),
    ("Floor", np.floor),
    ("Ceil", np.ceil),
    ("Round", np.rint),
    ("Sign", np.sign),
):
    _register_unary(_op, _uf)


@kernel("IsNaN")
def is_nan(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """True where x is NaN."""
    buf = ctx.out(0, x.shape, np.bool_)
    np.isnan(x, out=buf)
    return buf


@kernel("IsInf")
def is_inf(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """True where x is +inf (``detect_positive``) or -inf (``detect_negative``)."""
    pos, neg = ctx.attr("detect_positive", 1), ctx.attr("detect_negative", 1)
    buf = ctx.out(0, x.shape, np.bool_)
    if pos and neg:
        np.isinf(x, out=buf)
    elif pos:
        np.equal(x, np.inf, out=buf)
    elif neg:
        np.equal(x, -np.inf, out=buf)
    else:
        buf[...] = False
    return buf


@kernel("Clip", inplace={0: 0})
def clip(
    ctx: OpContext, x: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None
) -> np.ndarray:
    """Clamp to [min, max] (attributes before opset 11, optional inputs after)."""
    if ctx.opset < 11:
        lo = ctx.attr("min", None)
        hi = ctx.attr("max", None)
    buf = ctx.out(0, x.shape, x.dtype)
    if lo is None and hi is None:
        np.copyto(buf, x)
    elif hi is None:
        np.maximum(x, np.asarray(lo).astype(x.dtype), out=buf)
    elif lo is None:
        np.minimum(x, np.asarray(hi).astype(x.dtype), out=buf)
    else:
        np.clip(x, np.asarray(lo).astype(x.dtype), np.asarray(hi).astype(x.dtype), out=buf)
    return buf


# --------------------------------------------------------------------------- erf

# W. J. Cody, "Rational Chebyshev approximations for the error function" (1969), as in CALERF.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019486389975e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)
_SQRPI = 5.6418958354775628695e-1


def _rational(y: np.ndarray, num_c: tuple[float, ...], den_c: tuple[float, ...], lead: float,
              num_tail: float, den_tail: float) -> np.ndarray:
    """Cody's (lead*y^n + sum num_c) / (y^n + sum den_c) in Horner form, in y's dtype."""
    t = y.dtype.type
    num = t(lead) * y
    den = y.copy()
    for a, b in zip(num_c, den_c):
        num += t(a)
        num *= y
        den += t(b)
        den *= y
    num += t(num_tail)
    den += t(den_tail)
    return np.divide(num, den, out=num)


#: float32 erf(x) = x P(x^2) / Q(x^2) on [-4, 4] (Eigen's and XLA's float32 rational; |error| <= 4e-7)
_ERF32_P = tuple(np.float32(c) for c in (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                                         -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                                         -1.60960333262415e-02))
_ERF32_Q = tuple(np.float32(c) for c in (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                                         -7.37332916720468e-03, -1.42647390514189e-02))


def _erf_float32(x: np.ndarray) -> np.ndarray:
    """erf in float32 with one rational function: about 20 numpy passes instead of Cody's 60."""
    t = np.clip(x, np.float32(-4.0), np.float32(4.0))
    x2 = t * t
    p = x2 * _ERF32_P[0]
    p += _ERF32_P[1]
    for c in _ERF32_P[2:]:
        p *= x2
        p += c
    p *= t
    q = x2 * _ERF32_Q[0]
    q += _ERF32_Q[1]
    for c in _ERF32_Q[2:]:
        q *= x2
        q += c
    return np.divide(p, q, out=p)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, vectorized, in x's float dtype.

    float16/float32 inputs: one float32 rational function on [-4, 4] (error <= 4e-7
    absolute, a few ulp; outside it erf is +-1 in float32). Others: Cody's three
    rational approximations selected branch-free, in float64 (error ~1e-16).
    """
    if x.dtype in (np.float16, np.float32):
        return _erf_float32(x.astype(np.float32, copy=False)).astype(x.dtype, copy=False)
    ct = np.float64
    shape, out_dtype = x.shape, x.dtype if x.dtype.kind == "f" else np.dtype(ct)
    x = np.asarray(x, dtype=ct).reshape(-1)
    t = np.dtype(ct).type
    y = np.abs(x)
    xs = np.minimum(y, t(0.46875))
    ysq = xs * xs
    small = xs * _rational(ysq, _ERF_A[:3], _ERF_B[:3], _ERF_A[4], _ERF_A[3], _ERF_B[3])
    ym = np.clip(y, t(0.46875), t(4.0))
    mid = _rational(ym, _ERF_C[:7], _ERF_D[:7], _ERF_C[8], _ERF_C[7], _ERF_D[7])
    yl = np.clip(y, t(4.0), t(27.0))
    isq = t(1.0) / (yl * yl)
    large = isq * _rational(isq, _ERF_P[:4], _ERF_Q[:4], _ERF_P[5], _ERF_P[4], _ERF_Q[4])
    large = (t(_SQRPI) - large) / yl
    ye = np.minimum(y, t(27.0))
    erfc = np.where(y <= 4.0, mid, large)
    erfc *= np.exp(-(ye * ye))
    res = np.where(y <= 0.46875, small, t(1.0) - erfc)
    np.copysign(res, x, out=res)
    return res.reshape(shape).astype(out_dtype, copy=False)


@kernel("Erf")
def erf_kernel(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """The Gauss error function."""
    buf = ctx.out(0, x.shape, x.dtype)
    np.copyto(buf, erf(x), casting="unsafe")
    return buf


# --------------------------------------------------------------------------- Cast

_FLOAT8 = {
    TensorProto.FLOAT8E4M3FN,
    TensorProto.FLOAT8E4M3FNUZ,
    TensorProto.FLOAT8E5M2,
    TensorProto.FLOAT8E5M2FNUZ,
}


def _to_string(x: np.ndarray) -> np.ndarray:
    """Numbers to an object array of str, as onnx represents STRING tensors."""
    if x.dtype.kind == "f":
        strs = []
        for v in x.reshape(-1).astype(np.float64).tolist():
            s = repr(v) if math.isfinite(v) else ("NaN" if math.isnan(v) else ("INF" if v > 0 else "-INF"))
            strs.append(s[:-2] if s.endswith(".0") else s)
    else:
        strs = [str(v) for v in x.reshape(-1).tolist()]
    out = np.empty(len(strs), dtype=object)
    out[:] = strs
    return out.reshape(x.shape)


def _from_string(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """An array of numeric strings parsed into ``dtype``."""
    vals = x.reshape(-1).tolist()
    if dtype.kind in "fV":
        return np.array([float(v) for v in vals], dtype=np.float64).astype(dtype).reshape(x.shape)
    return np.array(vals).astype(dtype).reshape(x.shape)


def cast_array(x: np.ndarray, to: int, saturate: bool = True, round_mode: str = "up") -> np.ndarray:
    """``x`` converted to the ONNX TensorProto dtype ``to`` (a new array)."""
    if to == TensorProto.STRING:
        if x.dtype == object or x.dtype.kind in "SU":
            return np.array(x, dtype=object)
        return _to_string(x)
    dtype = helper.tensor_dtype_to_np_dtype(to)
    if x.dtype == object or x.dtype.kind in "SU":
        return _from_string(x, dtype)
    if to in _FLOAT8 and saturate:
        info = ml_dtypes.finfo(dtype)
        src = x if x.dtype.kind == "f" else x.astype(np.float32)
        return np.clip(src, float(info.min), float(info.max)).astype(dtype)
    if to == getattr(TensorProto, "FLOAT8E8M0", -1):
        return numpy_helper.to_float8e8m0(x, saturate, round_mode).astype(dtype)
    return x.astype(dtype)


@kernel("Cast")
def cast(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Convert to the dtype of attribute ``to``."""
    to = int(ctx.attr("to"))
    if to not in _FLOAT8 and to not in (TensorProto.STRING, getattr(TensorProto, "FLOAT8E8M0", -1)):
        dtype = helper.tensor_dtype_to_np_dtype(to)
        if x.dtype == dtype:
            buf = ctx.out(0, x.shape, dtype)
            np.copyto(buf, x)
            return buf
        if x.dtype != object and x.dtype.kind not in "SUV" and dtype.kind != "V":
            buf = ctx.out(0, x.shape, dtype)
            np.copyto(buf, x, casting="unsafe")
            return buf
    return cast_array(x, to, bool(ctx.attr("saturate", 1)), ctx.attr("round_mode", "up"))


@kernel("CastLike")
def cast_like(ctx: OpContext, x: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Convert to the dtype of the second input."""
    to = helper.np_dtype_to_tensor_dtype(like.dtype)
    return cast_array(x, to, bool(ctx.attr("saturate", 1)), ctx.attr("round_mode", "up"))


@kernel("BitCast", view=True)
def bit_cast(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Reinterpret x's bytes as the same-width dtype ``to``."""
    dtype = helper.tensor_dtype_to_np_dtype(int(ctx.attr("to")))
    if dtype.itemsize != x.dtype.itemsize or x.dtype == object or dtype == object:
        raise ValueError(f"BitCast node {ctx.name!r}: {x.dtype} and {dtype} differ in width")
    return (x if x.flags.c_contiguous else x.copy()).view(dtype)


@kernel("BiasAdd", domain="com.microsoft")
def bias_add(ctx: OpContext, x: np.ndarray, bias: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """X + bias + skip for (N, S, C) X and skip and a (C) bias."""
    if x.ndim != 3 or skip.shape != x.shape or bias.shape != x.shape[-1:]:
        raise ctx.shape_error(f"expects X and skip (N, S, C) and bias (C), got {x.shape}, {skip.shape}, {bias.shape}")
    buf = ctx.out(0, x.shape, x.dtype)
    np.add(x, bias, out=buf, casting="unsafe")
    return np.add(buf, skip, out=buf, casting="unsafe")
