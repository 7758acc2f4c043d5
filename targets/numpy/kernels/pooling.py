"""Kernels: pooling.

MaxPool (with the optional Indices output), AveragePool, LpPool, their Global*
forms, MaxUnpool, MaxRoiPool and RoiAlign. Max and sum windows are separable, so MaxPool and float
AveragePool reduce one spatial axis at a time: ``k - 1`` ``np.maximum``/``np.add`` calls
over shifted strided views per axis (``2 * (k - 1)`` for a 2-D k x k window instead of
``k * k - 1``), without padding the input: each tap combines only the outputs whose
window position lies inside it. Where the rows line up, an axis runs as ops over whole
flattened arrays and only the border outputs are recomputed (:func:`combine_axis_flat`).
LRN's channel windows use the same helpers. A 2-D float32/float64 MaxPool on a static shape takes the
compiled kernels of :mod:`.pool_jit` when numba is available (no padded copy of the input; not for
narrow rows with padded windows on inputs above 2^16 elements, where the numpy paths are faster).
Without them, a float MaxPool on a small static map (up to ``SMALL_POOL_MAX_ELEMENTS``) takes :class:`SmallMaxPool`: fewer numpy calls (the
input copied into a scratch with a lowest-value border where windows run past it, then
``k - 1`` maxima per axis over whole strided views), no border recomputation. The other
pools fold over every tap's strided view of the padded input; the Python loop never runs
per pixel. The window geometry (auto_pad, pads, strides, dilations, ceil_mode) is
:func:`targets.numpy.kernels._window.conv_geometry`.

With ``ceil_mode`` the last window may run past the padded input; those positions are
ignored (they neither win a max nor count towards an average).

A NaN in a max window makes that output NaN, wherever it sits in the window (onnxruntime's
result depends on its position; the deviation is listed in docs/reliability.md).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from graphc.errors import GraphcError

from ._window import Geometry, conv_geometry, pool_geometry, pool_padded, reduce_taps, tap_view, window_counts
from . import jit
from .pool_jit import MaxPoolPlan, plan_max_pool
from .registry import OpContext, kernel


def _lowest(dtype: np.dtype) -> float | int:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def tap_ranges(size: int, k: int, s: int, d: int, pad: int, o: int) -> list[tuple[int, int, int]]:
    """Per kernel tap along one axis: (first output, end output, first input) where it reads the input."""
    ranges = []
    for t in range(k):
        off = t * d - pad
        lo = max(0, -(off // s))  # first output whose tap position is >= 0
        hi = max(lo, min(o, (size - 1 - off) // s + 1))  # ... and <= size - 1
        ranges.append((lo, hi, lo * s + off))
    return ranges


def _separable(ctx: OpContext, x: np.ndarray, geo: Geometry, out: np.ndarray,
               combine: np.ufunc, identity: float | int,
               axis_ranges: Sequence[list[tuple[int, int, int]]] | None = None) -> np.ndarray:
    """Reduce the windows of ``x`` into ``out`` one spatial axis at a time (max and sum are separable).

    Padding is never materialized: each tap combines only the outputs whose window
    position lands inside the input (padding is ``combine``'s identity). A window that
    covers the whole input is one reduction.
    """
    nd = len(geo.kernel)
    spatial = x.shape[2:]
    if all(o == 1 for o in geo.out) and geo.kernel == spatial and not any(geo.pads_begin) \
            and all(d == 1 for d in geo.dilations):
        combine.reduce(x.reshape(x.shape[:2] + (-1,)), axis=2, out=out.reshape(out.shape[:2]))
        return out
    cur = x
    for a in range(nd):
        axis = 2 + a
        k, s, d, o = geo.kernel[a], geo.strides[a], geo.dilations[a], geo.out[a]
        shape = cur.shape[:axis] + (o,) + cur.shape[axis + 1:]
        dst = out if a == nd - 1 else ctx.scratch(("pool-separable", a), shape, out.dtype)
        ranges = axis_ranges[a] if axis_ranges is not None else tap_ranges(spatial[a], k, s, d, geo.pads_begin[a], o)
        if not combine_axis_flat(cur, dst, axis, ranges, s, combine, identity):
            combine_taps(cur, dst, axis, ranges, s, (0, o), combine, identity)
        cur = dst
    return out


def combine_taps(cur: np.ndarray, dst: np.ndarray, axis: int, ranges: list[tuple[int, int, int]], s: int,
                 window: tuple[int, int], combine: Callable[..., np.ndarray], identity: float | int) -> None:
    """Outputs ``window`` (first, end) along ``axis`` of ``dst``: ``combine`` over the taps' ``ranges`` of ``cur``."""
    c0, c1 = window
    lead = (slice(None),) * axis
    clipped = [(max(lo, c0), min(hi, c1), i0 + max(0, c0 - lo) * s) for lo, hi, i0 in ranges]
    # start from a tap that reads the input for every output (else from the identity)
    full = next((r for r in clipped if r[0] == c0 and r[1] == c1), None)
    if full is None:
        dst[lead + (slice(c0, c1),)] = identity
    else:
        np.copyto(dst[lead + (slice(c0, c1),)], cur[lead + (slice(full[2], full[2] + (c1 - c0 - 1) * s + 1, s),)])
    for lo, hi, i0 in clipped:
        if hi > lo and (lo, hi, i0) != full:
            part = dst[lead + (slice(lo, hi),)]
            combine(part, cur[lead + (slice(i0, i0 + (hi - lo - 1) * s + 1, s),)], out=part)


def combine_axis_flat(cur: np.ndarray, dst: np.ndarray, axis: int, ranges: list[tuple[int, int, int]], s: int,
                      combine: Callable[..., np.ndarray], identity: float | int) -> bool:
    """One axis as ops over whole flattened arrays (numpy runs strided slices of short rows far slower).

    Applies when the input extent along ``axis`` is ``s`` times the output's and either
    the stride is 1 or ``axis`` is the last one: flat output ``j`` then reads flat input
    ``s * j + offset * inner`` everywhere at once. A tap wraps into the neighbouring row
    (plane) only at the border outputs, which are then recomputed exactly. False when it
    does not apply.
    """
    o = dst.shape[axis]
    inner = math.prod(cur.shape[axis + 1:])
    body = (max(r[0] for r in ranges), min(r[1] for r in ranges))  # outputs where every tap is inside
    if cur.shape[axis] != s * o or (s != 1 and inner != 1) or body[1] - body[0] < o // 2 \
            or not (cur.flags.c_contiguous and dst.flags.c_contiguous):
        return False
    src, flat = cur.reshape(-1), dst.reshape(-1)
    for t, (lo, _, i0) in enumerate(ranges):
        off = (i0 - lo * s) * inner
        f0, f1 = max(0, -(off // s)), min(flat.size, (src.size - 1 - off) // s + 1)
        view = src[f0 * s + off:(f1 - 1) * s + off + 1:s]
        if t == 0:
            np.copyto(flat[f0:f1], view)
        else:
            combine(flat[f0:f1], view, out=flat[f0:f1])
    for window in ((0, body[0]), (body[1], o)):
        if window[1] > window[0]:
            combine_taps(cur, dst, axis, ranges, s, window, combine, identity)
    return True


#: dtypes the compiled MaxPool (:mod:`.pool_jit`) takes
_JIT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: MaxPool inputs of at most this many elements take :class:`SmallMaxPool` (fewer numpy calls per node;
#: larger maps are faster on the separable path, which never copies the input)
SMALL_POOL_MAX_ELEMENTS = 1 << 18


class SmallMaxPool:
    """A float MaxPool on a small static map as ``k - 1`` ``np.maximum`` calls per axis over strided views.

    Where padding or ``ceil_mode`` makes windows run past the input, the input is first copied
    into a private scratch whose border holds the dtype's lowest value (written on first use
    and never overwritten: only the interior is copied each call). Each axis then combines
    whole strided views of its source, so a 3x3/2 window is one copy and four maxima.
    """

    def __init__(self, shape: tuple[int, ...], geo: Geometry) -> None:
        spatial = shape[2:]
        #: padded extent per axis: just enough for every window
        self.padded = tuple((o - 1) * s + (k - 1) * d + 1
                            for o, s, k, d in zip(geo.out, geo.strides, geo.kernel, geo.dilations))
        rows = [min(n, p - b) for n, p, b in zip(spatial, self.padded, geo.pads_begin)]
        #: None when the windows lie inside the input (no copy); else where the input goes in the scratch
        self.interior: tuple[slice, ...] | None = None
        self.source: tuple[slice, ...] = (slice(None), slice(None)) + tuple(slice(0, r) for r in rows)
        if any(geo.pads_begin) or any(p > n for p, n in zip(self.padded, spatial)):
            self.interior = (slice(None), slice(None)) + tuple(slice(b, b + r) for b, r in zip(geo.pads_begin, rows))
            self.key = ("pool-small-padded", tuple(geo.pads_begin), tuple(rows), self.padded)
            # a border position: the first element before the interior or past its end on some axis
            a = next(i for i, (b, r, p) in enumerate(zip(geo.pads_begin, rows, self.padded)) if b or b + r < p)
            self.probe = tuple(0 for _ in shape[:2 + a]) + (0 if geo.pads_begin[a] else self.padded[a] - 1,) \
                + tuple(0 for _ in shape[3 + a:])
        #: per axis: the intermediate's shape and each tap's strided index along that axis
        self.axes: list[tuple[tuple[int, ...], list[tuple[slice, ...]]]] = []
        cur = tuple(shape[:2]) + self.padded
        for a, (k, s, d, o) in enumerate(zip(geo.kernel, geo.strides, geo.dilations, geo.out)):
            cur = cur[:2 + a] + (o,) + cur[3 + a:]
            lead = (slice(None),) * (2 + a)
            self.axes.append((cur, [lead + (slice(t * d, t * d + (o - 1) * s + 1, s),) for t in range(k)]))

    def run(self, ctx: OpContext, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Windowed max of ``x`` into ``out``."""
        src = x[self.source]
        if self.interior is not None:
            buf = ctx.scratch(self.key, x.shape[:2] + self.padded,
                              x.dtype, zero=True)
            if buf[self.probe] != _lowest(x.dtype):  # first use: the border takes the lowest value once
                buf.fill(_lowest(x.dtype))
            buf[self.interior] = src
            src = buf
        last = len(self.axes) - 1
        for a, (shape, taps) in enumerate(self.axes):
            dst = out if a == last else ctx.scratch(("pool-small", a), shape, out.dtype)
            if len(taps) == 1:
                np.copyto(dst, src[taps[0]])
            else:
                np.maximum(src[taps[0]], src[taps[1]], out=dst)
                for tap in taps[2:]:
                    np.maximum(dst, src[tap], out=dst)
            src = dst
        return out


def _prepare_max_pool(ctx: OpContext, inputs: Sequence[Any]
                      ) -> tuple[tuple[int, ...], Geometry, list, SmallMaxPool | None, MaxPoolPlan | None] | None:
    """For a static input shape: (shape, geometry, per-axis tap ranges, small-map plan or None, compiled 2-D plan
    or None), worked out once (on the small maps of per-crop models such as MTCNN's the geometry and ranges were
    a fifth of a call)."""
    shape = getattr(inputs[0], "shape", None) if inputs else None
    if shape is None or len(shape) < 3 or not all(isinstance(d, int) for d in shape):
        return None
    try:
        geo = conv_geometry(ctx, tuple(shape[2:]), ceil_mode=bool(ctx.attr("ceil_mode", 0)))
    except GraphcError:
        return None  # the kernel reports it at run time
    ranges = [tap_ranges(n, k, s, d, p, o) for n, k, s, d, p, o
              in zip(shape[2:], geo.kernel, geo.strides, geo.dilations, geo.pads_begin, geo.out)]
    small = None
    if math.prod(shape) <= SMALL_POOL_MAX_ELEMENTS and all(o > 0 for o in geo.out):
        small = SmallMaxPool(tuple(shape), geo)
    return tuple(shape), geo, ranges, small, plan_max_pool(tuple(shape), geo)


@kernel("MaxPool", prepare=_prepare_max_pool)
def max_pool(ctx: OpContext, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Windowed max; a second declared output gets the flat argmax Indices (``storage_order``)."""
    prepared = ctx.state if ctx.state is not None and ctx.state[0] == x.shape else None
    geo = prepared[1] if prepared is not None else pool_geometry(ctx, x)
    shape = x.shape[:2] + geo.out
    buf = ctx.out(0, shape, x.dtype)
    if len(ctx.outs) < 2:
        if prepared is not None and prepared[4] is not None and x.dtype in _JIT_DTYPES \
                and x.flags.c_contiguous and buf.flags.c_contiguous:
            return prepared[4].run(x, buf)
        if prepared is not None and prepared[3] is not None and x.dtype.kind == "f":
            return prepared[3].run(ctx, x, buf)
        return _separable(ctx, x, geo, buf, np.maximum, _lowest(x.dtype), prepared[2] if prepared else None)
    xp = pool_padded(x, geo, _lowest(x.dtype))
    best = np.zeros(shape, dtype=np.int64)
    for t, tap in enumerate(np.ndindex(*geo.kernel)):
        v = tap_view(xp, geo, tap)
        if t == 0:
            np.copyto(buf, v)
            continue
        win = v > buf
        np.copyto(buf, v, where=win)
        best[win] = t
    return buf, _flat_indices(ctx, x.shape, geo, best)


def _flat_indices(ctx: OpContext, in_shape: tuple[int, ...], geo: Geometry, best: np.ndarray) -> np.ndarray:
    """Flat input indices of the winning taps ``best`` (row- or column-major spatial)."""
    n, c = in_shape[:2]
    spatial = in_shape[2:]
    taps = np.unravel_index(best, geo.kernel)
    nd = len(spatial)
    col_major = int(ctx.attr("storage_order", 0)) == 1
    idx = np.zeros(best.shape, dtype=np.int64)
    order = range(nd - 1, -1, -1) if col_major else range(nd)
    for i in order:
        o = np.arange(geo.out[i]).reshape((geo.out[i],) + (1,) * (nd - 1 - i))
        coord = o * geo.strides[i] + taps[i] * geo.dilations[i] - geo.pads_begin[i]
        idx *= spatial[i]
        idx += coord
    plane = math.prod(spatial)
    idx += (np.arange(n * c, dtype=np.int64) * plane).reshape((n, c) + (1,) * nd)
    buf = ctx.out(1, best.shape, np.int64)
    np.copyto(buf, idx)
    return buf


@kernel("AveragePool")
def average_pool(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Windowed mean; padding counts only with ``count_include_pad``."""
    geo = pool_geometry(ctx, x)
    buf = ctx.out(0, x.shape[:2] + geo.out, x.dtype)
    if x.dtype.kind == "f":
        acc = _separable(ctx, x, geo, buf, np.add, 0)
    else:
        acc = reduce_taps(pool_padded(x, geo, 0), geo, np.empty(buf.shape, np.float64), np.add)
    include_pad = bool(ctx.attr("count_include_pad", 0))
    counts = ctx.scratch(("pool-counts", include_pad, geo, x.shape[2:]), geo.out, acc.dtype, fill=np.nan)
    if np.isnan(counts.flat[0]):  # first call: the divisor of every output position
        counts[...] = window_counts(geo, x.shape[2:], include_pad)
    np.divide(acc, counts, out=acc)
    if acc is not buf:
        np.copyto(buf, acc, casting="unsafe")
    return buf


def _lp(buf: np.ndarray, p: float) -> np.ndarray:
    """buf ** (1 / p) in place."""
    if p == 2:
        return np.sqrt(buf, out=buf)
    if p == 1:
        return buf
    return np.power(buf, buf.dtype.type(1.0 / p), out=buf)


@kernel("LpPool")
def lp_pool(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """(sum over the window of |x|^p)^(1/p)."""
    p = float(ctx.attr("p", 2))
    geo = pool_geometry(ctx, x)
    xp = pool_padded(x, geo, 0)
    buf = ctx.out(0, x.shape[:2] + geo.out, x.dtype)

    def power(v: np.ndarray) -> np.ndarray:
        return np.abs(v) if p == 1 else (v * v if p == 2 else np.abs(v) ** v.dtype.type(p))

    reduce_taps(xp, geo, buf, np.add, power)
    return _lp(buf, p)


def _spatial_axes(ctx: OpContext, x: np.ndarray) -> tuple[int, ...]:
    if x.ndim < 3:
        raise ctx.shape_error(f"input must be N x C x spatial, got {x.shape}")
    return tuple(range(2, x.ndim))


@kernel("GlobalAveragePool")
def global_average_pool(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Mean over all spatial axes (kept as size 1).

    float32/float64: one BLAS matrix-vector product with a vector of ones, then a division by the
    count (a (1, 1280, 7, 7) map: 4 us against 70 us for ``np.mean``, whose reduction over short rows
    is a loop per row). A C-contiguous float32 map takes one compiled loop per plane when numba is
    available (:func:`targets.numpy.kernels.epilogue_jit.channel_mean`: 1280x7x7 5.2 -> 3.5 us,
    144x56x56 20 -> 16 us).
    """
    axes = _spatial_axes(ctx, x)
    buf = ctx.out(0, x.shape[:2] + (1,) * len(axes), x.dtype)
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    count = flat.shape[2]
    if (x.dtype == np.float32 and count and x.flags.c_contiguous and buf.flags.c_contiguous
            and jit.available()):
        from .epilogue_jit import channel_mean

        return channel_mean(x, buf)
    if x.dtype in (np.float32, np.float64) and count and buf.flags.c_contiguous:
        sums = buf.reshape(x.shape[:2])
        np.matmul(flat, np.ones(count, x.dtype), out=sums)
        np.divide(sums, x.dtype.type(count), out=sums)
        return buf
    np.mean(flat, axis=2, out=buf.reshape(x.shape[:2]) if buf.flags.c_contiguous else None, keepdims=False)
    if not buf.flags.c_contiguous:
        np.copyto(buf, flat.mean(axis=2).reshape(buf.shape))
    return buf


@kernel("GlobalMaxPool")
def global_max_pool(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Max over all spatial axes (kept as size 1)."""
    axes = _spatial_axes(ctx, x)
    buf = ctx.out(0, x.shape[:2] + (1,) * len(axes), x.dtype)
    np.max(x, axis=axes, keepdims=True, out=buf)
    return buf


@kernel("GlobalLpPool")
def global_lp_pool(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """(sum over all spatial positions of |x|^p)^(1/p)."""
    p = float(ctx.attr("p", 2))
    axes = _spatial_axes(ctx, x)
    buf = ctx.out(0, x.shape[:2] + (1,) * len(axes), x.dtype)
    np.sum(np.abs(x) ** x.dtype.type(p), axis=axes, keepdims=True, out=buf)
    return _lp(buf, p)


@kernel("MaxUnpool")
def max_unpool(ctx: OpContext, x: np.ndarray, indices: np.ndarray, output_shape: np.ndarray | None = None
               ) -> np.ndarray:
    """Scatter ``x`` to the flat ``indices`` of the unpooled tensor (zeros elsewhere).

    Indices address the shape MaxPool's inverse implies (``(in-1)*stride - pads + kernel``);
    an explicit ``output_shape`` input larger than that pads with zeros at the end, as the
    ONNX reference does.
    """
    nd = x.ndim - 2
    ks = [int(k) for k in ctx.attr("kernel_shape")]
    strides = list(ctx.attr("strides") or [1] * nd)
    pads = list(ctx.attr("pads") or [0] * 2 * nd)
    inferred = tuple(x.shape[:2]) + tuple(
        (x.shape[2 + i] - 1) * strides[i] - (pads[i] + pads[nd + i]) + ks[i] for i in range(nd))
    shape = inferred if output_shape is None else tuple(int(v) for v in output_shape)
    flat = np.zeros(math.prod(inferred), dtype=x.dtype)
    flat[indices.reshape(-1)] = x.reshape(-1)
    buf = ctx.out(0, shape, x.dtype)
    buf[...] = 0
    buf[tuple(slice(0, min(a, b)) for a, b in zip(inferred, shape))] = \
        flat.reshape(inferred)[tuple(slice(0, min(a, b)) for a, b in zip(inferred, shape))]
    return buf


# --------------------------------------------------------------------------- RoiAlign


def _bilinear_weights(coord: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Low/high sample indices and weights along one axis (RoiAlign rules), plus validity."""
    valid = (coord >= -1.0) & (coord <= size)
    c = np.maximum(coord, 0.0)
    low = np.floor(c).astype(np.int64)
    at_end = low >= size - 1
    low = np.where(at_end, size - 1, low)
    high = np.where(at_end, size - 1, low + 1)
    c = np.where(at_end, low.astype(c.dtype), c)
    frac = c - low
    return low, high, frac, valid


@kernel("MaxRoiPool")
def max_roi_pool(ctx: OpContext, x: np.ndarray, rois: np.ndarray) -> np.ndarray:
    """Max over ``pooled_shape`` bins of each region (rois: batch index, x1, y1, x2, y2), as onnxruntime:
    corners scaled by ``spatial_scale`` and rounded half away from zero; an empty bin gives 0."""
    ph_n, pw_n = (int(v) for v in ctx.attr("pooled_shape"))
    scale = float(ctx.attr("spatial_scale", 1.0))
    if x.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 5:
        raise ctx.shape_error(f"needs N x C x H x W input and rois of shape "
                                  f"(num_rois, 5), got {x.shape} and {rois.shape}")
    n, c, h, w = x.shape
    buf = ctx.out(0, (rois.shape[0], c, ph_n, pw_n), x.dtype)
    corners = rois[:, 1:].astype(np.float64) * scale
    corners = (np.sign(corners) * np.floor(np.abs(corners) + 0.5)).astype(np.int64)
    for r, (x1, y1, x2, y2) in enumerate(corners):
        b = int(rois[r, 0])
        if not 0 <= b < n:
            raise ctx.shape_error(f"roi {r} names batch {b} of {n}")
        bin_h = max(y2 - y1 + 1, 1) / ph_n
        bin_w = max(x2 - x1 + 1, 1) / pw_n
        for i in range(ph_n):
            hs = min(max(int(np.floor(i * bin_h)) + y1, 0), h)
            he = min(max(int(np.ceil((i + 1) * bin_h)) + y1, 0), h)
            for j in range(pw_n):
                ws = min(max(int(np.floor(j * bin_w)) + x1, 0), w)
                we = min(max(int(np.ceil((j + 1) * bin_w)) + x1, 0), w)
                if he <= hs or we <= ws:
                    buf[r, :, i, j] = 0
                else:
                    np.max(x[b, :, hs:he, ws:we], axis=(1, 2), out=buf[r, :, i, j])
    return buf


@kernel("RoiAlign")
def roi_align(ctx: OpContext, x: np.ndarray, rois: np.ndarray, batch_indices: np.ndarray) -> np.ndarray:
    """Bilinear region-of-interest pooling (avg or max over the sampling grid of each bin)."""
    mode = ctx.attr("mode", "avg")
    oh, ow = int(ctx.attr("output_height", 1)), int(ctx.attr("output_width", 1))
    ratio = int(ctx.attr("sampling_ratio", 0))
    scale = float(ctx.attr("spatial_scale", 1.0))
    half = ctx.attr("coordinate_transformation_mode", "half_pixel" if ctx.opset >= 16 else "output_half_pixel")
    offset = 0.5 if half == "half_pixel" else 0.0
    _, c, h, w = x.shape
    r = rois.shape[0]
    buf = ctx.out(0, (r, c, oh, ow), x.dtype)
    for i in range(r):
        x0, y0, x1, y1 = (float(v) * scale - offset for v in rois[i])
        rw, rh = x1 - x0, y1 - y0
        if half != "half_pixel":
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / oh, rw / ow
        gh = ratio if ratio > 0 else int(math.ceil(rh / oh))
        gw = ratio if ratio > 0 else int(math.ceil(rw / ow))
        gh, gw = max(gh, 1), max(gw, 1)
        ys = y0 + (np.arange(oh)[:, None] * bh + (np.arange(gh)[None, :] + 0.5) * bh / gh)  # (oh, gh)
        xs = x0 + (np.arange(ow)[:, None] * bw + (np.arange(gw)[None, :] + 0.5) * bw / gw)  # (ow, gw)
        yl, yh, fy, vy = _bilinear_weights(ys, h)
        xl, xh, fx, vx = _bilinear_weights(xs, w)
        img = x[int(batch_indices[i])].astype(np.float64)  # (C, H, W)
        # weights (oh, gh, ow, gw) for the 4 corners
        wy = ((1 - fy) * vy)[:, :, None, None], (fy * vy)[:, :, None, None]
        wx = ((1 - fx) * vx)[None, None], (fx * vx)[None, None]
        corners = [(yl, xl, wy[0] * wx[0]), (yl, xh, wy[0] * wx[1]), (yh, xl, wy[1] * wx[0]), (yh, xh, wy[1] * wx[1])]
        samples = []
        for yi, xi, wt in corners:
            v = img[:, yi[:, :, None, None], xi[None, None]]  # (C, oh, gh, ow, gw)
            samples.append(v * wt)
        if mode == "max":
            res = np.maximum.reduce(samples).max(axis=(2, 4))
        else:
            res = np.add.reduce(samples).sum(axis=(2, 4)) / (gh * gw)
        np.copyto(buf[i], res, casting="unsafe")
    return buf
