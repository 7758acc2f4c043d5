"""Kernels: activations.

Pointwise activations (Relu family, sigmoids, Gelu, ...) and the axis-wise
Softmax / LogSoftmax / Hardmax. Before opset 13 the axis-wise ops flatten the input
to 2-D at ``axis`` (default 1); from 13 they work along one axis (default -1).

onnxruntime's ``com.microsoft`` activations (transformer fusions, following its CPU
kernels in ``contrib_ops/cpu/bert``) live here too: ``Gelu`` (erf), ``BiasGelu``,
``FastGelu`` (tanh approximation, optional bias), ``QuickGelu`` and ``BiasSplitGelu``;
float16/bfloat16 inputs are computed in float32 and cast back.

``graphc::SiLU`` (graphc's own domain, made by the numpy target's ``fuse-silu`` pass from
``Mul(y, Sigmoid(y))``) is x * sigmoid(x) in four in-place passes.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from graphc.domains import GRAPHC_DOMAIN

from ._numeric import compute_dtype, relu_into, sigmoid_into
from .activations_jit import PReluPlan, plan_prelu, plan_softmax
from ._numeric import sigmoid as logistic
from .elementwise import erf
from .epilogue import compiled_into, silu_into
from .registry import OpContext, kernel

MS_DOMAIN = "com.microsoft"


def _buf(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    return ctx.out(0, x.shape, x.dtype)


def _scalar(x: np.ndarray, value: float) -> np.generic:
    """``value`` as a scalar of x's dtype (keeps float32 math in float32)."""
    return x.dtype.type(value)


@kernel("Relu", inplace={0: 0})
def relu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """max(x, 0)."""
    return relu_into(_buf(ctx, x), x)


@kernel("LeakyRelu", inplace={0: 0})
def leaky_relu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x if x >= 0 else alpha * x."""
    alpha = _scalar(x, ctx.attr("alpha", 0.01))
    buf = _buf(ctx, x)
    if 0 <= float(alpha) <= 1:
        return np.maximum(x, x * alpha, out=buf)
    neg = x < 0
    if buf is not x:
        np.copyto(buf, x)
    np.multiply(buf, alpha, out=buf, where=neg)
    return buf


def _prepare_prelu(ctx: OpContext, inputs: Sequence[Any]) -> PReluPlan | str | None:
    """The compiled plan (:mod:`.activations_jit`) for a constant scalar or per-channel float slope when numba
    is available, else ``"max"`` when the slope is a constant float array within [0, 1]: PRelu is then
    max(x, slope * x)."""
    slope = inputs[1] if len(inputs) > 1 else None
    plan = plan_prelu(getattr(inputs[0], "shape", None), slope)
    if plan is not None:
        return plan
    if isinstance(slope, np.ndarray) and slope.dtype.kind == "f" and slope.size \
            and 0 <= float(slope.min()) and float(slope.max()) <= 1:
        return "max"
    return None


@kernel("PRelu", prepare=_prepare_prelu)
def prelu(ctx: OpContext, x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """x if x >= 0 else slope * x (slope broadcast to x).

    One compiled pass for a constant scalar or per-channel slope (prepared, :mod:`.activations_jit`);
    two passes, max(x, slope * x), for a constant slope within [0, 1] (prepared), else
    min(x, 0) * slope + max(x, 0); a masked copy (``np.copyto(where=)``) was 4-25x slower.
    """
    if type(ctx.state) is PReluPlan:
        buf = ctx.out(0, x.shape, x.dtype)
        if ctx.state.run(x, buf) is not None:
            return buf
    shape = x.shape if _broadcasts_into(slope.shape, x.shape) else np.broadcast_shapes(x.shape, slope.shape)
    buf = ctx.out(0, shape, x.dtype)
    if ctx.state == "max":
        np.multiply(x, slope, out=buf, casting="unsafe")
        return np.maximum(buf, x, out=buf)
    np.minimum(x, x.dtype.type(0), out=buf)
    np.multiply(buf, slope, out=buf, casting="unsafe")
    buf += np.maximum(x, x.dtype.type(0))
    return buf


def _broadcasts_into(small: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """True when an array of shape ``small`` broadcasts to ``shape`` without growing it."""
    return len(small) <= len(shape) and all(s in (1, d) for s, d in zip(small[::-1], shape[::-1]))


@kernel("ThresholdedRelu", inplace={0: 0})
def thresholded_relu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x if x > alpha else 0."""
    alpha = _scalar(x, ctx.attr("alpha", 1.0))
    buf = _buf(ctx, x)
    np.multiply(x, x > alpha, out=buf, casting="unsafe")
    return buf


def _elu_into(buf: np.ndarray, x: np.ndarray, alpha: np.generic) -> np.ndarray:
    """alpha * (exp(x) - 1) for x < 0, x otherwise, into ``buf``."""
    neg = x < 0
    np.expm1(np.minimum(x, _scalar(x, 0)), out=buf)
    np.multiply(buf, alpha, out=buf)
    np.copyto(buf, x, where=~neg)
    return buf


@kernel("Elu")
def elu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """ELU with ``alpha`` (default 1)."""
    return _elu_into(_buf(ctx, x), x, _scalar(x, ctx.attr("alpha", 1.0)))


@kernel("Selu")
def selu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """gamma * ELU_alpha(x)."""
    alpha = _scalar(x, ctx.attr("alpha", 1.67326319217681884765625))
    gamma = _scalar(x, ctx.attr("gamma", 1.05070102214813232421875))
    buf = _elu_into(_buf(ctx, x), x, alpha)
    return np.multiply(buf, gamma, out=buf)


@kernel("Celu")
def celu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    alpha = _scalar(x, ctx.attr("alpha", 1.0))
    buf = _buf(ctx, x)
    np.divide(np.minimum(x, _scalar(x, 0)), alpha, out=buf)
    np.expm1(buf, out=buf)
    np.multiply(buf, alpha, out=buf)
    np.add(buf, np.maximum(x, _scalar(x, 0)), out=buf)
    return buf


@kernel("Sigmoid", inplace={0: 0})
def sigmoid(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid (float32: one compiled loop when numba is available, see epilogue.compiled_into)."""
    buf = _buf(ctx, x)
    if compiled_into(buf, x, "Sigmoid", []):
        return buf
    return sigmoid_into(buf, x)


@kernel("Swish")
def swish(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x * sigmoid(alpha * x)."""
    alpha = _scalar(x, ctx.attr("alpha", 1.0))
    buf = sigmoid_into(_buf(ctx, x), x * alpha)
    return np.multiply(buf, x, out=buf)


@kernel("SiLU", domain=GRAPHC_DOMAIN, inplace={0: 0})
def silu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x * sigmoid(x) (graphc::SiLU), in place when the executor allows it."""
    buf = _buf(ctx, x)
    if compiled_into(buf, x, "SiLU", []):
        return buf
    return silu_into(buf, x, ctx.scratch("silu", x.shape, x.dtype))


@kernel("HardSigmoid", inplace={0: 0})
def hard_sigmoid(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """clip(alpha * x + beta, 0, 1)."""
    alpha = _scalar(x, ctx.attr("alpha", 0.2))
    beta = _scalar(x, ctx.attr("beta", 0.5))
    buf = _buf(ctx, x)
    if compiled_into(buf, x, "HardSigmoid", [float(alpha), float(beta)]):
        return buf
    np.multiply(x, alpha, out=buf)
    np.add(buf, beta, out=buf)
    return np.clip(buf, _scalar(x, 0), _scalar(x, 1), out=buf)


@kernel("HardSwish")
def hard_swish(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x * clip(x / 6 + 0.5, 0, 1)."""
    buf = _buf(ctx, x)
    if compiled_into(buf, x, "HardSwish", [1.0 / 6.0, 0.5]):
        return buf
    np.multiply(x, _scalar(x, 1.0 / 6.0), out=buf)
    np.add(buf, _scalar(x, 0.5), out=buf)
    np.clip(buf, _scalar(x, 0), _scalar(x, 1), out=buf)
    return np.multiply(buf, x, out=buf)


def _softplus_into(buf: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) computed stably (``buf`` may be ``x``)."""
    pos = np.maximum(x, _scalar(x, 0))
    np.abs(x, out=buf)
    np.negative(buf, out=buf)
    np.exp(buf, out=buf)
    np.log1p(buf, out=buf)
    np.add(buf, pos, out=buf)
    return buf


@kernel("Softplus", inplace={0: 0})
def softplus(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x))."""
    return _softplus_into(_buf(ctx, x), x)


@kernel("Softsign", inplace={0: 0})
def softsign(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x / (1 + |x|)."""
    den = np.abs(x)
    den += _scalar(x, 1)
    return np.divide(x, den, out=_buf(ctx, x))


@kernel("Mish")
def mish(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x * tanh(softplus(x))."""
    buf = _softplus_into(_buf(ctx, x), x)
    np.tanh(buf, out=buf)
    return np.multiply(buf, x, out=buf)


@kernel("Gelu")
def gelu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)), or the tanh approximation."""
    buf = _buf(ctx, x)
    if ctx.attr("approximate", "none") == "tanh":
        np.multiply(x, x, out=buf)
        np.multiply(buf, _scalar(x, 0.044715), out=buf)
        np.add(buf, 1, out=buf)
        np.multiply(buf, x, out=buf)
        np.multiply(buf, _scalar(x, math.sqrt(2.0 / math.pi)), out=buf)
        np.tanh(buf, out=buf)
    else:
        np.copyto(buf, erf(x * _scalar(x, 1.0 / math.sqrt(2.0))), casting="unsafe")
    np.add(buf, 1, out=buf)
    np.multiply(buf, x, out=buf)
    return np.multiply(buf, _scalar(x, 0.5), out=buf)


@kernel("Shrink", inplace={0: 0})
def shrink(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x + bias if x < -lambd, x - bias if x > lambd, else 0."""
    lambd = ctx.attr("lambd", 0.5)
    bias = ctx.attr("bias", 0.0)
    res = np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, 0)).astype(x.dtype, copy=False)
    buf = _buf(ctx, x)
    np.copyto(buf, res, casting="unsafe")
    return buf


# --------------------------------------------------------------------------- axis-wise


def _axis_view(ctx: OpContext, x: np.ndarray, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(input, output, axis) as the op sees them: 2-D coerced before opset 13."""
    if ctx.opset < 13:
        axis = ctx.attr("axis", 1)
        axis = axis + x.ndim if axis < 0 else axis
        rows = math.prod(x.shape[:axis])
        cols = math.prod(x.shape[axis:])
        return x.reshape(rows, cols), buf.reshape(rows, cols), 1
    axis = ctx.attr("axis", -1)
    return x, buf, axis + x.ndim if axis < 0 else axis


def _prepare_softmax(ctx: OpContext, inputs: Sequence[Any]) -> Any:
    """The compiled plan for small inputs (:mod:`.activations_jit`) when numba is available."""
    return plan_softmax()


@kernel("Softmax", inplace={0: 0}, prepare=_prepare_softmax)
def softmax(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)) along the axis; small inputs in one compiled call (prepared)."""
    buf = _buf(ctx, x)
    if x.size == 0:
        return buf
    if ctx.state is not None and x.ndim:
        axis = ctx.attr("axis", 1 if ctx.opset < 13 else -1)
        if ctx.state.run(x, buf, axis + x.ndim if axis < 0 else axis, ctx.opset < 13) is not None:
            return buf
    xv, out, axis = _axis_view(ctx, x, buf)
    np.subtract(xv, xv.max(axis=axis, keepdims=True), out=out)
    np.exp(out, out=out)
    np.divide(out, out.sum(axis=axis, keepdims=True), out=out)
    return buf


@kernel("LogSoftmax", inplace={0: 0})
def log_softmax(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x - max - log(sum(exp(x - max))) along the axis."""
    buf = _buf(ctx, x)
    if x.size == 0:
        return buf
    xv, out, axis = _axis_view(ctx, x, buf)
    np.subtract(xv, xv.max(axis=axis, keepdims=True), out=out)
    lse = np.log(np.exp(out).sum(axis=axis, keepdims=True))
    np.subtract(out, lse, out=out)
    return buf


@kernel("Hardmax")
def hardmax(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """1 at the first maximum along the axis, 0 elsewhere."""
    buf = _buf(ctx, x)
    if x.size == 0:
        return buf
    xv, out, axis = _axis_view(ctx, x, buf)
    idx = np.expand_dims(np.argmax(xv, axis=axis), axis)
    out[...] = 0
    np.put_along_axis(out, idx, 1, axis=axis)
    return buf


@kernel("SwiGLU")
def swiglu(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Swish_alpha(a) * b for equal-shaped a and b."""
    alpha = _scalar(a, ctx.attr("alpha", 1.0))
    buf = sigmoid_into(ctx.out(0, a.shape, a.dtype), a * alpha)
    np.multiply(buf, a, out=buf)
    return np.multiply(buf, b, out=buf)


# --------------------------------------------------------------------------- com.microsoft activations


def _gelu_erf(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)) in x's dtype."""
    t = x.dtype.type
    return x * (erf(x * t(1.0 / math.sqrt(2.0))) + t(1.0)) * t(0.5)


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), onnxruntime's FastGelu formula."""
    t = x.dtype.type
    inner = x * (t(math.sqrt(2.0 / math.pi)) + t(0.044715 * math.sqrt(2.0 / math.pi)) * x * x)
    return x * (np.tanh(inner) + t(1.0)) * t(0.5)


def _activated(ctx: OpContext, x: np.ndarray, fn) -> np.ndarray:
    ct = compute_dtype(x)
    return ctx.write(0, fn(x.astype(ct, copy=False)), x.dtype)


@kernel("Gelu", domain=MS_DOMAIN)
def ms_gelu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Exact (erf) Gelu."""
    return _activated(ctx, x, _gelu_erf)


@kernel("BiasGelu", domain=MS_DOMAIN)
def bias_gelu(ctx: OpContext, a: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Gelu(A + B), B a 1-D bias over the last axis."""
    ct = compute_dtype(a)
    return ctx.write(0, _gelu_erf(a.astype(ct) + bias.astype(ct, copy=False)), a.dtype)


@kernel("FastGelu", domain=MS_DOMAIN)
def fast_gelu(ctx: OpContext, x: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """The tanh Gelu approximation of x (+ bias)."""
    ct = compute_dtype(x)
    xc = x.astype(ct) if bias is None else x.astype(ct) + bias.astype(ct, copy=False)
    return ctx.write(0, _gelu_tanh(xc), x.dtype)


@kernel("QuickGelu", domain=MS_DOMAIN)
def quick_gelu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x * sigmoid(alpha x), alpha defaulting to 1.702."""
    alpha = float(ctx.attr("alpha", 1.702))
    return _activated(ctx, x, lambda v: v * logistic(v * v.dtype.type(alpha)))


@kernel("BiasSplitGelu", domain=MS_DOMAIN)
def bias_split_gelu(ctx: OpContext, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(X + bias) split in halves along the last axis: left * Gelu(right)."""
    d = x.shape[-1]
    if d % 2 or bias.shape != (d,):
        raise ctx.shape_error(f"expects an even last axis and a matching 1-D bias, got X {x.shape}, bias {bias.shape}")
    ct = compute_dtype(x)
    s = x.astype(ct) + bias.astype(ct, copy=False)
    return ctx.write(0, s[..., : d // 2] * _gelu_erf(s[..., d // 2:]), x.dtype)
