"""Kernels: convolutions.

Conv, ConvTranspose, ConvInteger, QLinearConv and onnxruntime's ``com.microsoft::FusedConv``
(Conv + activation epilogue; also ``graphc::FusedConv``, the same op with the SiLU and HardSwish
epilogues), for 1-D, 2-D and 3-D inputs in NC(D)HW layout.

Conv is im2col + one GEMM per image: the (padded) input is copied once into a
``(group, C/group * prod(kernel), prod(out_spatial))`` patch matrix through a strided
view (no Python loop over pixels), and one float32 ``np.matmul`` with the
``(group, M/group, C/group * prod(kernel))`` weight view writes straight into the
planned output buffer. Two direct paths skip the patch matrix: 1x1 convolutions (the
input already is the patch matrix) and depthwise convolutions (one multiply-add per
kernel tap over the whole output). ConvTranspose is the adjoint: one GEMM to columns
then a scatter-add per kernel tap.

:func:`targets.numpy.kernels._window.conv_geometry` (pads and output sizes from
``auto_pad``/``pads``/``strides``) is shared with the pooling kernels.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from graphc.domains import GRAPHC_DOMAIN
from graphc.errors import ShapeInferenceError

from ._quant import shift_zero_point
from ._window import Geometry, conv_geometry, int_tuple, pad_spatial, tap_view, window_view
from .conv2d import Conv2dPlan, DeferredConv, prepare_conv
from .epilogue import apply_activation, fused_conv_activation
from .registry import OpContext, kernel

__all__ = ["Geometry", "conv_geometry", "conv_nd", "pad_spatial", "tap_view", "window_view"]


# --------------------------------------------------------------------------- Conv core


def _writable_view(buf: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``buf`` reshaped without copying, or None when that is not possible."""
    if not buf.flags.c_contiguous:
        return None
    return buf.reshape(shape)


class _Wide:
    """Stride-1 "wide row" layout: every kernel tap is one contiguous slice of the flat
    padded image, so im2col copies whole rows and the GEMM result only needs cropping.

    Output position ``o`` reads flat index ``sum(o_i * ps_i) + offset(tap)`` where ``ps``
    are the padded strides; computing all ``L = out_0 * ps_0`` flat positions wastes
    ``L / prod(out) - 1`` of the GEMM on padding columns, so the layout is used when that
    waste is small.
    """

    def __init__(self, spatial: Sequence[int], geo: Geometry):
        self.geo = geo
        self.padded = tuple(s + b + e for s, b, e in zip(spatial, geo.pads_begin, geo.pads_end))
        ps = [1] * len(self.padded)
        for i in range(len(ps) - 2, -1, -1):
            ps[i] = ps[i + 1] * self.padded[i + 1]
        self.length = geo.out[0] * ps[0]
        self.offsets = [sum(t * d * p for t, d, p in zip(tap, geo.dilations, ps)) for tap in np.ndindex(*geo.kernel)]
        self.flat = math.prod(self.padded)
        self.size = max(self.flat, max(self.offsets) + self.length)
        self.interior = tuple(slice(b, b + s) for b, s in zip(geo.pads_begin, spatial))

    @staticmethod
    def fits(geo: Geometry, spatial: Sequence[int]) -> bool:
        if any(s != 1 for s in geo.strides):
            return False
        padded = [s + b + e for s, b, e in zip(spatial, geo.pads_begin, geo.pads_end)]
        waste = geo.out[0] * math.prod(padded[1:]) / math.prod(geo.out)
        return waste <= 1.2

    def image_buffer(self, ctx: OpContext | None, channels: int, dtype: np.dtype) -> np.ndarray:
        """Zeroed flat (C, size) buffer; :meth:`load` overwrites only the interior. Zeroed at every call (one
        pass over the image, small next to the im2col copies): the scratch is shared by nodes of other shapes."""
        buf = _buffer(ctx, "conv-nd-image", (channels, self.size), dtype)
        buf.fill(0)
        return buf

    def load(self, buf: np.ndarray, image: np.ndarray) -> None:
        view = buf[:, : self.flat].reshape((buf.shape[0],) + self.padded)
        view[(slice(None),) + self.interior] = image

    def crop(self, wide: np.ndarray) -> np.ndarray:
        """(M, L) wide result -> (M, *out) view."""
        full = wide.reshape((wide.shape[0], self.geo.out[0]) + self.padded[1:])
        return full[(slice(None), slice(None)) + tuple(slice(0, o) for o in self.geo.out[1:])]


def _store(dst: np.ndarray, src: np.ndarray, bias: np.ndarray | None) -> None:
    """dst = src (+ per-channel bias on axis 0) in one pass."""
    if bias is None:
        np.copyto(dst, src, casting="unsafe")
    else:
        np.add(src, bias.reshape((-1,) + (1,) * (src.ndim - 1)), out=dst, casting="unsafe")


def _buffer(ctx: OpContext | None, key: str, shape: tuple[int, ...], dtype: Any, zero: bool = False) -> np.ndarray:
    """A working buffer: the node's scratch under ``key`` (checked against the run's memory budget when
    first allocated, reused afterwards) or, without a context, a fresh array."""
    if ctx is None:
        return np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
    return ctx.scratch(key, shape, dtype, zero=zero)


def conv_nd(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, group: int, geo: Geometry,
            out: np.ndarray, ctx: OpContext | None = None) -> np.ndarray:
    """N-D grouped convolution of ``x`` (N, C, *S) with ``w`` (M, C/group, *K) into ``out``.

    ``out`` must be (N, M, *geo.out) of the result dtype; it is returned. Paths: 1x1
    (input is the patch matrix), depthwise (multiply-add per tap), stride-1 "wide rows"
    (contiguous im2col, cropped GEMM result) and general strided im2col. With ``ctx`` the
    working buffers (columns, accumulators) are the node's scratch (``conv-nd-*`` keys), so
    they count against the run's memory budget and are not allocated again once warm.
    """
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    m = w.shape[0]
    cg, mg = c // group, m // group
    if cg != w.shape[1] or m % group:
        raise ShapeInferenceError(
            f"Conv: input channels {c} / group {group} != weight channels {w.shape[1]} "
            f"(or {m} output channels not divisible by the group)"
        )
    ksize = math.prod(geo.kernel)
    length = math.prod(geo.out)
    if w.dtype != x.dtype:
        w = w.astype(x.dtype)
    if bias is not None:
        bias = bias.astype(out.dtype, copy=False)
    target = _writable_view(out, (n, group, mg, length))
    res = target if target is not None else _buffer(ctx, "conv-nd-res", (n, group, mg, length), out.dtype)
    res_nd = res.reshape((n, m) + geo.out)

    if ksize == 1 and not geo.padded:
        # 1x1: the (strided) input is the patch matrix.
        xs = x[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in geo.strides)]
        np.matmul(w.reshape(group, mg, cg), xs.reshape(n, group, cg, length), out=res)
        if bias is not None:
            res_nd += bias.reshape((1, m) + (1,) * len(geo.out))
    elif cg == 1 and mg == 1:
        _depthwise(x, w.reshape(c, ksize), bias, geo, res_nd, ctx)
    elif _Wide.fits(geo, spatial):
        wide = _Wide(spatial, geo)
        cols = _buffer(ctx, "conv-nd-cols", (group, cg, ksize, wide.length), x.dtype)
        acc = _buffer(ctx, "conv-nd-acc", (group, mg, wide.length), out.dtype)
        xbuf = wide.image_buffer(ctx, c, x.dtype)
        xg = xbuf.reshape(group, cg, -1)
        wg = w.reshape(group, mg, cg * ksize)
        for i in range(n):
            wide.load(xbuf, x[i])
            for k, off in enumerate(wide.offsets):
                cols[:, :, k, :] = xg[:, :, off: off + wide.length]
            np.matmul(wg, cols.reshape(group, cg * ksize, wide.length), out=acc)
            _store(res_nd[i], wide.crop(acc.reshape(m, wide.length)), bias)
    else:
        cols = _buffer(ctx, "conv-nd-cols", (group, cg * ksize, length), x.dtype)
        xp = pad_spatial(x, geo.pads_begin, geo.pads_end)
        wg = w.reshape(group, mg, cg * ksize)
        cols_nd = cols.reshape((group, cg) + geo.kernel + geo.out)
        for i in range(n):
            view = window_view(xp[i], geo)  # (C, *K, *O)
            np.copyto(cols_nd, view.reshape((group, cg) + view.shape[1:]))
            np.matmul(wg, cols, out=res[i])
        if bias is not None:
            res_nd += bias.reshape((1, m) + (1,) * len(geo.out))
    if target is None:
        np.copyto(out, res_nd)
    return out


def _depthwise(x: np.ndarray, wk: np.ndarray, bias: np.ndarray | None, geo: Geometry, res: np.ndarray,
               ctx: OpContext | None) -> None:
    """Depthwise conv (one filter per channel, ``wk`` (C, K)) into ``res`` (N, C, *out)."""
    n, c = x.shape[:2]
    nd = len(geo.out)
    if _Wide.fits(geo, x.shape[2:]):
        wide = _Wide(x.shape[2:], geo)
        acc = _buffer(ctx, "conv-nd-acc", (c, wide.length), res.dtype)
        tmp = _buffer(ctx, "conv-nd-tmp", (c, wide.length), res.dtype)
        xbuf = wide.image_buffer(ctx, c, x.dtype)
        for i in range(n):
            wide.load(xbuf, x[i])
            for k, off in enumerate(wide.offsets):
                dst = acc if k == 0 else tmp
                np.multiply(xbuf[:, off: off + wide.length], wk[:, k: k + 1], out=dst)
                if k:
                    acc += tmp
            _store(res[i], wide.crop(acc), bias)
        return
    tmp = _buffer(ctx, "conv-nd-tmp", res.shape, res.dtype)
    xp = pad_spatial(x, geo.pads_begin, geo.pads_end)
    for k, tap in enumerate(np.ndindex(*geo.kernel)):
        wt = wk[:, k].reshape((1, c) + (1,) * nd)
        np.multiply(tap_view(xp, geo, tap), wt, out=res if k == 0 else tmp)
        if k:
            res += tmp
    if bias is not None:
        res += bias.reshape((1, c) + (1,) * nd)


def _conv(ctx: OpContext, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, dtype: np.dtype) -> np.ndarray:
    if x.ndim < 3:
        raise ctx.shape_error(f"input must be N x C x spatial, got {x.shape}")
    geo = conv_geometry(ctx, x.shape[2:], ctx.attr("kernel_shape") or w.shape[2:])
    group = int(ctx.attr("group", 1))
    buf = ctx.out(0, (x.shape[0], w.shape[0]) + geo.out, dtype)
    return conv_nd(x, w, b, group, geo, buf, ctx)


def _plan_view(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` as the plan's 4-D ``shape``: itself, or (a 1-D conv's (N, C, L) array) a view with the unit height
    inserted."""
    return a if a.shape == shape else a[:, :, None, :]


def _plan(ctx: OpContext, x: np.ndarray) -> Any:
    """The node's prepared Conv2dPlan for ``x`` (made now for a shape known only at run time), or None.

    None too when the plan is Winograd and ``x`` holds an Inf or NaN: its input transform subtracts
    neighbouring pixels (inf - inf = NaN), which would spread NaN to outputs whose window only
    holds an Inf; the direct convolution gives the IEEE result onnxruntime gives. The test is x . x
    (one BLAS dot, 4-5x cheaper than a float64 sum): finite unless an element is Inf or NaN or the
    squares overflow float32 (|x| beyond ~1e19), when the direct convolution runs too.
    """
    state = ctx.state
    plan = state.plan_for(ctx, x) if isinstance(state, DeferredConv) else state
    if plan is not None and plan.path == "winograd":
        flat = x.reshape(-1)
        if not np.isfinite(np.dot(flat, flat)):
            return None
    return plan


@kernel("Conv", prepare=prepare_conv)
def conv(ctx: OpContext, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Grouped, dilated, strided N-D convolution plus optional bias.

    A node prepared at lowering (:mod:`targets.numpy.kernels.conv2d`) runs its plan when
    the input has the shape it was prepared for.
    """
    plan = ctx.state
    if type(plan) is not Conv2dPlan or plan.path == "winograd":
        plan = _plan(ctx, x)
    if plan is not None:
        if plan.node_shapes is None and x.shape == plan.x_shape:  # the 4-D node (no views to make)
            out = ctx.out(0, plan.out_shape, x.dtype)
            plan.run(ctx, x, out, None)
            return out
        if x.shape == plan.in_shape:
            out = ctx.out(0, plan.result_shape, x.dtype)
            plan.run(ctx, _plan_view(x, plan.x_shape), _plan_view(out, plan.out_shape), None)
            return out
    return _conv(ctx, x, w, b, x.dtype)


@kernel("FusedConv", domain=GRAPHC_DOMAIN, prepare=prepare_conv, inplace={0: 3})
@kernel("FusedConv", domain="com.microsoft", prepare=prepare_conv, inplace={0: 3})
def fused_conv(ctx: OpContext, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
               z: np.ndarray | None = None) -> np.ndarray:
    """Conv (+ optional residual input Z) followed by the ``activation`` epilogue.

    The output may take over Z's buffer (``ctx.inplace_ok``: Z dies here); the
    convolution then goes to a scratch buffer first and the residual add writes the output.
    """
    plan = ctx.state
    if type(plan) is not Conv2dPlan or plan.path == "winograd":
        plan = _plan(ctx, x)
    alias = z is not None and ctx.inplace_ok
    if plan is not None and z is None and not plan.node_shapes and x.shape == plan.x_shape:
        out = ctx.out(0, plan.out_shape, x.dtype)  # the 4-D node without a residual: no views to make
        plan.run(ctx, x, out, None)
        return out
    if plan is not None and x.shape == plan.in_shape and (z is None or z.shape == plan.result_shape):
        out = ctx.out(0, plan.result_shape, x.dtype)
        x4, out4 = _plan_view(x, plan.x_shape), _plan_view(out, plan.out_shape)
        z4 = None if z is None else _plan_view(z, plan.out_shape)
        if not alias:
            plan.run(ctx, x4, out4, z4)
            return out
        tmp = plan.run(ctx, x4, ctx.scratch("conv-before-residual", out4.shape, out.dtype), None, activation=False)
        assert z4 is not None  # alias
        np.add(tmp, z4, out=out4)
        plan.activate(out4, ctx)
        return out
    name, params = fused_conv_activation(ctx)
    if alias:
        geo = conv_geometry(ctx, x.shape[2:], ctx.attr("kernel_shape") or w.shape[2:])
        tmp = ctx.scratch("conv-nd-before-residual", (x.shape[0], w.shape[0]) + geo.out, x.dtype)
        conv_nd(x, w, b, int(ctx.attr("group", 1)), geo, tmp, ctx)
        buf = ctx.out(0, tmp.shape, x.dtype)
        assert z is not None  # alias
        np.add(tmp, z, out=buf)
    else:
        buf = _conv(ctx, x, w, b, x.dtype)
        if z is not None:
            np.add(buf, z, out=buf)
    return apply_activation(buf, name, params)


@kernel("ConvInteger")
def conv_integer(ctx: OpContext, x: np.ndarray, w: np.ndarray, x_zp: np.ndarray | None = None,
                 w_zp: np.ndarray | None = None) -> np.ndarray:
    """Integer convolution of zero-point shifted 8-bit tensors, int32 result."""
    xi = shift_zero_point(x, x_zp)
    wi = shift_zero_point(w, w_zp)
    return _conv(ctx, xi, wi, None, np.dtype(np.int32))


@kernel("QLinearConv")
def qlinear_conv(ctx: OpContext, x: np.ndarray, x_scale: np.ndarray, x_zp: np.ndarray | None,
                 w: np.ndarray, w_scale: np.ndarray, w_zp: np.ndarray | None, y_scale: np.ndarray,
                 y_zp: np.ndarray | None = None, b: np.ndarray | None = None) -> np.ndarray:
    """Quantized convolution: requantize the int32 accumulator to the output scale/zero point."""
    xi = shift_zero_point(x, x_zp)
    wi = shift_zero_point(w, w_zp)
    acc = _conv(ctx, xi, wi, None if b is None else b.astype(np.int32), np.dtype(np.int32))
    ws = np.asarray(w_scale, dtype=np.float32)
    if ws.size > 1:
        ws = ws.reshape((1, -1) + (1,) * (acc.ndim - 2))
    scale = np.float32(x_scale.reshape(())) * ws / np.float32(y_scale.reshape(()))
    out_dtype = y_zp.dtype if y_zp is not None else x.dtype
    res = acc * scale.astype(np.float64)
    if y_zp is not None:
        res += y_zp.astype(np.float64)
    info = np.iinfo(out_dtype)
    np.clip(res, info.min, info.max, out=res)
    buf = ctx.out(0, acc.shape, out_dtype)
    np.copyto(buf, np.rint(res), casting="unsafe")
    return buf


# --------------------------------------------------------------------------- ConvTranspose


def _transpose_geometry(ctx: OpContext, in_spatial: Sequence[int], kernel_shape: Sequence[int]
                        ) -> tuple[Geometry, tuple[int, ...]]:
    """(geometry with pads, output_padding) of a ConvTranspose node per the ONNX spec."""
    n = len(in_spatial)
    ks = tuple(int(k) for k in (ctx.attr("kernel_shape") or kernel_shape))
    strides = int_tuple(ctx.attr("strides"), n, 1)
    dil = int_tuple(ctx.attr("dilations"), n, 1)
    opad = int_tuple(ctx.attr("output_padding"), n, 0)[:n]
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    out_shape = ctx.attr("output_shape")
    if out_shape is not None and len(out_shape) > n:
        out_shape = list(out_shape)[-n:]
    full = [s * (i - 1) + op + (k - 1) * d + 1 for s, i, op, k, d in zip(strides, in_spatial, opad, ks, dil)]
    pads = ctx.attr("pads")
    if out_shape is not None or (auto_pad in ("SAME_UPPER", "SAME_LOWER") and not pads):
        target = [int(v) for v in out_shape] if out_shape is not None else \
            [i * s for i, s in zip(in_spatial, strides)]
        total = [f - t for f, t in zip(full, target)]
        if auto_pad == "SAME_UPPER":
            begin = [t // 2 for t in total]
        else:
            begin = [t - t // 2 for t in total]
        end = [t - b for t, b in zip(total, begin)]
        out = tuple(target)
    else:
        p = int_tuple(pads, 2 * n, 0)
        begin, end = list(p[:n]), list(p[n:])
        out = tuple(f - b - e for f, b, e in zip(full, begin, end))
    if any(o <= 0 for o in out):
        raise ctx.shape_error(f"output spatial shape {list(out)} is empty")
    return Geometry(ks, strides, dil, tuple(begin), tuple(end), out), opad


@kernel("ConvTranspose")
def conv_transpose(ctx: OpContext, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Transposed convolution: GEMM to columns, then one strided scatter-add per kernel tap."""
    n, c = x.shape[:2]
    in_sp = x.shape[2:]
    group = int(ctx.attr("group", 1))
    geo, _ = _transpose_geometry(ctx, in_sp, w.shape[2:])
    cg, mg = c // group, w.shape[1]
    m = mg * group
    ks = geo.kernel
    ksize = math.prod(ks)
    length = math.prod(in_sp)
    if w.dtype != x.dtype:
        w = w.astype(x.dtype)
    # cols[n, g, mg*K, L] = W[g]^T (mg*K, cg) @ x[n, g] (cg, L)
    wt = w.reshape(group, cg, mg * ksize).transpose(0, 2, 1)
    cols = np.matmul(wt, x.reshape(n, group, cg, length)).reshape((n, m) + ks + tuple(in_sp))
    # Canvas covering the full (unpadded) output and the requested window.
    full = [s * (i - 1) + (k - 1) * d + 1 for s, i, k, d in zip(geo.strides, in_sp, ks, geo.dilations)]
    lo = [min(0, bgn) for bgn in geo.pads_begin]
    hi = [max(f, bgn + o) for f, bgn, o in zip(full, geo.pads_begin, geo.out)]
    canvas = np.zeros((n, m) + tuple(h - lo_ for h, lo_ in zip(hi, lo)), dtype=x.dtype)
    for tap in np.ndindex(*ks):
        idx = tuple(slice(t * d - l0, t * d - l0 + (i - 1) * s + 1, s)
                    for t, d, l0, i, s in zip(tap, geo.dilations, lo, in_sp, geo.strides))
        canvas[(slice(None), slice(None)) + idx] += cols[(slice(None), slice(None)) + tap]
    crop = tuple(slice(bgn - l0, bgn - l0 + o) for bgn, l0, o in zip(geo.pads_begin, lo, geo.out))
    buf = ctx.out(0, (n, m) + geo.out, x.dtype)
    np.copyto(buf, canvas[(slice(None), slice(None)) + crop])
    if b is not None:
        buf += b.reshape((1, m) + (1,) * len(geo.out)).astype(buf.dtype, copy=False)
    return buf
