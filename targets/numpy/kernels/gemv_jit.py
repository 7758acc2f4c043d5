"""Compiled matrix-vector convolutions: one-group 1x1 convolutions over 1x1 maps (squeeze-excitation convs).

Such a node is a GEMV of a few thousand to a few hundred thousand multiply-adds, where numpy's
fixed costs (the matmul call, the reshapes, the separate bias + activation pass) are most of the
time; :func:`gemv_conv` is one compiled call: per output channel one dot product over the input
channels and its bias, then the FusedConv activation over the image's outputs
(:func:`targets.numpy.kernels.epilogue_jit.activate_span`).

This module imports numba (through :mod:`targets.numpy.kernels.epilogue_jit`): import it only after :func:`targets.numpy.kernels.jit.available` said True.
"""

from __future__ import annotations

import numpy as np

from . import jit
from .epilogue_jit import activate_span

__all__ = ["FUSED_ACTIVATIONS", "gemv_conv"]

#: activation codes (:data:`targets.numpy.kernels.conv_jit.ACTIVATION_CODES`) :func:`gemv_conv` applies
#: (float32): Relu, Clip, LeakyRelu, SiLU, HardSwish, HardSigmoid, Sigmoid
FUSED_ACTIVATIONS = (1, 2, 3, 4, 5, 6, 7)


@jit.compiled
def gemv_conv(x, w, b, out, act, params):  # pragma: no cover - numba compiles it
    """``out[n, m] = act(b[m] + sum_c w[m, c] x[n, c])`` for a float32 (N, C, 1, 1) ``x`` and (N, M, 1, 1)
    ``out``, both C-contiguous; ``w``: (M, C) C-contiguous; ``b``: (M,) (zeros when the node has none);
    ``act``: an activation code of :data:`FUSED_ACTIVATIONS` or 0; ``params``: float32 (p0, p1, 0, 1).
    """
    n_img, chans = x.shape[0], x.shape[1]
    m_out = out.shape[1]
    xf = x.reshape(-1)
    of = out.reshape(-1)
    wf = w.reshape(-1)
    p0, p1, zero = params[0], params[1], params[2]
    uc = np.uint64(chans)
    for img in range(n_img):
        xb = np.uint64(img * chans)
        ob = img * m_out
        for m in range(m_out):
            wb = np.uint64(m * chans)
            s = zero
            for k in range(uc):
                s += wf[wb + k] * xf[xb + k]
            of[ob + m] = s + b[m]
        activate_span(of, np.uint64(ob), np.uint64(m_out), act, p0, p1)
