"""Compiled Winograd F(2x2, 3x3) transforms (numba, see :mod:`targets.numpy.kernels.jit`).

The prepared ``winograd`` convolution (:mod:`targets.numpy.kernels.conv2d`) multiplies 16 transformed
weight matrices ``U`` (M, C) by the 16 transformed input planes ``V`` (C, tiles) in one batched GEMM:
2.25x fewer multiply-adds than the direct convolution's GEMM, and the 16 GEMMs (K = C) run about as
fast per multiply-add as the direct one (measured: 2.0-2.2x less GEMM time from 16 to 128 channels).
The numpy transforms take a dozen memory-bound passes each; these loops take one:

* :func:`winograd_input`: x (C, H, W) -> V (16, C, th * tw). Per channel the plane is copied into a
  small zero-bordered buffer as its four (row, column) parity phases, so every ``B^T d B`` term of
  all tiles is a sum of contiguous runs: four vectorized loops over all tiles per channel, four
  output planes each (loops per row of tiles are short: 5-20 tiles; one loop writing all 16 planes
  ran slower than those). The last tile of each row is then redone from the phases' edge columns.
* :func:`winograd_output`: P (16, M, th * tw) -> out (M, Ho, Wo): ``A^T m A`` per tile, the bias,
  and the FusedConv activation (:mod:`targets.numpy.kernels.store_jit`: Relu, Clip, SiLU, HardSwish, ...),
  per channel one loop over all tiles and an interleaving store.

Plans validate shapes and contiguity before calling: the loops run without bounds checks. Indices of
the inner loops are unsigned (numba's wraparound of a negative signed index blocks vectorization).
This module imports numba (through :mod:`targets.numpy.kernels.store_jit`): import it only after
:func:`targets.numpy.kernels.jit.available` said True.
"""

from __future__ import annotations

import numpy as np

from . import gemm_jit, jit
from .epilogue_jit import activate_span

__all__ = ["pack_weights", "plane_stride", "split_size", "winograd_gemm", "winograd_input", "winograd_output"]


def plane_stride(elements: int) -> int:
    """Elements from one transformed plane to the next for planes of ``elements``: rounded up to 4 KiB of
    float32 plus one cache line, so the four planes each transform loop writes at once never map to the
    same L1 sets (at exact 4 KiB multiples, e.g. 64 channels x 20 x 20 tiles, the input transform ran
    1.3x slower)."""
    return -(-elements // 1024) * 1024 + 16


def split_size(out_hw: tuple[int, ...]) -> int:
    """Elements of :func:`winograd_input`'s ``split`` buffer for an (Ho, Wo) output: four parity phases of
    (th + 1) x tw with one element of slack each, and their (th + 1)-element edge columns."""
    th, tw = -(-out_hw[0] // 2), -(-out_hw[1] // 2)
    return 4 * ((th + 1) * tw + 1) + 4 * (th + 1)


@jit.compiled
def winograd_input(x, v, split, th, tw, top, left):  # pragma: no cover - numba compiles it
    """``B^T d B`` of every 4x4 input tile: x (C, H, W) -> v (16, S), both C-contiguous: the first
    C * th * tw elements of each of the 16 planes are its (C, th * tw) matrix (S: :func:`plane_stride`).

    Tile (ty, tx) reads padded rows 2 ty .. 2 ty + 3 and columns 2 tx .. 2 tx + 3 (padded (r, q) is
    x[r - top, q - left], zero outside x). ``split``: :func:`split_size` elements of x's dtype (zeroed
    here): the padded plane's four (row, column) parity phases of (th + 1) x tw, then each phase's
    column tw (its "edge"). Every B^T d B term of all tiles is one contiguous run of a phase, so each of
    the four loops per channel runs over all tiles; the last tile of each row is redone from the edges.
    """
    chans, h, wd = x.shape
    length = th * tw
    plane = (th + 1) * tw + 1  # one parity phase: th + 1 rows of tw columns, one slack element
    edges = 4 * plane  # each phase's column tw (th + 1 values per phase) after the phases
    for i in range(edges + 4 * (th + 1)):
        split[i] = 0
    xf = x.reshape(-1)
    vf = v.reshape(-1)
    # per column parity: split columns [lo, lo + cnt) of a phase row come from x, from column x0 on (step 2);
    # column tw of a phase (its edge) too when it lies in x
    lo0 = (left + 1) // 2
    lo1 = left // 2 if left > 1 else 0
    hi0 = min(tw + 1, (wd + left + 1) // 2)
    hi1 = min(tw + 1, (wd - 1 + left + 1) // 2)
    n0, n1 = max(0, hi0 - lo0), max(0, hi1 - lo1)
    edge0, edge1 = n0 > 0 and lo0 + n0 > tw, n1 > 0 and lo1 + n1 > tw
    c0, c1 = max(0, min(n0, tw - lo0)), max(0, min(n1, tw - lo1))
    x0, x1 = 2 * lo0 - left, 2 * lo1 + 1 - left
    e0c, e1c = 2 * tw - left, 2 * tw + 1 - left
    uc0, uc1 = np.uint64(c0), np.uint64(c1)
    ul = np.uint64(length)
    uw, u1 = np.uint64(tw), np.uint64(1)
    uw1 = uw + u1
    p00, p01, p10, p11 = np.uint64(0), np.uint64(plane), np.uint64(2 * plane), np.uint64(3 * plane)
    n = v.shape[1]  # plane stride (at least chans * length)
    s1, s2, s3, s4, s5 = np.uint64(n), np.uint64(2 * n), np.uint64(3 * n), np.uint64(4 * n), np.uint64(5 * n)
    s6, s7, s8, s9, s10 = np.uint64(6 * n), np.uint64(7 * n), np.uint64(8 * n), np.uint64(9 * n), np.uint64(10 * n)
    s11, s12, s13 = np.uint64(11 * n), np.uint64(12 * n), np.uint64(13 * n)
    s14, s15 = np.uint64(14 * n), np.uint64(15 * n)
    ue, ue2, ue3 = np.uint64(th + 1), np.uint64(2 * (th + 1)), np.uint64(3 * (th + 1))
    for c in range(chans):
        for iy in range(h):
            pr = iy + top  # padded row: phase row pr // 2 of row parity pr % 2
            y = pr // 2
            if y > th:
                break
            a = pr % 2
            src = c * h * wd + iy * wd
            d0 = np.uint64(2 * a * plane + y * tw + lo0)
            r0 = np.uint64(src + x0)
            for k in range(uc0):
                split[d0 + k] = xf[r0 + k + k]
            d1 = np.uint64((2 * a + 1) * plane + y * tw + lo1)
            r1 = np.uint64(src + x1)
            for k in range(uc1):
                split[d1 + k] = xf[r1 + k + k]
            if edge0:
                split[np.uint64(edges + 2 * a * (th + 1) + y)] = xf[np.uint64(src + e0c)]
            if edge1:
                split[np.uint64(edges + (2 * a + 1) * (th + 1) + y)] = xf[np.uint64(src + e1c)]
        q0 = np.uint64(c * length)
        # one loop per row combination t_i of B^T d over all tiles (four store streams each); the last tile
        # of each row reads the next row's first column as its right neighbour: fixed below
        for f in range(ul):  # t_0 = d0 - d2
            e0 = split[p00 + f] - split[p00 + f + uw]
            e1 = split[p00 + f + u1] - split[p00 + f + uw1]
            o0 = split[p01 + f] - split[p01 + f + uw]
            o1 = split[p01 + f + u1] - split[p01 + f + uw1]
            q = q0 + f
            vf[q] = e0 - e1
            vf[q + s1] = o0 + e1
            vf[q + s2] = e1 - o0
            vf[q + s3] = o0 - o1
        for f in range(ul):  # t_1 = d1 + d2
            e0 = split[p10 + f] + split[p00 + f + uw]
            e1 = split[p10 + f + u1] + split[p00 + f + uw1]
            o0 = split[p11 + f] + split[p01 + f + uw]
            o1 = split[p11 + f + u1] + split[p01 + f + uw1]
            q = q0 + f
            vf[q + s4] = e0 - e1
            vf[q + s5] = o0 + e1
            vf[q + s6] = e1 - o0
            vf[q + s7] = o0 - o1
        for f in range(ul):  # t_2 = d2 - d1
            e0 = split[p00 + f + uw] - split[p10 + f]
            e1 = split[p00 + f + uw1] - split[p10 + f + u1]
            o0 = split[p01 + f + uw] - split[p11 + f]
            o1 = split[p01 + f + uw1] - split[p11 + f + u1]
            q = q0 + f
            vf[q + s8] = e0 - e1
            vf[q + s9] = o0 + e1
            vf[q + s10] = e1 - o0
            vf[q + s11] = o0 - o1
        for f in range(ul):  # t_3 = d1 - d3
            e0 = split[p10 + f] - split[p10 + f + uw]
            e1 = split[p10 + f + u1] - split[p10 + f + uw1]
            o0 = split[p11 + f] - split[p11 + f + uw]
            o1 = split[p11 + f + u1] - split[p11 + f + uw1]
            q = q0 + f
            vf[q + s12] = e0 - e1
            vf[q + s13] = o0 + e1
            vf[q + s14] = e1 - o0
            vf[q + s15] = o0 - o1
        for ty in range(th):  # the last tile of each row: its right neighbour column is the phases' edge
            f = np.uint64(ty * tw + tw - 1)
            ea = np.uint64(edges + ty)
            a00, b00 = split[p00 + f], split[p00 + f + uw]  # phase 00 at (ty, tw - 1) and (ty + 1, tw - 1)
            a01, b01 = split[p01 + f], split[p01 + f + uw]
            a10, b10 = split[p10 + f], split[p10 + f + uw]
            a11, b11 = split[p11 + f], split[p11 + f + uw]
            c00, d00 = split[ea], split[ea + u1]  # phase 00 at (ty, tw) and (ty + 1, tw)
            c01, d01 = split[ea + ue], split[ea + ue + u1]
            c10, d10 = split[ea + ue2], split[ea + ue2 + u1]
            c11, d11 = split[ea + ue3], split[ea + ue3 + u1]
            q = q0 + f
            e0, e1, o0, o1 = a00 - b00, c00 - d00, a01 - b01, c01 - d01  # t_0
            vf[q] = e0 - e1
            vf[q + s1] = o0 + e1
            vf[q + s2] = e1 - o0
            vf[q + s3] = o0 - o1
            e0, e1, o0, o1 = a10 + b00, c10 + d00, a11 + b01, c11 + d01  # t_1
            vf[q + s4] = e0 - e1
            vf[q + s5] = o0 + e1
            vf[q + s6] = e1 - o0
            vf[q + s7] = o0 - o1
            e0, e1, o0, o1 = b00 - a10, d00 - c10, b01 - a11, d01 - c11  # t_2
            vf[q + s8] = e0 - e1
            vf[q + s9] = o0 + e1
            vf[q + s10] = e1 - o0
            vf[q + s11] = o0 - o1
            e0, e1, o0, o1 = a10 - b10, c10 - d10, a11 - b11, c11 - d11  # t_3
            vf[q + s12] = e0 - e1
            vf[q + s13] = o0 + e1
            vf[q + s14] = e1 - o0
            vf[q + s15] = o0 - o1


@jit.compiled
def winograd_output(p, bias, out, tiles, th, tw, act, params):  # pragma: no cover - numba compiles it
    """``A^T m A`` of every tile plus the bias: p (16, S) -> out (M, Ho, Wo), both C-contiguous; the first
    M * th * tw elements of each of the 16 planes are its (M, th * tw) matrix (S: :func:`plane_stride`).

    Per output channel, one loop over all tiles writes their 2x2 outputs (bias added, then the activation)
    into four planes of ``tiles`` (at least 4 * th * tw elements), which are then interleaved into the
    output rows (cropping an odd last row or column). ``bias``: (M,) in out's dtype (zeros when the node
    has none); ``act``, ``params``: :func:`targets.numpy.kernels.store_jit.store_activation`'s code (0: none)
    and params.
    """
    m_out, ho, wo = out.shape
    pf = p.reshape(-1)
    of = out.reshape(-1)
    ntiles = th * tw
    ul = np.uint64(ntiles)
    n = p.shape[1]
    s1, s2, s3, s4, s5 = np.uint64(n), np.uint64(2 * n), np.uint64(3 * n), np.uint64(4 * n), np.uint64(5 * n)
    s6, s7, s8, s9, s10 = np.uint64(6 * n), np.uint64(7 * n), np.uint64(8 * n), np.uint64(9 * n), np.uint64(10 * n)
    s11, s12, s13 = np.uint64(11 * n), np.uint64(12 * n), np.uint64(13 * n)
    s14, s15 = np.uint64(14 * n), np.uint64(15 * n)
    t1, t2, t3 = ul, ul + ul, ul + ul + ul
    p0, p1 = params[0], params[1]
    half = wo // 2  # output column pairs of a row; an odd last column comes from y00 / y10 alone
    uh = np.uint64(half)
    odd = wo % 2 == 1
    for m in range(m_out):
        b = bias[m]
        base = np.uint64(m * ntiles)
        for f in range(ul):  # every tile: its 2x2 outputs into four planes of ``tiles``
            q = base + f
            a0 = pf[q] + pf[q + s4] + pf[q + s8]
            a1 = pf[q + s1] + pf[q + s5] + pf[q + s9]
            a2 = pf[q + s2] + pf[q + s6] + pf[q + s10]
            a3 = pf[q + s3] + pf[q + s7] + pf[q + s11]
            c0 = pf[q + s4] - pf[q + s8] - pf[q + s12]
            c1 = pf[q + s5] - pf[q + s9] - pf[q + s13]
            c2 = pf[q + s6] - pf[q + s10] - pf[q + s14]
            c3 = pf[q + s7] - pf[q + s11] - pf[q + s15]
            tiles[f] = a0 + a1 + a2 + b
            tiles[t1 + f] = a1 - a2 - a3 + b
            tiles[t2 + f] = c0 + c1 + c2 + b
            tiles[t3 + f] = c1 - c2 - c3 + b
        if act != 0:
            activate_span(tiles, np.uint64(0), ul + t3, act, p0, p1)
        for ty in range(th):
            for r in range(2):
                oy = 2 * ty + r
                if oy >= ho:
                    break
                dst = np.uint64((m * ho + oy) * wo)
                ev = np.uint64(ty * tw) + (t2 if r == 1 else np.uint64(0))
                ov = ev + t1
                for k in range(uh):
                    of[dst + k + k] = tiles[ev + k]
                    of[dst + k + k + np.uint64(1)] = tiles[ov + k]
                if odd:
                    of[dst + uh + uh] = tiles[ev + uh]


_gemm = gemm_jit.gemm.dispatcher()  # numba's dispatcher (compiled lazily): callable from compiled code


@jit.compiled
def winograd_gemm(up, v, prod, c, m, cols):  # pragma: no cover - numba compiles it
    """The 16 products ``prod[i][:m * cols] = U_i @ V_i`` (M, cols) by the compiled GEMM of
    :mod:`targets.numpy.kernels.gemm_jit` (AVX-512 where numpy's OpenBLAS is pinned to AVX2) in one call.
    ``up``: (16, panels, C, MR), :func:`pack_weights`; ``v``, ``prod``: (16, S) planes as in the transforms."""
    for i in range(16):
        x = v[i][:c * cols].reshape((1, c, cols))
        o = prod[i][:m * cols].reshape((1, m, cols))
        _gemm(up[i], x, o)


def pack_weights(u: np.ndarray) -> np.ndarray:
    """(16, M, C) transformed weights -> (16, panels, C, MR) GEMM panels for :func:`winograd_gemm`."""
    return np.ascontiguousarray(np.stack([gemm_jit.pack_weights(u[i]) for i in range(16)]))
