"""Compiled activation stores: a FusedConv activation applied while a convolution's result is written out.

Two convolution paths write their result in a pass of their own anyway: the Winograd output transform
(:func:`targets.numpy.kernels.winograd_jit.winograd_output`) and the crop of a "wide rows" GEMM result
(the ``phase`` path of :mod:`targets.numpy.kernels.conv2d`). Applying the activation there saves the
separate epilogue pass over the output (yolov8n's SiLU convs: one pass per node). Activations are
integer codes (:data:`STORE_ACTIVATIONS`), applied by :func:`targets.numpy.kernels.epilogue_jit.activate_span`
(every code its own branch-free inner loop; the vectorizable float32 sigmoid).
NaN propagates as in the numpy epilogues.

This module imports numba (through :mod:`targets.numpy.kernels.epilogue_jit`): import it only after
:func:`targets.numpy.kernels.jit.available` said True.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import jit
from .conv_jit import ACTIVATION_CODES
from .epilogue_jit import activate_span

__all__ = ["STORE_ACTIVATIONS", "crop_store", "store_activation"]

#: activations the compiled stores apply (name -> :data:`targets.numpy.kernels.conv_jit.ACTIVATION_CODES` code;
#: 0 is none): all but Tanh, whose numpy ``tanh`` is one pass already
STORE_ACTIVATIONS: dict[str, int] = {name: code for name, code in ACTIVATION_CODES.items() if name != "Tanh"}


#: elements :func:`crop_store` crops before activating them (16 KiB of float32: stays in L1)
CROP_BLOCK = 4096


def store_activation(activation: tuple[str, Sequence[float]] | None) -> tuple[int, np.ndarray]:
    """(code, float32 params [p0, p1, 0]) of a FusedConv ``activation`` for the compiled stores; code 0 (and
    zeros) for none or one without a compiled store. p0, p1: Clip's (min, max), HardSwish's and HardSigmoid's
    (alpha, beta), LeakyRelu's alpha."""
    if activation is None or activation[0] not in STORE_ACTIVATIONS:
        return 0, np.zeros(3, np.float32)
    name, params = activation
    p = (list(params[:2]) + [0.0, 0.0])[:2]
    return STORE_ACTIVATIONS[name], np.array([*p, 0.0], np.float32)


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
        activate_span(of, np.uint64(r0 * wo), np.uint64((r1 - r0) * wo), act, p0, p1)
