"""Compiled one-group convolutions over height-1 images with few output columns (1-D audio front ends).

Streaming models run their convolutions on a handful of frames per call: a VAD's STFT as a Conv1d
(1 -> 258 channels, kernel 256, stride 128, 3 frames) and its encoder (kernel 3, 1-3 frames). There
each output is one long dot product and numpy's per-call cost (im2col copies, a GEMM on 1-3 columns)
is most of the time. :func:`conv1d_columns` copies each output column's taps into one contiguous row
of ``col`` (zeros where a tap falls in the padding) and computes every output as the dot product of a
weight row with it, then the bias and (by code) the activation
(:func:`targets.numpy.kernels.epilogue_jit.activate_span`).

This module imports numba (through :mod:`targets.numpy.kernels.epilogue_jit`): import it only after
:func:`targets.numpy.kernels.jit.available` said True.
"""

from __future__ import annotations

import numpy as np

from . import jit
from .conv_jit import ACTIVATION_CODES
from .epilogue_jit import activate_span

__all__ = ["FUSED_ACTIVATIONS", "conv1d_columns"]

#: activation codes (:data:`targets.numpy.kernels.conv_jit.ACTIVATION_CODES`) :func:`conv1d_columns` applies
FUSED_ACTIVATIONS = tuple(ACTIVATION_CODES[name] for name in ("Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh"))


@jit.compiled
def conv1d_columns(x, w, b, out, col, geometry, act, params):  # pragma: no cover - numba compiles it
    """One-group convolution of ``x`` (N, C, 1, L) into ``out`` (N, M, 1, T), both C-contiguous.

    ``w``: (M, C * K) weights (channel-major, tap-minor); ``b``: (M,) bias (zeros when the node has
    none); ``col``: at least T * C * K elements; ``geometry``: int64 (K, stride, dilation, left pad);
    ``act``: a :data:`FUSED_ACTIVATIONS` code applied to each output, ``params``: its two parameters (Clip's
    bounds, LeakyRelu's alpha). Taps left of the input or right of it read zeros.
    """
    n_img, chans, length = x.shape[0], x.shape[1], x.shape[3]
    m_out, npos = out.shape[1], out.shape[3]
    k, stride, dil, left = geometry[0], geometry[1], geometry[2], geometry[3]
    kk = chans * k
    xf = x.reshape(-1)
    of = out.reshape(-1)
    wf = w.reshape(-1)
    zero = col.dtype.type(0)
    p0, p1 = params[0], params[1]
    ukk = np.uint64(kk)
    uk = np.uint64(k)
    udil = np.uint64(dil)
    for img in range(n_img):
        xb = img * chans * length
        for p in range(npos):
            start = p * stride - left
            lo = 0 if start >= 0 else (-start + dil - 1) // dil  # first tap inside the input
            hi = k  # one past the last tap inside the input
            if start + (k - 1) * dil >= length:
                hi = (length - 1 - start) // dil + 1 if length - 1 - start >= 0 else 0
            hi = max(hi, lo)
            ulo, uhi = np.uint64(lo), np.uint64(hi)
            for c in range(chans):
                row = np.uint64(p * kk + c * k)
                for j in range(ulo):
                    col[row + j] = zero
                for j in range(uhi, uk):
                    col[row + j] = zero
                if hi > lo:
                    src = np.uint64(xb + c * length + start + lo * dil)
                    dst = row + ulo
                    if dil == 1:
                        for j in range(uhi - ulo):
                            col[dst + j] = xf[src + j]
                    else:
                        for j in range(uhi - ulo):
                            col[dst + j] = xf[src + j * udil]
        ob = img * m_out * npos
        for m in range(m_out):
            wrow = np.uint64(m * kk)
            for p in range(npos):
                crow = np.uint64(p * kk)
                s = zero
                for j in range(ukk):
                    s += wf[wrow + j] * col[crow + j]
                of[ob + m * npos + p] = s + b[m]
        # the activation as a pass of its own: a branch in the loop above kept it from vectorizing (2x slower)
        n = np.uint64(m_out * npos)
        ub = np.uint64(ob)
        activate_span(of, ub, n, act, p0, p1)
