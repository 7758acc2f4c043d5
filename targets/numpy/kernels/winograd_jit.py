"""Compiled Winograd F(2x2, 3x3) transforms (numba, see :mod:`targets.numpy.kernels.jit`).

The prepared ``winograd`` convolution (:mod:`targets.numpy.kernels.conv2d`) multiplies 16 transformed
weight matrices ``U`` (M, C) by the 16 transformed input planes ``V`` (C, tiles) in one batched GEMM:
2.25x fewer multiply-adds than the direct convolution's GEMM, and the 16 GEMMs (K = C) run about as
fast per multiply-add as the direct one (measured: 2.0-2.2x less GEMM time from 16 to 128 channels).
The numpy transforms take a dozen memory-bound passes each; these loops take one:

* :func:`winograd_input`: x (C, H, W) -> V (16, C, th * tw). Per channel the plane is copied into a
  small zero-bordered buffer split into its even and odd columns, so every ``B^T d B`` term of a row of
  tiles is a sum of contiguous column slices (the loops over tiles vectorize).
* :func:`winograd_output`: P (16, M, th * tw) -> out (M, Ho, Wo): ``A^T m A`` per tile, the bias, and a
  Relu or Clip in the same pass (other activations: the caller's epilogue).

Plans validate shapes and contiguity before calling: the loops run without bounds checks. Indices of
the inner loops are unsigned (numba's wraparound of a negative signed index blocks vectorization).
"""

from __future__ import annotations

import numpy as np

from . import jit

__all__ = ["STORE_ACTIVATIONS", "split_size", "winograd_input", "winograd_output"]

#: activations :func:`winograd_output` applies while storing (name -> code; 0 is none)
STORE_ACTIVATIONS: dict[str, int] = {"Relu": 1, "Clip": 2}


def split_size(out_hw: tuple[int, int]) -> int:
    """Elements of :func:`winograd_input`'s ``split`` buffer for an (Ho, Wo) output: the padded plane's
    2 * th + 2 rows, each as its even and odd columns (tw + 1 each)."""
    th, tw = -(-out_hw[0] // 2), -(-out_hw[1] // 2)
    return 2 * (2 * th + 2) * (tw + 1)


@jit.compiled
def winograd_input(x, v, split, th, tw, top, left):  # pragma: no cover - numba compiles it
    """``B^T d B`` of every 4x4 input tile: x (C, H, W) -> v (16, C, th * tw), both C-contiguous.

    Tile (ty, tx) reads padded rows 2 ty .. 2 ty + 3 and columns 2 tx .. 2 tx + 3; padded (r, q) is
    x[r - top, q - left], zero outside x. ``split``: :func:`split_size` elements of x's dtype (zeroed here).
    """
    chans, h, wd = x.shape
    hp = 2 * th + 2
    wq = tw + 1
    plane = hp * wq  # one column parity: hp rows of wq columns
    for i in range(2 * plane):
        split[i] = 0
    xf = x.reshape(-1)
    vf = v.reshape(-1)
    ntiles = th * tw
    utw = np.uint64(tw)
    rows = min(h, hp - top)  # input rows inside the padded window
    # per column parity: the first split column whose input column lies in x, and how many do
    jlo = np.empty(2, np.int64)
    jn = np.empty(2, np.int64)
    for par in range(2):
        lo = (left - par + 1) // 2 if left > par else 0  # 2 j + par - left >= 0
        hi = min(wq, (wd - par + left + 1) // 2)  # 2 j + par - left < wd
        jlo[par] = lo
        jn[par] = max(0, hi - lo)
    for c in range(chans):
        for iy in range(rows):
            src = c * h * wd + iy * wd
            for par in range(2):
                dst = np.uint64(par * plane + (iy + top) * wq + jlo[par])
                s0 = np.uint64(src + 2 * jlo[par] + par - left)
                for k in range(np.uint64(jn[par])):
                    split[dst + k] = xf[s0 + k + k]
        for ty in range(th):
            r0 = np.uint64(2 * ty * wq)
            r1, r2, r3 = r0 + np.uint64(wq), r0 + np.uint64(2 * wq), r0 + np.uint64(3 * wq)
            e, o, u1 = np.uint64(0), np.uint64(plane), np.uint64(1)  # even, odd column planes
            base = np.uint64(c * ntiles + ty * tw)
            for i in range(4):
                # row combination t_i of B^T d: rows (a + sa * b) with (a, b, sign) per i
                if i == 0:
                    ra, rb, sgn = r0, r2, -1.0
                elif i == 1:
                    ra, rb, sgn = r1, r2, 1.0
                elif i == 2:
                    ra, rb, sgn = r2, r1, -1.0
                else:
                    ra, rb, sgn = r1, r3, -1.0
                out0 = np.uint64((4 * i) * chans * ntiles) + base
                step = np.uint64(chans * ntiles)
                out1 = out0 + step
                out2 = out1 + step
                out3 = out2 + step
                if sgn > 0:
                    for k in range(utw):
                        e0 = split[e + ra + k] + split[e + rb + k]
                        e1 = split[e + ra + k + u1] + split[e + rb + k + u1]
                        o0 = split[o + ra + k] + split[o + rb + k]
                        o1 = split[o + ra + k + u1] + split[o + rb + k + u1]
                        vf[out0 + k] = e0 - e1
                        vf[out1 + k] = o0 + e1
                        vf[out2 + k] = e1 - o0
                        vf[out3 + k] = o0 - o1
                else:
                    for k in range(utw):
                        e0 = split[e + ra + k] - split[e + rb + k]
                        e1 = split[e + ra + k + u1] - split[e + rb + k + u1]
                        o0 = split[o + ra + k] - split[o + rb + k]
                        o1 = split[o + ra + k + u1] - split[o + rb + k + u1]
                        vf[out0 + k] = e0 - e1
                        vf[out1 + k] = o0 + e1
                        vf[out2 + k] = e1 - o0
                        vf[out3 + k] = o0 - o1


@jit.compiled
def winograd_output(p, bias, out, rowbuf, th, tw, act, params):  # pragma: no cover - numba compiles it
    """``A^T m A`` of every tile plus the bias: p (16, M, th * tw) -> out (M, Ho, Wo), both C-contiguous.

    ``bias``: (M,) in out's dtype (zeros when the node has none); ``rowbuf``: at least 4 * tw elements
    (two output rows of 2 * tw); ``act``: :data:`STORE_ACTIVATIONS` code or 0; ``params``: out's dtype,
    Clip's (min, max) and 0.
    """
    m_out, ho, wo = out.shape
    pf = p.reshape(-1)
    of = out.reshape(-1)
    ntiles = th * tw
    utw = np.uint64(tw)
    uwo = np.uint64(wo)
    w2 = np.uint64(2 * tw)
    u1 = np.uint64(1)
    # flat offsets of the 16 transformed products of one tile
    n = m_out * ntiles
    s1, s2, s3, s4, s5 = np.uint64(n), np.uint64(2 * n), np.uint64(3 * n), np.uint64(4 * n), np.uint64(5 * n)
    s6, s7, s8, s9, s10 = np.uint64(6 * n), np.uint64(7 * n), np.uint64(8 * n), np.uint64(9 * n), np.uint64(10 * n)
    s11, s12, s13 = np.uint64(11 * n), np.uint64(12 * n), np.uint64(13 * n)
    s14, s15 = np.uint64(14 * n), np.uint64(15 * n)
    lo, hi, zero = params[0], params[1], params[2]
    for m in range(m_out):
        b = bias[m]
        for ty in range(th):
            base = np.uint64(m * ntiles + ty * tw)
            for k in range(utw):
                q = base + k
                # s0_j = m0j + m1j + m2j, s1_j = m1j - m2j - m3j (rows of A^T m), then the columns
                a0 = pf[q] + pf[q + s4] + pf[q + s8]
                a1 = pf[q + s1] + pf[q + s5] + pf[q + s9]
                a2 = pf[q + s2] + pf[q + s6] + pf[q + s10]
                a3 = pf[q + s3] + pf[q + s7] + pf[q + s11]
                c0 = pf[q + s4] - pf[q + s8] - pf[q + s12]
                c1 = pf[q + s5] - pf[q + s9] - pf[q + s13]
                c2 = pf[q + s6] - pf[q + s10] - pf[q + s14]
                c3 = pf[q + s7] - pf[q + s11] - pf[q + s15]
                rowbuf[k + k] = a0 + a1 + a2 + b
                rowbuf[k + k + u1] = a1 - a2 - a3 + b
                rowbuf[w2 + k + k] = c0 + c1 + c2 + b
                rowbuf[w2 + k + k + u1] = c1 - c2 - c3 + b
            for r in range(2):
                oy = 2 * ty + r
                if oy >= ho:
                    break
                dst = np.uint64((m * ho + oy) * wo)
                src = np.uint64(r) * w2
                if act == 0:
                    for j in range(uwo):
                        of[dst + j] = rowbuf[src + j]
                elif act == 1:  # Relu (NaN stays NaN, as np.maximum)
                    for j in range(uwo):
                        val = rowbuf[src + j]
                        of[dst + j] = zero if val < zero else val
                else:  # Clip(lo, hi), NaN kept
                    for j in range(uwo):
                        val = rowbuf[src + j]
                        val = lo if val < lo else val
                        of[dst + j] = hi if val > hi else val
