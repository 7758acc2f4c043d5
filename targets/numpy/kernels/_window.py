"""Sliding-window geometry shared by the convolution, pooling and quantized pooling kernels.

:class:`Geometry` holds one node's per-axis kernel, strides, dilations, pads and output
size (:func:`conv_geometry` derives it from the ONNX attributes, :func:`pool_geometry`
for pools with ``ceil_mode``); the view helpers read the input at every kernel tap
without a Python loop over pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .registry import OpContext

__all__ = ["Geometry", "int_tuple", "conv_geometry", "pad_spatial", "window_view", "tap_view", "pool_geometry",
           "pool_padded", "window_counts", "reduce_taps"]


@dataclass(frozen=True)
class Geometry:
    """Spatial layout of a sliding-window op: per spatial axis kernel, stride, dilation,
    pads before/after and the output size."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads_begin: tuple[int, ...]
    pads_end: tuple[int, ...]
    out: tuple[int, ...]

    @property
    def padded(self) -> bool:
        return any(self.pads_begin) or any(self.pads_end)


def int_tuple(value: Sequence[int] | None, n: int, default: int) -> tuple[int, ...]:
    """An ints attribute as a tuple, or ``n`` copies of ``default`` when it is absent or empty."""
    return tuple(int(v) for v in value) if value is not None and len(value) else (default,) * n


def conv_geometry(ctx: OpContext, in_spatial: Sequence[int], kernel_shape: Sequence[int] | None = None,
                  ceil_mode: bool = False) -> Geometry:
    """Pads and output size of a Conv/pool node from its attributes (ONNX rules).

    ``auto_pad`` SAME_UPPER/SAME_LOWER gives ``ceil(in / stride)`` outputs with the odd
    pad at the end/beginning; VALID no padding; NOTSET the ``pads`` attribute. With
    ``ceil_mode`` (pooling) the output is rounded up but the last window must start
    inside the input or its begin padding.
    """
    n = len(in_spatial)
    ks = int_tuple(kernel_shape if kernel_shape is not None else ctx.attr("kernel_shape"), n, 1)
    strides = int_tuple(ctx.attr("strides"), n, 1)
    dil = int_tuple(ctx.attr("dilations"), n, 1)
    if len(ks) != n or len(strides) != n or len(dil) != n:
        raise ctx.shape_error(
            f"kernel_shape/strides/dilations must have {n} entries "
            f"for a {n}-D input (got {list(ks)}, {list(strides)}, {list(dil)})"
        )
    span = [(k - 1) * d + 1 for k, d in zip(ks, dil)]
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-i // s) for i, s in zip(in_spatial, strides)]
        total = [max(0, (o - 1) * s + sp - i) for o, s, sp, i in zip(out, strides, span, in_spatial)]
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        begin, end = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
    elif auto_pad == "VALID":
        begin = end = [0] * n
        out = [(i - sp) // s + 1 for i, sp, s in zip(in_spatial, span, strides)]
    else:
        pads = int_tuple(ctx.attr("pads"), 2 * n, 0)
        begin, end = list(pads[:n]), list(pads[n:])
        out = []
        for i in range(n):
            full = in_spatial[i] + begin[i] + end[i] - span[i]
            o = (-(-full // strides[i]) if ceil_mode else full // strides[i]) + 1
            if ceil_mode and (o - 1) * strides[i] >= in_spatial[i] + begin[i]:
                o -= 1
            out.append(o)
    if any(o <= 0 for o in out):
        raise ctx.shape_error(
            f"input spatial shape {list(in_spatial)} is smaller than the "
            f"kernel window {span} (pads {list(begin)}+{list(end)}): output would be {out}"
        )
    return Geometry(ks, strides, dil, tuple(begin), tuple(end), tuple(out))


def pad_spatial(x: np.ndarray, begin: Sequence[int], end: Sequence[int], value: float = 0) -> np.ndarray:
    """``x`` with its trailing ``len(begin)`` axes padded by a constant (negative pads crop)."""
    lead = x.ndim - len(begin)
    if not any(begin) and not any(end):
        return x
    crop = tuple([slice(None)] * lead + [slice(max(0, -b), x.shape[lead + i] - max(0, -e))
                                         for i, (b, e) in enumerate(zip(begin, end))])
    x = x[crop]
    b = [max(0, v) for v in begin]
    e = [max(0, v) for v in end]
    shape = x.shape[:lead] + tuple(s + p + q for s, p, q in zip(x.shape[lead:], b, e))
    out = np.full(shape, value, dtype=x.dtype) if value != 0 else np.zeros(shape, dtype=x.dtype)
    out[tuple([slice(None)] * lead + [slice(p, p + s) for p, s in zip(b, x.shape[lead:])])] = x
    return out


def window_view(xp: np.ndarray, geo: Geometry) -> np.ndarray:
    """Read-only strided view ``(*lead, *kernel, *out)`` of padded ``xp`` (no copy)."""
    nd = len(geo.kernel)
    lead = xp.ndim - nd
    sp = xp.strides[lead:]
    shape = xp.shape[:lead] + geo.kernel + geo.out
    strides = xp.strides[:lead] + tuple(s * d for s, d in zip(sp, geo.dilations)) + \
        tuple(s * st for s, st in zip(sp, geo.strides))
    return as_strided(xp, shape, strides, writeable=False)


def tap_view(xp: np.ndarray, geo: Geometry, tap: Sequence[int]) -> np.ndarray:
    """The input samples kernel tap ``tap`` meets at every output position: ``(*lead, *out)``."""
    nd = len(geo.kernel)
    lead = xp.ndim - nd
    idx = [slice(None)] * lead + [
        slice(t * d, t * d + (o - 1) * s + 1, s)
        for t, d, o, s in zip(tap, geo.dilations, geo.out, geo.strides)
    ]
    return xp[tuple(idx)]


# --------------------------------------------------------------------------- pooling windows


def pool_padded(x: np.ndarray, geo: Geometry, value: float | int) -> np.ndarray:
    """``x`` padded by the geometry's pads plus the ceil-mode overhang at the end."""
    ends = []
    for i, (size, b, e) in enumerate(zip(x.shape[2:], geo.pads_begin, geo.pads_end)):
        need = (geo.out[i] - 1) * geo.strides[i] + (geo.kernel[i] - 1) * geo.dilations[i] + 1
        ends.append(max(e, need - size - b))
    return pad_spatial(x, geo.pads_begin, ends, value)


def window_counts(geo: Geometry, in_spatial: tuple[int, ...], include_pad: bool) -> np.ndarray:
    """How many window taps land on counted positions, per output position (separable)."""
    total = np.ones((), dtype=np.float64)
    for i, size in enumerate(in_spatial):
        pos = (np.arange(geo.out[i])[:, None] * geo.strides[i]
               + np.arange(geo.kernel[i])[None, :] * geo.dilations[i])
        if include_pad:
            lo, hi = 0, size + geo.pads_begin[i] + geo.pads_end[i]
        else:
            lo, hi = geo.pads_begin[i], geo.pads_begin[i] + size
        cnt = ((pos >= lo) & (pos < hi)).sum(axis=1).astype(np.float64)
        total = np.multiply.outer(total, cnt)
    return total


def pool_geometry(ctx: OpContext, x: np.ndarray) -> Geometry:
    """The window geometry of a pool node over N x C x spatial ``x`` (``ceil_mode`` honoured)."""
    if x.ndim < 3:
        raise ctx.shape_error(f"input must be N x C x spatial, got {x.shape}")
    return conv_geometry(ctx, x.shape[2:], ceil_mode=bool(ctx.attr("ceil_mode", 0)))


def reduce_taps(xp: np.ndarray, geo: Geometry, out: np.ndarray,
                combine: Callable[..., np.ndarray], pre: Callable[[np.ndarray], np.ndarray] | None = None
                ) -> np.ndarray:
    """Fold ``combine`` over every kernel tap's strided view into ``out``."""
    for t, tap in enumerate(np.ndindex(*geo.kernel)):
        v = tap_view(xp, geo, tap)
        if pre is not None:
            v = pre(v)
        if t == 0:
            np.copyto(out, v, casting="unsafe")
        else:
            combine(out, v, out=out, casting="unsafe")
    return out
