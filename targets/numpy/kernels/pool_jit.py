"""Compiled 2-D MaxPool: one pass over the unpadded input, any kernel, stride, pads, dilation, ceil_mode.

Per (image, channel) plane and output row, the window's input rows (clipped to the input) are
reduced into a row buffer whose left and right borders hold -inf (the padding and the
positions ``ceil_mode`` windows run past); with a column stride s > 1 that row is split into its
s phases (every s-th element), so each column tap reads one phase at unit stride; the output
row is the max over the taps, with no border cases left in the loops (which vectorize). The max propagates NaN as ``np.maximum``
does: a NaN anywhere in a window makes that output NaN.

:func:`plan_max_pool` validates a node's static geometry once (the kernel indexes without
bounds checks); :class:`MaxPoolPlan` runs it on a contiguous float32/float64 input.
"""

from __future__ import annotations

import numpy as np

from . import jit
from ._window import Geometry

__all__ = ["MaxPoolPlan", "plan_max_pool", "NARROW_WIDTH", "NARROW_MAX_ELEMENTS"]

#: rows narrower than this take the flat-plane kernel when no window reads padding: per-row loops that
#: short run in their scalar remainders (kernel alone, 3x3/2 pools: 256x27x27 94 -> 57 us, 64x21x21
#: 17.7 -> 9.2, 48x9x9 5.0 -> 2.4), while on wide rows its stride-1 passes do s_h * s_w times the work
#: (64x111x111: 168 against 288 us)
NARROW_WIDTH = 32
#: narrow rows whose windows read padding (the row kernel) on inputs above this many elements: the numpy
#: kernels are faster there (256x27x27-sized: 127 us on the row kernel against 101 us numpy)
NARROW_MAX_ELEMENTS = 1 << 16


@jit.compiled
def _max_pool_2d(x_nd, out_nd, k_h, k_w, s_h, s_w, d_h, d_w, p_top, p_left, row_len):  # pragma: no cover - compiled
    """out[p, oy, ox] = max of x[p] over the window (rows clipped to the input, columns padded with -inf), x and
    out contiguous (N, C, H, W)."""
    n, c, height, width = x_nd.shape
    out_h, out_w = out_nd.shape[2], out_nd.shape[3]
    planes = n * c
    x = x_nd.reshape((planes, height, width))
    out = out_nd.reshape((planes, out_h, out_w))
    row = np.empty(row_len, x.dtype)
    for j in range(row_len):
        row[j] = -np.inf
    inner = row[p_left:p_left + width]
    # a strided row split into its s_w phases: every column tap then reads one phase at unit stride
    plen = (row_len + s_w - 1) // s_w
    phases = np.empty((s_w, plen), x.dtype)
    for r in range(s_w):
        for i in range(plen):
            phases[r, i] = -np.inf
    taps = [phases[(t * d_w) % s_w, (t * d_w) // s_w:] for t in range(k_w)]
    if s_w == 1:
        taps = [row[t * d_w:] for t in range(k_w)]
    half = row_len // 2
    for p in range(planes):
        for oy in range(out_h):
            top = oy * s_h - p_top
            n = 0
            for t in range(k_h):
                iy = top + t * d_h
                if iy < 0 or iy >= height:
                    continue
                if n == 0:
                    for j in range(width):
                        inner[j] = x[p, iy, j]
                else:
                    for j in range(width):
                        a = inner[j]
                        b = x[p, iy, j]
                        inner[j] = b if (b > a) | (b != b) else a
                n += 1
            if n == 0:  # no input row in this window (only through padding)
                for j in range(width):
                    inner[j] = -np.inf
            if s_w == 2:
                for i in range(half):
                    phases[0, i] = row[2 * i]
                    phases[1, i] = row[2 * i + 1]
                if row_len % 2:
                    phases[0, half] = row[row_len - 1]
            elif s_w > 2:
                for r in range(s_w):
                    ph = phases[r]
                    for i in range((row_len - r + s_w - 1) // s_w):
                        ph[i] = row[s_w * i + r]
            dst = out[p, oy]
            v = taps[0]
            for ox in range(out_w):
                dst[ox] = v[ox]
            for t in range(1, k_w):
                v = taps[t]
                for ox in range(out_w):
                    a = dst[ox]
                    b = v[ox]
                    dst[ox] = b if (b > a) | (b != b) else a


@jit.compiled
def _max_pool_2d_narrow(x_nd, out_nd, k_h, k_w, s_h, s_w, d_h, d_w):  # pragma: no cover - compiled
    """The max pool of narrow rows whose every window lies inside the input (no padding reached): two
    stride-1 passes over each flat plane (every window row's vertical max, then every column's
    horizontal max: long loops, unlike per-row ones), picked at the strides."""
    n, c, height, width = x_nd.shape
    out_h, out_w = out_nd.shape[2], out_nd.shape[3]
    planes = n * c
    x = x_nd.reshape((planes, height * width))
    out = out_nd.reshape((planes, out_h, out_w))
    n_v = ((out_h - 1) * s_h + 1) * width
    n_h = n_v - (k_w - 1) * d_w
    v = np.empty(n_v, x.dtype)
    hz = np.empty(n_h, x.dtype)
    # unsigned indices: numba adds no negative-index wraparound to them, so these loops vectorize
    n_v_u, n_h_u = np.uint64(n_v), np.uint64(n_h)
    for p in range(planes):
        src = x[p]
        for i in range(n_v_u):
            v[i] = src[i]
        for t in range(1, k_h):
            off = np.uint64(t * d_h * width)
            for i in range(n_v_u):
                a = v[i]
                b = src[off + i]
                v[i] = b if (b > a) | (b != b) else a
        for i in range(n_h_u):
            hz[i] = v[i]
        for t in range(1, k_w):
            off = np.uint64(t * d_w)
            for i in range(n_h_u):
                a = hz[i]
                b = v[off + i]
                hz[i] = b if (b > a) | (b != b) else a
        for oy in range(out_h):
            row = oy * s_h * width
            for ox in range(out_w):
                out[p, oy, ox] = hz[row + ox * s_w]


def _all_inside(size: int, k: int, s: int, d: int, pad: int, out: int) -> bool:
    """Whether every window along one axis lies inside the input (reads no padding)."""
    return pad == 0 and (out - 1) * s + (k - 1) * d + 1 <= size


class MaxPoolPlan:
    """A validated 2-D MaxPool geometry for one static input shape, run by a compiled kernel: the flat-plane one
    for rows narrower than :data:`NARROW_WIDTH` whose windows read no padding, else the row one."""

    __slots__ = ("shape", "out_shape", "args", "kernel", "narrow")

    def __init__(self, shape: tuple[int, int, int, int], geo: Geometry) -> None:
        n, c, h, w = shape
        (k_h, k_w), (s_h, s_w), (d_h, d_w) = geo.kernel, geo.strides, geo.dilations
        out_h, out_w = geo.out
        p_top, p_left = geo.pads_begin
        self.shape = shape
        self.out_shape = (n, c, out_h, out_w)
        self.narrow = w < NARROW_WIDTH and _all_inside(h, k_h, s_h, d_h, p_top, out_h) \
            and _all_inside(w, k_w, s_w, d_w, p_left, out_w)
        if self.narrow:
            self.args: tuple[int, ...] = (k_h, k_w, s_h, s_w, d_h, d_w)
            self.kernel = _max_pool_2d_narrow.dispatcher()
        else:
            #: the row buffer covers every column any window reads: left pad + input + what runs past the end
            row_len = max(p_left + w, (out_w - 1) * s_w + (k_w - 1) * d_w + 1)
            self.args = (k_h, k_w, s_h, s_w, d_h, d_w, p_top, p_left, row_len)
            self.kernel = _max_pool_2d.dispatcher()

    def run(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Windowed max of ``x`` (this plan's shape, C-contiguous float) into ``out`` (C-contiguous)."""
        self.kernel(x, out, *self.args)
        return out


def plan_max_pool(shape: tuple[int, ...], geo: Geometry) -> MaxPoolPlan | None:
    """The compiled plan of a 2-D MaxPool on a static ``shape``, or None (jit off, other rank, degenerate)."""
    if not jit.available() or len(shape) != 4 or len(geo.kernel) != 2 or min(shape) <= 0:
        return None
    if min(geo.out) <= 0 or min(geo.kernel) <= 0 or min(geo.strides) <= 0 or min(geo.dilations) <= 0 \
            or min(geo.pads_begin) < 0 or min(geo.pads_end) < 0:
        return None
    plan = MaxPoolPlan((shape[0], shape[1], shape[2], shape[3]), geo)
    if not plan.narrow and shape[3] < NARROW_WIDTH and shape[0] * shape[1] * shape[2] * shape[3] > NARROW_MAX_ELEMENTS:
        return None
    return plan
