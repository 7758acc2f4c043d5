"""Compiled convolution loops (numba, see :mod:`targets.numpy.kernels.jit`) that import no numba
themselves: the activation codes every compiled conv epilogue shares, and :func:`small_conv` (small
one-group convolutions: patch matrix and products in one call). The depthwise loops live in
:mod:`targets.numpy.kernels.depthwise_jit` (they call the vectorizable sigmoid of
:mod:`targets.numpy.kernels.epilogue_jit`, which imports numba). Plans
(:mod:`targets.numpy.kernels.conv2d`) validate shapes and contiguity before calling: the loops run
without bounds checks.

Indices are unsigned (``np.uint64``) in the inner loops: numba's negative-index wraparound on a
signed index such as ``row + j`` would keep LLVM from vectorizing the loop.
"""

from __future__ import annotations

import numpy as np

from . import jit
from ._numeric import HALF_SILU

__all__ = ["ACTIVATION_CODES", "activation_code", "small_conv"]

#: FusedConv activations the compiled epilogues apply (name -> code; params as in epilogue.py), one numbering
#: for every compiled conv (:func:`targets.numpy.kernels.epilogue_jit.activate_span` applies them)
ACTIVATION_CODES: dict[str, int] = {
    "Relu": 1, "Clip": 2, "LeakyRelu": 3, "SiLU": 4, "HardSwish": 5, "HardSigmoid": 6, "Sigmoid": 7, "Tanh": 8,
    HALF_SILU: 9,  # SiLU of twice the value (plans that halved their weights for the numpy SiLU epilogue)
}


def activation_code(activation: tuple[str, list[float]] | None) -> int:
    """The epilogue code of ``activation`` (0: none), or -1 when the compiled epilogue lacks it."""
    if activation is None:
        return 0
    return ACTIVATION_CODES.get(activation[0], -1)


@jit.compiled
def small_conv(x, w, b, out, col, geometry):  # pragma: no cover - numba compiles it
    """One-group convolution of ``x`` (N, C, H, W) into ``out`` (N, M, Ho, Wo), both C-contiguous, bias added:
    for small maps, where numpy's fixed cost per call is most of the time.

    ``w``: (M, C * KH * KW) weights, ``b``: (M,) bias (zeros when the node has none), ``col``: a buffer of at
    least C * KH * KW * Ho * Wo elements (the patch matrix: one row per tap when Ho * Wo >= 16, each output
    position's taps contiguous otherwise, then every output is one dot product); ``geometry``: int64 (KH,
    KW, stride h, stride w, dilation h, dilation w, pad top, pad left).
    """
    n_img, chans, h, wd = x.shape
    m_out, ho, wo = out.shape[1], out.shape[2], out.shape[3]
    kh, kw, sh, sw, dh, dw, top, left = (geometry[0], geometry[1], geometry[2], geometry[3], geometry[4],
                                         geometry[5], geometry[6], geometry[7])
    kk = chans * kh * kw
    npos = ho * wo
    xf = x.reshape(-1)
    of = out.reshape(-1)
    wf = w.reshape(-1)
    zero = col.dtype.type(0)
    transposed = npos < 16
    # per kernel column: output columns [lo, lo + cnt) whose tap is inside the image, first input column
    lo = np.empty(kw, np.int64)
    cnt = np.empty(kw, np.int64)
    first_col = np.empty(kw, np.int64)
    for kj in range(kw):
        off = kj * dw - left
        a = 0 if off >= 0 else (-off + sw - 1) // sw
        e = wo
        if (wo - 1) * sw + off >= wd:
            e = (wd - 1 - off) // sw + 1 if wd - 1 - off >= 0 else 0
        e = max(e, a)
        lo[kj], cnt[kj] = a, e - a
        first_col[kj] = a * sw + off if e > a else 0
    ukk = np.uint64(kk)
    unpos = np.uint64(npos)
    usw = np.uint64(sw)
    uwo = np.uint64(wo)
    for img in range(n_img):
        xb = img * chans * h * wd
        # transposed: position by position, its taps contiguous (a window inside the image, unit column
        # dilation: one run of kw input elements per channel and kernel row)
        if transposed:
            for oy in range(ho):
                y0 = oy * sh - top
                for ox in range(wo):
                    base = (oy * wo + ox) * kk
                    x0 = ox * sw - left
                    if dw == 1 and y0 >= 0 and x0 >= 0 and y0 + (kh - 1) * dh < h and x0 + kw - 1 < wd:
                        for c in range(chans):
                            for ki in range(kh):
                                src = np.uint64(xb + (c * h + y0 + ki * dh) * wd + x0)
                                dst = np.uint64(base + (c * kh + ki) * kw)
                                for kj in range(np.uint64(kw)):
                                    col[dst + kj] = xf[src + kj]
                        continue
                    for c in range(chans):
                        for ki in range(kh):
                            iy = y0 + ki * dh
                            for kj in range(kw):
                                ix = x0 + kj * dw
                                v = zero
                                if iy >= 0 and iy < h and ix >= 0 and ix < wd:
                                    v = xf[xb + (c * h + iy) * wd + ix]
                                col[base + (c * kh + ki) * kw + kj] = v
        else:
            for c in range(chans):
                for ki in range(kh):
                    for kj in range(kw):
                        k = (c * kh + ki) * kw + kj
                        for oy in range(ho):
                            iy = oy * sh - top + ki * dh
                            inside = iy >= 0 and iy < h
                            dst = np.uint64(k * npos + oy * wo)
                            if not inside:
                                for j in range(uwo):
                                    col[dst + j] = zero
                                continue
                            a = np.uint64(lo[kj])
                            e = np.uint64(lo[kj] + cnt[kj])
                            for j in range(a):
                                col[dst + j] = zero
                            for j in range(e, uwo):
                                col[dst + j] = zero
                            src = np.uint64(xb + (c * h + iy) * wd + first_col[kj])
                            d0 = dst + a
                            if sw == 1:
                                for j in range(np.uint64(cnt[kj])):
                                    col[d0 + j] = xf[src + j]
                            else:
                                for j in range(np.uint64(cnt[kj])):
                                    col[d0 + j] = xf[src + j * usw]
        ob = img * m_out * npos
        if transposed:  # every output one dot product over the taps
            for m in range(m_out):
                wrow = np.uint64(m * kk)
                for p in range(npos):
                    crow = np.uint64(p * kk)
                    s = b[m]
                    for k in range(ukk):
                        s += wf[wrow + k] * col[crow + k]
                    of[ob + m * npos + p] = s
        else:  # per output channel, its row accumulates one patch row per tap
            for m in range(m_out):
                orow = np.uint64(ob + m * npos)
                bias = b[m]
                for p in range(unpos):
                    of[orow + p] = bias
                for k in range(kk):
                    wv = wf[m * kk + k]
                    cb = np.uint64(k * npos)
                    for p in range(unpos):
                        of[orow + p] += wv * col[cb + p]
