"""Kernels: shape ops.

Shape/Size, the view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity) which
return views of their input, and the copying layout ops (Transpose, Expand, Tile,
Concat, Split, Pad, DepthToSpace, ...), plus constants (Constant, ConstantOfShape,
Range, EyeLike), Trilu, Dropout (inference) and CenterCropPad.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from onnx import helper

from graphc.attributes import allowed_attribute_values
from graphc.errors import ModelFormatError

from .registry import OpContext, kernel


def _ints(x: Any) -> list[int]:
    """A shape/axes input or attribute as a list of Python ints."""
    return [int(v) for v in np.asarray(x).reshape(-1)]


def _norm_axes(axes: Sequence[int], rank: int) -> list[int]:
    return [a + rank if a < 0 else a for a in axes]


def _copy_out(ctx: OpContext, value: np.ndarray, index: int = 0) -> np.ndarray:
    """``value`` copied into the planned buffer of output ``index`` (a fresh array otherwise)."""
    buf = ctx.out(index, value.shape, value.dtype)
    np.copyto(buf, value)
    return buf


# --------------------------------------------------------------------------- shape queries


@kernel("Shape")
def shape(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """The int64 shape of x, sliced by ``start``/``end`` (opset 15)."""
    dims = x.shape
    if ctx.opset >= 15:
        rank = len(dims)
        start, end = ctx.attr("start", 0), ctx.attr("end", None)
        start = min(max(start + rank if start < 0 else start, 0), rank)
        end = rank if end is None else min(max(end + rank if end < 0 else end, 0), rank)
        dims = dims[start:end]
    return np.array(dims, dtype=np.int64)


@kernel("Size")
def size(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """The number of elements of x as a 0-d int64."""
    return np.array(x.size, dtype=np.int64)


# --------------------------------------------------------------------------- views


def _reshape_target(ctx: OpContext, in_shape: Sequence[int], size: int, shape_in: Any) -> list[int]:
    target = _ints(ctx.attr("shape", []) if ctx.opset < 5 else shape_in)
    if any(d < -1 for d in target):  # numpy would read any negative value as -1
        raise ctx.shape_error(f"target shape {target} holds a value below -1 (only -1, inferred, and 0 are special)")
    if not ctx.attr("allowzero", 0):
        target = [in_shape[i] if d == 0 else d for i, d in enumerate(target)]
    if -1 in target and size == 0:
        known = math.prod(d for d in target if d != -1)
        target = [0 if d == -1 and known else d for d in target]
    return target


def _prepare_reshape(ctx: OpContext, inputs: Sequence[Any]) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """A constant target shape for a static input shape: (input shape, output shape), resolved once."""
    in_shape = getattr(inputs[0], "shape", None) if inputs else None
    shape_in = inputs[1] if len(inputs) > 1 else None
    if in_shape is None or not all(isinstance(d, int) for d in in_shape) \
            or (ctx.opset >= 5 and not isinstance(shape_in, np.ndarray)):
        return None
    in_shape = tuple(in_shape)
    size = math.prod(in_shape)
    target = _reshape_target(ctx, in_shape, size, shape_in)
    known = math.prod(d for d in target if d != -1)
    if target.count(-1) == 1 and known > 0 and size % known == 0:
        target = [size // known if d == -1 else d for d in target]
    if any(d < 0 for d in target) or math.prod(target) != size:
        return None  # the kernel reports it at run time
    return in_shape, tuple(target)


@kernel("Reshape", view=True, prepare=_prepare_reshape)
def reshape(ctx: OpContext, x: np.ndarray, shape_in: np.ndarray | None = None) -> np.ndarray:
    """x with a new shape; 0 copies the input dim unless ``allowzero``, -1 is inferred."""
    prepared = ctx.state
    if prepared is not None and x.shape == prepared[0]:
        return x.reshape(prepared[1])
    target = _reshape_target(ctx, x.shape, x.size, shape_in)
    try:
        return x.reshape(target)
    except ValueError:  # numpy's only complaint here: the element counts differ
        zeros = "" if ctx.attr("allowzero", 0) else " (its 0s taken from the input's dims)"
        raise ctx.shape_error(f"cannot reshape an input of shape {list(x.shape)} ({x.size} elements) into shape "
                              f"{target}{zeros}: the element counts differ; fix the shape input or the data "
                              "fed") from None


@kernel("Flatten", view=True)
def flatten(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x as 2-D: dims before ``axis`` and dims from ``axis``."""
    axis = ctx.attr("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


#: output shapes a Squeeze/Unsqueeze node remembers, one per input shape
RESHAPE_MEMO_SIZE = 8


def _static_reshape(fn: Any) -> Any:
    """A prepare hook for Squeeze/Unsqueeze with constant axes: a dict input shape -> output shape, holding the
    static input shape's entry when there is one and filled by the kernel for run-time shapes (at most
    :data:`RESHAPE_MEMO_SIZE`; a dict store is atomic, and racing threads store the same value), so a call on
    a known shape is one reshape (the axes decoding cost 2-3 us a call)."""
    def prepare(ctx: OpContext, inputs: Sequence[Any]) -> dict[tuple[int, ...], tuple[int, ...]] | None:
        shape = getattr(inputs[0], "shape", None) if inputs else None
        axes = inputs[1] if len(inputs) > 1 else None
        if ctx.opset >= 13 and axes is not None and not isinstance(axes, np.ndarray):
            return None  # axes known only at run time
        if shape is None or not all(isinstance(d, int) for d in shape):
            return {}
        try:
            out = fn(ctx, np.empty(tuple(shape), np.uint8), axes).shape
        except Exception:  # noqa: BLE001 - a bad node is reported by the kernel at run time
            return None
        return {tuple(shape): tuple(out)}
    return prepare


def _remember_shape(ctx: OpContext, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y`` (the reshaped ``x``), its shape remembered for ``x``'s when the node keeps a memo with room."""
    memo = ctx.state
    if memo is not None and len(memo) < RESHAPE_MEMO_SIZE:
        memo[x.shape] = y.shape
    return y


@kernel("Squeeze", view=True, prepare=_static_reshape(lambda ctx, x, axes: squeeze(ctx, x, axes)))
def squeeze(ctx: OpContext, x: np.ndarray, axes_in: np.ndarray | None = None) -> np.ndarray:
    """Drop the given size-1 axes (all size-1 axes by default)."""
    if ctx.state:
        shape = ctx.state.get(x.shape)
        if shape is not None:
            return x.reshape(shape)
    axes = ctx.attr("axes", None) if ctx.opset < 13 else (None if axes_in is None else _ints(axes_in))
    if axes is None:
        return _remember_shape(ctx, x, x.reshape([d for d in x.shape if d != 1]))
    drop = set(_norm_axes(axes, x.ndim))
    return _remember_shape(ctx, x, x.reshape([d for i, d in enumerate(x.shape) if i not in drop]))


@kernel("Unsqueeze", view=True, prepare=_static_reshape(lambda ctx, x, axes: unsqueeze(ctx, x, axes)))
def unsqueeze(ctx: OpContext, x: np.ndarray, axes_in: np.ndarray | None = None) -> np.ndarray:
    """Insert size-1 axes at the given output positions."""
    if ctx.state:
        shape = ctx.state.get(x.shape)
        if shape is not None:
            return x.reshape(shape)
    axes = ctx.attr("axes", []) if ctx.opset < 13 else _ints(axes_in)
    rank = x.ndim + len(axes)
    new = set(_norm_axes(axes, rank))
    dims = iter(x.shape)
    return _remember_shape(ctx, x, x.reshape([1 if i in new else next(dims) for i in range(rank)]))


@kernel("Identity", view=True)
def identity(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x itself."""
    return x


@kernel("Dropout", view=True)
def dropout(
    ctx: OpContext, x: np.ndarray, ratio: np.ndarray | None = None, training: np.ndarray | None = None
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Identity in inference (mask all True); random mask when training with ratio > 0."""
    p = float(ctx.attr("ratio", 0.5)) if ctx.opset < 12 else (0.5 if ratio is None else float(ratio))
    train = ctx.opset >= 12 and training is not None and bool(training)
    if not train or p == 0:
        y, mask = x, None
    else:
        rng = np.random.RandomState(ctx.attr("seed", None))
        mask = rng.uniform(0, 1.0, x.shape) >= p
        y = (mask * x * (1.0 / (1.0 - p))).astype(x.dtype)
    if ctx.outs and len(ctx.outs) < 2:
        return y
    # two outputs declared (or count unknown): also give the mask
    return y, (np.ones(x.shape, dtype=np.bool_) if mask is None else mask)


# --------------------------------------------------------------------------- copying layout ops


@kernel("Transpose")
def transpose(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Permute axes (reverse by default)."""
    perm = ctx.attr("perm", None)
    return _copy_out(ctx, np.transpose(x, perm))


@kernel("Expand")
def expand(ctx: OpContext, x: np.ndarray, shape_in: np.ndarray) -> np.ndarray:
    """Broadcast x with the given shape (bidirectional broadcasting)."""
    out_shape = np.broadcast_shapes(x.shape, tuple(_ints(shape_in)))
    return _copy_out(ctx, np.broadcast_to(x, out_shape))


@kernel("Tile")
def tile(ctx: OpContext, x: np.ndarray, repeats: np.ndarray, *legacy: np.ndarray) -> np.ndarray:
    """Repeat x ``repeats[i]`` times along each axis."""
    reps = _ints(repeats)
    if ctx.opset < 6 and legacy:  # Tile-1: (input, tiles, axis)
        r = [1] * x.ndim
        r[int(np.asarray(legacy[0]).reshape(-1)[0])] = reps[0]
        reps = r
    return np.tile(x, reps)


def _same_memory_view(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` and ``b`` address the same elements (strides of size-1 dims do not matter)."""
    return a.ctypes.data == b.ctypes.data and a.shape == b.shape and a.dtype == b.dtype \
        and all(sa == sb for sa, sb, n in zip(a.strides, b.strides, a.shape) if n > 1)


@kernel("Concat", joins=True)
def concat(ctx: OpContext, *inputs: np.ndarray) -> np.ndarray:
    """Join inputs along ``axis``; inputs the plan already laid out in place (joined) are not copied."""
    axis = ctx.attr("axis", 1 if ctx.opset < 4 else 0)
    axis = axis + inputs[0].ndim if axis < 0 else axis
    parts = [x for x in inputs if x is not None]
    shape = list(parts[0].shape)
    shape[axis] = sum(x.shape[axis] for x in parts)
    dtype = parts[0].dtype
    buf = ctx.out(0, shape, dtype)
    if buf.dtype == object:
        return np.concatenate(parts, axis=axis)
    if not ctx.inplace_ok:
        return np.concatenate(parts, axis=axis, out=buf)
    at = 0
    for x in parts:
        dst = buf[(slice(None),) * axis + (slice(at, at + x.shape[axis]),)]
        if not _same_memory_view(x, dst):
            np.copyto(dst, x)
        at += x.shape[axis]
    return buf


@kernel("Split")
def split(ctx: OpContext, x: np.ndarray, split_in: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Split along ``axis`` by sizes (attribute before 13, input after) or into equal parts."""
    axis = ctx.attr("axis", 0)
    axis = axis + x.ndim if axis < 0 else axis
    dim = x.shape[axis]
    sizes = _ints(split_in) if split_in is not None and split_in.size else ctx.attr("split", None)
    if not sizes:
        n = ctx.attr("num_outputs", None) or len(ctx.outs)
        if not n:
            raise ValueError(f"Split node {ctx.name!r}: output count unknown (ctx.outs not given)")
        chunk = -(-dim // n) if ctx.opset >= 18 else dim // n
        sizes = [chunk] * (n - 1) + [dim - chunk * (n - 1)]
    bounds = np.cumsum([0] + list(sizes))
    outs = []
    for i in range(len(sizes)):
        sl = [slice(None)] * x.ndim
        sl[axis] = slice(int(bounds[i]), int(bounds[i + 1]))
        outs.append(_copy_out(ctx, x[tuple(sl)], i))
    return tuple(outs)


def _pad_array(
    x: np.ndarray, pads: Sequence[int], mode: str, value: Any, axes: Sequence[int] | None
) -> np.ndarray:
    """x padded (negative pads crop) by ONNX ``pads`` = begins then ends over ``axes``."""
    rank = x.ndim
    axes = list(range(rank)) if axes is None else _norm_axes(axes, rank)
    n = len(axes)
    width: list[tuple[int, int]] = [(0, 0) for _ in range(rank)]
    for i, a in enumerate(axes):
        width[a] = (int(pads[i]), int(pads[n + i]))
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(width))
    x = x[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in width]
    if mode == "constant":
        out_shape = tuple(d + b + e for d, (b, e) in zip(x.shape, width))
        out = np.full(out_shape, value, dtype=x.dtype)
        out[tuple(slice(b, b + d) for d, (b, _) in zip(x.shape, width))] = x
        return out
    if x.size == 0 and mode != "constant":
        return np.pad(x, width, mode="constant")
    if mode in ("reflect", "edge") and all(b < d and e < d for d, (b, e) in zip(x.shape, width)):
        return _pad_by_slices(x, width, mode == "reflect")
    return np.pad(x, width, mode=mode)  # type: ignore[call-overload]  # ONNX's mode string, checked by the kernel


def _pad_by_slices(x: np.ndarray, width: Sequence[tuple[int, int]], reflect: bool) -> np.ndarray:
    """Reflect or edge padding narrower than each axis, as np.pad computes it (axis by axis over the
    whole output, so corners come out the same) with one slice copy per side: 3 against 11 us for a
    64-sample reflect pad of a 512-sample chunk."""
    out = np.empty(tuple(d + b + e for d, (b, e) in zip(x.shape, width)), x.dtype)
    out[tuple(slice(b, b + d) for d, (b, _) in zip(x.shape, width))] = x
    for axis, (d, (b, e)) in enumerate(zip(x.shape, width)):
        lead = (slice(None),) * axis
        if b:
            out[lead + (slice(0, b),)] = out[lead + ((slice(2 * b, b, -1) if reflect else slice(b, b + 1)),)]
        if e:
            end = b + d  # one past the last original element
            stop = end - 2 - e if end - 2 - e >= 0 else None
            out[lead + (slice(end, None),)] = out[lead + ((slice(end - 2, stop, -1) if reflect else slice(end - 1, end)),)]
    return out


class PadPlan:
    """A Pad whose pads, value and axes are constants (opset 11+), decoded once; per input shape the
    output shape and the slice copies of :func:`_pad_by_slices` are kept (a few shapes), so a call is
    those copies into the planned buffer: a VAD's 64-sample reflect pad 8.3 -> 2.1 us."""

    #: how many input shapes keep their copies
    MAX_SHAPES = 4

    def __init__(self, pads: list[int], value: Any, axes: list[int] | None):
        self.pads, self.value, self.axes = pads, value, axes
        self._shapes: dict[tuple[int, ...], Any] = {}

    def copies(self, shape: tuple[int, ...], mode: str) -> Any:
        """(output shape, crop of x, interior of the output, [(dst, src) slice copies]) for ``shape``;
        None when the general path runs (an axis narrower than its reflect/edge pad, an empty input)."""
        got = self._shapes.get(shape)
        if got is not None or shape in self._shapes:
            return got
        rank = len(shape)
        axes = list(range(rank)) if self.axes is None else _norm_axes(self.axes, rank)
        n = len(axes)
        width = [(0, 0)] * rank
        for i, a in enumerate(axes):
            width[a] = (self.pads[i], self.pads[n + i])
        crop = tuple(slice(max(-b, 0), d - max(-e, 0)) for d, (b, e) in zip(shape, width))
        dims = [max(sl.stop - sl.start, 0) for sl in crop]
        width = [(max(b, 0), max(e, 0)) for b, e in width]
        plan = None
        if all(dims) and (mode == "constant" or all(b < d and e < d for d, (b, e) in zip(dims, width))):
            steps = []
            if mode != "constant":
                reflect = mode == "reflect"
                for axis, (d, (b, e)) in enumerate(zip(dims, width)):
                    lead = (slice(None),) * axis
                    if b:
                        steps.append((lead + (slice(0, b),), lead + (slice(2 * b, b, -1) if reflect else slice(b, b + 1),)))
                    if e:
                        end = b + d
                        stop = end - 2 - e if end - 2 - e >= 0 else None
                        steps.append((lead + (slice(end, None),),
                                      lead + (slice(end - 2, stop, -1) if reflect else slice(end - 1, end),)))
            plan = (tuple(d + b + e for d, (b, e) in zip(dims, width)), crop,
                    tuple(slice(b, b + d) for d, (b, _) in zip(dims, width)), steps)
        if len(self._shapes) >= self.MAX_SHAPES:
            self._shapes.pop(next(iter(self._shapes)))
        self._shapes[shape] = plan
        return plan


def _prepare_pad(ctx: OpContext, inputs: Sequence[Any]) -> PadPlan | None:
    """Constant pads (and value and axes, when given) of an opset-11+ Pad as a :class:`PadPlan`; None otherwise."""
    args = list(inputs) + [None] * 4
    pads, value, axes = args[1:4]
    if ctx.opset < 11 or not isinstance(pads, np.ndarray) \
            or not all(a is None or isinstance(a, np.ndarray) for a in (value, axes)):
        return None
    fill = 0 if value is None or value.size == 0 else value.reshape(-1)[0]
    return PadPlan(_ints(pads), fill, None if axes is None else _ints(axes))


@kernel("Pad", prepare=_prepare_pad)
def pad(
    ctx: OpContext,
    x: np.ndarray,
    pads_in: np.ndarray | None = None,
    value_in: np.ndarray | None = None,
    axes_in: np.ndarray | None = None,
) -> np.ndarray:
    """Pad with constant/reflect/edge/wrap; pads/value attributes before opset 11, inputs after."""
    mode = ctx.attr("mode", "constant")
    allowed = allowed_attribute_values("Pad", "mode", ctx.opset)
    if allowed is not None and mode not in allowed:  # a graph built without the ONNX loader's check
        raise ModelFormatError(f"Pad node {ctx.name!r} (opset {ctx.opset}): mode {mode!r} is not one of "
                               f"{', '.join(allowed)}")
    state = ctx.state
    if state is not None and mode in ("constant", "reflect", "edge") and x.ndim and len(state.pads) == 2 * (x.ndim if state.axes is None else len(state.axes)):
        plan = state.copies(x.shape, mode)
        if plan is not None:
            out_shape, crop, interior, steps = plan
            out = ctx.out(0, out_shape, x.dtype)
            if mode == "constant":
                out.fill(state.value)
            out[interior] = x[crop]
            for dst, src in steps:
                out[dst] = out[src]
            return out
    if ctx.opset < 11:
        pads = ctx.attr("pads", None) if ctx.opset >= 2 else ctx.attr("paddings", None)
        value = ctx.attr("value", 0.0)
        axes = None
    else:
        pads = _ints(pads_in)
        value = 0 if value_in is None or value_in.size == 0 else np.asarray(value_in).reshape(-1)[0]
        axes = None if axes_in is None else _ints(axes_in)
    return _pad_array(x, pads, mode, value, axes)


@kernel("CenterCropPad")
def center_crop_pad(ctx: OpContext, x: np.ndarray, shape_in: np.ndarray) -> np.ndarray:
    """Center-crop or zero-pad the given axes to ``shape``."""
    axes = ctx.attr("axes", None)
    axes = list(range(x.ndim)) if axes is None else _norm_axes(axes, x.ndim)
    new_shape = list(x.shape)
    crop = [slice(None)] * x.ndim
    place = [slice(None)] * x.ndim
    for a, target in zip(axes, _ints(shape_in)):
        dim = x.shape[a]
        new_shape[a] = target
        if target < dim:
            s = (dim - target) // 2
            crop[a] = slice(s, s + target)
        elif target > dim:
            s = (target - dim) // 2
            place[a] = slice(s, s + dim)
    out = ctx.out(0, new_shape, x.dtype)
    out[...] = 0
    out[tuple(place)] = x[tuple(crop)]
    return out


@kernel("DepthToSpace")
def depth_to_space(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Move channel blocks into spatial blocks (DCR or CRD order)."""
    bs = ctx.attr("blocksize")
    b, c, h, w = x.shape
    if ctx.attr("mode", "DCR") == "CRD":
        t = x.reshape(b, c // (bs * bs), bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        t = x.reshape(b, bs, bs, c // (bs * bs), h, w).transpose(0, 3, 4, 1, 5, 2)
    buf = ctx.out(0, (b, c // (bs * bs), h * bs, w * bs), x.dtype)
    np.copyto(buf.reshape(t.shape), t)
    return buf


@kernel("SpaceToDepth")
def space_to_depth(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Move spatial blocks into channels (DCR or CRD order)."""
    bs = ctx.attr("blocksize")
    b, c, h, w = x.shape
    perm = (0, 1, 3, 5, 2, 4) if ctx.attr("mode", "DCR") == "CRD" else (0, 3, 5, 1, 2, 4)
    t = x.reshape(b, c, h // bs, bs, w // bs, bs).transpose(perm)
    buf = ctx.out(0, (b, c * bs * bs, h // bs, w // bs), x.dtype)
    np.copyto(buf.reshape(t.shape), t)
    return buf


# --------------------------------------------------------------------------- constants


@kernel("Constant")
def constant(ctx: OpContext) -> np.ndarray:
    """The tensor held in whichever ``value*`` attribute the node has."""
    attrs = ctx.attrs
    if "value" in attrs:
        return np.array(attrs["value"])
    if "sparse_value" in attrs:
        return attrs["sparse_value"].to_dense()
    if "value_float" in attrs:
        return np.array(attrs["value_float"], dtype=np.float32)
    if "value_floats" in attrs:
        return np.array(attrs["value_floats"], dtype=np.float32)
    if "value_int" in attrs:
        return np.array(attrs["value_int"], dtype=np.int64)
    if "value_ints" in attrs:
        return np.array(attrs["value_ints"], dtype=np.int64)
    if "value_string" in attrs:
        return np.array(attrs["value_string"], dtype=object)
    if "value_strings" in attrs:
        out = np.empty(len(attrs["value_strings"]), dtype=object)
        out[:] = attrs["value_strings"]
        return out
    raise ValueError(f"Constant node {ctx.name!r} has no value attribute")


@kernel("ConstantOfShape")
def constant_of_shape(ctx: OpContext, shape_in: np.ndarray) -> np.ndarray:
    """A tensor of the given shape filled with ``value`` (float32 0 by default)."""
    value = ctx.attr("value", None)
    value = np.zeros(1, dtype=np.float32) if value is None else np.asarray(value).reshape(-1)
    out = ctx.out(0, _ints(shape_in), value.dtype)
    out.fill(value[0])
    return out


@kernel("Range")
def range_(ctx: OpContext, start: np.ndarray, limit: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """start, start + delta, ... up to (not including) limit, in start's dtype."""
    dtype = start.dtype
    s, l, d = start.item(), limit.item(), delta.item()
    n = max(int(math.ceil((l - s) / d)), 0)
    if dtype.kind in "iu":
        return (s + np.arange(n, dtype=np.int64) * d).astype(dtype)
    return np.arange(s, l, d).astype(dtype)


@kernel("EyeLike")
def eye_like(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """A 2-D identity-like matrix of x's shape with ones on diagonal ``k``."""
    to = ctx.attr("dtype", None)
    dtype = x.dtype if to is None else helper.tensor_dtype_to_np_dtype(int(to))
    return np.eye(x.shape[0], x.shape[1], k=ctx.attr("k", 0), dtype=dtype)


@kernel("Trilu")
def trilu(ctx: OpContext, x: np.ndarray, k: np.ndarray | None = None) -> np.ndarray:
    """Upper (default) or lower triangle of the last two dims, shifted by k."""
    kk = 0 if k is None else int(np.asarray(k).reshape(-1)[0])
    res = np.triu(x, kk) if ctx.attr("upper", 1) else np.tril(x, kk)
    return _copy_out(ctx, res)
