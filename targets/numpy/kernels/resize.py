"""Kernels: Resize (opsets 10-19+) and Upsample (7-9).

Resizing is separable: each resized axis is interpolated on its own, in axis order.
Per axis the output coordinates are mapped back to input coordinates
(``coordinate_transformation_mode``), each output position gets ``n`` neighbour
indices (clamped to the edge) and ``n`` coefficients (nearest, linear, cubic, with
optional antialiasing and ``exclude_outside``), and one gather plus a weighted sum
over the neighbours produces the axis. Nearest mode is a pure gather.

The neighbour/coefficient conventions follow the ONNX reference implementation, so
half-way cases pick the same inputs.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from graphc.errors import ShapeInferenceError

from .registry import OpContext, kernel

__all__ = ["resize_array"]


# --------------------------------------------------------------------------- coefficients


def _cubic_kernel(x: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter ``a``."""
    x = np.abs(x)
    x2, x3 = x * x, x * x * x
    near = (a + 2) * x3 - (a + 3) * x2 + 1
    far = a * x3 - 5 * a * x2 + 8 * a * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _coefficients(mode: str, ratio: np.ndarray, scale: float, antialias: bool, a: float) -> np.ndarray:
    """(O, n) interpolation weights for fractional offsets ``ratio`` (1 at integers)."""
    r = ratio[:, None]
    if mode == "linear":
        if not antialias:
            return np.concatenate([1 - r, r], axis=1)
        s = min(scale, 1.0)
        start = int(math.floor(-1 / s) + 1)
        args = (np.arange(start, 2 - start)[None, :] - r) * s
        c = np.clip(1 - np.abs(args), 0, 1)
        return c / c.sum(axis=1, keepdims=True)
    if mode == "cubic":
        if not antialias:
            return _cubic_kernel(np.concatenate([r + 1, r, 1 - r, 2 - r], axis=1), a)
        s = min(scale, 1.0)
        start = int(math.floor(-2 / s) + 1)
        c = _cubic_kernel(s * (np.arange(start, 2 - start)[None, :] - r), a)
        return c / c.sum(axis=1, keepdims=True)
    raise ShapeInferenceError(f"Resize: unknown mode {mode!r} (nearest, linear or cubic)")


def _source_coords(ctm: str, out_size: int, in_size: int, scale: float,
                   roi: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Input coordinate of every output index, and the tf_crop_and_resize outside mask."""
    y = np.arange(out_size, dtype=np.float64)
    out_len = scale * in_size
    if ctm == "align_corners":
        x = np.zeros(out_size) if out_len == 1 else y * (in_size - 1) / (out_len - 1)
    elif ctm == "asymmetric":
        x = y / scale
    elif ctm == "tf_half_pixel_for_nn":
        x = (y + 0.5) / scale
    elif ctm == "tf_crop_and_resize":
        lo, hi = roi if roi is not None else (0.0, 1.0)
        if out_len == 1:
            x = np.full(out_size, (hi - lo) * (in_size - 1) / 2)
        else:
            x = y * (hi - lo) * (in_size - 1) / (out_len - 1)
        x = x + lo * (in_size - 1)
        return x, (x < 0) | (x > in_size - 1)
    elif ctm == "pytorch_half_pixel":
        x = np.full(out_size, -0.5) if out_len == 1 else (y + 0.5) / scale - 0.5
    elif ctm == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif ctm == "half_pixel_symmetric":
        offset = in_size / 2 * (1 - out_size / out_len)
        x = offset + (y + 0.5) / scale - 0.5
    else:
        raise ShapeInferenceError(f"Resize: unknown coordinate_transformation_mode {ctm!r}")
    return x, None


def _nearest_index(x: np.ndarray, mode: str, in_size: int, scale: float) -> np.ndarray:
    """Nearest input index per ``nearest_mode`` (``simple``: Resize-10/Upsample rule)."""
    fl = np.floor(x)
    frac = x - fl
    if mode == "round_prefer_floor":
        idx = np.where(frac <= 0.5, fl, fl + 1)
    elif mode == "round_prefer_ceil":
        idx = np.where(frac < 0.5, fl, fl + 1)
    elif mode == "floor":
        idx = fl
    elif mode == "ceil":
        idx = np.ceil(x)
    elif mode == "simple":
        idx = np.ceil(x) if scale < 1 else fl
    else:
        raise ShapeInferenceError(f"Resize: unknown nearest_mode {mode!r}")
    return np.clip(idx, 0, in_size - 1).astype(np.intp)


def _neighbours(x: np.ndarray, n: int) -> np.ndarray:
    """(O, n) neighbour indices of coordinates ``x`` (may lie outside the input)."""
    pad = int(math.ceil(n / 2))
    xp = x + pad
    p = np.floor(xp)
    frac = xp - p
    if n % 2 == 0:
        off = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        base = -((n - 1) // 2)
        off = np.where(frac <= 0.5, base, base + 1)
    start = p.astype(np.int64) + off
    return start[:, None] + np.arange(n)[None, :] - pad


def _resize_axis(data: np.ndarray, axis: int, out_size: int, scale: float, roi: tuple[float, float] | None,
                 opts: dict) -> np.ndarray:
    in_size = data.shape[axis]
    x, outside = _source_coords(opts["ctm"], out_size, in_size, scale, roi)
    if opts["mode"] == "nearest":
        res = np.take(data, _nearest_index(x, opts["nearest_mode"], in_size, scale), axis=axis)
    else:
        fl = np.floor(x)
        ratio = np.where(x == fl, 1.0, x - fl)
        coeffs = _coefficients(opts["mode"], ratio, scale, opts["antialias"], opts["cubic_coeff_a"])
        idx = _neighbours(x, coeffs.shape[1])
        if opts["exclude_outside"]:
            coeffs = np.where((idx < 0) | (idx >= in_size), 0.0, coeffs)
            total = coeffs.sum(axis=1, keepdims=True)
            coeffs = coeffs / np.where(total == 0, 1.0, total)
        idx = np.clip(idx, 0, in_size - 1)
        shape = (out_size,) + (1,) * (data.ndim - axis - 1)
        coeffs = coeffs.astype(data.dtype)
        res = None
        for k in range(idx.shape[1]):
            term = np.take(data, idx[:, k], axis=axis)
            term *= coeffs[:, k].reshape(shape)
            res = term if res is None else np.add(res, term, out=res)
    assert res is not None  # every output has at least one tap
    if outside is not None and outside.any():
        mask = outside.reshape((1,) * axis + (out_size,) + (1,) * (data.ndim - axis - 1))
        res = np.where(mask, res.dtype.type(opts["extrapolation_value"]), res)
    return res


def resize_array(x: np.ndarray, out_shape: Sequence[int], scales: Sequence[float],
                 roi: Sequence[float] | None, opts: dict) -> np.ndarray:
    """Resize ``x`` to ``out_shape`` (``scales`` per axis; ``roi`` as [starts..., ends...])."""
    r = x.ndim
    nearest = opts["mode"] == "nearest"
    if nearest:
        work = x
    else:
        work = x.astype(np.float32 if x.dtype in (np.float32, np.float16) else np.float64)
    for axis in range(r):
        axis_roi = None if roi is None else (float(roi[axis]), float(roi[axis + r]))
        same_roi = axis_roi is None or (math.isclose(axis_roi[0], 0.0) and math.isclose(axis_roi[1], 1.0))
        if math.isclose(scales[axis], 1.0) and out_shape[axis] == work.shape[axis] and same_roi:
            continue
        work = _resize_axis(work, axis, int(out_shape[axis]), float(scales[axis]), axis_roi, opts)
    if work.dtype == x.dtype:
        return work
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        work = np.clip(np.trunc(work), info.min, info.max)  # toward zero, as onnxruntime casts
    return work.astype(x.dtype)


# --------------------------------------------------------------------------- kernels


def _attr_str(ctx: OpContext, name: str, default: str) -> str:
    v = ctx.attr(name, default)
    return v.decode() if isinstance(v, bytes) else str(v)


def _plan(ctx: OpContext, x: np.ndarray, roi: np.ndarray | None, scales: np.ndarray | None,
          sizes: np.ndarray | None) -> tuple[list[int], list[float], list[float] | None]:
    """(output shape, per-axis scales, full-rank roi) from the Resize inputs and attributes."""
    r = x.ndim
    axes = ctx.attr("axes")
    axes = list(range(r)) if axes is None else [int(a) + r if int(a) < 0 else int(a) for a in axes]
    if scales is not None and scales.size == 0:
        scales = None
    if sizes is not None and sizes.size == 0:
        sizes = None
    if roi is not None and roi.size == 0:
        roi = None
    full_roi = None
    if roi is not None:
        vals = [float(v) for v in roi.reshape(-1)]
        full_roi = [0.0] * r + [1.0] * r
        if len(vals) != 2 * len(axes):
            raise ctx.shape_error(f"roi has {len(vals)} values, expected {2 * len(axes)}")
        for i, a in enumerate(axes):
            full_roi[a], full_roi[r + a] = vals[i], vals[len(axes) + i]
    if sizes is not None:
        req = [int(v) for v in sizes.reshape(-1)]
        if len(req) != len(axes):
            raise ctx.shape_error(f"sizes has {len(req)} values for {len(axes)} axes")
        out = list(x.shape)
        for i, a in enumerate(axes):
            out[a] = req[i]
        sc = [out[i] / x.shape[i] if x.shape[i] else 1.0 for i in range(r)]
        policy = _attr_str(ctx, "keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            picked = [sc[a] for a in axes]
            s = min(picked) if policy == "not_larger" else max(picked)
            if policy not in ("not_larger", "not_smaller"):
                raise ctx.shape_error(f"unknown keep_aspect_ratio_policy {policy!r}")
            sc = [s if i in axes else 1.0 for i in range(r)]
            out = [int(s * x.shape[i] + 0.5) if i in axes else x.shape[i] for i in range(r)]
        return out, sc, full_roi
    if scales is None:
        raise ctx.shape_error(f"neither scales nor sizes is given")
    given = [float(v) for v in scales.reshape(-1)]
    if len(given) != len(axes):
        raise ctx.shape_error(f"scales has {len(given)} values for {len(axes)} axes")
    sc = [1.0] * r
    for i, a in enumerate(axes):
        sc[a] = given[i]
    out = [int(math.floor(x.shape[i] * sc[i])) for i in range(r)]
    return out, sc, full_roi


def _options(ctx: OpContext) -> dict:
    legacy = ctx.op_type == "Upsample" or ctx.opset < 11
    mode = _attr_str(ctx, "mode", "nearest")
    if mode == "bilinear":
        mode = "linear"
    return {
        "mode": mode,
        "ctm": "asymmetric" if legacy else _attr_str(ctx, "coordinate_transformation_mode", "half_pixel"),
        "nearest_mode": "simple" if legacy else _attr_str(ctx, "nearest_mode", "round_prefer_floor"),
        "cubic_coeff_a": float(ctx.attr("cubic_coeff_a", -0.75)),
        "exclude_outside": bool(ctx.attr("exclude_outside", 0)),
        "extrapolation_value": float(ctx.attr("extrapolation_value", 0.0)),
        "antialias": bool(ctx.attr("antialias", 0)),
    }


def _finish(ctx: OpContext, x: np.ndarray, out: list[int], sc: list[float], roi: list[float] | None) -> np.ndarray:
    opts = _options(ctx)
    if opts["antialias"] and opts["mode"] == "nearest":
        raise ctx.shape_error(f"antialias needs mode linear or cubic")
    res = resize_array(x, out, sc, roi, opts)
    buf = ctx.out(0, res.shape, x.dtype)
    np.copyto(buf, res)
    return buf


@kernel("Resize")
def resize(ctx: OpContext, x: np.ndarray, roi: np.ndarray | None = None, scales: np.ndarray | None = None,
           sizes: np.ndarray | None = None) -> np.ndarray:
    """Nearest/linear/cubic resize by ``scales`` or to ``sizes`` (Resize-10 takes X, scales)."""
    if ctx.opset < 11:
        roi, scales, sizes = None, roi, None
    out, sc, full_roi = _plan(ctx, x, roi, scales, sizes)
    return _finish(ctx, x, out, sc, full_roi)


@kernel("Upsample")
def upsample(ctx: OpContext, x: np.ndarray, scales: np.ndarray | None = None) -> np.ndarray:
    """Nearest or (bi)linear upsampling, asymmetric coordinates; output floor(in * scale)."""
    sc = [float(v) for v in (scales.reshape(-1) if scales is not None else ctx.attr("scales"))]
    if len(sc) != x.ndim:
        raise ctx.shape_error(f"{len(sc)} scales for a rank-{x.ndim} input")
    out = [int(math.floor(d * s)) for d, s in zip(x.shape, sc)]
    return _finish(ctx, x, out, sc, None)
