"""Kernels: the experimental ONNX ops that ONNX dropped but onnxruntime still runs.

Models converted in ONNX's first years (the model zoo's tinyyolov2 and other opset 7–9
exports) carry ``ImageScaler``, ``Crop``, ``Affine``, ``ScaledTanh``,
``ParametricSoftplus``, ``Scale`` or ``DynamicSlice``. ONNX no longer defines them, but
onnxruntime keeps CPU kernels for them in the default domain, so the numpy target does
too, with onnxruntime's semantics (``onnxruntime/core/providers/cpu``: ``crop.h``,
``image_scaler.h``, the ``*_functor`` activations and ``DynamicSlice`` as Slice-10).
"""

from __future__ import annotations

import numpy as np

from .indexing import slice_index
from .registry import OpContext, kernel


def _float_out(ctx: OpContext, y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    buf = ctx.out(0, y.shape, dtype)
    np.copyto(buf, y, casting="unsafe")
    return buf


@kernel("ImageScaler")
def image_scaler(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """scale * x + bias[c] over N x C x H x W."""
    scale = x.dtype.type(ctx.attr("scale", 1.0))
    bias = np.asarray(ctx.attr("bias", []), dtype=x.dtype)
    if x.ndim != 4 or bias.size != x.shape[1]:
        raise ctx.shape_error(f"needs N x C x H x W input and one bias per "
                                  f"channel, got input {x.shape} and {bias.size} bias values")
    buf = ctx.out(0, x.shape, x.dtype)
    np.multiply(x, scale, out=buf)
    return np.add(buf, bias.reshape(1, -1, 1, 1), out=buf)


@kernel("Crop")
def crop(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x[:, :, top:bottom, left:right] from ``border`` = [left, top, right, bottom], or a
    ``scale`` = [height, width] window at (top, left)."""
    border = [int(v) for v in ctx.attr("border", [])]
    scale = [int(v) for v in ctx.attr("scale", [])]
    if x.ndim != 4 or len(border) != 4 or len(scale) not in (0, 2):
        raise ctx.shape_error(f"needs N x C x H x W input, 4 border values and 0 or 2 "
                                  f"scale values, got input {x.shape}, border {border}, scale {scale}")
    left, top, right, bottom = border
    h, w = x.shape[2:]
    bottom_limit, right_limit = (top + scale[0], left + scale[1]) if scale else (h - bottom, w - right)
    if not (0 <= top < bottom_limit <= h and 0 <= left < right_limit <= w):
        raise ctx.shape_error(f"border {border} / scale {scale} do not fit the "
                                  f"{h} x {w} input")
    view = x[:, :, top:bottom_limit, left:right_limit]
    buf = ctx.out(0, view.shape, x.dtype)
    np.copyto(buf, view)
    return buf


@kernel("Affine")
def affine(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """alpha * x + beta."""
    t = x.dtype.type
    return _float_out(ctx, t(ctx.attr("alpha", 1.0)) * x + t(ctx.attr("beta", 0.0)), x.dtype)


@kernel("Scale")
def scale_(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """scale * x."""
    return _float_out(ctx, x.dtype.type(ctx.attr("scale", 1.0)) * x, x.dtype)


@kernel("ScaledTanh")
def scaled_tanh(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """alpha * tanh(beta * x)."""
    t = x.dtype.type
    return _float_out(ctx, t(ctx.attr("alpha", 1.0)) * np.tanh(t(ctx.attr("beta", 1.0)) * x), x.dtype)


@kernel("ParametricSoftplus")
def parametric_softplus(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """alpha * ln(1 + exp(beta * x)), computed without overflow."""
    t = x.dtype.type
    bx = t(ctx.attr("beta", 1.0)) * x
    y = np.maximum(bx, t(0)) + np.log1p(np.exp(-np.abs(bx)))
    return _float_out(ctx, t(ctx.attr("alpha", 1.0)) * y, x.dtype)


@kernel("DynamicSlice")
def dynamic_slice(ctx: OpContext, x: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  axes: np.ndarray | None = None) -> np.ndarray:
    """Slice-10 without steps: x[starts:ends] on ``axes`` given as inputs."""
    ints = [int(v) for v in np.asarray(starts).reshape(-1)], [int(v) for v in np.asarray(ends).reshape(-1)]
    axes_list = None if axes is None else [int(v) for v in np.asarray(axes).reshape(-1)]
    view = x[slice_index(x.shape, ints[0], ints[1], axes_list, None)]
    buf = ctx.out(0, view.shape, x.dtype)
    np.copyto(buf, view)
    return buf
