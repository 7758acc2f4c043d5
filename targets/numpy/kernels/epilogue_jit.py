"""Compiled one-pass epilogues (float32): a per-channel bias and an activation in one loop; and
the per-channel tails of squeeze-excitation blocks (channel means, channel scaling).

The numpy epilogues of :mod:`targets.numpy.kernels.epilogue` take one to four passes over the
output (SiLU: tanh, add, multiply; HardSwish: four); here each activation is one numba loop that
reads a value, adds its bias and writes the activation back. The transcendental ones are
vectorizable (no libm call in the loop; numba has no SIMD ``exp`` without Intel SVML):
:func:`sigmoid32` computes ``exp(-|x|)`` by range reduction to ``[-ln2/2, ln2/2]``, a degree-6
polynomial (least-squares fit, relative error 4e-9) and an exponent built from bits. Measured
against float64 over [-80, 80]: sigmoid within 2.6 float32 ulp, SiLU within 3.5 ulp (the numpy
path is within about 6e-8 absolute, hence far more ulp for large negative inputs). Results below
the smallest normal float32 (sigmoid(x) for x < -87) are flushed to 0; NaN propagates.

:func:`channel_scale` (Mul of a (N, C, H, W) map by a (N, C, 1, 1) scale) and :func:`channel_mean`
(GlobalAveragePool) are one loop over rows of H * W: numpy's broadcast multiply and its BLAS
matrix-vector product with ones (then a division) cost about twice as much on these shapes.

This module imports numba: import it only after :func:`targets.numpy.kernels.jit.available`
said True (:mod:`targets.numpy.kernels.epilogue` does).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload, register_jitable

from . import jit
from ._numeric import HALF_SILU

__all__ = ["ACTIVATIONS", "BIAS_NONE", "BIAS_ROWS", "BIAS_COLS", "activate", "activate_span", "channel_mean", "channel_scale", "kernel",
           "sigmoid", "sigmoid32", "silu", "silu32"]

#: bias modes of the kernels: none, ``bias[r % len(bias)]`` for row r, ``bias[i]`` for column i
BIAS_NONE, BIAS_ROWS, BIAS_COLS = 0, 1, 2

_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_HALF = np.float32(0.5)
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)  # ln 2 = _LN2_HI + _LN2_LO; k * _LN2_HI is exact for k < 2**15
_LN2_LO = np.float32(-2.12194440e-4)
_CAP = np.float32(87.0)  # 2**round(87 log2 e) = 2**126 is the largest power the exponent trick builds
# exp(r) = 1 + r + r^2 (C2 + r C3 + ...) on |r| <= ln2 / 2: least-squares fit on Chebyshev nodes
_C2 = np.float32(0.49999988079071045)
_C3 = np.float32(0.166665181517601)
_C4 = np.float32(0.04166953265666962)
_C5 = np.float32(0.008368915878236294)
_C6 = np.float32(0.0013751407386735082)
_I127 = np.int32(127)
_I23 = np.int32(23)


@intrinsic
def _float32_from_bits(typingctx: Any, bits: Any) -> Any:
    """The float32 whose IEEE bits are the int32 ``bits`` (an LLVM bitcast: vectorizes)."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def _fma32(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """a * b + c rounded once (LLVM's fma: one instruction where the CPU has FMA; vectorizes). Being a
    call, not an fadd/fmul, the kernels' ``reassoc`` flag cannot regroup it."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        f32 = ir.FloatType()
        fma = builder.module.declare_intrinsic("llvm.fma", [f32], ir.FunctionType(f32, [f32, f32, f32]))
        return builder.call(fma, args)
    return types.float32(types.float32, types.float32, types.float32), codegen


@register_jitable
def sigmoid32(x: float) -> float:  # pragma: no cover - compiled into the kernels
    """1 / (1 + exp(-x)) for a float32 ``x`` without a libm call (see the module docstring)."""
    a = -x if x < _ZERO else x
    a = a if a < _CAP else _CAP  # also NaN -> _CAP (restored at the end)
    k = np.int32(a * _LOG2E + _HALF)
    kf = np.float32(k)
    # exp(-a) = exp(r) / 2**k with r = k ln2 - a in two exact steps (Cody-Waite): written as fused
    # multiply-adds, since with plain arithmetic the fast-math reassociation of older LLVMs (numba 0.59)
    # regrouped them into k (HI + LO) - a and lost 60 ulp near x = -72
    r: float = _fma32(kf, _LN2_LO, _fma32(kf, _LN2_HI, -a))  # type: ignore[call-arg]
    q = _ONE + r + r * r * (_C2 + r * (_C3 + r * (_C4 + r * (_C5 + r * _C6))))
    e: float = _float32_from_bits((k + _I127) << _I23)  # 2**k
    s = (q if x < _ZERO else e) / (e + q)  # x < 0: exp(x) / (1 + exp(x)); else 1 / (1 + exp(-x))
    s = _ZERO if x < -_CAP else s
    return x if x != x else s


@register_jitable
def silu32(x: float) -> float:  # pragma: no cover - compiled into the kernels
    """x * sigmoid(x) for a float32 ``x`` (:func:`sigmoid32`)."""
    return x * sigmoid32(x)


def sigmoid(x: float) -> float:
    """1 / (1 + exp(-x)) in kernels of any float dtype: compiled code calls the overload below
    (float32: :func:`sigmoid32`, vectorizable; float64: libm's exp)."""
    return 1.0 / (1.0 + math.exp(-x))


def silu(x: float) -> float:
    """x * sigmoid(x) in kernels of any float dtype (float32: :func:`silu32`)."""
    return x / (1.0 + math.exp(-x))


@overload(sigmoid)
def _sigmoid_compiled(x: Any) -> Any:
    # the implementations' signatures must equal this one's, annotations included
    if x == types.float32:
        def float32_sigmoid(x: Any) -> Any:  # pragma: no cover - compiled
            return sigmoid32(x)
        return float32_sigmoid

    def libm_sigmoid(x: Any) -> Any:  # pragma: no cover - compiled
        return 1.0 / (1.0 + math.exp(-x))
    return libm_sigmoid


@overload(silu)
def _silu_compiled(x: Any) -> Any:
    if x == types.float32:
        def float32_silu(x: Any) -> Any:  # pragma: no cover - compiled
            return silu32(x)
        return float32_silu

    def libm_silu(x: Any) -> Any:  # pragma: no cover - compiled
        return x / (1.0 + math.exp(-x))
    return libm_silu


@register_jitable
def activate_span(buf, start, n, act, p0, p1):  # pragma: no cover - compiled into the kernels
    """buf[start:start + n] = the activation of code ``act`` of itself, in place (``start``, ``n``: uint64).

    Codes are :data:`targets.numpy.kernels.conv_jit.ACTIVATION_CODES` (0: none); ``p0``, ``p1``: Clip's
    bounds, LeakyRelu's alpha, HardSwish's and HardSigmoid's (alpha, beta). Every code has its own
    branch-free loop (a branch inside the loop keeps LLVM from vectorizing it); NaN propagates."""
    zero = buf.dtype.type(0)
    one = buf.dtype.type(1)
    if act == 1:  # Relu (NaN stays NaN, as np.maximum)
        for i in range(n):
            v = buf[start + i]
            buf[start + i] = zero if v < zero else v
    elif act == 2:  # Clip(p0, p1)
        for i in range(n):
            v = buf[start + i]
            v = p0 if v < p0 else v
            buf[start + i] = p1 if v > p1 else v
    elif act == 3:  # LeakyRelu(alpha = p0)
        for i in range(n):
            v = buf[start + i]
            buf[start + i] = v * p0 if v < zero else v
    elif act == 4:  # SiLU: x * sigmoid(x)
        for i in range(n):
            buf[start + i] = silu(buf[start + i])
    elif act == 5:  # HardSwish: x * clip(p0 x + p1, 0, 1)
        for i in range(n):
            v = buf[start + i]
            t = v * p0 + p1
            t = zero if t < zero else t
            buf[start + i] = v * (one if t > one else t)
    elif act == 6:  # HardSigmoid: clip(p0 x + p1, 0, 1)
        for i in range(n):
            t = buf[start + i] * p0 + p1
            t = zero if t < zero else t
            buf[start + i] = one if t > one else t
    elif act == 7:  # Sigmoid
        for i in range(n):
            buf[start + i] = sigmoid(buf[start + i])
    elif act == 8:  # Tanh
        for i in range(n):
            buf[start + i] = np.tanh(buf[start + i])
    elif act == 9:  # SiLU of twice the value (HALF_SILU plans)
        for i in range(n):
            v = buf[start + i]
            buf[start + i] = silu(v + v)


# One kernel per activation, each (y, bias, mode, p0, p1): y is a C-contiguous float32 (rows, n)
# array activated in place after adding the bias by ``mode``. Separate loops per mode and activation
# keep every inner loop branch-free, so LLVM vectorizes it. Measured and not kept (96 x 12544 float32,
# thread clock): one shared loop taking the activation as an integer code is 30-100x slower (LLVM does
# not unswitch the code out of the loop: scalar code), and specializing it on a ``numba.literally`` code
# costs about 8 ms of dispatch per call.

@jit.compiled
def _relu(y, bias, mode, p0, p1):  # pragma: no cover - numba compiles it
    rows, n = y.shape
    for r in range(rows):
        if mode == 1:
            b = bias[r % bias.shape[0]]
            for i in range(n):
                v = y[r, i] + b
                y[r, i] = _ZERO if v < _ZERO else v
        elif mode == 2:
            for i in range(n):
                v = y[r, i] + bias[i]
                y[r, i] = _ZERO if v < _ZERO else v
        else:
            for i in range(n):
                v = y[r, i]
                y[r, i] = _ZERO if v < _ZERO else v


@jit.compiled
def _clip(y, bias, mode, p0, p1):  # pragma: no cover - numba compiles it
    rows, n = y.shape
    for r in range(rows):
        if mode == 1:
            b = bias[r % bias.shape[0]]
            for i in range(n):
                v = y[r, i] + b
                v = p0 if v < p0 else v
                y[r, i] = p1 if v > p1 else v
        elif mode == 2:
            for i in range(n):
                v = y[r, i] + bias[i]
                v = p0 if v < p0 else v
                y[r, i] = p1 if v > p1 else v
        else:
            for i in range(n):
                v = y[r, i]
                v = p0 if v < p0 else v
                y[r, i] = p1 if v > p1 else v


@jit.compiled
def _leaky_relu(y, bias, mode, p0, p1):  # pragma: no cover - numba compiles it
    rows, n = y.shape
    for r in range(rows):
        if mode == 1:
            b = bias[r % bias.shape[0]]
            for i in range(n):
                v = y[r, i] + b
                y[r, i] = v * p0 if v < _ZERO else v
        elif mode == 2:
            for i in range(n):
                v = y[r, i] + bias[i]
                y[r, i] = v * p0 if v < _ZERO else v
        else:
            for i in range(n):
                v = y[r, i]
                y[r, i] = v * p0 if v < _ZERO else v


@register_jitable
def _hard_sigmoid1(v: float, alpha: float, beta: float) -> float:  # pragma: no cover - compiled
    t = v * alpha + beta
    t = _ZERO if t < _ZERO else t
    return _ONE if t > _ONE else t


@jit.compiled
def _hard_sigmoid(y, bias, mode, p0, p1):  # pragma: no cover - numba compiles it
    rows, n = y.shape
    for r in range(rows):
        if mode == 1:
            b = bias[r % bias.shape[0]]
            for i in range(n):
                y[r, i] = _hard_sigmoid1(y[r, i] + b, p0, p1)
        elif mode == 2:
            for i in range(n):
                y[r, i] = _hard_sigmoid1(y[r, i] + bias[i], p0, p1)
        else:
            for i in range(n):
                y[r, i] = _hard_sigmoid1(y[r, i], p0, p1)


@jit.compiled
def _hard_swish(y, bias, mode, p0, p1):  # pragma: no cover - numba compiles it
    rows, n = y.shape
    for r in range(rows):
        if mode == 1:
            b = bias[r % bias.shape[0]]
            for i in range(n):
                v = y[r, i] + b
                y[r, i] = v * _hard_sigmoid1(v, p0, p1)
        elif mode == 2:
            for i in range(n):
                v = y[r, i] + bias[i]
                y[r, i] = v * _hard_sigmoid1(v, p0, p1)
        else:
            for i in range(n):
                v = y[r, i]
                y[r, i] = v * _hard_sigmoid1(v, p0, p1)


@jit.compiled
def _sigmoid(y, bias, mode, p0, p1):  # pragma: no cover - numba compiles it
    rows, n = y.shape
    for r in range(rows):
        if mode == 1:
            b = bias[r % bias.shape[0]]
            for i in range(n):
                y[r, i] = sigmoid32(y[r, i] + b)
        elif mode == 2:
            for i in range(n):
                y[r, i] = sigmoid32(y[r, i] + bias[i])
        else:
            for i in range(n):
                y[r, i] = sigmoid32(y[r, i])


@jit.compiled
def _silu(y, bias, mode, p0, p1):  # pragma: no cover - numba compiles it
    # p0 scales the input: 1, or 2 for a plan that computed x / 2 (epilogue.HALF_SILU)
    rows, n = y.shape
    for r in range(rows):
        if mode == 1:
            b = bias[r % bias.shape[0]]
            for i in range(n):
                y[r, i] = silu32((y[r, i] + b) * p0)
        elif mode == 2:
            for i in range(n):
                y[r, i] = silu32((y[r, i] + bias[i]) * p0)
        else:
            for i in range(n):
                y[r, i] = silu32(y[r, i] * p0)


_KERNELS: dict[str, Any] = {
    "Relu": _relu, "Clip": _clip, "LeakyRelu": _leaky_relu, "HardSigmoid": _hard_sigmoid,
    "HardSwish": _hard_swish, "Sigmoid": _sigmoid, "SiLU": _silu, HALF_SILU: _silu,
}

#: activations with a compiled epilogue (the same as :data:`targets.numpy.kernels.epilogue.JIT_ACTIVATIONS`)
ACTIVATIONS = frozenset(_KERNELS)


def _params(name: str, params: Sequence[float]) -> tuple[np.float32, np.float32]:
    """The kernel's (p0, p1) for activation ``name`` with its ONNX ``params``."""
    if name == "SiLU":
        return _ONE, _ZERO
    if name == HALF_SILU:
        return _TWO, _ZERO
    given = [np.float32(p) for p in params[:2]]
    given += [_ZERO] * (2 - len(given))
    return given[0], given[1]


def kernel(name: str, params: Sequence[float]) -> Callable[[np.ndarray, np.ndarray, int], None]:
    """The compiled epilogue of activation ``name`` (in :data:`ACTIVATIONS`) as ``f(y, bias, mode)``:
    ``y`` a C-contiguous float32 (rows, n) array, activated in place after adding ``bias`` (float32,
    1-D) by ``mode`` (:data:`BIAS_NONE`, :data:`BIAS_ROWS`: ``bias[r % len(bias)]`` per row r, or
    :data:`BIAS_COLS`: ``bias[i]`` per column i, ``len(bias) == n``). The caller checks the shapes:
    the loop does not (bounds checks are off)."""
    fn = _KERNELS[name].dispatcher()
    p0, p1 = _params(name, params)

    def run(y: np.ndarray, bias: np.ndarray, mode: int) -> None:
        fn(y, bias, mode, p0, p1)
    return run


_NO_BIAS = np.zeros(0, np.float32)


def activate(buf: np.ndarray, name: str, params: Sequence[float]) -> np.ndarray:
    """Apply activation ``name`` (in :data:`ACTIVATIONS`) to the C-contiguous float32 ``buf`` in place."""
    if buf.dtype != np.float32 or not buf.flags.c_contiguous:
        raise ValueError(f"compiled epilogue needs a C-contiguous float32 array, got {buf.dtype}")
    p0, p1 = _params(name, params)
    _KERNELS[name].dispatcher()(buf.reshape(1, buf.size), _NO_BIAS, BIAS_NONE, p0, p1)
    return buf


@jit.compiled
def _scale_rows(x, s, out):  # pragma: no cover - numba compiles it
    rows, n = x.shape
    for r in range(rows):
        b = s[r]
        for i in range(n):
            out[r, i] = x[r, i] * b


@jit.compiled
def _scale_rows_inplace(x, s):  # pragma: no cover - numba compiles it
    # in place as its own loop: with out = x, _scale_rows' runtime overlap check takes the scalar loop
    rows, n = x.shape
    for r in range(rows):
        b = s[r]
        for i in range(n):
            x[r, i] *= b


@jit.compiled
def _mean_rows(x, out):  # pragma: no cover - numba compiles it
    rows, n = x.shape
    count = np.float32(n)
    for r in range(rows):
        acc = _ZERO
        for i in range(n):
            acc += x[r, i]
        out[r] = acc / count


def _rows(a: np.ndarray) -> np.ndarray:
    """A C-contiguous (N, C, *spatial) array as its (N * C, spatial size) rows (a view)."""
    return a.reshape(a.shape[0] * a.shape[1], -1)


def channel_scale(x: np.ndarray, scale: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = x * scale for a (N, C, *spatial) ``x`` and a (N, C, 1, ...) ``scale``, all C-contiguous float32
    (``out`` may be ``x``); the caller checks the shapes and layouts. Returns ``out``."""
    if np.may_share_memory(x, out):
        if x.ctypes.data != out.ctypes.data or x.shape != out.shape:
            raise ValueError("channel_scale: out overlaps x without being x")
        _scale_rows_inplace.dispatcher()(_rows(x), scale.reshape(-1))
    else:
        _scale_rows.dispatcher()(_rows(x), scale.reshape(-1), _rows(out))
    return out


def channel_mean(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The mean of each (n, c) plane of the C-contiguous float32 (N, C, *spatial) ``x`` (at least one
    element per plane) into the C-contiguous (N, C, 1, ...) ``out``. Returns ``out``."""
    _mean_rows.dispatcher()(_rows(x), out.reshape(-1))
    return out
