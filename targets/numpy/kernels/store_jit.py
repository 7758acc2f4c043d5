"""Compiled activation stores: a FusedConv activation applied while a convolution's result is written out.

Two convolution paths write their result in a pass of their own anyway: the Winograd output transform
(:func:`targets.numpy.kernels.winograd_jit.winograd_output`) and the crop of a "wide rows" GEMM result
(the ``phase`` path of :mod:`targets.numpy.kernels.conv2d`). Applying the activation there saves the
separate epilogue pass over the output (yolov8n's SiLU convs: one pass per node). Activations are
integer codes (:data:`STORE_ACTIVATIONS`); every code has its own branch-free inner loop (the branch
sits outside it), using the vectorizable float32 sigmoid of :mod:`targets.numpy.kernels.epilogue_jit`.
NaN propagates as in the numpy epilogues.

This module imports numba (through :mod:`targets.numpy.kernels.epilogue_jit`): import it only after
:func:`targets.numpy.kernels.jit.available` said True.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numba.extending import register_jitable

from . import jit
from ._numeric import HALF_SILU
from .epilogue_jit import _hard_sigmoid1, sigmoid32, silu32

__all__ = ["STORE_ACTIVATIONS", "activate_run", "crop_store", "store_activation"]

#: activations the compiled stores apply (name -> code; 0 is none). ``HALF_SILU``: SiLU of twice the value
#: (plans that halve their weights for the numpy SiLU epilogue)
STORE_ACTIVATIONS: dict[str, int] = {"Relu": 1, "Clip": 2, "SiLU": 3, HALF_SILU: 3, "HardSwish": 4, "Sigmoid": 5,
                                     "LeakyRelu": 6, "HardSigmoid": 7}


#: elements :func:`crop_store` crops before activating them (16 KiB of float32: stays in L1)
CROP_BLOCK = 4096


def store_activation(activation: tuple[str, Sequence[float]] | None) -> tuple[int, np.ndarray]:
    """(code, float32 params [p0, p1, 0]) of a FusedConv ``activation`` for the compiled stores; code 0 (and
    zeros) for none or one without a compiled store. p0, p1: Clip's (min, max), HardSwish's and HardSigmoid's
    (alpha, beta), LeakyRelu's alpha, SiLU's input scale (1, or 2 for ``HALF_SILU``)."""
    if activation is None or activation[0] not in STORE_ACTIVATIONS:
        return 0, np.zeros(3, np.float32)
    name, params = activation
    if name == "SiLU":
        p = [1.0, 0.0]
    elif name == HALF_SILU:
        p = [2.0, 0.0]
    else:
        p = (list(params[:2]) + [0.0, 0.0])[:2]
    return STORE_ACTIVATIONS[name], np.array([*p, 0.0], np.float32)


@register_jitable
def activate_run(buf, start, n, act, p0, p1):  # pragma: no cover - compiled into the kernels
    """buf[start:start + n] = activation ``act`` (a :data:`STORE_ACTIVATIONS` code) of itself, float32."""
    zero = np.float32(0.0)
    if act == 1:  # Relu (NaN stays NaN, as np.maximum)
        for i in range(n):
            v = buf[start + i]
            buf[start + i] = zero if v < zero else v
    elif act == 2:  # Clip(p0, p1), NaN kept
        for i in range(n):
            v = buf[start + i]
            v = p0 if v < p0 else v
            buf[start + i] = p1 if v > p1 else v
    elif act == 3:  # SiLU of p0 * v
        for i in range(n):
            buf[start + i] = silu32(buf[start + i] * p0)
    elif act == 4:  # HardSwish: v * HardSigmoid(v)
        for i in range(n):
            v = buf[start + i]
            buf[start + i] = v * _hard_sigmoid1(v, p0, p1)
    elif act == 5:
        for i in range(n):
            buf[start + i] = sigmoid32(buf[start + i])
    elif act == 6:  # LeakyRelu(p0)
        for i in range(n):
            v = buf[start + i]
            buf[start + i] = v * p0 if v < zero else v
    elif act == 7:
        for i in range(n):
            buf[start + i] = _hard_sigmoid1(buf[start + i], p0, p1)


@jit.compiled
def crop_store(src, out, act, params):  # pragma: no cover - numba compiles it
    """out (R, Wo) = activation ``act`` of src (R, Q)[:, :Wo] (Q >= Wo), both C-contiguous float32: the crop of
    a "wide rows" GEMM result with the activation in the same pass. ``params``: :func:`store_activation`'s.

    Rows are cropped in blocks of about :data:`CROP_BLOCK` elements, then the block (contiguous in ``out``,
    still in L1) is activated by one loop: per row, the short rows (20-80 columns) left most of each vector
    loop to its scalar tail (3-5% slower than a separate pass).
    """
    rows, wo = out.shape
    q = src.shape[1]
    sf = src.reshape(-1)
    of = out.reshape(-1)
    p0, p1 = params[0], params[1]
    uw = np.uint64(wo)
    block = max(1, CROP_BLOCK // max(wo, 1))
    for r0 in range(0, rows, block):
        r1 = min(rows, r0 + block)
        for r in range(r0, r1):
            s = np.uint64(r * q)
            d = np.uint64(r * wo)
            for i in range(uw):
                of[d + i] = sf[s + i]
        activate_run(of, np.uint64(r0 * wo), np.uint64((r1 - r0) * wo), act, p0, p1)
