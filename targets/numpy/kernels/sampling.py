"""Kernels: spatial sampling — AffineGrid (opset 20) and GridSample (opsets 16, 20+).

Spatial transformers (text rectification in OCR, flow warping) export ``F.affine_grid`` +
``F.grid_sample`` as these two ops. Both are vectorized over every output position:
GridSample gathers each interpolation tap (1 for nearest, 2^r for linear, 4^r for cubic)
from the flattened spatial input with one ``take_along_axis`` and sums the weighted taps.
The semantics follow the ONNX specification and its reference (PyTorch's ``grid_sampler``):
unnormalize per ``align_corners``; nearest rounds half to even; out-of-range coordinates are
clamped (``border``; for cubic, each tap is clamped instead, as onnxruntime does) or reflected
(``reflection``) before interpolation, and every tap that still falls outside reads 0
(``zeros``), the clamped pixel (``border``) or the reflected one.
"""

from __future__ import annotations

import itertools

import numpy as np

from .registry import OpContext, kernel

_MODES = {"bilinear": "linear", "linear": "linear", "nearest": "nearest", "bicubic": "cubic", "cubic": "cubic"}
_CUBIC_A = -0.75


@kernel("AffineGrid", since=20)
def affine_grid(ctx: OpContext, theta: np.ndarray, size: np.ndarray) -> np.ndarray:
    """theta (N, 2, 3) or (N, 3, 4) and size (N, C, H, W) or (N, C, D, H, W) -> grid (N, *spatial, r)."""
    dims = [int(d) for d in size.reshape(-1)[2:]]
    r = len(dims)
    if theta.shape[1:] != (r, r + 1):
        raise ValueError(f"AffineGrid node {ctx.name!r}: theta {theta.shape} does not fit a {r}-D size {dims}")
    align = bool(ctx.attr("align_corners", 0))
    axes = []
    for d in dims:
        if align:
            axes.append(np.linspace(-1.0, 1.0, d) if d > 1 else np.full(d, -1.0))
        else:
            axes.append((2.0 * np.arange(d) + 1.0) / d - 1.0)
    mesh = np.meshgrid(*axes, indexing="ij")              # one (*dims) array per spatial dim
    base = np.stack([*mesh[::-1], np.ones(dims)], axis=-1)  # (*dims, r + 1): x (innermost dim) first
    grid = base.reshape(-1, r + 1) @ theta.astype(np.float64).transpose(0, 2, 1)  # (N, P, r)
    return grid.reshape(theta.shape[0], *dims, r).astype(theta.dtype)


def _reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect ``x`` by the nearer border until it lies in [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return np.full_like(x, lo)
    below, above = x < lo, x > hi
    dx = np.where(below, lo - x, x - hi)
    n = np.floor(dx / span)
    rem = dx - n * span
    even = np.mod(n, 2) == 0
    return np.where(below, np.where(even, lo + rem, hi - rem),
                    np.where(above, np.where(even, hi - rem, lo + rem), x))


def _cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    """Keys cubic-convolution weights (A = -0.75) of the taps at -1, 0, 1, 2 for fraction t."""
    a = _CUBIC_A

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


@kernel("GridSample", since=16)
def grid_sample(ctx: OpContext, x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Sample ``x`` (N, C, *dims) at the normalized positions of ``grid`` (N, *out, r)."""
    mode = _MODES.get(str(ctx.attr("mode", "bilinear" if ctx.opset < 20 else "linear")))
    padding = str(ctx.attr("padding_mode", "zeros"))
    if mode is None or padding not in ("zeros", "border", "reflection"):
        raise ValueError(f"GridSample node {ctx.name!r}: unsupported mode {ctx.attr('mode')!r} "
                         f"or padding_mode {padding!r}")
    align = bool(ctx.attr("align_corners", 0))
    n, c, dims = x.shape[0], x.shape[1], x.shape[2:]
    r = len(dims)
    if grid.shape[0] != n or grid.shape[-1] != r:
        raise ValueError(f"GridSample node {ctx.name!r}: grid {grid.shape} does not fit input {x.shape}")
    out_dims = grid.shape[1:-1]
    pts = grid.reshape(n, -1, r)
    ftype = np.float64 if x.dtype == np.float64 else np.float32

    coords = []  # per spatial dim i (outermost first): (N, P) unnormalized coordinate
    for i, d in enumerate(dims):
        g = pts[..., r - 1 - i].astype(ftype)
        v = (g + 1) / 2 * (d - 1) if align else ((g + 1) * d - 1) / 2
        if mode == "nearest":
            v = np.rint(v)
        lo, hi = (0.0, d - 1.0) if align else (-0.5, d - 0.5)
        if padding == "border":
            if mode != "cubic":  # cubic clamps each tap instead (as onnxruntime and PyTorch do)
                v = np.clip(v, 0, d - 1)
        elif padding == "reflection":
            v = _reflect(v, lo, hi)
        coords.append(v)

    def tap(i: int, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Integer tap positions made valid for dim i, and (zeros padding) which were inside."""
        d = dims[i]
        if padding == "zeros":
            inside = (idx >= 0) & (idx < d)
            return np.clip(idx, 0, d - 1), inside
        if padding == "border":
            return np.clip(idx, 0, d - 1), None
        lo, hi = (0.0, d - 1.0) if align else (-0.5, d - 0.5)
        return np.clip(np.trunc(_reflect(idx.astype(ftype), lo, hi)).astype(np.int64), 0, d - 1), None

    if mode == "nearest":
        taps_per_dim: list[list[tuple[np.ndarray, np.ndarray | None]]] = [[(np.trunc(v).astype(np.int64), None)] for v in coords]
    else:
        taps_per_dim = []
        for v in coords:
            base = np.floor(v)
            t = v - base
            base = base.astype(np.int64)
            if mode == "linear":
                taps_per_dim.append([(base, 1 - t), (base + 1, t)])
            else:
                taps_per_dim.append([(base + k - 1, w) for k, w in enumerate(_cubic_weights(t))])

    flat = x.reshape(n, c, -1)
    strides = np.cumprod((1,) + tuple(dims[::-1]))[:-1][::-1]  # row-major strides of the spatial dims
    acc = np.zeros((n, c, pts.shape[1]), dtype=ftype)
    for combo in itertools.product(*taps_per_dim):
        index = np.zeros(pts.shape[:2], dtype=np.int64)
        weight = None
        for i, (idx, w) in enumerate(combo):
            pos, inside = tap(i, idx)
            index += pos * int(strides[i])
            if inside is not None:
                w = inside.astype(ftype) if w is None else w * inside
            if w is not None:
                weight = w if weight is None else weight * w
        vals = np.take_along_axis(flat, np.broadcast_to(index[:, None, :], (n, c, index.shape[1])), axis=2)
        acc += vals if weight is None else vals * weight[:, None, :]
    out = ctx.out(0, (n, c, *out_dims), x.dtype)
    np.copyto(out, acc.reshape(n, c, *out_dims), casting="unsafe")
    return out


__all__ = ["affine_grid", "grid_sample"]
