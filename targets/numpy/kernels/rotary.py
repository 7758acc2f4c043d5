"""Kernels: rotary position embeddings.

* ``RotaryEmbedding`` (ONNX, opset 23): 3-D (B, S, N*H) or 4-D (B, N, S, H) input, caches
  indexed by ``position_ids`` or given per (B, S); follows ``onnx.reference`` (arithmetic
  in the input dtype).
* ``com.microsoft::RotaryEmbedding`` (onnxruntime's CPU kernel): (B, S, hidden) or
  (B, N, S, H) input, ``position_ids`` a (B, S) table or a 1-element offset,
  ``rotary_embedding_dim`` / ``num_heads`` / ``interleaved``; float16/bfloat16 computed in
  float32.

Both rotate with :func:`targets.numpy.kernels._attention.rotate`; GroupQueryAttention's
built-in rotation (``do_rotary``) lives with it in
:mod:`targets.numpy.kernels.group_query_attention`.
"""

from __future__ import annotations

import numpy as np

from ._attention import merge_heads, rotate, split_heads
from ._numeric import compute_dtype
from .registry import OpContext, kernel

MS_DOMAIN = "com.microsoft"


# --------------------------------------------------------------------------- RotaryEmbedding (ONNX)


@kernel("RotaryEmbedding", since=23)
def rotary_embedding(ctx: OpContext, x: np.ndarray, cos_cache: np.ndarray, sin_cache: np.ndarray,
                     position_ids: np.ndarray | None = None) -> np.ndarray:
    """Rotary embedding of (B, N, S, H) or (B, S, N*H) input (``num_heads`` required for 3-D).

    With ``position_ids`` (B, S) the caches are (max_position, rot/2) tables indexed by
    position, without they are (B, S, rot/2). ``rotary_embedding_dim`` (0: the head size)
    rotates only the first features; ``interleaved`` pairs (0, 1), (2, 3), ... instead of
    the two halves. Arithmetic is in the input dtype, as in the reference.
    """
    interleaved = bool(ctx.attr("interleaved", 0))
    if x.ndim == 4:
        xh = x
    elif x.ndim == 3:
        n = int(ctx.attr("num_heads", 0) or 0)
        if n <= 0 or x.shape[2] % n:
            raise ctx.shape_error(f"3-D input {x.shape} needs a num_heads attribute dividing its hidden size")
        xh = split_heads(x, n)
    else:
        raise ctx.shape_error(f"input must be (B, N, S, H) or (B, S, hidden), got {x.shape}")
    b, _, s, h = xh.shape
    rot = int(ctx.attr("rotary_embedding_dim", 0) or 0) or h
    if rot > h or rot % 2:
        raise ctx.shape_error(f"rotary_embedding_dim {rot} must be even and at most the head size {h}")
    if position_ids is not None:
        pos = np.asarray(position_ids, dtype=np.int64)
        if pos.size and (pos.min() < 0 or pos.max() >= cos_cache.shape[0]):
            raise ctx.shape_error(f"position_ids out of the cos/sin caches' range [0, {cos_cache.shape[0]})")
        cos, sin = cos_cache[pos], sin_cache[pos]
    else:
        cos, sin = cos_cache, sin_cache
    if cos.shape[-1] != rot // 2 or sin.shape != cos.shape or cos.shape[:-1] not in ((b, s), (1, s), (s,)):
        raise ctx.shape_error(f"cos/sin caches give {cos.shape} / {sin.shape}, expected ({b}, {s}, {rot // 2})")
    cos = cos.astype(x.dtype, copy=False).reshape((-1, 1, s, rot // 2))  # (B, 1, S, rot/2)
    sin = sin.astype(x.dtype, copy=False).reshape((-1, 1, s, rot // 2))
    y = rotate(xh, cos, sin, rot, interleaved)
    return ctx.write(0, y if x.ndim == 4 else merge_heads(y), x.dtype)


# --------------------------------------------------------------------------- com.microsoft RotaryEmbedding


def _rope_positions(ctx: OpContext, position_ids: np.ndarray, b: int, s: int, limit: int) -> np.ndarray:
    """(B, S) positions: a 1-element position_ids is the offset of 0..S-1, a (B, S) one is taken as is."""
    p = np.asarray(position_ids, dtype=np.int64)
    if p.size == 1:
        pos = np.broadcast_to(p.reshape(()) + np.arange(s), (b, s))
    elif p.shape == (b, s):
        pos = p
    else:
        raise ctx.shape_error(f"position_ids {p.shape} must be (1) or (B, S) = ({b}, {s})")
    if pos.size and (pos.min() < 0 or pos.max() >= limit):
        raise ctx.shape_error(f"position ids out of the cos/sin cache's range [0, {limit})")
    return pos


@kernel("RotaryEmbedding", domain=MS_DOMAIN)
def ms_rotary_embedding(ctx: OpContext, x: np.ndarray, position_ids: np.ndarray, cos_cache: np.ndarray,
                     sin_cache: np.ndarray) -> np.ndarray:
    """Rotary position embedding of (B, S, hidden) or (B, N, S, H) input.

    ``rotary_embedding_dim`` (with ``num_heads`` for 3-D input) rotates only the first
    features of each head; ``interleaved`` pairs features (0, 1), (2, 3), ... instead of
    the two halves.
    """
    if ctx.attr("is_packed_batching", 0):
        raise ctx.unsupported("is_packed_batching")
    interleaved = bool(ctx.attr("interleaved", 0))
    rot = int(ctx.attr("rotary_embedding_dim", 0)) or 2 * cos_cache.shape[1]
    ct = compute_dtype(x)
    xc = x.astype(ct, copy=False)
    if x.ndim == 4:
        b, n, s, h = x.shape
        xh = xc
    elif x.ndim == 3:
        b, s, d = x.shape
        n = int(ctx.attr("num_heads", 0)) or d // rot
        if n <= 0 or d % n:
            raise ctx.shape_error(f"hidden size {d} is not divisible by num_heads={n}")
        h = d // n
        xh = split_heads(xc, n)
    else:
        raise ctx.shape_error(f"input must be (B, S, hidden) or (B, N, S, H), got {x.shape}")
    if rot > h or rot % 2 or cos_cache.shape[1] * 2 != rot or sin_cache.shape != cos_cache.shape:
        raise ctx.shape_error(f"cos/sin caches {cos_cache.shape} do not fit rotary dim {rot} of head size {h}")
    pos = _rope_positions(ctx, position_ids, b, s, cos_cache.shape[0])
    cos = cos_cache.astype(ct, copy=False)[pos][:, None]  # (B, 1, S, rot/2)
    sin = sin_cache.astype(ct, copy=False)[pos][:, None]
    y = rotate(xh, cos, sin, rot, interleaved)
    return ctx.write(0, y if x.ndim == 4 else merge_heads(y), x.dtype)
