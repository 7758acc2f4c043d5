"""Kernels: indexing.

Gather family, Scatter family (with reductions), Slice (attribute and input
forms), Compress, OneHot, NonZero, Unique and ReverseSequence. Negative indices
count from the end everywhere.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .registry import OpContext, kernel


def _ints(x: Any) -> list[int]:
    return [int(v) for v in np.asarray(x).reshape(-1)]


def _positive(idx: np.ndarray, dim: int | np.ndarray) -> np.ndarray:
    """Indices with negatives shifted by ``dim`` (no copy when none are negative)."""
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        idx = idx.astype(np.int64)
    if idx.size and idx.dtype.kind == "i" and idx.min() < 0:
        return np.where(idx < 0, idx + dim, idx)
    return idx


def _axis(ctx: OpContext, rank: int, default: int = 0) -> int:
    axis = ctx.attr("axis", default)
    return axis + rank if axis < 0 else axis


# --------------------------------------------------------------------------- Gather family


def _prepare_gather(ctx: OpContext, inputs: Sequence[Any]) -> int | None:
    """A constant scalar integer index, as a Python int (the call is then a basic index and one copy)."""
    idx = inputs[1] if len(inputs) > 1 else None
    if isinstance(idx, np.ndarray) and idx.ndim == 0 and idx.dtype.kind in "iu":
        return int(idx)
    return None


@kernel("Gather", prepare=_prepare_gather)
def gather(ctx: OpContext, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Take entries of x along ``axis`` at ``indices`` (a prepared scalar index: a basic index and one copy,
    1-2 against 4-5 us on small tensors)."""
    axis = _axis(ctx, x.ndim)
    i = ctx.state
    if i is not None and x.dtype != object and x.ndim and -x.shape[axis] <= i < x.shape[axis]:
        view = x[(slice(None),) * axis + (i,)]
        buf = ctx.out(0, view.shape, x.dtype)
        np.copyto(buf, view)
        return buf
    idx = _positive(indices, x.shape[axis])
    shape = x.shape[:axis] + idx.shape + x.shape[axis + 1:]
    buf = ctx.out(0, shape, x.dtype)
    if x.dtype == object:
        return np.take(x, idx, axis=axis)
    return np.take(x, idx, axis=axis, out=buf, mode="clip")


@kernel("GatherElements")
def gather_elements(ctx: OpContext, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """out[i][j][k] = x[index[i][j][k]][j][k] (for axis 0)."""
    axis = _axis(ctx, x.ndim)
    return np.take_along_axis(x, _positive(indices, x.shape[axis]), axis=axis)


@kernel("GatherND")
def gather_nd(ctx: OpContext, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Gather slices of x addressed by the last dim of ``indices`` (after ``batch_dims``)."""
    b = ctx.attr("batch_dims", 0)
    m = indices.shape[-1]
    batch = x.shape[:b]
    nb = math.prod(batch)
    dims = np.array(x.shape[b:b + m], dtype=np.int64)
    idx = _positive(indices.reshape(nb, -1, m), dims)
    xb = x.reshape((nb,) + x.shape[b:])
    coords = tuple(idx[..., j] for j in range(m))
    res = xb[(np.arange(nb)[:, None],) + coords]
    return res.reshape(batch + indices.shape[b:-1] + x.shape[b + m:])


# --------------------------------------------------------------------------- Scatter family

_REDUCE = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _element_index(idx: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """A full fancy index addressing x[..., idx, ...] for each position of ``idx``."""
    grids = np.ogrid[tuple(slice(0, d) for d in idx.shape)]
    return tuple(idx if i == axis else g for i, g in enumerate(grids))


def _write(out: np.ndarray, where: tuple, values: np.ndarray, reduction: str) -> None:
    """``out[where] = values``, or reduced into place (``add``/``mul``/``max``/``min``; repeats accumulate)."""
    if reduction == "none":
        out[where] = values
    else:
        _REDUCE[reduction].at(out, where, values)


def _scatter_elements(ctx: OpContext, x: np.ndarray, indices: np.ndarray, updates: np.ndarray) -> np.ndarray:
    axis = _axis(ctx, x.ndim)
    out = x.copy()
    where = _element_index(_positive(indices, x.shape[axis]), axis)
    _write(out, where, updates, ctx.attr("reduction", "none"))
    return out


@kernel("ScatterElements")
def scatter_elements(ctx: OpContext, x: np.ndarray, indices: np.ndarray, updates: np.ndarray) -> np.ndarray:
    """Copy of x with ``updates`` written (or reduced) at ``indices`` along ``axis``."""
    return _scatter_elements(ctx, x, indices, updates)


@kernel("Scatter")
def scatter(ctx: OpContext, x: np.ndarray, indices: np.ndarray, updates: np.ndarray) -> np.ndarray:
    """Deprecated alias of ScatterElements without reduction."""
    return _scatter_elements(ctx, x, indices, updates)


@kernel("ScatterND")
def scatter_nd(ctx: OpContext, x: np.ndarray, indices: np.ndarray, updates: np.ndarray) -> np.ndarray:
    """Copy of x with slices addressed by ``indices`` replaced (or reduced) by ``updates``."""
    k = indices.shape[-1]
    out = x.copy()
    where = tuple(indices.reshape(-1, k).T)
    _write(out, where, updates.reshape((-1,) + x.shape[k:]), ctx.attr("reduction", "none"))
    return out


# --------------------------------------------------------------------------- Slice


def _slice_bound(start: int, end: int, step: int, dim: int) -> slice:
    """ONNX start/end/step clamping turned into a Python slice."""
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start = min(max(start, 0), dim)
        end = min(max(end, 0), dim)
        return slice(start, end, step)
    start = min(max(start, 0), dim - 1)
    end = min(max(end, -1), dim - 1)
    return slice(start, None if end < 0 else end, step)


def slice_index(shape: Sequence[int], starts: Sequence[int], ends: Sequence[int],
                axes: Sequence[int] | None, steps: Sequence[int] | None) -> tuple[slice, ...]:
    """The basic index that ONNX Slice selects from an array of ``shape``."""
    rank = len(shape)
    axes = list(range(len(starts))) if axes is None else [a + rank if a < 0 else a for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * rank
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[a] = _slice_bound(s, e, st, shape[a])
    return tuple(index)


class SliceBounds:
    """A Slice's constant starts/ends/axes/steps, decoded once, and the basic index it selects per input
    shape (a few kept): a call is one lookup and one copy (the VAD's (1, 258, 3) halves 2.3 -> 1.4 us)."""

    #: how many input shapes keep their index
    MAX_SHAPES = 4

    def __init__(self, starts: list[int], ends: list[int], axes: list[int] | None, steps: list[int] | None):
        self.bounds = (starts, ends, axes, steps)
        self._index: dict[tuple[int, ...], tuple[slice, ...]] = {}

    def index(self, shape: tuple[int, ...]) -> tuple[slice, ...]:
        """The basic index selected from an array of ``shape``."""
        got = self._index.get(shape)
        if got is None:
            got = slice_index(shape, *self.bounds)
            if len(self._index) >= self.MAX_SHAPES:
                self._index.pop(next(iter(self._index)))
            self._index[shape] = got
        return got


def _prepare_slice(ctx: OpContext, inputs: Sequence[Any]) -> SliceBounds | None:
    """Constant starts/ends/axes/steps (opset 10+) decoded to int lists once; None when one is computed."""
    args = list(inputs) + [None] * 5
    starts, ends, axes, steps = args[1:5]
    if ctx.opset < 10 or not isinstance(starts, np.ndarray) or not isinstance(ends, np.ndarray) \
            or not all(a is None or isinstance(a, np.ndarray) for a in (axes, steps)):
        return None
    return SliceBounds(_ints(starts), _ints(ends), None if axes is None else _ints(axes),
                       None if steps is None else _ints(steps))


@kernel("Slice", prepare=_prepare_slice)
def slice_(
    ctx: OpContext,
    x: np.ndarray,
    starts: np.ndarray | None = None,
    ends: np.ndarray | None = None,
    axes: np.ndarray | None = None,
    steps: np.ndarray | None = None,
) -> np.ndarray:
    """x[starts:ends:steps] on ``axes`` (attributes before opset 10, inputs after)."""
    if ctx.state is not None:
        index = ctx.state.index(x.shape)
    elif ctx.opset < 10:
        index = slice_index(x.shape, ctx.attr("starts"), ctx.attr("ends"), ctx.attr("axes", None), None)
    else:
        index = slice_index(
            x.shape, _ints(starts), _ints(ends),
            None if axes is None else _ints(axes), None if steps is None else _ints(steps),
        )
    view = x[index]
    buf = ctx.out(0, view.shape, x.dtype)
    np.copyto(buf, view)
    return buf


# --------------------------------------------------------------------------- selection


@kernel("Compress")
def compress(ctx: OpContext, x: np.ndarray, condition: np.ndarray) -> np.ndarray:
    """Entries of x along ``axis`` (flattened when absent) where condition is true."""
    axis = ctx.attr("axis", None)
    return np.compress(condition.reshape(-1).astype(bool, copy=False), x, axis=axis)


@kernel("OneHot")
def one_hot(ctx: OpContext, indices: np.ndarray, depth: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A one-hot encoding of ``indices`` with ``depth`` classes inserted at ``axis``."""
    d = int(np.asarray(depth).reshape(-1)[0])
    idx = np.asarray(indices)
    if idx.dtype.kind == "f":
        idx = np.trunc(idx)
    idx = idx.astype(np.int64)
    idx = np.where(idx < 0, idx + d, idx)
    rank = idx.ndim + 1
    axis = ctx.attr("axis", -1)
    axis = axis + rank if axis < 0 else axis
    classes = np.arange(d, dtype=np.int64).reshape((d,) + (1,) * (rank - 1 - axis))
    hot = np.expand_dims(idx, axis) == classes
    vals = values.reshape(-1)
    return np.where(hot, vals[1], vals[0]).astype(values.dtype, copy=False)


@kernel("NonZero")
def non_zero(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """int64 coordinates of the non-zero entries, shape (rank, count)."""
    if x.ndim == 0:
        return np.zeros((0, int(bool(x))), dtype=np.int64)
    return np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)


@kernel("Unique")
def unique(ctx: OpContext, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unique values (or slices along ``axis``), first indices, inverse indices and counts."""
    axis = ctx.attr("axis", None)
    if axis is not None:
        axis = axis + x.ndim if axis < 0 else axis
    y, first, inverse, counts = np.unique(
        x, return_index=True, return_inverse=True, return_counts=True, axis=axis
    )
    inverse = inverse.reshape(-1)
    if not ctx.attr("sorted", 1):
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        y = np.take(y, order, axis=0 if axis is None else axis)
        first, counts, inverse = first[order], counts[order], rank[inverse]
    as64 = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
    return y, as64(first), as64(inverse), as64(counts)


@kernel("ReverseSequence")
def reverse_sequence(ctx: OpContext, x: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Reverse the first ``lens[b]`` steps of each batch entry along the time axis."""
    b_axis = ctx.attr("batch_axis", 1)
    t_axis = ctx.attr("time_axis", 0)
    t = np.arange(x.shape[t_axis], dtype=np.int64)
    lens = lens.astype(np.int64).reshape(-1)
    shape2 = [1] * x.ndim
    shape2[t_axis] = t.size
    tt = t.reshape(shape2)
    shape_b = [1] * x.ndim
    shape_b[b_axis] = lens.size
    ll = lens.reshape(shape_b)
    src = np.where(tt < ll, ll - 1 - tt, tt)
    src = np.broadcast_to(src, np.broadcast_shapes(src.shape, x.shape))
    return np.take_along_axis(x, src, axis=t_axis)
