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

It follows ``onnx.reference`` step by step (including its order of roundings: Q and K
are each multiplied by sqrt(scale), arithmetic is done in the input dtype) so results
agree with the reference to the last bits. A query row whose mask bias is entirely
``-inf`` gives zeros (not NaN), as the specification requires.

onnxruntime's ``com.microsoft`` attention ops (transformer fusions) live here too,
following its CPU kernels (``contrib_ops/cpu/bert``): ``Attention`` (packed QKV
weights, ``past``/``present``) and ``MultiHeadAttention`` (separate or packed Q/K/V,
``past_key``/``past_value``, the ``qk`` output). Their masks follow onnxruntime: a
padding mask (1-D lengths, 1-D end/start positions, 2-D or 3-D 0/1 masks) becomes
``mask_filter_value`` where masked and 0 elsewhere, added to ``scale * Q K'`` together
with ``attention_bias``; the causal (``unidirectional``) mask removes future keys
outright; then a row softmax. float16/bfloat16 inputs are computed in float32 and cast
back. RotaryEmbedding lives in :mod:`targets.numpy.kernels.rotary`, GroupQueryAttention
(KV cache) in :mod:`targets.numpy.kernels.group_query_attention`; all share the
head-layout, rotation and grouped-matmul helpers of :mod:`targets.numpy.kernels._attention`.
"""

from __future__ import annotations

import numpy as np
from onnx import helper

from ._attention import attention_scale, grouped_matmul, merge_heads, split_heads
from ._numeric import compute_dtype
from .registry import OpContext, kernel

MS_DOMAIN = "com.microsoft"

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


# --------------------------------------------------------------------------- com.microsoft attention: masks and scores


def _padding_mask(ctx: OpContext, mask: np.ndarray, b: int, s: int, t: int, fill: float,
                  ct: np.dtype) -> np.ndarray:
    """A key padding mask in one of onnxruntime's forms -> additive (B, S, T) (0 or ``fill``)."""
    keys = np.arange(t)
    if mask.ndim == 1 and mask.shape[0] in (b, 2 * b):
        valid = keys[None, :] < mask[:b, None]  # right padding: end positions
        if mask.shape[0] == 2 * b:  # left padding too: start positions
            valid &= keys[None, :] >= np.minimum(mask[b:, None], t)
        valid = np.broadcast_to(valid[:, None, :], (b, s, t))
    elif mask.ndim == 2 and mask.shape == (b, t):
        valid = np.broadcast_to((mask > 0)[:, None, :], (b, s, t))
    elif mask.ndim == 3 and mask.shape == (b, s, t):
        valid = mask > 0
    else:
        raise ctx.shape_error(f"mask of shape {mask.shape} is not one of (B)={b}, (2B), (B, T)=({b}, {t}) or "
                         f"(B, S, T)=({b}, {s}, {t})")
    return np.where(valid, ct.type(0.0), ct.type(fill))


def _causal_mask(s: int, t: int, ct: np.dtype) -> np.ndarray:
    """Additive (S, T): -inf where key t > past + query s (past = T - S), 0 elsewhere.

    Future keys are excluded outright (not just given ``mask_filter_value``): a query whose
    visible keys are all padding still attends only to those, as in onnxruntime.
    """
    future = np.arange(t)[None, :] > (t - s) + np.arange(s)[:, None]
    return np.where(future, ct.type(-np.inf), ct.type(0.0))


def _scores_softmax(ctx: OpContext, q: np.ndarray, k: np.ndarray, scale: float, mask: np.ndarray | None,
                    attn_bias: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray]:
    """(qk, probs) for (B, N, S, H) Q and (B, N, T, H) K.

    qk is scale * Q K' + attention_bias + mask when the node outputs it (else None);
    probs its row softmax.
    """
    ct = q.dtype
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
    scores *= ct.type(scale)
    if attn_bias is not None:
        scores += attn_bias.astype(ct, copy=False)
    if mask is not None:
        scores += mask[:, None] if mask.ndim == 3 else mask
    qk = scores.copy() if len(ctx.outs) > 3 else None
    with np.errstate(over="ignore", invalid="ignore"):
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
    return qk, scores


def _attention_mask(ctx: OpContext, mask: np.ndarray | None, causal: bool, b: int, s: int, t: int,
                    ct: np.dtype) -> np.ndarray | None:
    """The additive mask: padding (B, S, T) plus, when causal and S > 1, the causal (S, T) part."""
    fill = float(ctx.attr("mask_filter_value", -10000.0))
    add = None if mask is None else _padding_mask(ctx, np.asarray(mask), b, s, t, fill, ct)
    if causal and s > 1:
        c = _causal_mask(s, t, ct)
        add = c if add is None else add + c
    return add


def _check_bias(ctx: OpContext, attn_bias: np.ndarray | None, b: int, n: int, s: int, t: int) -> None:
    if attn_bias is None:
        return
    sh = attn_bias.shape
    if len(sh) != 4 or sh[0] not in (1, b) or sh[1] not in (1, n) or sh[2:] != (s, t):
        raise ctx.shape_error(f"attention_bias {sh} is not (B or 1, N or 1, S, T) = ({b}|1, {n}|1, {s}, {t})")


# --------------------------------------------------------------------------- com.microsoft Attention


@kernel("Attention", domain=MS_DOMAIN)
def ms_attention(ctx: OpContext, x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None = None,
              mask_index: np.ndarray | None = None, past: np.ndarray | None = None,
              attention_bias: np.ndarray | None = None, past_sequence_length: np.ndarray | None = None
              ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Self-attention with merged Q/K/V projection weights (BERT, GPT-2).

    QKV = input @ weights + bias, split by ``qkv_hidden_sizes`` (default three equal
    parts), heads of ``num_heads``; ``past`` (2, B, N, P, H) is prepended to K and V and
    ``present`` (2, B, N, P + S, H) returned. Output (B, S, v_hidden_size).
    """
    if past_sequence_length is not None or ctx.attr("past_present_share_buffer", 0):
        raise ctx.unsupported("past_present_share_buffer")
    if ctx.attr("do_rotary", 0):
        raise ctx.unsupported("do_rotary")
    n = int(ctx.attr("num_heads"))
    if x.ndim != 3 or weights.ndim != 2 or weights.shape[0] != x.shape[2]:
        raise ctx.shape_error(f"input {x.shape} (B, S, D_in) and weights {weights.shape} (D_in, 3D) do not match")
    sizes = [int(v) for v in ctx.attr("qkv_hidden_sizes", [weights.shape[1] // 3] * 3)]
    if len(sizes) != 3 or sum(sizes) != weights.shape[1] or any(v % n for v in sizes) or sizes[0] != sizes[1]:
        raise ctx.shape_error(f"qkv_hidden_sizes {sizes} do not split weights {weights.shape} into Q, K (equal) and V "
                         f"with num_heads={n}")
    ct = compute_dtype(x)
    b, s, _ = x.shape
    qkv = np.matmul(x.astype(ct, copy=False), weights.astype(ct, copy=False))
    if bias is not None:
        qkv += bias.astype(ct, copy=False)
    q = split_heads(qkv[..., : sizes[0]], n)
    k = split_heads(qkv[..., sizes[0]: sizes[0] + sizes[1]], n)
    v = split_heads(qkv[..., sizes[0] + sizes[1]:], n)
    if past is not None:
        if past.ndim != 5 or past.shape[:3] != (2, b, n) or past.shape[4] != k.shape[3] or sizes[1] != sizes[2]:
            raise ctx.shape_error(f"past {past.shape} is not (2, B, N, P, H) = (2, {b}, {n}, P, {k.shape[3]}) "
                             "with equal K and V hidden sizes")
        pc = past.astype(ct, copy=False)
        k = np.concatenate([pc[0], k], axis=2)
        v = np.concatenate([pc[1], v], axis=2)
    t = k.shape[2]
    _check_bias(ctx, attention_bias, b, n, s, t)
    mask = _attention_mask(ctx, mask_index, bool(ctx.attr("unidirectional", 0)), b, s, t, ct)
    _, probs = _scores_softmax(ctx, q, k, attention_scale(ctx, sizes[0] // n), mask, attention_bias)
    out = ctx.write(0, merge_heads(np.matmul(probs, v)), x.dtype)
    if len(ctx.outs) > 1:
        return out, ctx.write(1, np.stack([k, v]), x.dtype)
    return out


# --------------------------------------------------------------------------- com.microsoft MultiHeadAttention


def _mha_qkv(ctx: OpContext, query: np.ndarray, key: np.ndarray | None, value: np.ndarray | None,
             bias: np.ndarray | None, n: int, ct: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(Q, K, V) as (B, N, S|L, H) from MultiHeadAttention's input forms, bias added; and whether K/V were BNSH."""
    q = query.astype(ct)
    if key is None:  # packed QKV (B, S, N, 3, H)
        if q.ndim != 5 or q.shape[3] != 3 or q.shape[2] != n:
            raise ctx.shape_error(f"without key, query must be packed QKV (B, S, N, 3, H), got {query.shape}")
        b, s, _, _, h = q.shape
        if bias is not None:
            q = q + bias.astype(ct, copy=False).reshape(3, n, h).transpose(1, 0, 2)
        return (q[:, :, :, 0].transpose(0, 2, 1, 3), q[:, :, :, 1].transpose(0, 2, 1, 3),
                q[:, :, :, 2].transpose(0, 2, 1, 3), False)
    if q.ndim != 3 or q.shape[2] % n:
        raise ctx.shape_error(f"query must be (B, S, hidden) with hidden divisible by num_heads={n}, got {query.shape}")
    d = q.shape[2]
    h = d // n
    kc = key.astype(ct)
    if bias is not None:
        q += bias[:d].astype(ct, copy=False)
    if value is None:  # packed KV (B, L, N, 2, H)
        if kc.ndim != 5 or kc.shape[2:4] != (n, 2):
            raise ctx.shape_error(f"without value, key must be packed KV (B, L, N, 2, H), got {key.shape}")
        if bias is not None:
            kc = kc + bias[d:].astype(ct, copy=False).reshape(2, n, -1).transpose(1, 0, 2)
        return split_heads(q, n), kc[:, :, :, 0].transpose(0, 2, 1, 3), kc[:, :, :, 1].transpose(0, 2, 1, 3), False
    vc = value.astype(ct)
    if kc.ndim == 4:  # BNSH key/value (cross attention with pre-projected K/V): no bias
        if vc.ndim != 4 or kc.shape[1] != n or vc.shape[1] != n:
            raise ctx.shape_error(f"4-D key {key.shape} and value {value.shape} must both be (B, N, L, H) with N={n}")
        return split_heads(q, n), kc, vc, True
    if kc.ndim != 3 or vc.ndim != 3 or kc.shape[2] != d or vc.shape[2] % n or kc.shape[:2] != vc.shape[:2]:
        raise ctx.shape_error(f"key {key.shape} and value {value.shape} must be (B, L, {d}) and (B, L, v_hidden)")
    if bias is not None:
        kc += bias[d: 2 * d].astype(ct, copy=False)
        vc += bias[2 * d:].astype(ct, copy=False)
    return split_heads(q, n), split_heads(kc, n), split_heads(vc, n), False


@kernel("MultiHeadAttention", domain=MS_DOMAIN)
def multi_head_attention(ctx: OpContext, query: np.ndarray, key: np.ndarray | None = None,
                         value: np.ndarray | None = None, bias: np.ndarray | None = None,
                         key_padding_mask: np.ndarray | None = None, attention_bias: np.ndarray | None = None,
                         past_key: np.ndarray | None = None, past_value: np.ndarray | None = None,
                         past_sequence_length: np.ndarray | None = None,
                         cache_indirection: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, ...]:
    """Self/cross attention over separate (or packed) Q, K, V with the input-projection bias.

    ``past_key``/``past_value`` (B, N, P, H) are prepended to K/V (not with 4-D BNSH
    key/value, which already hold the whole sequence); outputs: (B, S, v_hidden),
    present_key, present_value (B, N, T, H) and qk (the scaled, masked, biased scores
    before softmax).
    """
    if past_sequence_length is not None or cache_indirection is not None:
        raise ctx.unsupported("past_sequence_length / cache_indirection (decoder buffer sharing)")
    n = int(ctx.attr("num_heads"))
    ct = compute_dtype(query)
    q, k, v, bnsh = _mha_qkv(ctx, query, key, value, bias, n, ct)
    if not bnsh and (past_key is None) != (past_value is None):
        raise ctx.shape_error("past_key and past_value must be given together")
    if past_key is not None and not bnsh:
        assert past_value is not None  # given together (checked above)
        k = np.concatenate([past_key.astype(ct, copy=False), k], axis=2)
        v = np.concatenate([past_value.astype(ct, copy=False), v], axis=2)
    b, _, s, h = q.shape
    t = k.shape[2]
    _check_bias(ctx, attention_bias, b, n, s, t)
    mask = _attention_mask(ctx, key_padding_mask, bool(ctx.attr("unidirectional", 0)), b, s, t, ct)
    qk, probs = _scores_softmax(ctx, q, k, attention_scale(ctx, h), mask, attention_bias)
    outs = [ctx.write(0, merge_heads(np.matmul(probs, v)), query.dtype)]
    if len(ctx.outs) > 1:
        outs.append(ctx.write(1, k, query.dtype))
    if len(ctx.outs) > 2:
        outs.append(ctx.write(2, v, query.dtype))
    if len(ctx.outs) > 3:
        outs.append(ctx.write(3, qk, query.dtype))
    return tuple(outs) if len(outs) > 1 else outs[0]
