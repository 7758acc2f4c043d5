"""Activation epilogues of onnxruntime's contrib ops FusedConv / FusedGemm, applied in place.

``com.microsoft::FusedConv`` carries ``activation`` and ``activation_params`` (floats);
``com.microsoft::FusedGemm`` carries ``activation`` and ``activation_alpha/beta/gamma``.
Both are normalized to a name plus a parameter list by the callers.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from graphc.errors import UnsupportedOpError

from ._numeric import sigmoid_into
from .registry import OpContext

__all__ = ["ACTIVATIONS", "apply_activation", "fused_conv_activation", "fused_gemm_activation"]

#: activations an epilogue can apply, with their default parameters
ACTIVATIONS: dict[str, tuple[float, ...]] = {
    "Relu": (),
    "Tanh": (),
    "Sigmoid": (),
    "LeakyRelu": (0.01,),
    "Clip": (float("-inf"), float("inf")),
    "HardSigmoid": (0.2, 0.5),
}


def apply_activation(buf: np.ndarray, name: str, params: Sequence[float]) -> np.ndarray:
    """Apply activation ``name`` with ``params`` to ``buf`` in place; returns ``buf``."""
    t = buf.dtype.type
    if name == "Relu":
        np.maximum(buf, t(0), out=buf)
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
    if name not in ACTIVATIONS:
        raise ctx.unsupported(f"activation {name!r} (supported: {', '.join(sorted(ACTIVATIONS))})",
                              "unfuse it or register a layer")
    defaults = ACTIVATIONS[name]
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
