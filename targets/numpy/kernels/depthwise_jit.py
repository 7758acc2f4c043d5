"""Compiled depthwise convolutions (group = channels = output channels) with their whole epilogue.

:func:`depthwise_conv` (the plane loop, any float dtype and stride): per channel, the input plane is
copied into a small zero-padded buffer (at stride 2 split into its row and column phases), so every
tap reads contiguous memory with no border cases (clipping the border taps per output row instead
costs a dozen tiny loops per row, which dominate on 7x7 and 14x14 maps). The output plane is
computed over the buffer's row width (a few wasted columns per row): each kernel row is one loop
over the whole plane (bias first), then the residual ``z`` and the activation run over the plane and
the store crops the wasted columns.

:func:`depthwise_blocked` (float32, strides 1 and 2, small maps) runs over blocks of
:data:`LANES` channels: per block, the input planes are packed into one zero-padded
(rows, cols, LANES) buffer (at stride 2 split into its four row/column phases), so an output pixel's
LANES channels are ``kh * kw`` multiply-adds over contiguous LANES-float vectors (the weights are
prepacked as (blocks, kh, kw, LANES)), with no wasted columns and no per-row remainders. Bias, the
residual and the activation run over the block, then the store unpacks it into the NCHW output.
On 7x7 outputs this beats the plane loop, whose rows of 7 elements run mostly in vector
remainders; 14x14 outputs of 3x3 kernels are even, and with 5x5 kernels or larger maps the plane
loop wins (the pack and unpack transposes cost more than they save):
:mod:`targets.numpy.kernels.conv2d` picks per shape (``DW_BLOCKED_MAX_PIXELS``,
``DW_BLOCKED_SMALL_KERNEL_MAX_PIXELS``; see docs/performance.md).

SiLU and Sigmoid use :mod:`targets.numpy.kernels.epilogue_jit`'s (float32: a vectorizable exp).
Indices are unsigned (``np.uint64``) in the inner loops: numba's negative-index wraparound on a
signed index would keep LLVM from vectorizing. This module imports numba: import it only after
:func:`targets.numpy.kernels.jit.available`. Plans validate shapes before calling: the loops run
without bounds checks.
"""

from __future__ import annotations

import numpy as np

from . import jit
from .epilogue_jit import activate_span

__all__ = ["LANES", "block_buffer_sizes", "depthwise_blocked", "depthwise_conv", "pack_weights", "padded_size",
           "row_buffer_size"]

#: channels per block (one AVX-512 vector of float32)
LANES = 16
_UL = np.uint64(LANES)  # a compile-time constant in the kernel: its lane loops unroll fully


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
            activate_span(acc, np.uint64(0), un, act, p0, p1)
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



def _phase_layout(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
                  strides: tuple[int, int], dilations: tuple[int, int], top: int, left: int) -> tuple[int, int]:
    """(rows, cols) of one stride phase of the zero-padded plane (every tap's reach)."""
    (h, w), (ho, wo) = x_shape[2:], out_shape[2:]
    hp = max(h + top, (ho - 1) * strides[0] + (kernel[0] - 1) * dilations[0] + 1)
    wp = max(w + left, (wo - 1) * strides[1] + (kernel[1] - 1) * dilations[1] + 1)
    return -(-hp // strides[0]), -(-wp // strides[1])


def block_buffer_sizes(x_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
                       strides: tuple[int, int], dilations: tuple[int, int], top: int, left: int) -> tuple[int, int]:
    """Elements of :func:`depthwise_blocked`'s ``padded`` buffer (one block's padded phases) and of its
    ``acc`` buffer (one block's output pixels)."""
    hq, wq = _phase_layout(x_shape, out_shape, kernel, strides, dilations, top, left)
    return strides[0] * strides[1] * hq * wq * LANES + LANES, out_shape[2] * out_shape[3] * LANES + LANES


def pack_weights(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, KH, KW) weights and (C,) bias -> (blocks, KH, KW, LANES) and (blocks * LANES,), zero tail lanes."""
    c, kh, kw = w.shape
    blocks = -(-c // LANES)
    wb = np.zeros((blocks * LANES, kh, kw), w.dtype)
    wb[:c] = w
    bb = np.zeros(blocks * LANES, w.dtype)
    bb[:c] = b
    buf = np.empty(wb.size + LANES, w.dtype)  # 64-byte aligned, as the kernel's buffers
    start = (-buf.ctypes.data % 64) // buf.itemsize
    packed = buf[start:start + wb.size].reshape(blocks, kh, kw, LANES)
    packed[...] = wb.reshape(blocks, LANES, kh, kw).transpose(0, 2, 3, 1)
    return packed, bb


@jit.compiled
def depthwise_blocked(x, wb, bb, z, out, acc, padded, geometry, act, params):  # pragma: no cover - numba compiles it
    """Depthwise convolution of float32 ``x`` (N, C, H, W) into ``out`` (N, C, Ho, Wo), both C-contiguous.

    ``wb``, ``bb``: :func:`pack_weights`; ``z``: the residual (``out``'s shape), added when ``geometry[6]``
    is 1; ``acc``, ``padded``: buffers of :func:`block_buffer_sizes` elements (used from their first
    64-byte boundary: unaligned 16-float loads cost 15-20% more); ``geometry``: int64
    (stride h, stride w (1 or 2), dilation h, dilation w, pad top, pad left, has z); ``act``:
    :data:`targets.numpy.kernels.conv_jit.ACTIVATION_CODES` value or 0; ``params``: float32 (the two
    activation parameters, 0, 1).
    """
    n_img, chans, h, wd = x.shape
    ho, wo = out.shape[2], out.shape[3]
    blocks, kh, kw = wb.shape[0], wb.shape[1], wb.shape[2]
    sh, sw, dh, dw, top, left, has_z = (geometry[0], geometry[1], geometry[2], geometry[3], geometry[4],
                                        geometry[5], geometry[6])
    xf = x.reshape(-1)
    of = out.reshape(-1)
    zf = z.reshape(-1)
    wf = wb.reshape(-1)
    p0, p1, zero, one = params[0], params[1], params[2], params[3]
    acc = acc[(64 - acc.ctypes.data % 64) % 64 // acc.itemsize:]
    padded = padded[(64 - padded.ctypes.data % 64) % 64 // padded.itemsize:]
    lanes = LANES
    ul = _UL
    hp = max(h + top, (ho - 1) * sh + (kh - 1) * dh + 1)
    wp = max(wd + left, (wo - 1) * sw + (kw - 1) * dw + 1)
    hq = (hp + sh - 1) // sh
    wq = (wp + sw - 1) // sw
    phase_len = hq * wq
    npix = ho * wo
    # borders stay zero: every block writes the same interior positions (a tail block's unused lanes keep
    # the previous block's values; their weights are zero and they are never stored)
    for i in range(padded.size):
        padded[i] = zero
    # tap (ki, kj) of output (oy, ox) is pixel (oy * wq + ox) * lanes + tap[ki, kj] of the phased buffer
    tap = np.empty((kh, kw), np.uint64)
    for ki in range(kh):
        for kj in range(kw):
            r, q = ki * dh, kj * dw
            tap[ki, kj] = np.uint64((((r % sh) * sw + q % sw) * phase_len + (r // sh) * wq + q // sw) * lanes)
    # per input column: its flat pixel offset in the phased buffer (row part added per row)
    col_off = np.empty(wd, np.uint64)
    for ix in range(wd):
        pc = ix + left
        col_off[ix] = np.uint64(((pc % sw) * phase_len + pc // sw) * lanes)
    for img in range(n_img):
        for blk in range(blocks):
            c0 = blk * lanes
            nl = min(lanes, chans - c0)
            # pack: the block's planes into (phase, rows, cols, lanes)
            hw = np.uint64(h * wd)
            for iy in range(h):
                pr = iy + top
                rbase = np.uint64((((pr % sh) * sw) * phase_len + (pr // sh) * wq) * lanes)
                if nl == lanes:  # pixel by pixel: 16 strided loads, one contiguous store (faster)
                    src = np.uint64(((img * chans + c0) * h + iy) * wd)
                    for ix in range(np.uint64(wd)):
                        d = rbase + col_off[ix]
                        s = src + ix
                        for l in range(ul):
                            padded[d + l] = xf[s + l * hw]
                else:
                    for l in range(nl):
                        src = np.uint64(((img * chans + c0 + l) * h + iy) * wd)
                        ul_ = np.uint64(l)
                        for ix in range(np.uint64(wd)):
                            padded[rbase + col_off[ix] + ul_] = xf[src + ix]
            wblk = blk * kh * kw * lanes
            uc0 = np.uint64(c0)
            uw = np.uint64(wblk)
            if kh == 3 and kw == 3:  # per pixel the whole kernel, bias included
                t0, t1, t2, t3, t4, t5, t6, t7, t8 = (
                    tap[0, 0], tap[0, 1], tap[0, 2], tap[1, 0], tap[1, 1], tap[1, 2],
                    tap[2, 0], tap[2, 1], tap[2, 2])
                for oy in range(ho):
                    arow = np.uint64(oy * wo * lanes)
                    prow = np.uint64(oy * wq * lanes)
                    for ox in range(np.uint64(wo)):
                        a = arow + ox * ul
                        q = prow + ox * ul
                        for l in range(ul):
                            wl = uw + l
                            w0, w1 = wf[wl + np.uint64(0)], wf[wl + np.uint64(16)]
                            w2, w3 = wf[wl + np.uint64(32)], wf[wl + np.uint64(48)]
                            w4, w5 = wf[wl + np.uint64(64)], wf[wl + np.uint64(80)]
                            w6, w7 = wf[wl + np.uint64(96)], wf[wl + np.uint64(112)]
                            w8 = wf[wl + np.uint64(128)]
                            acc[a + l] = (bb[uc0 + l]
                                          + w0 * padded[q + t0 + l]
                                          + w1 * padded[q + t1 + l]
                                          + w2 * padded[q + t2 + l]
                                          + w3 * padded[q + t3 + l]
                                          + w4 * padded[q + t4 + l]
                                          + w5 * padded[q + t5 + l]
                                          + w6 * padded[q + t6 + l]
                                          + w7 * padded[q + t7 + l]
                                          + w8 * padded[q + t8 + l])
            elif kh == 5 and kw == 5:  # per pixel the whole kernel, bias included
                (t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12,
                 t13, t14, t15, t16, t17, t18, t19, t20, t21, t22, t23, t24) = (
                    tap[0, 0], tap[0, 1], tap[0, 2], tap[0, 3], tap[0, 4], tap[1, 0],
                    tap[1, 1], tap[1, 2], tap[1, 3], tap[1, 4], tap[2, 0], tap[2, 1],
                    tap[2, 2], tap[2, 3], tap[2, 4], tap[3, 0], tap[3, 1], tap[3, 2],
                    tap[3, 3], tap[3, 4], tap[4, 0], tap[4, 1], tap[4, 2], tap[4, 3],
                    tap[4, 4])
                for oy in range(ho):
                    arow = np.uint64(oy * wo * lanes)
                    prow = np.uint64(oy * wq * lanes)
                    for ox in range(np.uint64(wo)):
                        a = arow + ox * ul
                        q = prow + ox * ul
                        for l in range(ul):
                            wl = uw + l
                            w0, w1 = wf[wl + np.uint64(0)], wf[wl + np.uint64(16)]
                            w2, w3 = wf[wl + np.uint64(32)], wf[wl + np.uint64(48)]
                            w4, w5 = wf[wl + np.uint64(64)], wf[wl + np.uint64(80)]
                            w6, w7 = wf[wl + np.uint64(96)], wf[wl + np.uint64(112)]
                            w8, w9 = wf[wl + np.uint64(128)], wf[wl + np.uint64(144)]
                            w10, w11 = wf[wl + np.uint64(160)], wf[wl + np.uint64(176)]
                            w12, w13 = wf[wl + np.uint64(192)], wf[wl + np.uint64(208)]
                            w14, w15 = wf[wl + np.uint64(224)], wf[wl + np.uint64(240)]
                            w16, w17 = wf[wl + np.uint64(256)], wf[wl + np.uint64(272)]
                            w18, w19 = wf[wl + np.uint64(288)], wf[wl + np.uint64(304)]
                            w20, w21 = wf[wl + np.uint64(320)], wf[wl + np.uint64(336)]
                            w22, w23 = wf[wl + np.uint64(352)], wf[wl + np.uint64(368)]
                            w24 = wf[wl + np.uint64(384)]
                            acc[a + l] = (bb[uc0 + l]
                                          + w0 * padded[q + t0 + l]
                                          + w1 * padded[q + t1 + l]
                                          + w2 * padded[q + t2 + l]
                                          + w3 * padded[q + t3 + l]
                                          + w4 * padded[q + t4 + l]
                                          + w5 * padded[q + t5 + l]
                                          + w6 * padded[q + t6 + l]
                                          + w7 * padded[q + t7 + l]
                                          + w8 * padded[q + t8 + l]
                                          + w9 * padded[q + t9 + l]
                                          + w10 * padded[q + t10 + l]
                                          + w11 * padded[q + t11 + l]
                                          + w12 * padded[q + t12 + l]
                                          + w13 * padded[q + t13 + l]
                                          + w14 * padded[q + t14 + l]
                                          + w15 * padded[q + t15 + l]
                                          + w16 * padded[q + t16 + l]
                                          + w17 * padded[q + t17 + l]
                                          + w18 * padded[q + t18 + l]
                                          + w19 * padded[q + t19 + l]
                                          + w20 * padded[q + t20 + l]
                                          + w21 * padded[q + t21 + l]
                                          + w22 * padded[q + t22 + l]
                                          + w23 * padded[q + t23 + l]
                                          + w24 * padded[q + t24 + l])
            else:  # other kernels: per tap, accumulating in acc
                for p in range(np.uint64(npix)):  # bias first
                    for l in range(ul):
                        acc[p * ul + l] = bb[uc0 + l]
                for oy in range(ho):
                    arow = np.uint64(oy * wo * lanes)
                    prow = np.uint64(oy * wq * lanes)
                    for ki in range(kh):
                        wr = np.uint64(wblk + ki * kw * lanes)
                        for kj in range(kw):
                            s0 = prow + tap[ki, kj]
                            wk = wr + np.uint64(kj * lanes)
                            for ox in range(np.uint64(wo)):
                                a = arow + ox * ul
                                q = ox * ul
                                for l in range(ul):
                                    acc[a + l] += wf[wk + l] * padded[s0 + q + l]
            obase = (img * chans + c0) * npix
            if has_z:
                for l in range(nl):
                    zb = np.uint64(obase + l * npix)
                    ul_ = np.uint64(l)
                    for p in range(np.uint64(npix)):
                        acc[p * ul + ul_] += zf[zb + p]
            un = np.uint64(npix * lanes)
            activate_span(acc, np.uint64(0), un, act, p0, p1)
            unpix = np.uint64(npix)
            if nl == lanes:  # unpack into the block's NCHW planes, pixel by pixel
                ob = np.uint64(obase)
                for p in range(unpix):
                    for l in range(ul):
                        of[ob + l * unpix + p] = acc[p * ul + l]
            else:  # the tail block: its valid lanes
                for l in range(nl):
                    ob = np.uint64(obase + l * npix)
                    ul_ = np.uint64(l)
                    for p in range(unpix):
                        of[ob + p] = acc[p * ul + ul_]
