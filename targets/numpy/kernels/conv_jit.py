"""Compiled convolution loops (numba, see :mod:`targets.numpy.kernels.jit`): the depthwise convolution.

:func:`depthwise_conv` runs a depthwise convolution (group = channels = output channels) with its
whole epilogue: per channel, the input plane is copied into a small zero-padded buffer (at
horizontal stride 2 split into its even and odd columns), so every tap of every output row reads
contiguous columns with no border cases (clipping the border taps per row instead costs a
dozen tiny loops per row, which dominate on 7x7 and 14x14 maps); per output row, the taps of a
kernel row accumulate into a row buffer (bias first) in one pass, and the residual ``z`` and the
activation are applied while the row is stored. Plans (:mod:`targets.numpy.kernels.conv2d`) validate shapes and
contiguity before calling: the loops run without bounds checks.

Indices are unsigned (``np.uint64``) in the inner loops: numba's negative-index wraparound on a
signed index such as ``row + j`` would keep LLVM from vectorizing the loop.
"""

from __future__ import annotations

import numpy as np

from . import jit

__all__ = ["ACTIVATION_CODES", "activation_code", "depthwise_conv", "padded_size", "row_buffer_size"]

#: FusedConv activations the compiled epilogue applies (name -> code; params as in epilogue.py)
ACTIVATION_CODES: dict[str, int] = {
    "Relu": 1, "Clip": 2, "LeakyRelu": 3, "SiLU": 4, "HardSwish": 5, "HardSigmoid": 6, "Sigmoid": 7, "Tanh": 8,
}


def activation_code(activation: tuple[str, list[float]] | None) -> int:
    """The epilogue code of ``activation`` (0: none), or -1 when the compiled epilogue lacks it."""
    if activation is None:
        return 0
    return ACTIVATION_CODES.get(activation[0], -1)


def padded_size(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
                strides: tuple[int, int], dilations: tuple[int, int], top: int, left: int) -> int:
    """Elements of :func:`depthwise_conv`'s ``padded`` buffer: one zero-padded input plane, up to the last
    tap's reach (at horizontal stride 2 split into its even and odd columns, each rounded up)."""
    (h, w), (ho, wo) = x_shape[2:], out_shape[2:]
    hp = max(h + top, (ho - 1) * strides[0] + (kernel[0] - 1) * dilations[0] + 1)
    wp = max(w + left, (wo - 1) * strides[1] + (kernel[1] - 1) * dilations[1] + 1)
    nph = 2 if strides[1] == 2 else 1
    # stride 1 computes whole padded rows: the last row's wasted columns read past the plane
    return nph * hp * -(-wp // nph) + (kernel[1] - 1) * dilations[1]


def row_buffer_size(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
                    strides: tuple[int, int], dilations: tuple[int, int], left: int) -> int:
    """Elements of :func:`depthwise_conv`'s ``acc`` buffer: an output row, at stride 1 the whole output
    plane over the padded width."""
    if strides != (1, 1):
        return out_shape[3]
    wp = max(x_shape[3] + left, (out_shape[3] - 1) + (kernel[1] - 1) * dilations[1] + 1)
    return out_shape[2] * wp


@jit.compiled
def depthwise_conv(x, w, b, z, out, acc, padded, geometry, act, params):  # pragma: no cover - numba compiles it
    """Depthwise convolution of ``x`` (N, C, H, W) into ``out`` (N, C, Ho, Wo), both C-contiguous.

    ``w``: (C, KH, KW) weights; ``b``: (C,) bias (zeros when the node has none); ``z``: the residual
    (``out``'s shape), added when ``geometry[6]`` is 1; ``acc``: a buffer of at least :func:`row_buffer_size` elements;
    ``padded``: a buffer of at least :func:`padded_size` elements (one zero-padded plane); ``geometry``: int64 (stride h,
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
    # the padded plane: at horizontal stride 2 as its even and odd columns (every tap reads contiguous
    # columns), else whole rows read with column step ``cstep``; rows and columns up to the last tap's reach
    nph = 2 if sw == 2 else 1
    cstep = 1 if sw <= 2 else sw
    hp = max(h + top, (ho - 1) * sh + (kh - 1) * dh + 1)
    wp = max(wd + left, (wo - 1) * sw + (kw - 1) * dw + 1)
    wq = (wp + nph - 1) // nph
    phase_len = hp * wq
    for i in range(padded.size):
        padded[i] = zero
    # per kernel column: where its tap of output column 0 reads in a padded row
    tap = np.empty(kw, np.uint64)
    for kj in range(kw):
        col = kj * dw
        tap[kj] = np.uint64((col % nph) * phase_len + col // nph)
    # exp for SiLU and Sigmoid (float32: the vectorized form below; float64: np.exp)
    fast_exp = acc.itemsize == 4
    poly = np.empty(wo, acc.dtype)
    pow2 = np.empty(wo, np.int32)
    pow2f = pow2.view(np.float32)
    lo_exp, hi_exp = acc.dtype.type(-87.0), acc.dtype.type(88.0)
    log2e, half_one = acc.dtype.type(1.4426950408889634), acc.dtype.type(0.5)
    ln2_hi = acc.dtype.type(0.693145751953125)  # ln 2 in 16 bits: nf * ln2_hi is exact
    ln2_lo = acc.dtype.type(1.4286068202862268e-06)  # ln 2 - ln2_hi
    c2, c3, c4 = acc.dtype.type(1 / 2), acc.dtype.type(1 / 6), acc.dtype.type(1 / 24)
    c5, c6, c7 = acc.dtype.type(1 / 120), acc.dtype.type(1 / 720), acc.dtype.type(1 / 5040)
    inf = acc.dtype.type(np.inf)
    # stride 1: rows are computed over the whole padded width (wq - wo wasted columns per row), so a
    # kernel row is one loop over the plane instead of one per output row (7x7 maps: loops of 7)
    wide = sh == 1 and sw == 1
    uwide = np.uint64(ho * wq)
    uwo = np.uint64(wo)
    ucs = np.uint64(cstep)
    uw = np.uint64(wd)
    for img in range(n_img):
        for c in range(chans):
            plane = (img * chans + c) * h * wd
            for iy in range(h):  # the plane into the padded buffer's interior
                src = np.uint64(plane + iy * wd)
                row = (iy + top) * wq
                if nph == 1:
                    dst = np.uint64(row + left)
                    for k in range(uw):
                        padded[dst + k] = xf[src + k]
                else:  # input column ix is padded column ix + left: phase (ix + left) % 2
                    for par in range(2):
                        dst = np.uint64(((par + left) % 2) * phase_len + row + (par + left) // 2)
                        s0 = src + np.uint64(par)
                        for k in range(np.uint64((wd - par + 1) // 2)):
                            padded[dst + k] = xf[s0 + k + k]
            bias = b[c]
            if wide:  # stride 1: each kernel row in one pass over the plane's flat padded rows
                for j in range(uwide):
                    acc[j] = bias
                for ki in range(kh):
                    row = np.uint64(ki * dh * wq)
                    wrow = (c * kh + ki) * kw
                    if kw == 3:
                        w0, w1, w2 = wf[wrow], wf[wrow + 1], wf[wrow + 2]
                        s0, s1, s2 = row + tap[0], row + tap[1], row + tap[2]
                        for j in range(uwide):
                            acc[j] += w0 * padded[s0 + j] + w1 * padded[s1 + j] + w2 * padded[s2 + j]
                    elif kw == 5:
                        w0, w1, w2, w3, w4 = wf[wrow], wf[wrow + 1], wf[wrow + 2], wf[wrow + 3], wf[wrow + 4]
                        s0, s1, s2, s3, s4 = row + tap[0], row + tap[1], row + tap[2], row + tap[3], row + tap[4]
                        for j in range(uwide):
                            acc[j] += (w0 * padded[s0 + j] + w1 * padded[s1 + j] + w2 * padded[s2 + j]
                                       + w3 * padded[s3 + j] + w4 * padded[s4 + j])
                    else:
                        for kj in range(kw):
                            wv = wf[wrow + kj]
                            s0 = row + tap[kj]
                            for j in range(uwide):
                                acc[j] += wv * padded[s0 + j]
            for oy in range(ho):
                if wide:
                    ab = np.uint64(oy * wq)
                else:
                    ab = np.uint64(0)
                    for j in range(uwo):
                        acc[j] = bias
                    for ki in range(kh):
                        row = np.uint64((oy * sh + ki * dh) * wq)
                        wrow = (c * kh + ki) * kw
                        if cstep == 1 and kw == 3:
                            w0, w1, w2 = wf[wrow], wf[wrow + 1], wf[wrow + 2]
                            s0, s1, s2 = row + tap[0], row + tap[1], row + tap[2]
                            for j in range(uwo):
                                acc[j] += w0 * padded[s0 + j] + w1 * padded[s1 + j] + w2 * padded[s2 + j]
                        elif cstep == 1 and kw == 5:
                            w0, w1, w2, w3, w4 = wf[wrow], wf[wrow + 1], wf[wrow + 2], wf[wrow + 3], wf[wrow + 4]
                            s0, s1, s2, s3, s4 = row + tap[0], row + tap[1], row + tap[2], row + tap[3], row + tap[4]
                            for j in range(uwo):
                                acc[j] += (w0 * padded[s0 + j] + w1 * padded[s1 + j] + w2 * padded[s2 + j]
                                           + w3 * padded[s3 + j] + w4 * padded[s4 + j])
                        elif cstep == 1:
                            for kj in range(kw):
                                wv = wf[wrow + kj]
                                s0 = row + tap[kj]
                                for j in range(uwo):
                                    acc[j] += wv * padded[s0 + j]
                        else:
                            for kj in range(kw):
                                wv = wf[wrow + kj]
                                s0 = row + tap[kj]
                                for j in range(uwo):
                                    acc[j] += wv * padded[s0 + j * ucs]
                base = np.uint64(((img * chans + c) * ho + oy) * wo)
                if has_z:
                    for j in range(uwo):
                        acc[ab + j] += zf[base + j]
                if act == 0:
                    for j in range(uwo):
                        of[base + j] = acc[ab + j]
                elif act == 1:  # Relu (NaN stays NaN, as np.maximum)
                    for j in range(uwo):
                        v = acc[ab + j]
                        of[base + j] = zero if v < zero else v
                elif act == 2:  # Clip(p0, p1)
                    for j in range(uwo):
                        v = acc[ab + j]
                        v = p0 if v < p0 else v
                        of[base + j] = p1 if v > p1 else v
                elif act == 3:  # LeakyRelu(alpha = p0)
                    for j in range(uwo):
                        v = acc[ab + j]
                        of[base + j] = v * p0 if v < zero else v
                elif act == 5:  # HardSwish: x * clip(p0 x + p1, 0, 1)
                    for j in range(uwo):
                        v = acc[ab + j]
                        t = v * p0 + p1
                        t = zero if t < zero else t
                        t = one if t > one else t
                        of[base + j] = v * t
                elif act == 6:  # HardSigmoid: clip(p0 x + p1, 0, 1)
                    for j in range(uwo):
                        t = acc[ab + j] * p0 + p1
                        t = zero if t < zero else t
                        of[base + j] = one if t > one else t
                elif act == 4 or act == 7:  # SiLU x * sigmoid(x), Sigmoid: e = exp(-x) first
                    if fast_exp:
                        # exp(t) = 2^n exp(r), t = n ln2 + r, |r| <= ln2 / 2: a degree-7 Taylor polynomial
                        # for exp(r) (error below float32 rounding) and 2^n from its bits; every step
                        # vectorizes (np.exp is a scalar libm call). t > 88 (exp overflows) is inf.
                        for j in range(uwo):
                            t = -acc[ab + j]
                            t = lo_exp if t < lo_exp else t
                            t = hi_exp if t > hi_exp else t
                            nf = np.floor(t * log2e + half_one)
                            nf = nf if nf == nf else zero  # NaN: its polynomial is NaN anyway
                            r = (t - nf * ln2_hi) - nf * ln2_lo
                            poly[j] = one + r * (one + r * (c2 + r * (c3 + r * (c4 + r * (c5 + r * (c6 + r * c7))))))
                            pow2[j] = (np.int32(nf) + np.int32(127)) << np.int32(23)
                        for j in range(uwo):
                            e = poly[j] * pow2f[j]
                            e = inf if -acc[ab + j] > hi_exp else e
                            poly[j] = e
                    else:
                        for j in range(uwo):
                            poly[j] = np.exp(-acc[ab + j])
                    if act == 4:
                        for j in range(uwo):
                            of[base + j] = acc[ab + j] / (one + poly[j])
                    else:
                        for j in range(uwo):
                            of[base + j] = one / (one + poly[j])
                else:  # Tanh
                    for j in range(uwo):
                        of[base + j] = np.tanh(acc[ab + j])
