"""Activation epilogues of the fused convolutions and GEMMs, applied in place.

``com.microsoft::FusedConv`` carries ``activation`` and ``activation_params`` (floats);
``com.microsoft::FusedGemm`` carries ``activation`` and ``activation_alpha/beta/gamma``.
Both are normalized to a name plus a parameter list by the callers and take onnxruntime's
activation set (:data:`ACTIVATIONS`). ``graphc::FusedConv`` (graphc's own domain, made by the
numpy target's ``fuse-silu`` pass, never given to onnxruntime) has the same attributes and also
takes :data:`GRAPHC_ACTIVATIONS`: ``SiLU`` (x * sigmoid(x)) and ``HardSwish`` with HardSigmoid's
``(alpha, beta)`` (x * clip(alpha x + beta, 0, 1); ONNX's HardSwish is alpha 1/6, beta 0.5).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from graphc.domains import GRAPHC_DOMAIN
from graphc.errors import UnsupportedOpError

from . import jit
from ._numeric import HALF_SILU, relu_into, sigmoid_into
from .registry import OpContext

__all__ = ["ACTIVATIONS", "GRAPHC_ACTIVATIONS", "HALF_SILU", "JIT_ACTIVATIONS", "JIT_MIN_ELEMENTS", "apply_activation",
           "compiled_epilogue", "compiled_into", "needs_scratch", "fused_conv_activation", "fused_gemm_activation", "hard_swish_into",
           "silu_into"]

#: activations an epilogue can apply, with their default parameters
ACTIVATIONS: dict[str, tuple[float, ...]] = {
    "Relu": (),
    "Tanh": (),
    "Sigmoid": (),
    "LeakyRelu": (0.01,),
    "Clip": (float("-inf"), float("inf")),
    "HardSigmoid": (0.2, 0.5),
}

#: graphc::FusedConv's activations beyond onnxruntime's set (their epilogues need a scratch buffer)
GRAPHC_ACTIVATIONS: dict[str, tuple[float, ...]] = {
    "SiLU": (),
    "HardSwish": (1.0 / 6.0, 0.5),
}


#: activations with a compiled one-pass float32 epilogue (:mod:`targets.numpy.kernels.epilogue_jit`, used
#: when :func:`targets.numpy.kernels.jit.available`); Tanh stays numpy's (its SIMD ``tanh`` is one pass)
JIT_ACTIVATIONS = frozenset({"Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "Sigmoid", "SiLU", HALF_SILU})
#: ... from this many elements: below, numpy's one pass beats the compiled call (thread clock, one process:
#: Relu 1152 elements 1.74 us numpy vs 1.79 compiled, 6400 elements 3.9 vs 2.8); the others win at every size
JIT_MIN_ELEMENTS: dict[str, int] = {"Relu": 4096, "LeakyRelu": 4096}


def _jit_epilogues() -> Any:
    """:mod:`targets.numpy.kernels.epilogue_jit`, imported on first use (it imports numba)."""
    from . import epilogue_jit

    return epilogue_jit


def _compiled(buf: np.ndarray, name: str) -> bool:
    """True when ``buf`` takes the compiled epilogue of activation ``name``."""
    return (buf.dtype == np.float32 and name in JIT_ACTIVATIONS and buf.size >= JIT_MIN_ELEMENTS.get(name, 0)
            and buf.flags.c_contiguous and jit.available())


def compiled_epilogue(name: str, params: Sequence[float],
                      dtype: np.dtype) -> Callable[[np.ndarray, np.ndarray, int], None] | None:
    """The compiled one-pass bias + activation epilogue of ``name`` for ``dtype`` outputs, or None (no
    numba, ``GRAPHC_JIT=0``, not float32, or an activation without one): see
    :func:`targets.numpy.kernels.epilogue_jit.kernel` for its arguments."""
    if np.dtype(dtype) != np.float32 or name not in JIT_ACTIVATIONS or not jit.available():
        return None
    return _jit_epilogues().kernel(name, params)


def compiled_into(buf: np.ndarray, x: np.ndarray, name: str, params: Sequence[float]) -> bool:
    """buf = activation ``name`` of ``x`` by the compiled loop (a copy, then the loop in place: two passes
    against numpy's three or four) when ``buf`` takes it (see :func:`apply_activation`); False, with
    ``buf`` untouched, otherwise. ``buf`` is x or does not overlap it."""
    if not _compiled(buf, name) or x.shape != buf.shape or x.dtype != buf.dtype:
        return False
    if x is not buf:
        np.copyto(buf, x)
    _jit_epilogues().activate(buf, name, params)
    return True


def needs_scratch(name: str) -> bool:
    """True when activation ``name``'s epilogue wants a scratch buffer of the output's shape."""
    return name in GRAPHC_ACTIVATIONS or name == HALF_SILU


def silu_into(buf: np.ndarray, x: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """x * sigmoid(x) written into ``buf`` (which may be ``x``); ``tmp`` (x's shape, shared with
    neither) is overwritten. Returns ``buf``.

    float32 takes four passes as h + h tanh(h) with h = x / 2 (the identity behind
    :func:`sigmoid_into`): the error is that of sigmoid times |x|, as for Sigmoid then Mul.
    """
    if x.dtype != np.float32:
        sigmoid_into(tmp, x)
        return np.multiply(x, tmp, out=buf)
    np.multiply(x, x.dtype.type(0.5), out=tmp)
    np.tanh(tmp, out=buf)
    np.multiply(buf, tmp, out=buf)
    return np.add(buf, tmp, out=buf)


def hard_swish_into(buf: np.ndarray, x: np.ndarray, tmp: np.ndarray, alpha: float = 1.0 / 6.0,
                    beta: float = 0.5) -> np.ndarray:
    """x * clip(alpha x + beta, 0, 1) into ``buf`` (which may be ``x``; ``tmp`` is overwritten), computed
    as onnxruntime's HardSigmoid then Mul (same float32 operations, same rounding). Returns ``buf``."""
    t = x.dtype.type
    np.multiply(x, t(alpha), out=tmp)
    np.add(tmp, t(beta), out=tmp)
    np.clip(tmp, t(0), t(1), out=tmp)
    return np.multiply(x, tmp, out=buf)


def apply_activation(buf: np.ndarray, name: str, params: Sequence[float],
                     scratch: np.ndarray | None = None) -> np.ndarray:
    """Apply activation ``name`` with ``params`` to ``buf`` in place; returns ``buf``.

    ``scratch`` (buf's shape and dtype, not sharing its memory) serves the epilogues of
    :data:`GRAPHC_ACTIVATIONS`; without it they allocate one. A C-contiguous float32 ``buf`` takes the
    compiled one-pass loop of :data:`JIT_ACTIVATIONS` when numba is available (see :func:`_compiled`).
    """
    if _compiled(buf, name):
        return _jit_epilogues().activate(buf, name, params)
    t = buf.dtype.type
    if name in GRAPHC_ACTIVATIONS:
        tmp = np.empty_like(buf) if scratch is None else scratch
        if name == "SiLU":
            return silu_into(buf, buf, tmp)
        return hard_swish_into(buf, buf, tmp, params[0], params[1])
    if name == HALF_SILU:
        tmp = np.empty_like(buf) if scratch is None else scratch
        np.tanh(buf, out=tmp)
        np.add(tmp, t(1), out=tmp)
        return np.multiply(buf, tmp, out=buf)
    if name == "Relu":
        relu_into(buf, buf)
    elif name == "Tanh":
        np.tanh(buf, out=buf)
    elif name == "Sigmoid":
        sigmoid_into(buf, buf)
    elif name == "LeakyRelu":
        alpha = t(params[0])
        if 0 <= alpha <= 1:
            np.maximum(buf, buf * alpha, out=buf)
        else:
            np.multiply(buf, alpha, out=buf, where=buf < 0)
    elif name == "Clip":
        np.clip(buf, t(params[0]), t(params[1]), out=buf)
    elif name == "HardSigmoid":
        np.multiply(buf, t(params[0]), out=buf)
        np.add(buf, t(params[1]), out=buf)
        np.clip(buf, t(0), t(1), out=buf)
    else:
        raise UnsupportedOpError(f"activation {name!r} is not one of {sorted(ACTIVATIONS)}")
    return buf


def _checked(ctx: OpContext, name: str, given: Sequence[float]) -> tuple[str, list[float]]:
    known = {**ACTIVATIONS, **GRAPHC_ACTIVATIONS} if ctx.domain == GRAPHC_DOMAIN else ACTIVATIONS
    if name not in known:
        raise ctx.unsupported(f"activation {name!r} (supported: {', '.join(sorted(known))})",
                              "unfuse it or register a layer")
    defaults = known[name]
    params = [float(p) for p in given[: len(defaults)]]
    params += list(defaults[len(params):])
    return name, params


def fused_conv_activation(ctx: OpContext) -> tuple[str, list[float]]:
    """(name, params) of a FusedConv node (``activation``, ``activation_params``)."""
    return _checked(ctx, str(ctx.attr("activation", "Relu")), list(ctx.attr("activation_params", []) or []))


def fused_gemm_activation(ctx: OpContext) -> tuple[str, list[float]]:
    """(name, params) of a FusedGemm node (``activation``, ``activation_alpha/beta``)."""
    given = [ctx.attr(k) for k in ("activation_alpha", "activation_beta")]
    name = str(ctx.attr("activation", "Relu"))
    if name == "HardSigmoid" or given[0] is not None:
        defaults = ACTIVATIONS.get(name, ())
        given = [g if g is not None else (defaults[i] if i < len(defaults) else 0.0) for i, g in enumerate(given)]
    else:
        given = []
    return _checked(ctx, name, given)
