"""Compiled direct convolution for few input channels (the stems of image models: 3 -> 16..64, 3x3 to 7x7).

As a GEMM such a convolution is thin (K = C * KH * KW = 27 to 147 rows) and needs an im2col copy
K times the image; here each image is copied once into a zero-padded buffer, at stride 2 split into
its row and column phases (as :func:`targets.numpy.kernels.depthwise_jit.depthwise_conv` does per
channel), so every tap of every input channel reads one contiguous run of that buffer. The output
is computed in chunks of whole output rows over the padded row pitch (a few wasted columns per
row), four output channels at a time (each input load feeds four accumulators): the chunk starts
at the bias, then each (input channel, kernel row) adds its KW taps in one loop; the activation
runs over the chunk while it is in cache and the store crops the wasted columns.

The pads of the buffer are never written: plans hand it in zero-filled once (a private scratch
buffer), and every call writes the same interior. Plans (:mod:`targets.numpy.kernels.conv2d`)
validate shapes before calling: the loops run without bounds checks.

This module imports numba (through :mod:`targets.numpy.kernels.epilogue_jit`, whose vectorizable
float32 sigmoid and SiLU the float32 epilogue uses): import it only after
:func:`targets.numpy.kernels.jit.available` said True.
"""

from __future__ import annotations

import numpy as np

from numba.extending import register_jitable

from . import jit
from .epilogue_jit import activate_span

__all__ = ["FUSED_ACTIVATIONS", "buffer_size", "chunk_rows", "row_pitch", "stem_conv"]

#: activation codes (:data:`targets.numpy.kernels.conv_jit.ACTIVATION_CODES`) the kernel applies in its store
#: for float32 (Relu, Clip, LeakyRelu, SiLU, HardSwish, HardSigmoid, Sigmoid); float64 plans apply only the
#: first three and leave the others to the numpy epilogue
FUSED_ACTIVATIONS = {"float32": (1, 2, 3, 4, 5, 6, 7), "float64": (1, 2, 3)}

#: output elements per chunk (rows of the padded pitch): four chunks stay in L2 (measured: 224x224 stems at
#: 3x3/2 were about 1.3x faster with the whole 112-row plane as one chunk than with 18-row chunks)
CHUNK_ELEMENTS = 1 << 14


def _layout(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
            strides: tuple[int, int], dilations: tuple[int, int], top: int, left: int) -> tuple[int, int]:
    """(elements of one channel's padded phases, phase row pitch)."""
    (h, w), (ho, wo) = x_shape[2:], out_shape[2:]
    hp = max(h + top, (ho - 1) * strides[0] + (kernel[0] - 1) * dilations[0] + 1)
    wp = max(w + left, (wo - 1) * strides[1] + (kernel[1] - 1) * dilations[1] + 1)
    hq, wq = -(-hp // strides[0]), -(-wp // strides[1])
    return strides[0] * strides[1] * hq * wq, wq


def buffer_size(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
                strides: tuple[int, int], dilations: tuple[int, int], top: int, left: int) -> int:
    """Elements of :func:`stem_conv`'s ``padded`` buffer (strides 1 or 2): each input channel's zero-padded
    plane up to the last tap's reach, split into its stride phases, plus slack for the wasted columns of the
    last output row."""
    plane, wq = _layout(x_shape, out_shape, kernel, strides, dilations, top, left)
    return x_shape[1] * plane + wq + kernel[1] * dilations[1]


def row_pitch(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
              strides: tuple[int, int], dilations: tuple[int, int], left: int) -> int:
    """Elements per output row in :func:`stem_conv`'s ``acc`` (the padded phase width)."""
    return _layout(x_shape, out_shape, kernel, strides, dilations, 0, left)[1]


def chunk_rows(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
               strides: tuple[int, int], dilations: tuple[int, int], left: int) -> int:
    """Output rows per chunk: about :data:`CHUNK_ELEMENTS` accumulator elements (at least one row)."""
    return max(1, min(out_shape[2], CHUNK_ELEMENTS // row_pitch(x_shape, out_shape, kernel, strides, dilations,
                                                                left)))


# One kernel row of one input channel into the accumulators of four output channels (weights wstep
# apart from wf[w]; taps at flat offsets s0, s1, ... of padded), over un accumulator elements.

@register_jitable
def _row1(padded, wf, a0, a1, a2, a3, w, wstep, s0, un):  # pragma: no cover - compiled into stem_conv
    w0, w1, w2, w3 = wf[w], wf[w + wstep], wf[w + 2 * wstep], wf[w + 3 * wstep]
    for j in range(un):
        p = padded[s0 + j]
        a0[j] += w0 * p
        a1[j] += w1 * p
        a2[j] += w2 * p
        a3[j] += w3 * p


@register_jitable
def _row3(padded, wf, a0, a1, a2, a3, w, wstep, s0, s1, s2, un):  # pragma: no cover - compiled into stem_conv
    u0, u1, u2 = wf[w], wf[w + 1], wf[w + 2]
    w += wstep
    v0, v1, v2 = wf[w], wf[w + 1], wf[w + 2]
    w += wstep
    x0, x1, x2 = wf[w], wf[w + 1], wf[w + 2]
    w += wstep
    y0, y1, y2 = wf[w], wf[w + 1], wf[w + 2]
    for j in range(un):
        p, q, r = padded[s0 + j], padded[s1 + j], padded[s2 + j]
        a0[j] += u0 * p + u1 * q + u2 * r
        a1[j] += v0 * p + v1 * q + v2 * r
        a2[j] += x0 * p + x1 * q + x2 * r
        a3[j] += y0 * p + y1 * q + y2 * r


@register_jitable
def _row5(padded, wf, a0, a1, a2, a3, w, wstep, s0, s1, s2, s3, s4, un):  # pragma: no cover - compiled
    u0, u1, u2, u3, u4 = wf[w], wf[w + 1], wf[w + 2], wf[w + 3], wf[w + 4]
    w += wstep
    v0, v1, v2, v3, v4 = wf[w], wf[w + 1], wf[w + 2], wf[w + 3], wf[w + 4]
    w += wstep
    x0, x1, x2, x3, x4 = wf[w], wf[w + 1], wf[w + 2], wf[w + 3], wf[w + 4]
    w += wstep
    y0, y1, y2, y3, y4 = wf[w], wf[w + 1], wf[w + 2], wf[w + 3], wf[w + 4]
    for j in range(un):
        p, q, r, s, t = padded[s0 + j], padded[s1 + j], padded[s2 + j], padded[s3 + j], padded[s4 + j]
        a0[j] += u0 * p + u1 * q + u2 * r + u3 * s + u4 * t
        a1[j] += v0 * p + v1 * q + v2 * r + v3 * s + v4 * t
        a2[j] += x0 * p + x1 * q + x2 * r + x3 * s + x4 * t
        a3[j] += y0 * p + y1 * q + y2 * r + y3 * s + y4 * t


@register_jitable
def _row7(padded, wf, a0, a1, a2, a3, w, wstep, s0, s1, s2, s3, s4, s5, s6, un):  # pragma: no cover
    u0, u1, u2, u3, u4, u5, u6 = wf[w], wf[w + 1], wf[w + 2], wf[w + 3], wf[w + 4], wf[w + 5], wf[w + 6]
    w += wstep
    v0, v1, v2, v3, v4, v5, v6 = wf[w], wf[w + 1], wf[w + 2], wf[w + 3], wf[w + 4], wf[w + 5], wf[w + 6]
    w += wstep
    x0, x1, x2, x3, x4, x5, x6 = wf[w], wf[w + 1], wf[w + 2], wf[w + 3], wf[w + 4], wf[w + 5], wf[w + 6]
    w += wstep
    y0, y1, y2, y3, y4, y5, y6 = wf[w], wf[w + 1], wf[w + 2], wf[w + 3], wf[w + 4], wf[w + 5], wf[w + 6]
    for j in range(un):
        p, q, r, s, t = padded[s0 + j], padded[s1 + j], padded[s2 + j], padded[s3 + j], padded[s4 + j]
        e, f = padded[s5 + j], padded[s6 + j]
        a0[j] += u0 * p + u1 * q + u2 * r + u3 * s + u4 * t + u5 * e + u6 * f
        a1[j] += v0 * p + v1 * q + v2 * r + v3 * s + v4 * t + v5 * e + v6 * f
        a2[j] += x0 * p + x1 * q + x2 * r + x3 * s + x4 * t + x5 * e + x6 * f
        a3[j] += y0 * p + y1 * q + y2 * r + y3 * s + y4 * t + y5 * e + y6 * f


@jit.compiled
def stem_conv(x, w, b, out, padded, acc, geometry, act, params):  # pragma: no cover - numba compiles it
    """One-group convolution of ``x`` (N, C, H, W) into ``out`` (N, M, Ho, Wo), both C-contiguous, strides 1/2.

    ``w``: (M', C, KH, KW) C-contiguous weights, M' = M rounded up to a multiple of 4 (zero rows); ``b``: (M',)
    bias (zeros when the node has none); ``padded``: a zero-filled buffer of :func:`buffer_size` elements
    whose pads stay zero between calls; ``acc``: (4, L), L at least ``geometry[6]`` rows of
    :func:`row_pitch`; ``geometry``: int64 (stride h, stride w, dilation h, dilation w, pad top, pad left,
    :func:`chunk_rows`); ``act``: the activation code (0: none; see :data:`FUSED_ACTIVATIONS`); ``params``:
    x's dtype: the two activation parameters, 0 and 1.
    """
    n_img, chans, h, wd = x.shape
    m_out, ho, wo = out.shape[1], out.shape[2], out.shape[3]
    kh, kw = w.shape[2], w.shape[3]
    sh, sw, dh, dw, top, left, rows = (geometry[0], geometry[1], geometry[2], geometry[3], geometry[4],
                                       geometry[5], geometry[6])
    xf = x.reshape(-1)
    of = out.reshape(-1)
    wf = w.reshape(-1)
    p0, p1, zero, one = params[0], params[1], params[2], params[3]
    hp = max(h + top, (ho - 1) * sh + (kh - 1) * dh + 1)
    wp = max(wd + left, (wo - 1) * sw + (kw - 1) * dw + 1)
    hq = (hp + sh - 1) // sh
    wq = (wp + sw - 1) // sw
    phase_len = hq * wq
    plane = sh * sw * phase_len
    # flat offset of tap (c, ki, kj) in padded: output (oy, ox) at o = oy * wq + ox reads o + tap
    tap = np.empty((chans, kh, kw), np.uint64)
    for c in range(chans):
        for ki in range(kh):
            for kj in range(kw):
                r, q = ki * dh, kj * dw
                tap[c, ki, kj] = np.uint64(c * plane + ((r % sh) * sw + q % sw) * phase_len + (r // sh) * wq + q // sw)
    uwo = np.uint64(wo)
    wstep = chans * kh * kw  # weights of consecutive output channels
    for img in range(n_img):
        for c in range(chans):  # each channel into its padded phases' interior
            for iy in range(h):
                src = np.uint64(((img * chans + c) * h + iy) * wd)
                pr = iy + top
                row = c * plane + ((pr % sh) * sw) * phase_len + (pr // sh) * wq
                if sw == 1:
                    dst = np.uint64(row + left)
                    for k in range(np.uint64(wd)):
                        padded[dst + k] = xf[src + k]
                else:  # input column ix is padded column ix + left: phase (ix + left) % 2
                    d0 = np.uint64(row + (left % 2) * phase_len + left // 2)
                    d1 = np.uint64(row + ((left + 1) % 2) * phase_len + (left + 1) // 2)
                    for k in range(np.uint64(wd // 2)):
                        padded[d0 + k] = xf[src + k + k]
                        padded[d1 + k] = xf[src + k + k + np.uint64(1)]
                    if wd % 2:
                        padded[d0 + np.uint64(wd // 2)] = xf[src + np.uint64(wd - 1)]
        for r0 in range(0, ho, rows):
            nrows = min(rows, ho - r0)
            un = np.uint64(nrows * wq)
            base = np.uint64(r0 * wq)
            for m0 in range(0, w.shape[0], 4):  # four output channels share each load of the input
                a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
                b0, b1, b2, b3 = b[m0], b[m0 + 1], b[m0 + 2], b[m0 + 3]
                for j in range(un):
                    a0[j] = b0
                    a1[j] = b1
                    a2[j] = b2
                    a3[j] = b3
                for c in range(chans):
                    for ki in range(kh):
                        wrow = ((m0 * chans + c) * kh + ki) * kw
                        if kw == 3:
                            _row3(padded, wf, a0, a1, a2, a3, wrow, wstep, base + tap[c, ki, 0],
                                  base + tap[c, ki, 1], base + tap[c, ki, 2], un)
                        elif kw == 5:
                            _row5(padded, wf, a0, a1, a2, a3, wrow, wstep, base + tap[c, ki, 0],
                                  base + tap[c, ki, 1], base + tap[c, ki, 2], base + tap[c, ki, 3],
                                  base + tap[c, ki, 4], un)
                        elif kw == 7:
                            _row7(padded, wf, a0, a1, a2, a3, wrow, wstep, base + tap[c, ki, 0],
                                  base + tap[c, ki, 1], base + tap[c, ki, 2], base + tap[c, ki, 3],
                                  base + tap[c, ki, 4], base + tap[c, ki, 5], base + tap[c, ki, 6], un)
                        else:
                            for kj in range(kw):
                                _row1(padded, wf, a0, a1, a2, a3, wrow + kj, wstep, base + tap[c, ki, kj], un)
                for mi in range(min(4, m_out - m0)):
                    m = m0 + mi
                    a = acc[mi]
                    # the activation over the chunk (wasted columns included), then the cropping store
                    activate_span(a, np.uint64(0), un, act, p0, p1)
                    ob = ((img * m_out + m) * ho + r0) * wo
                    for oy in range(nrows):
                        ab = np.uint64(oy * wq)
                        dst = np.uint64(ob + oy * wo)
                        for j in range(uwo):
                            of[dst + j] = a[ab + j]
