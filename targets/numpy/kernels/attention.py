"""Kernels: the ONNX (default domain) attention family.

* ``Attention`` (opsets 23, 24, 25): scaled dot-product attention over 3-D
  (B, S, hidden) or 4-D (B, N, S, H) Q/K/V, with grouped-query attention
  (``q_num_heads`` a multiple of ``kv_num_heads``), a boolean or additive ``attn_mask``
  (padded to the key length with "masked"), bottom-right aligned ``is_causal``,
  an internal KV cache (``past_key``/``past_value`` -> ``present_key``/``present_value``),
  an external cache (``nonpad_kv_seqlen``, opset 24+), the sliding window of opset 25,
  ``scale``, ``softcap``, ``softmax_precision`` and the ``qk_matmul_output`` debug output
  (``qk_matmul_output_mode`` 0/1: the (soft-capped) scores, 2: with the mask bias added,
  3: the softmax probabilities).
* ``RotaryEmbedding`` (opset 23): rotary position embedding of 3-D or 4-D input.

Both follow ``onnx.reference`` step by step (including its order of roundings: Q and K
are each multiplied by sqrt(scale), arithmetic is done in the input dtype) so results
agree with the reference to the last bits. A query row whose mask bias is entirely
``-inf`` gives zeros (not NaN), as the specification requires. The com.microsoft
variants live in :mod:`targets.numpy.kernels.contrib`; both share the head-layout,
rotation and grouped-matmul helpers of :mod:`targets.numpy.kernels._attention`.
"""

from __future__ import annotations

import numpy as np
from onnx import helper

from ._attention import grouped_matmul, merge_heads, rotate, split_heads
from .registry import OpContext, kernel

_QK_WITH_BIAS = 2
_QK_AFTER_SOFTMAX = 3


# --------------------------------------------------------------------------- Attention helpers


def _to_heads(ctx: OpContext, q: np.ndarray, k: np.ndarray, v: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q, K, V as (B, N, S, H) views: 3-D inputs are split by ``q_num_heads`` / ``kv_num_heads``."""
    if not q.ndim == k.ndim == v.ndim or q.ndim not in (3, 4):
        raise ctx.shape_error(f"Q {q.shape}, K {k.shape} and V {v.shape} must all be 3-D or all be 4-D")
    if q.ndim == 4:
        if ctx.opset >= 25 and (ctx.attr("q_num_heads") is not None or ctx.attr("kv_num_heads") is not None):
            raise ctx.shape_error("q_num_heads / kv_num_heads must not be given with 4-D inputs; remove them")
        return q, k, v
    qn, kvn = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    if qn is None or kvn is None:
        raise ctx.shape_error("3-D inputs need the q_num_heads and kv_num_heads attributes")
    qn, kvn = int(qn), int(kvn)
    if qn <= 0 or kvn <= 0 or q.shape[2] % qn or k.shape[2] % kvn or v.shape[2] % kvn:
        raise ctx.shape_error(f"hidden sizes of Q {q.shape}, K {k.shape}, V {v.shape} are not divisible by "
                         f"q_num_heads={qn} / kv_num_heads={kvn}")
    return split_heads(q, qn), split_heads(k, kvn), split_heads(v, kvn)


def _additive(mask: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A boolean mask (True: attend) as 0 / -inf, a float mask cast to ``dtype``."""
    if mask.dtype == np.bool_:
        return np.where(mask, dtype.type(0), dtype.type(-np.inf))
    return mask.astype(dtype, copy=False)


def _allowed(ctx: OpContext, s: int, t: int, offset: int | np.ndarray) -> np.ndarray | None:
    """Which keys each query may see under ``is_causal`` and the sliding window: bool (S, T), (B, 1, S, T) or None.

    ``offset`` is the count of valid keys preceding the query block: a scalar (past length or
    0) or a per-batch (B,) array (``nonpad_kv_seqlen - S``), giving the bottom-right alignment.
    """
    causal = bool(ctx.attr("is_causal", 0))
    left = int(ctx.attr("left_window_size", -1)) if ctx.opset >= 25 else -1
    right = int(ctx.attr("right_window_size", -1)) if ctx.opset >= 25 else -1
    if left < -1 or right < -1:
        raise ctx.shape_error(f"left_window_size / right_window_size must be -1 or >= 0, got {left} / {right}")
    if not causal and left < 0 and right < 0:
        return None
    i = np.arange(s).reshape(s, 1)
    j = np.arange(t).reshape(1, t)
    per_batch = np.ndim(offset) > 0
    diff = (i + np.reshape(offset, (-1, 1, 1)) if per_batch else i + int(offset)) - j  # query pos - key pos
    ok = np.ones(diff.shape, dtype=bool)
    if causal:
        ok &= diff >= 0
    if left >= 0:
        ok &= diff <= left
    if right >= 0:
        ok &= -diff <= right
    return ok[:, None] if per_batch else ok


def _bias(ctx: OpContext, attn_mask: np.ndarray | None, nonpad: np.ndarray | None, past_len: int | None,
          b: int, s: int, t: int, dtype: np.dtype) -> np.ndarray | None:
    """The additive score bias (broadcastable to (B, N, S, T)) of mask, causal, window and padding; None if none."""
    bias = None
    if attn_mask is not None:
        pad = t - attn_mask.shape[-1]
        if pad < 0:
            raise ctx.shape_error(f"attn_mask {attn_mask.shape} is longer than the {t} keys")
        bias = _additive(attn_mask, dtype)
        if pad:
            bias = np.pad(bias, [(0, 0)] * (bias.ndim - 1) + [(0, pad)], constant_values=-np.inf)
    offset: int | np.ndarray = past_len or 0
    if nonpad is not None:
        nonpad = np.asarray(nonpad, dtype=np.int64).reshape(-1)
        if nonpad.shape != (b,):
            raise ctx.shape_error(f"nonpad_kv_seqlen must have shape ({b},), got {nonpad.shape}")
        if past_len is None:
            offset = nonpad - s
    allowed = _allowed(ctx, s, t, offset)
    if nonpad is not None:
        keep = (np.arange(t) < nonpad[:, None]).reshape(b, 1, 1, t)
        allowed = keep if allowed is None else allowed & keep
    if allowed is not None:
        structural = np.where(allowed, dtype.type(0), dtype.type(-np.inf))
        bias = structural if bias is None else bias + structural
    return bias


def _softmax(x: np.ndarray) -> np.ndarray:
    """Row softmax (last axis) that maps an all ``-inf`` row to zeros; works in place on ``x``."""
    x_max = np.max(x, axis=-1, keepdims=True)
    x_max[np.isneginf(x_max)] = 0
    np.subtract(x, x_max, out=x)
    np.exp(x, out=x)
    total = np.sum(x, axis=-1, keepdims=True)
    total[total == 0] = 1
    return np.divide(x, total, out=x)


@kernel("Attention", since=23)
def attention(ctx: OpContext, query: np.ndarray, key: np.ndarray, value: np.ndarray,
              attn_mask: np.ndarray | None = None, past_key: np.ndarray | None = None,
              past_value: np.ndarray | None = None, nonpad_kv_seqlen: np.ndarray | None = None
              ) -> np.ndarray | tuple[np.ndarray | None, ...]:
    """softmax(softcap(Q K' * scale) + mask bias) V, with optional KV cache and debug scores.

    Returns one array per declared output: Y ((B, S, Nq*Hv) for 3-D input, else
    (B, Nq, S, Hv)), present_key / present_value ((B, Nkv, P+L, H)), qk_matmul_output
    ((B, Nq, S, P+L)).
    """
    if (past_key is None) != (past_value is None):
        raise ctx.shape_error("past_key and past_value must be given together")
    if nonpad_kv_seqlen is not None and past_key is not None:
        raise ctx.shape_error("nonpad_kv_seqlen cannot be combined with past_key / past_value")
    q, k, v = _to_heads(ctx, query, key, value)
    dtype = q.dtype
    if past_key is not None:
        assert past_value is not None  # given together (checked above)
        k = np.concatenate((past_key, k), axis=2)
        v = np.concatenate((past_value, v), axis=2)
    b, nq, s, h = q.shape
    nkv, t = k.shape[1], k.shape[2]
    if k.shape[0] != b or v.shape[:3] != k.shape[:3] or k.shape[3] != h or nq % nkv:
        raise ctx.shape_error(f"Q heads {q.shape}, K heads {k.shape} and V heads {v.shape} do not fit: batch and kv "
                         "lengths must agree, Q/K head sizes match and q heads be a multiple of kv heads")
    scale = ctx.attr("scale")
    scale = dtype.type(np.sqrt(1 / np.sqrt(h) if scale is None else float(scale)))
    scores = grouped_matmul(q * scale, np.swapaxes(k, 2, 3) * scale)
    if scores.dtype != dtype:
        scores = scores.astype(dtype)
    softcap = float(ctx.attr("softcap", 0.0))
    if softcap > 0:
        scores = np.tanh(scores / softcap) * softcap
    mode = int(ctx.attr("qk_matmul_output_mode", 0))
    want_qk = len(ctx.outs) > 3
    bias = _bias(ctx, attn_mask, nonpad_kv_seqlen, past_key.shape[2] if past_key is not None else None,
                 b, s, t, dtype)
    qk_out = scores if want_qk and mode < _QK_WITH_BIAS else None
    logits = scores + bias if bias is not None else scores.copy() if qk_out is not None else scores
    if want_qk and mode == _QK_WITH_BIAS:
        qk_out = logits.copy()
    precision = ctx.attr("softmax_precision")
    if precision is not None:
        logits = logits.astype(helper.tensor_dtype_to_np_dtype(int(precision)))
    probs = _softmax(logits)
    if bias is not None:  # fully masked rows (decided on the bias, not the logits) give zeros
        dead = np.isneginf(np.max(bias, axis=-1, keepdims=True))
        if dead.any():
            probs = np.where(dead, probs.dtype.type(0), probs)
    probs = probs.astype(dtype, copy=False)
    if want_qk and mode == _QK_AFTER_SOFTMAX:
        qk_out = probs
    y = grouped_matmul(probs, v)
    if y.dtype != dtype:
        y = y.astype(dtype)
    outs: list[np.ndarray] = [ctx.write(0, merge_heads(y) if query.ndim == 3 else y, dtype)]
    if len(ctx.outs) > 1:
        outs.append(ctx.write(1, k, k.dtype))
    if len(ctx.outs) > 2:
        outs.append(ctx.write(2, v, v.dtype))
    if want_qk:
        if qk_out is None:
            raise ctx.shape_error(f"qk_matmul_output_mode {mode} is not one of 0, 1, 2, 3")
        outs.append(ctx.write(3, np.broadcast_to(qk_out, (b, nq, s, t)), dtype))
    return tuple(outs) if len(outs) > 1 else outs[0]


# --------------------------------------------------------------------------- RotaryEmbedding


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

