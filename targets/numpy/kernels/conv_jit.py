"""Compiled convolution loops (numba, see :mod:`targets.numpy.kernels.jit`): the depthwise convolution.

:func:`depthwise_conv` runs a depthwise convolution (group = channels = output channels) with its
whole epilogue in one pass over the unpadded input: per output row, the kernel taps accumulate
into a row buffer (bias first), each tap reading only the input columns inside the image (border
taps clipped per row, no padded copy), then the residual ``z`` and the activation are applied
while the row is stored. Plans (:mod:`targets.numpy.kernels.conv2d`) validate shapes and
contiguity before calling: the loops run without bounds checks.

Indices are unsigned (``np.uint64``) in the inner loops: numba's negative-index wraparound on a
signed index such as ``row + j`` would keep LLVM from vectorizing the loop.
"""

from __future__ import annotations

import numpy as np

from . import jit

__all__ = ["ACTIVATION_CODES", "depthwise_conv", "activation_code"]

#: FusedConv activations the compiled epilogue applies (name -> code; params as in epilogue.py)
ACTIVATION_CODES: dict[str, int] = {
    "Relu": 1, "Clip": 2, "LeakyRelu": 3, "SiLU": 4, "HardSwish": 5, "HardSigmoid": 6, "Sigmoid": 7, "Tanh": 8,
}


def activation_code(activation: tuple[str, list[float]] | None) -> int:
    """The epilogue code of ``activation`` (0: none), or -1 when the compiled epilogue lacks it."""
    if activation is None:
        return 0
    return ACTIVATION_CODES.get(activation[0], -1)


@jit.compiled
def depthwise_conv(x, w, b, z, out, acc, split, geometry, act, params):  # pragma: no cover - numba compiles it
    """Depthwise convolution of ``x`` (N, C, H, W) into ``out`` (N, C, Ho, Wo), both C-contiguous.

    ``w``: (C, KH, KW) weights; ``b``: (C,) bias (zeros when the node has none); ``z``: the residual
    (``out``'s shape), added when ``geometry[6]`` is 1; ``acc``: a row buffer of at least Wo elements;
    ``split``: at horizontal stride 2, a buffer of at least ``2 * H * ceil(W / 2)`` elements (a plane's
    even and odd columns, so every tap reads contiguous columns); ``geometry``: int64 (stride h,
    stride w, dilation h, dilation w, pad top, pad left, has z); ``act``: :data:`ACTIVATION_CODES`
    value or 0; ``params``: x's dtype: the two activation parameters, 0 and 1.
    """
    n_img, chans, h, wd = x.shape
    ho, wo = out.shape[2], out.shape[3]
    kh, kw = w.shape[1], w.shape[2]
    sh, sw, dh, dw, top, left, has_z = (geometry[0], geometry[1], geometry[2], geometry[3], geometry[4],
                                        geometry[5], geometry[6])
    xf = x.reshape(-1)
    of = out.reshape(-1)
    zf = z.reshape(-1)
    wf = w.reshape(-1)
    p0, p1, zero, one = params[0], params[1], params[2], params[3]
    halves = sw == 2  # read the plane's column phases from ``split``
    half = (wd + 1) // 2
    rstride = half if halves else wd  # row length of the array the taps read
    cstep = 1 if halves else sw  # column step of a tap in that array
    # per kernel column: the output columns [lo, lo + cnt) whose tap is inside the image, and where in
    # its row the tap of output column lo reads
    lo = np.empty(kw, np.int64)
    cnt = np.empty(kw, np.int64)
    src = np.empty(kw, np.int64)
    for kj in range(kw):
        off = kj * dw - left
        first = 0
        if off < 0:
            first = (-off + sw - 1) // sw
        last = wo  # exclusive
        if (wo - 1) * sw + off >= wd:
            last = (wd - 1 - off) // sw + 1 if wd - 1 - off >= 0 else 0
        if last < first:
            last = first
        lo[kj] = first
        cnt[kj] = last - first
        col = first * sw + off
        if last == first:
            col = 0
        if halves:
            col = (col % 2) * h * half + col // 2
        src[kj] = col
    # interior: the output columns every tap reads inside the image (one pass for all taps of a row)
    ilo = 0
    ihi = wo
    for kj in range(kw):
        ilo = max(ilo, lo[kj])
        ihi = min(ihi, lo[kj] + cnt[kj])
    if ihi < ilo or cstep != 1 or (kw != 3 and kw != 5):
        ihi = ilo  # no combined pass: every tap runs on its own
    icnt = np.uint64(ihi - ilo)
    uilo = np.uint64(ilo)
    # interior column origins per tap (unsigned), and per tap its border columns outside the interior
    isrc = np.zeros(kw, np.uint64)
    blo = np.empty((kw, 2), np.uint64)
    bcnt = np.empty((kw, 2), np.uint64)
    bsrc = np.empty((kw, 2), np.uint64)
    for kj in range(kw):
        a, e = lo[kj], lo[kj] + cnt[kj]
        if ihi > ilo:
            isrc[kj] = np.uint64(src[kj] + (ilo - a) * cstep)
            left_end = min(e, ilo)
            right_start = max(a, ihi)
        else:
            left_end = e
            right_start = e
        blo[kj, 0] = np.uint64(a)
        bcnt[kj, 0] = np.uint64(max(left_end - a, 0))
        bsrc[kj, 0] = np.uint64(src[kj])
        blo[kj, 1] = np.uint64(right_start)
        bcnt[kj, 1] = np.uint64(max(e - right_start, 0))
        bsrc[kj, 1] = np.uint64(src[kj] + (right_start - a) * cstep if e > right_start else 0)
    uwo = np.uint64(wo)
    ucs = np.uint64(cstep)
    uhalf = np.uint64(half)
    uwd = np.uint64(wd)
    odd = np.uint64(h * half)
    for img in range(n_img):
        for c in range(chans):
            plane = (img * chans + c) * h * wd
            xs = xf
            pbase = plane
            if halves:  # split the plane into its even and odd columns
                for iy in range(h):
                    r = np.uint64(plane + iy * wd)
                    d = np.uint64(iy * half)
                    for k in range(np.uint64(wd // 2)):
                        split[d + k] = xf[r + k + k]
                        split[odd + d + k] = xf[r + k + k + np.uint64(1)]
                    if wd % 2:
                        split[d + uhalf - np.uint64(1)] = xf[r + uwd - np.uint64(1)]
                xs = split
                pbase = 0
            bias = b[c]
            for oy in range(ho):
                for j in range(uwo):
                    acc[j] = bias
                for ki in range(kh):
                    iy = oy * sh - top + ki * dh
                    if iy < 0 or iy >= h:
                        continue
                    row = np.uint64(pbase + iy * rstride)
                    wrow = (c * kh + ki) * kw
                    if icnt > 0:
                        if kw == 3:
                            w0, w1, w2 = wf[wrow], wf[wrow + 1], wf[wrow + 2]
                            s0, s1, s2 = row + isrc[0], row + isrc[1], row + isrc[2]
                            for j in range(icnt):
                                acc[uilo + j] += w0 * xs[s0 + j] + w1 * xs[s1 + j] + w2 * xs[s2 + j]
                        else:
                            w0, w1, w2, w3, w4 = wf[wrow], wf[wrow + 1], wf[wrow + 2], wf[wrow + 3], wf[wrow + 4]
                            s0, s1, s2 = row + isrc[0], row + isrc[1], row + isrc[2]
                            s3, s4 = row + isrc[3], row + isrc[4]
                            for j in range(icnt):
                                acc[uilo + j] += (w0 * xs[s0 + j] + w1 * xs[s1 + j] + w2 * xs[s2 + j]
                                                  + w3 * xs[s3 + j] + w4 * xs[s4 + j])
                    for kj in range(kw):
                        wv = wf[wrow + kj]
                        for side in range(2):
                            a0 = blo[kj, side]
                            s0 = row + bsrc[kj, side]
                            if cstep == 1:
                                for j in range(bcnt[kj, side]):
                                    acc[a0 + j] += wv * xs[s0 + j]
                            else:
                                for j in range(bcnt[kj, side]):
                                    acc[a0 + j] += wv * xs[s0 + j * ucs]
                base = np.uint64(((img * chans + c) * ho + oy) * wo)
                if has_z:
                    for j in range(uwo):
                        acc[j] += zf[base + j]
                if act == 0:
                    for j in range(uwo):
                        of[base + j] = acc[j]
                elif act == 1:  # Relu (NaN stays NaN, as np.maximum)
                    for j in range(uwo):
                        v = acc[j]
                        of[base + j] = zero if v < zero else v
                elif act == 2:  # Clip(p0, p1)
                    for j in range(uwo):
                        v = acc[j]
                        v = p0 if v < p0 else v
                        of[base + j] = p1 if v > p1 else v
                elif act == 3:  # LeakyRelu(alpha = p0)
                    for j in range(uwo):
                        v = acc[j]
                        of[base + j] = v * p0 if v < zero else v
                elif act == 4:  # SiLU: x * sigmoid(x)
                    for j in range(uwo):
                        v = acc[j]
                        of[base + j] = v / (one + np.exp(-v))
                elif act == 5:  # HardSwish: x * clip(p0 x + p1, 0, 1)
                    for j in range(uwo):
                        v = acc[j]
                        t = v * p0 + p1
                        t = zero if t < zero else t
                        t = one if t > one else t
                        of[base + j] = v * t
                elif act == 6:  # HardSigmoid: clip(p0 x + p1, 0, 1)
                    for j in range(uwo):
                        t = acc[j] * p0 + p1
                        t = zero if t < zero else t
                        of[base + j] = one if t > one else t
                elif act == 7:  # Sigmoid
                    for j in range(uwo):
                        of[base + j] = one / (one + np.exp(-acc[j]))
                else:  # Tanh
                    for j in range(uwo):
                        of[base + j] = np.tanh(acc[j])
