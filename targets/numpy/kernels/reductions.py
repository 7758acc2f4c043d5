"""Kernels: reductions.

Reduce* (axes as attribute or, from opset 13/18, as input with
``noop_with_empty_axes``; empty-set reductions give the identity of the op, and
ReduceMean of an empty set, which the specification leaves undefined, 0 as onnxruntime does;
a NaN makes ReduceMax/ReduceMin's result NaN wherever it sits, unlike onnxruntime),
ArgMax/ArgMin, CumSum/CumProd and TopK.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .registry import OpContext, kernel


def _reduce_axes(ctx: OpContext, x: np.ndarray, axes_in: np.ndarray | None) -> tuple[int, ...] | None:
    """The normalized axes to reduce, or None when the op is a no-op."""
    if axes_in is not None and axes_in.size:
        axes = [int(a) for a in axes_in.reshape(-1)]
    else:
        axes = ctx.attr("axes", None)
        if not axes:
            if ctx.attr("noop_with_empty_axes", 0):
                return None
            return tuple(range(x.ndim))
    return tuple(sorted({a + x.ndim if a < 0 else a for a in axes}))


def _min_value(dtype: np.dtype) -> Any:
    if dtype.kind == "b":
        return False
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _max_value(dtype: np.dtype) -> Any:
    if dtype.kind == "b":
        return True
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _finish(ctx: OpContext, res: Any, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Cast to x's dtype, apply keepdims and wrap 0-d results as arrays."""
    res = np.asarray(res)
    if not ctx.attr("keepdims", 1):
        res = res.reshape([d for i, d in enumerate(x.shape) if i not in axes])
    if res.dtype != x.dtype:
        res = res.astype(x.dtype)
    return res


def _register_reduce(op: str, compute: Callable[[np.ndarray, tuple[int, ...]], Any]) -> None:
    def fn(ctx: OpContext, x: np.ndarray, axes_in: np.ndarray | None = None) -> np.ndarray:
        axes = _reduce_axes(ctx, x, axes_in)
        if axes is None:
            return x.copy()
        return _finish(ctx, compute(x, axes), x, axes)

    fn.__name__ = fn.__qualname__ = op.lower()
    fn.__doc__ = f"ONNX {op} over the selected axes (keepdims by default)."
    kernel(op)(fn)


def _sum(x: np.ndarray, axes: tuple[int, ...]) -> Any:
    return np.sum(x, axis=axes, keepdims=True, dtype=x.dtype)


def _mean(x: np.ndarray, axes: tuple[int, ...]) -> Any:
    if x.size == 0:  # the spec leaves the mean of nothing undefined: 0, as onnxruntime gives
        return np.zeros_like(np.sum(x, axis=axes, keepdims=True, dtype=x.dtype))
    if x.dtype.kind == "f":
        return np.mean(x, axis=axes, keepdims=True, dtype=x.dtype)
    return np.mean(x, axis=axes, keepdims=True)


def _max(x: np.ndarray, axes: tuple[int, ...]) -> Any:
    if x.size == 0:
        return np.max(x, axis=axes, keepdims=True, initial=_min_value(x.dtype))
    return np.max(x, axis=axes, keepdims=True)


def _min(x: np.ndarray, axes: tuple[int, ...]) -> Any:
    if x.size == 0:
        return np.min(x, axis=axes, keepdims=True, initial=_max_value(x.dtype))
    return np.min(x, axis=axes, keepdims=True)


def _prod(x: np.ndarray, axes: tuple[int, ...]) -> Any:
    return np.prod(x, axis=axes, keepdims=True, dtype=x.dtype)


def _l1(x: np.ndarray, axes: tuple[int, ...]) -> Any:
    return np.sum(np.abs(x), axis=axes, keepdims=True, dtype=x.dtype)


def _sum_square(x: np.ndarray, axes: tuple[int, ...]) -> Any:
    return np.sum(np.square(x), axis=axes, keepdims=True, dtype=x.dtype)


def _l2(x: np.ndarray, axes: tuple[int, ...]) -> Any:
    s = np.sum(np.square(x), axis=axes, keepdims=True, dtype=x.dtype)
    return np.sqrt(s) if x.dtype.kind == "f" else np.sqrt(s.astype(np.float64))


def _log_sum(x: np.ndarray, axes: tuple[int, ...]) -> Any:
    with np.errstate(divide="ignore"):
        return np.log(np.sum(x, axis=axes, keepdims=True, dtype=x.dtype))


def _log_sum_exp(x: np.ndarray, axes: tuple[int, ...]) -> Any:
    xf = x if x.dtype.kind == "f" else x.astype(np.float64)
    if x.size == 0:
        with np.errstate(divide="ignore"):
            return np.log(np.sum(np.exp(xf), axis=axes, keepdims=True))
    m = np.max(xf, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(xf.dtype)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(xf - m), axis=axes, keepdims=True)) + m


for _op, _fn in (
    ("ReduceSum", _sum),
    ("ReduceMean", _mean),
    ("ReduceMax", _max),
    ("ReduceMin", _min),
    ("ReduceProd", _prod),
    ("ReduceL1", _l1),
    ("ReduceL2", _l2),
    ("ReduceSumSquare", _sum_square),
    ("ReduceLogSum", _log_sum),
    ("ReduceLogSumExp", _log_sum_exp),
):
    _register_reduce(_op, _fn)


# --------------------------------------------------------------------------- ArgMax / ArgMin


def _arg(ctx: OpContext, x: np.ndarray, fn: Callable[..., np.ndarray]) -> np.ndarray:
    axis = ctx.attr("axis", 0)
    axis = axis + x.ndim if axis < 0 else axis
    if ctx.attr("select_last_index", 0):
        idx = x.shape[axis] - 1 - fn(np.flip(x, axis), axis=axis)
    else:
        idx = fn(x, axis=axis)
    idx = np.asarray(idx, dtype=np.int64)
    return np.expand_dims(idx, axis) if ctx.attr("keepdims", 1) else idx


@kernel("ArgMax")
def arg_max(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Index (int64) of the maximum along ``axis``."""
    return _arg(ctx, x, np.argmax)


@kernel("ArgMin")
def arg_min(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Index (int64) of the minimum along ``axis``."""
    return _arg(ctx, x, np.argmin)


# --------------------------------------------------------------------------- CumSum / CumProd


def _cumulative(
    ctx: OpContext, x: np.ndarray, axis_in: np.ndarray, fn: Callable[..., np.ndarray], unit: int
) -> np.ndarray:
    axis = int(np.asarray(axis_in).reshape(-1)[0])
    axis = axis + x.ndim if axis < 0 else axis
    reverse = bool(ctx.attr("reverse", 0))
    src = np.flip(x, axis) if reverse else x
    acc = fn(src, axis=axis, dtype=x.dtype)
    if ctx.attr("exclusive", 0):
        shifted = np.empty_like(acc)
        head = [slice(None)] * x.ndim
        head[axis] = slice(0, 1)
        tail = list(head)
        tail[axis] = slice(1, None)
        body = list(head)
        body[axis] = slice(0, -1)
        shifted[tuple(head)] = unit
        shifted[tuple(tail)] = acc[tuple(body)]
        acc = shifted
    if reverse:
        acc = np.flip(acc, axis)
    buf = ctx.out(0, x.shape, x.dtype)
    np.copyto(buf, acc)
    return buf


@kernel("CumSum")
def cum_sum(ctx: OpContext, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Cumulative sum along ``axis`` (``exclusive``, ``reverse``)."""
    return _cumulative(ctx, x, axis, np.cumsum, 0)


@kernel("CumProd")
def cum_prod(ctx: OpContext, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Cumulative product along ``axis`` (``exclusive``, ``reverse``)."""
    return _cumulative(ctx, x, axis, np.cumprod, 1)


# --------------------------------------------------------------------------- TopK


@kernel("TopK")
def top_k(ctx: OpContext, x: np.ndarray, k_in: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k largest (or smallest) values along ``axis`` and their int64 indices.

    Ties keep the smaller index first; output is sorted either way.
    """
    k = int(ctx.attr("k", 0)) if ctx.opset < 10 else int(np.asarray(k_in).reshape(-1)[0])
    axis = ctx.attr("axis", -1)
    axis = axis + x.ndim if axis < 0 else axis
    largest = bool(ctx.attr("largest", 1))
    n = x.shape[axis]
    if largest:
        # descending with stable ties: sort the reversed axis ascending, then reverse back
        order = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
        order = np.flip(n - 1 - order, axis)
    else:
        order = np.argsort(x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis).astype(np.int64, copy=False)
    vals = np.take_along_axis(x, idx, axis=axis)
    return vals, idx
