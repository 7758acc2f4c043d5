"""Kernel: onnxruntime's ``com.microsoft::GroupQueryAttention`` (LLM decoders with a KV cache).

Decoder-only models (Phi, Llama, Qwen, Mistral) exported for onnxruntime-genai / Olive use
it; it follows onnxruntime's CPU kernel (``contrib_ops/cpu/bert/group_query_attention.cc``
/ ``gqa_attention_base.h``): causal self-attention with ``num_heads`` query heads sharing
``kv_num_heads`` K/V heads, a BNSH KV cache (``past_key``/``past_value`` ->
``present_key``/``present_value``), per-batch lengths ``seqlens_k`` (total - 1),
optional rotary embedding of Q and K (``do_rotary`` with ``cos_cache``/``sin_cache``,
``position_ids``), ``local_window_size`` (sliding window), ``softcap``,
``smooth_softmax`` / ``head_sink``, ``attention_bias``, ``causal=0`` and packed QKV
(no key/value).

Refused with :class:`graphc.errors.UnsupportedOpError` (compile for the 'ort' target):
quantized KV caches (``k_scale``/``v_scale``, ``k_quant_type``/``v_quant_type``),
``query_seqlens``, ``sliding_window_cache=1``, the ``output_qk`` output (``qk_output``)
and the per-head Q/K RMS norm (``q_norm_weight``/``k_norm_weight``, which onnxruntime's
CPU kernel refuses too). Computation is float32 (float64 stays float64); results are
cast to the input dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._attention import attention_scale, grouped_matmul, merge_heads, rotate, split_heads
from ._numeric import compute_dtype
from .registry import OpContext, kernel

__all__ = ["group_query_attention"]

DOMAIN = "com.microsoft"

#: what an UnsupportedOpError of this kernel tells the user to do
REMEDY = "compile for the 'ort' target or export the model without it"


def _gqa_refuse(ctx: OpContext, k_scale: Any, v_scale: Any, query_seqlens: Any, qk_norm: Any) -> None:
    """Raise for the GroupQueryAttention features this kernel does not implement."""
    if qk_norm is not None:
        raise ctx.unsupported("q_norm_weight / k_norm_weight (per-head Q/K RMS norm)", REMEDY)
    if k_scale is not None or v_scale is not None:
        raise ctx.unsupported("a quantized KV cache (k_scale / v_scale)", REMEDY)
    for name in ("k_quant_type", "v_quant_type"):
        if str(ctx.attr(name, "NONE")).upper() != "NONE":
            raise ctx.unsupported(f"{name}={ctx.attr(name)!r} (quantized KV cache)", REMEDY)
    if query_seqlens is not None:
        raise ctx.unsupported("query_seqlens (right-padded query chunks)", REMEDY)
    if int(ctx.attr("sliding_window_cache", 0)):
        raise ctx.unsupported("sliding_window_cache=1 (window-sized KV buffers)", REMEDY)
    if int(ctx.attr("qk_output", 0)) or len(ctx.outs) > 3:
        raise ctx.unsupported("the output_qk output (qk_output)", REMEDY)


def _gqa_qkv(ctx: OpContext, query: np.ndarray, key: np.ndarray | None, value: np.ndarray | None, n: int,
             kvn: int, ct: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q (B, N, S, H), K and V (B, N_kv, S, H) from separate or packed (B, S, (N + 2 N_kv) H) inputs."""
    if query.ndim != 3:
        raise ctx.shape_error(f"query must be 3-D (B, S, hidden), got {query.shape}")
    q = query.astype(ct, copy=False)
    b, s, d = q.shape
    if key is None:
        if value is not None:
            raise ctx.shape_error("key and value must be both given or both omitted (packed QKV)")
        if d % (n + 2 * kvn):
            raise ctx.shape_error(f"packed QKV hidden {d} is not divisible by "
                                  f"num_heads + 2 * kv_num_heads = {n + 2 * kvn}")
        h = d // (n + 2 * kvn)
        return (split_heads(q[..., : n * h], n), split_heads(q[..., n * h: (n + kvn) * h], kvn),
                split_heads(q[..., (n + kvn) * h:], kvn))
    if value is None or key.ndim != 3 or value.shape != key.shape or key.shape[:2] != (b, s):
        raise ctx.shape_error(f"key {key.shape} and value {None if value is None else value.shape} must both be "
                         f"(B, S, kv_hidden) with B, S = {b}, {s}")
    if d % n or key.shape[2] != kvn * (d // n):
        raise ctx.shape_error(f"query hidden {d} / num_heads={n} and key hidden {key.shape[2]} / kv_num_heads={kvn} "
                         "do not give one head size")
    return split_heads(q, n), split_heads(key.astype(ct, copy=False), kvn), split_heads(value.astype(ct, copy=False), kvn)


def _gqa_positions(ctx: OpContext, position_ids: np.ndarray | None, past: np.ndarray, total: np.ndarray,
                   first_prompt: bool, s: int, limit: int) -> np.ndarray:
    """(B, S) rotary positions, as onnxruntime derives them.

    A first prompt counts from 0 (or from position_ids' first element); later steps use
    position_ids as given, else past_b + s, and 1 for a query row past the batch's total.
    """
    b = past.shape[0]
    steps = np.arange(s)
    if position_ids is not None:
        p = np.asarray(position_ids, dtype=np.int64)
        if first_prompt:
            pos = np.broadcast_to(p.reshape(-1)[0] + steps, (b, s))
        elif p.size == b * s:
            pos = p.reshape(b, s)
        else:
            raise ctx.shape_error(f"position_ids {p.shape} must be (B, S) = ({b}, {s})")
    elif first_prompt:
        pos = np.broadcast_to(steps, (b, s))
    else:
        pos = past[:, None] + steps[None, :]
        pos = np.where(pos < total[:, None], pos, 1)
    if pos.size and (pos.min() < 0 or pos.max() >= limit):
        raise ctx.shape_error(f"rotary positions {int(pos.min())}..{int(pos.max())} fall outside the cos/sin caches' "
                         f"{limit} rows")
    return pos


def _gqa_visible(ctx: OpContext, past: np.ndarray, total: np.ndarray, s: int, t: int) -> np.ndarray:
    """Bool (B, 1, S, T): which present-cache keys each query row sees (causal, window, batch length)."""
    j = np.arange(t).reshape(1, 1, t)
    qpos = past[:, None, None] + np.arange(s).reshape(1, s, 1)  # (B, S, 1) absolute query positions
    ok = j < total[:, None, None]
    if int(ctx.attr("causal", 1)):
        ok = ok & (j <= qpos)
        window = int(ctx.attr("local_window_size", -1))
        if window >= 0:
            ok = ok & (j > qpos - window)
    elif int(ctx.attr("local_window_size", -1)) != -1:
        raise ctx.shape_error("local_window_size must be -1 when causal is 0")
    return ok[:, None]


def _gqa_softmax(ctx: OpContext, scores: np.ndarray, visible: np.ndarray, head_sink: np.ndarray | None
                 ) -> np.ndarray:
    """Row softmax of (B, N, S, T) scores over the visible keys, with the smooth-softmax sink when asked.

    With ``smooth_softmax`` (sink 0) or ``head_sink`` (per-head sink) the denominator gets
    an extra ``exp(sink)`` term; a row that sees no key gives zeros.
    """
    ct = scores.dtype
    x = np.where(visible, scores, ct.type(-np.inf))
    sink = None
    if head_sink is not None:
        sink = head_sink.astype(ct, copy=False).reshape(1, -1, 1, 1)
    elif int(ctx.attr("smooth_softmax", 0)):
        sink = np.zeros((1, 1, 1, 1), ct)
    m = x.max(axis=-1, keepdims=True)
    if sink is not None:
        m = np.maximum(m, sink)
    m = np.where(np.isneginf(m), ct.type(0), m)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x - m)
        total = e.sum(axis=-1, keepdims=True)
        if sink is not None:
            total = total + np.exp(sink - m)
    total = np.where(total == 0, ct.type(1), total)
    return e / total


@kernel("GroupQueryAttention", domain=DOMAIN)
def group_query_attention(ctx: OpContext, query: np.ndarray, key: np.ndarray | None = None,
                          value: np.ndarray | None = None, past_key: np.ndarray | None = None,
                          past_value: np.ndarray | None = None, seqlens_k: np.ndarray | None = None,
                          total_sequence_length: np.ndarray | None = None, cos_cache: np.ndarray | None = None,
                          sin_cache: np.ndarray | None = None, position_ids: np.ndarray | None = None,
                          attention_bias: np.ndarray | None = None, head_sink: np.ndarray | None = None,
                          k_scale: np.ndarray | None = None, v_scale: np.ndarray | None = None,
                          q_norm_weight: np.ndarray | None = None, k_norm_weight: np.ndarray | None = None,
                          query_seqlens: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, ...]:
    """Grouped-query causal attention with a KV cache: (output, present_key, present_value).

    output is (B, S, num_heads * H); present_key/value (B, kv_num_heads, T_present, H)
    hold, per batch entry b, the first ``past_b`` cached rows followed by the S new ones
    (zeros after), where ``total_b = seqlens_k[b] + 1`` and ``past_b = total_b - S``
    (0 on the first prompt, S == total_sequence_length).
    """
    qk_norm = q_norm_weight if q_norm_weight is not None else k_norm_weight
    _gqa_refuse(ctx, k_scale, v_scale, query_seqlens, qk_norm)
    n, kvn = int(ctx.attr("num_heads")), int(ctx.attr("kv_num_heads"))
    if n <= 0 or kvn <= 0 or n % kvn:
        raise ctx.shape_error(f"num_heads={n} must be a positive multiple of kv_num_heads={kvn}")
    if seqlens_k is None or total_sequence_length is None:
        raise ctx.shape_error("seqlens_k and total_sequence_length are required inputs")
    ct = compute_dtype(query)
    q, k, v = _gqa_qkv(ctx, query, key, value, n, kvn, ct)
    bsz, _, s, h = q.shape
    total_len = int(np.asarray(total_sequence_length).reshape(-1)[0])
    total = np.asarray(seqlens_k, dtype=np.int64).reshape(-1) + 1
    if total.shape != (bsz,):
        raise ctx.shape_error(f"seqlens_k {np.shape(seqlens_k)} must be (B)=({bsz})")
    if (past_key is None) != (past_value is None):
        raise ctx.shape_error("past_key and past_value must be given together")
    p_buf = 0
    if past_key is not None:
        assert past_value is not None  # given together (checked above)
        if past_key.ndim != 4 or past_key.shape[:2] != (bsz, kvn) or past_key.shape[3] != h \
                or past_value.shape != past_key.shape:
            raise ctx.shape_error(f"past_key {past_key.shape} / past_value {past_value.shape} must be "
                             f"(B, kv_num_heads, P, H) = ({bsz}, {kvn}, P, {h})")
        p_buf = past_key.shape[2]
    first_prompt = s == total_len
    if not first_prompt and p_buf + s != total_len and total_len > p_buf:
        raise ctx.shape_error(f"total_sequence_length {total_len} must be past_sequence_length + sequence_length = "
                         f"{p_buf + s} (growing cache) or at most the past buffer length {p_buf} (static cache)")
    if not first_prompt and s != 1 and bsz != 1:
        raise ctx.shape_error("a multi-token step after the first prompt needs batch size 1")
    past = np.zeros(bsz, np.int64) if first_prompt else total - s
    if past.min() < 0 or past.max() > p_buf:
        raise ctx.shape_error(f"seqlens_k {total - 1} do not fit {s} new tokens after a past cache of {p_buf} rows")
    t = max(total_len, p_buf, int(past.max()) + s)

    if int(ctx.attr("do_rotary", 0)):
        if cos_cache is None or sin_cache is None:
            raise ctx.shape_error("do_rotary needs cos_cache and sin_cache")
        rot = 2 * cos_cache.shape[1]
        if rot > h or sin_cache.shape != cos_cache.shape:
            raise ctx.shape_error(f"cos/sin caches {cos_cache.shape} / {sin_cache.shape} do not fit head size {h}")
        pos = _gqa_positions(ctx, position_ids, past, total, first_prompt, s, cos_cache.shape[0])
        cos = cos_cache.astype(ct, copy=False)[pos][:, None]  # (B, 1, S, rot/2)
        sin = sin_cache.astype(ct, copy=False)[pos][:, None]
        interleaved = bool(ctx.attr("rotary_interleaved", 0))
        q = rotate(q, cos, sin, rot, interleaved)
        k = rotate(k, cos, sin, rot, interleaved)

    present_k = np.zeros((bsz, kvn, t, h), ct)
    present_v = np.zeros((bsz, kvn, t, h), ct)
    for i in range(bsz):
        pb = int(past[i])
        if pb:
            assert past_key is not None and past_value is not None  # a past length comes from them
            present_k[i, :, :pb] = past_key[i, :, :pb]
            present_v[i, :, :pb] = past_value[i, :, :pb]
        present_k[i, :, pb: pb + s] = k[i]
        present_v[i, :, pb: pb + s] = v[i]

    scale = attention_scale(ctx, h)
    scores = grouped_matmul(q, np.swapaxes(present_k, 2, 3))
    scores *= ct.type(scale)
    softcap = float(ctx.attr("softcap", 0.0))
    if softcap > 0:
        scores = np.tanh(scores / ct.type(softcap)) * ct.type(softcap)
    if attention_bias is not None:
        ab = attention_bias.astype(ct, copy=False)
        if ab.ndim != 4 or ab.shape[0] not in (1, bsz) or ab.shape[1] not in (1, n) or ab.shape[2] != s \
                or ab.shape[3] > t:
            raise ctx.shape_error(f"attention_bias {ab.shape} is not (B or 1, num_heads or 1, S, total) with "
                             f"B={bsz}, num_heads={n}, S={s}")
        scores[..., : ab.shape[3]] += ab
    probs = _gqa_softmax(ctx, scores, _gqa_visible(ctx, past, total, s, t), head_sink)
    out = merge_heads(grouped_matmul(probs, present_v))
    outs = (ctx.write(0, out, query.dtype), ctx.write(1, present_k, query.dtype),
            ctx.write(2, present_v, query.dtype))
    return outs if len(ctx.outs) > 1 else outs[0]
