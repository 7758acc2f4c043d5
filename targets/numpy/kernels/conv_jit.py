"""Compiled convolution loops (numba, see :mod:`targets.numpy.kernels.jit`): depthwise and small convolutions.

:func:`depthwise_conv` runs a depthwise convolution (group = channels = output channels) with its
whole epilogue: per channel, the input plane is copied into a small zero-padded buffer (at stride 2
split into its row and column phases), so every tap reads contiguous memory with no border cases
(clipping the border taps per output row instead costs a dozen tiny loops per row, which dominate on
7x7 and 14x14 maps). The output plane is computed over the buffer's row width (a few wasted
columns per row): each kernel row is one loop over the whole plane (bias first), then the residual
``z`` and the activation run over the plane and the store crops the wasted columns. Plans (:mod:`targets.numpy.kernels.conv2d`) validate shapes and
contiguity before calling: the loops run without bounds checks.

Indices are unsigned (``np.uint64``) in the inner loops: numba's negative-index wraparound on a
signed index such as ``row + j`` would keep LLVM from vectorizing the loop.
"""

from __future__ import annotations

import numpy as np

from . import jit

__all__ = ["ACTIVATION_CODES", "activation_code", "depthwise_conv", "padded_size", "row_buffer_size", "small_conv"]

#: FusedConv activations the compiled epilogue applies (name -> code; params as in epilogue.py)
ACTIVATION_CODES: dict[str, int] = {
    "Relu": 1, "Clip": 2, "LeakyRelu": 3, "SiLU": 4, "HardSwish": 5, "HardSigmoid": 6, "Sigmoid": 7, "Tanh": 8,
}


def activation_code(activation: tuple[str, list[float]] | None) -> int:
    """The epilogue code of ``activation`` (0: none), or -1 when the compiled epilogue lacks it."""
    if activation is None:
        return 0
    return ACTIVATION_CODES.get(activation[0], -1)


def _layout(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
            strides: tuple[int, int], dilations: tuple[int, int], top: int, left: int) -> tuple[int, ...]:
    """(row phases, column phases, phase rows, phase cols, row pitch of ``acc``) of the padded plane."""
    (h, w), (ho, wo) = x_shape[2:], out_shape[2:]
    hp = max(h + top, (ho - 1) * strides[0] + (kernel[0] - 1) * dilations[0] + 1)
    wp = max(w + left, (wo - 1) * strides[1] + (kernel[1] - 1) * dilations[1] + 1)
    phased = max(strides) <= 2
    ph, pw = (strides[0], strides[1]) if phased else (1, 1)
    wq = -(-wp // pw)
    return ph, pw, -(-hp // ph), wq, wq if phased else wo


def padded_size(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
                strides: tuple[int, int], dilations: tuple[int, int], top: int, left: int) -> int:
    """Elements of :func:`depthwise_conv`'s ``padded`` buffer: one zero-padded input plane up to the last
    tap's reach, at stride 2 split into its row and column phases, plus one phase row of slack (the
    wasted columns of the last output row read past the plane)."""
    ph, pw, hq, wq, _ = _layout(x_shape, out_shape, kernel, strides, dilations, top, left)
    return ph * pw * hq * wq + wq + kernel[1] * dilations[1]


def row_buffer_size(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
                    strides: tuple[int, int], dilations: tuple[int, int], left: int) -> int:
    """Elements of :func:`depthwise_conv`'s ``acc`` buffer: one output plane, rows at the padded phase
    width (strides up to 2) or at the output width."""
    top = 0  # the row pitch does not depend on it
    return out_shape[2] * _layout(x_shape, out_shape, kernel, strides, dilations, top, left)[4]


@jit.compiled
def depthwise_conv(x, w, b, z, out, acc, padded, geometry, act, params):  # pragma: no cover - numba compiles it
    """Depthwise convolution of ``x`` (N, C, H, W) into ``out`` (N, C, Ho, Wo), both C-contiguous.

    ``w``: (C, KH, KW) weights; ``b``: (C,) bias (zeros when the node has none); ``z``: the residual
    (``out``'s shape), added when ``geometry[6]`` is 1; ``acc``: a buffer of at least
    :func:`row_buffer_size` elements; ``padded``: a buffer of at least :func:`padded_size` elements;
    ``geometry``: int64 (stride h, stride w, dilation h, dilation w, pad top, pad left, has z); ``act``:
    :data:`ACTIVATION_CODES` value or 0; ``params``: x's dtype: the two activation parameters, 0 and 1.
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
    # the padded plane, at strides up to 2 split into its stride phases: then output (oy, ox) at flat
    # o = oy * wq + ox reads tap (ki, kj) at o + tap[ki, kj] (a few wasted columns per row); larger
    # strides read whole padded rows with steps sh, sw
    hp = max(h + top, (ho - 1) * sh + (kh - 1) * dh + 1)
    wp = max(wd + left, (wo - 1) * sw + (kw - 1) * dw + 1)
    phased = sh <= 2 and sw <= 2
    ph = sh if phased else 1
    pw = sw if phased else 1
    hq = (hp + ph - 1) // ph
    wq = (wp + pw - 1) // pw
    phase_len = hq * wq
    pitch = wq if phased else wo  # row pitch of the output plane in acc
    n = ho * pitch
    un = np.uint64(n)
    for i in range(padded.size):
        padded[i] = zero
    tap = np.empty((kh, kw), np.uint64)
    for ki in range(kh):
        for kj in range(kw):
            r, q = ki * dh, kj * dw
            tap[ki, kj] = np.uint64(((r % ph) * pw + q % pw) * phase_len + (r // ph) * wq + q // pw)
    # exp for SiLU and Sigmoid (float32: the vectorized form below; float64: np.exp)
    fast_exp = acc.itemsize == 4
    poly = np.empty(n, acc.dtype)
    pow2 = np.empty(n, np.int32)
    pow2f = pow2.view(np.float32)
    lo_exp, hi_exp = acc.dtype.type(-87.0), acc.dtype.type(88.0)
    log2e, half_one = acc.dtype.type(1.4426950408889634), acc.dtype.type(0.5)
    ln2_hi = acc.dtype.type(0.693145751953125)  # ln 2 in 16 bits: nf * ln2_hi is exact
    ln2_lo = acc.dtype.type(1.4286068202862268e-06)  # ln 2 - ln2_hi
    c2, c3, c4 = acc.dtype.type(1 / 2), acc.dtype.type(1 / 6), acc.dtype.type(1 / 24)
    c5, c6, c7 = acc.dtype.type(1 / 120), acc.dtype.type(1 / 720), acc.dtype.type(1 / 5040)
    inf = acc.dtype.type(np.inf)
    uwo = np.uint64(wo)
    upitch = np.uint64(pitch)
    for img in range(n_img):
        for c in range(chans):
            plane = (img * chans + c) * h * wd
            for iy in range(h):  # the plane into the padded buffer's interior (its phases)
                src = np.uint64(plane + iy * wd)
                pr = iy + top
                row = ((pr % ph) * pw) * phase_len + (pr // ph) * wq
                if pw == 1:
                    dst = np.uint64(row + left)
                    for k in range(np.uint64(wd)):
                        padded[dst + k] = xf[src + k]
                else:  # input column ix is padded column ix + left: phase (ix + left) % 2
                    d0 = np.uint64(row + (left % 2) * phase_len + left // 2)  # even input columns
                    d1 = np.uint64(row + ((left + 1) % 2) * phase_len + (left + 1) // 2)  # odd ones
                    for k in range(np.uint64(wd // 2)):  # both members of each pair: shuffles, no gathers
                        padded[d0 + k] = xf[src + k + k]
                        padded[d1 + k] = xf[src + k + k + np.uint64(1)]
                    if wd % 2:
                        padded[d0 + np.uint64(wd // 2)] = xf[src + np.uint64(wd - 1)]
            bias = b[c]
            for j in range(un):
                acc[j] = bias
            wbase = c * kh * kw
            if phased:  # each kernel row in one pass over the plane's flat (phase) rows
                for ki in range(kh):
                    wrow = wbase + ki * kw
                    if kw == 3:
                        w0, w1, w2 = wf[wrow], wf[wrow + 1], wf[wrow + 2]
                        s0, s1, s2 = tap[ki, 0], tap[ki, 1], tap[ki, 2]
                        for j in range(un):
                            acc[j] += w0 * padded[s0 + j] + w1 * padded[s1 + j] + w2 * padded[s2 + j]
                    elif kw == 5:
                        w0, w1, w2, w3, w4 = wf[wrow], wf[wrow + 1], wf[wrow + 2], wf[wrow + 3], wf[wrow + 4]
                        s0, s1, s2, s3, s4 = tap[ki, 0], tap[ki, 1], tap[ki, 2], tap[ki, 3], tap[ki, 4]
                        for j in range(un):
                            acc[j] += (w0 * padded[s0 + j] + w1 * padded[s1 + j] + w2 * padded[s2 + j]
                                       + w3 * padded[s3 + j] + w4 * padded[s4 + j])
                    else:
                        for kj in range(kw):
                            wv = wf[wrow + kj]
                            s0 = tap[ki, kj]
                            for j in range(un):
                                acc[j] += wv * padded[s0 + j]
            else:  # strides above 2: per output row, taps read with column step sw
                usw = np.uint64(sw)
                for oy in range(ho):
                    ab = np.uint64(oy * wo)
                    for ki in range(kh):
                        row = np.uint64((oy * sh) * wq)
                        for kj in range(kw):
                            wv = wf[wbase + ki * kw + kj]
                            s0 = row + tap[ki, kj]
                            for j in range(uwo):
                                acc[ab + j] += wv * padded[s0 + j * usw]
            obase = (img * chans + c) * ho * wo
            if has_z:
                for oy in range(ho):
                    ab = np.uint64(oy * pitch)
                    zb = np.uint64(obase + oy * wo)
                    for j in range(uwo):
                        acc[ab + j] += zf[zb + j]
            # the activation in place over the plane (wasted columns included), then the store
            if act == 1:  # Relu (NaN stays NaN, as np.maximum)
                for j in range(un):
                    v = acc[j]
                    acc[j] = zero if v < zero else v
            elif act == 2:  # Clip(p0, p1)
                for j in range(un):
                    v = acc[j]
                    v = p0 if v < p0 else v
                    acc[j] = p1 if v > p1 else v
            elif act == 3:  # LeakyRelu(alpha = p0)
                for j in range(un):
                    v = acc[j]
                    acc[j] = v * p0 if v < zero else v
            elif act == 4 or act == 7:  # SiLU x * sigmoid(x), Sigmoid: e = exp(-x) first
                if fast_exp:
                    # exp(t) = 2^n exp(r), t = n ln2 + r, |r| <= ln2 / 2: a degree-7 Taylor polynomial for
                    # exp(r) (error below float32 rounding) and 2^n from its bits; every step vectorizes
                    # (np.exp is a scalar libm call). t > 88 (exp overflows) is inf.
                    for j in range(un):
                        t = -acc[j]
                        t = lo_exp if t < lo_exp else t
                        t = hi_exp if t > hi_exp else t
                        nf = np.floor(t * log2e + half_one)
                        nf = nf if nf == nf else zero  # NaN: its polynomial is NaN anyway
                        r = (t - nf * ln2_hi) - nf * ln2_lo
                        poly[j] = one + r * (one + r * (c2 + r * (c3 + r * (c4 + r * (c5 + r * (c6 + r * c7))))))
                        pow2[j] = (np.int32(nf) + np.int32(127)) << np.int32(23)
                    for j in range(un):
                        v = acc[j]
                        e = poly[j] * pow2f[j]
                        e = inf if -v > hi_exp else e
                        acc[j] = (v if act == 4 else one) / (one + e)
                else:
                    for j in range(un):
                        v = acc[j]
                        acc[j] = (v if act == 4 else one) / (one + np.exp(-v))
            elif act == 5:  # HardSwish: x * clip(p0 x + p1, 0, 1)
                for j in range(un):
                    v = acc[j]
                    t = v * p0 + p1
                    t = zero if t < zero else t
                    t = one if t > one else t
                    acc[j] = v * t
            elif act == 6:  # HardSigmoid: clip(p0 x + p1, 0, 1)
                for j in range(un):
                    t = acc[j] * p0 + p1
                    t = zero if t < zero else t
                    acc[j] = one if t > one else t
            elif act == 8:  # Tanh
                for j in range(un):
                    acc[j] = np.tanh(acc[j])
            if pitch == wo:
                ub = np.uint64(obase)
                for j in range(un):
                    of[ub + j] = acc[j]
            else:
                for oy in range(ho):
                    ab = np.uint64(oy * pitch)
                    ob = np.uint64(obase + oy * wo)
                    for j in range(uwo):
                        of[ob + j] = acc[ab + j]


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
    transposed = npos < 16
    ukk = np.uint64(kk)
    unpos = np.uint64(npos)
    usw = np.uint64(sw)
    uwo = np.uint64(wo)
    for img in range(n_img):
        xb = img * chans * h * wd
        for c in range(chans):
            for ki in range(kh):
                for kj in range(kw):
                    k = (c * kh + ki) * kw + kj
                    for oy in range(ho):
                        iy = oy * sh - top + ki * dh
                        inside = iy >= 0 and iy < h
                        if transposed:
                            for ox in range(wo):
                                ix = ox * sw + kj * dw - left
                                v = zero
                                if inside and ix >= 0 and ix < wd:
                                    v = xf[xb + (c * h + iy) * wd + ix]
                                col[(oy * wo + ox) * kk + k] = v
                            continue
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
