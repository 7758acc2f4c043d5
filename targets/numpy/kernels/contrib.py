"""Kernels: onnxruntime's ``com.microsoft`` contrib ops (transformer fusions).

Models run through onnxruntime's transformer optimizer (Hugging Face Optimum exports,
``onnxruntime.transformers.optimizer``) are rewritten into these fused ops, which neither
the ONNX specification nor ``onnx.reference`` defines. Each kernel follows onnxruntime's
CPU implementation (``onnxruntime/contrib_ops/cpu/bert``), including its quirks:

* activations: ``Gelu``, ``BiasGelu``, ``FastGelu`` (tanh approximation, optional bias),
  ``QuickGelu``, ``BiasAdd``, ``BiasSplitGelu``;
* normalization: ``SkipLayerNormalization``, ``SkipSimplifiedLayerNormalization`` (with
  the optional mean / inv_std_var / input_skip_bias_sum outputs),
  ``SimplifiedLayerNormalization`` (registered by onnxruntime in the *default* domain, opset
  1 on), ``EmbedLayerNormalization``, ``GroupNorm`` / ``SkipGroupNorm`` (NHWC by default);
* attention: ``Attention`` (packed QKV weights), ``MultiHeadAttention`` (separate or packed
  Q/K/V), ``RotaryEmbedding``.

``FusedMatMul`` and ``FusedGemm`` live in :mod:`targets.numpy.kernels.linalg`.

Masks follow onnxruntime: a padding mask (1-D lengths, 1-D end/start positions, 2-D or
3-D 0/1 masks) becomes ``mask_filter_value`` where masked and 0 elsewhere, added to
``scale * Q K'`` together with ``attention_bias``; the causal (``unidirectional``) mask
removes future keys outright; then a row softmax. float16/bfloat16 inputs are computed
in float32 and cast back.
"""

from __future__ import annotations

import math

import numpy as np

from ._attention import attention_scale, merge_heads, rotate, split_heads
from ._numeric import compute_dtype, sigmoid
from .elementwise import erf
from .registry import OpContext, kernel

DOMAIN = "com.microsoft"


# --------------------------------------------------------------------------- helpers


def _f(x: np.ndarray | None, ct: np.dtype) -> np.ndarray | None:
    return None if x is None else x.astype(ct, copy=False)


def _gelu_erf(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)) in x's dtype."""
    t = x.dtype.type
    return x * (erf(x * t(1.0 / math.sqrt(2.0))) + t(1.0)) * t(0.5)


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), onnxruntime's FastGelu formula."""
    t = x.dtype.type
    inner = x * (t(math.sqrt(2.0 / math.pi)) + t(0.044715 * math.sqrt(2.0 / math.pi)) * x * x)
    return x * (np.tanh(inner) + t(1.0)) * t(0.5)


def _activated(ctx: OpContext, x: np.ndarray, fn) -> np.ndarray:
    ct = compute_dtype(x)
    return ctx.write(0, fn(x.astype(ct, copy=False)), x.dtype)


# --------------------------------------------------------------------------- activations


@kernel("Gelu", domain=DOMAIN)
def gelu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """Exact (erf) Gelu."""
    return _activated(ctx, x, _gelu_erf)


@kernel("BiasGelu", domain=DOMAIN)
def bias_gelu(ctx: OpContext, a: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Gelu(A + B), B a 1-D bias over the last axis."""
    ct = compute_dtype(a)
    return ctx.write(0, _gelu_erf(a.astype(ct) + bias.astype(ct, copy=False)), a.dtype)


@kernel("FastGelu", domain=DOMAIN)
def fast_gelu(ctx: OpContext, x: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """The tanh Gelu approximation of x (+ bias)."""
    ct = compute_dtype(x)
    xc = x.astype(ct) if bias is None else x.astype(ct) + bias.astype(ct, copy=False)
    return ctx.write(0, _gelu_tanh(xc), x.dtype)


@kernel("QuickGelu", domain=DOMAIN)
def quick_gelu(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x * sigmoid(alpha x), alpha defaulting to 1.702."""
    alpha = float(ctx.attr("alpha", 1.702))
    return _activated(ctx, x, lambda v: v * sigmoid(v * v.dtype.type(alpha)))


@kernel("BiasAdd", domain=DOMAIN)
def bias_add(ctx: OpContext, x: np.ndarray, bias: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """X + bias + skip for (N, S, C) X and skip and a (C) bias."""
    if x.ndim != 3 or skip.shape != x.shape or bias.shape != x.shape[-1:]:
        raise ctx.shape_error(f"expects X and skip (N, S, C) and bias (C), got {x.shape}, {skip.shape}, {bias.shape}")
    buf = ctx.out(0, x.shape, x.dtype)
    np.add(x, bias, out=buf, casting="unsafe")
    return np.add(buf, skip, out=buf, casting="unsafe")


@kernel("BiasSplitGelu", domain=DOMAIN)
def bias_split_gelu(ctx: OpContext, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(X + bias) split in halves along the last axis: left * Gelu(right)."""
    d = x.shape[-1]
    if d % 2 or bias.shape != (d,):
        raise ctx.shape_error(f"expects an even last axis and a matching 1-D bias, got X {x.shape}, bias {bias.shape}")
    ct = compute_dtype(x)
    s = x.astype(ct) + bias.astype(ct, copy=False)
    return ctx.write(0, s[..., : d // 2] * _gelu_erf(s[..., d // 2:]), x.dtype)


# --------------------------------------------------------------------------- layer norms


def _skip_sum(ctx: OpContext, x: np.ndarray, skip: np.ndarray, bias: np.ndarray | None, ct: np.dtype) -> np.ndarray:
    """input + skip (+ bias); skip may be (1, S, H) or (S, H) against a (B, S, H) input."""
    if x.ndim not in (2, 3) or skip.shape[-1] != x.shape[-1] or skip.size not in (x.size, x.size // max(x.shape[0], 1)):
        raise ctx.shape_error(f"input {x.shape} and skip {skip.shape} do not match "
                              "(skip is (B, S, H), (1, S, H) or (S, H))")
    s = x.astype(ct) + skip.astype(ct, copy=False).reshape(skip.shape if skip.size == x.size else x.shape[-2:])
    if bias is not None:
        s += bias.astype(ct, copy=False)
    return s


def _skip_norm_outputs(ctx: OpContext, x: np.ndarray, y: np.ndarray, mean: np.ndarray, inv: np.ndarray,
                       s: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
    """(output, mean, inv_std_var, input_skip_bias_sum), as many as the node declares."""
    n = len(ctx.outs)
    if n <= 1:
        return ctx.write(0, y, x.dtype)
    outs = [ctx.write(0, y, x.dtype), ctx.write(1, mean, np.float32), ctx.write(2, inv, np.float32),
            ctx.write(3, s, x.dtype)]
    return tuple(outs[:n])


@kernel("SkipLayerNormalization", domain=DOMAIN)
def skip_layer_normalization(ctx: OpContext, x: np.ndarray, skip: np.ndarray, gamma: np.ndarray,
                             beta: np.ndarray | None = None, bias: np.ndarray | None = None
                             ) -> np.ndarray | tuple[np.ndarray, ...]:
    """LayerNorm(input + skip + bias) * gamma + beta over the last axis.

    Optional outputs: mean and inv_std_var (the last axis kept as 1, float32) and the
    pre-normalization sum input_skip_bias_sum.
    """
    eps = float(ctx.attr("epsilon", 1e-12))
    ct = compute_dtype(x)
    s = _skip_sum(ctx, x, skip, bias, ct)
    mean = s.mean(axis=-1, keepdims=True)
    d = s - mean
    var = np.mean(d * d, axis=-1, keepdims=True)
    inv = ct.type(1.0) / np.sqrt(var + ct.type(eps))
    y = d * inv * gamma.astype(ct, copy=False)
    if beta is not None:
        y += beta.astype(ct, copy=False)
    return _skip_norm_outputs(ctx, x, y, mean, inv, s)


@kernel("SkipSimplifiedLayerNormalization", domain=DOMAIN)
def skip_simplified_layer_normalization(ctx: OpContext, x: np.ndarray, skip: np.ndarray, gamma: np.ndarray,
                                        bias: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, ...]:
    """RMSNorm(input + skip + bias) * gamma over the last axis.

    The optional mean output is zeros (onnxruntime computes no mean for the RMS form);
    inv_std_var is 1 / sqrt(mean(s^2) + eps).
    """
    eps = float(ctx.attr("epsilon", 1e-12))
    ct = compute_dtype(x)
    s = _skip_sum(ctx, x, skip, bias, ct)
    inv = ct.type(1.0) / np.sqrt(np.mean(s * s, axis=-1, keepdims=True) + ct.type(eps))
    y = s * inv * gamma.astype(ct, copy=False)
    return _skip_norm_outputs(ctx, x, y, np.zeros_like(inv), inv, s)


@kernel("SimplifiedLayerNormalization")
def simplified_layer_normalization(ctx: OpContext, x: np.ndarray, scale: np.ndarray
                                   ) -> np.ndarray | tuple[np.ndarray, ...]:
    """x / sqrt(mean(x^2) + eps) * scale over the axes from ``axis`` on (onnxruntime, default domain).

    The optional inv_std_var output keeps the reduced axes as 1, in the stash type (float32).
    """
    eps = float(ctx.attr("epsilon", 1e-5))
    axis = int(ctx.attr("axis", -1))
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis < max(x.ndim, 1):
        raise ctx.shape_error(f"axis {ctx.attr('axis')} out of range for rank {x.ndim}")
    axes = tuple(range(axis, x.ndim))
    ct = compute_dtype(x)
    xc = x.astype(ct, copy=False)
    inv = ct.type(1.0) / np.sqrt(np.mean(xc * xc, axis=axes, keepdims=True) + ct.type(eps))
    y = xc * inv * scale.astype(ct, copy=False)
    if len(ctx.outs) > 1:
        return ctx.write(0, y, x.dtype), ctx.write(1, inv, np.float32)
    return ctx.write(0, y, x.dtype)


@kernel("EmbedLayerNormalization", domain=DOMAIN)
def embed_layer_normalization(ctx: OpContext, input_ids: np.ndarray, segment_ids: np.ndarray | None,
                              word_embedding: np.ndarray, position_embedding: np.ndarray,
                              segment_embedding: np.ndarray | None, gamma: np.ndarray, beta: np.ndarray,
                              mask: np.ndarray | None = None, position_ids: np.ndarray | None = None
                              ) -> np.ndarray | tuple[np.ndarray, ...]:
    """LayerNorm(word[ids] + position[pos] + segment[segment_ids]) * gamma + beta.

    Positions are ``position_ids`` ((B, S) or (1, S)) or 0..S-1. Outputs: the (B, S, H)
    result, ``mask_index`` (int32 (B): the count of mask entries equal to 1 per row, zeros
    without a mask) and ``embedding_sum`` (the sum before normalization).
    """
    eps = float(ctx.attr("epsilon", 1e-12))
    if input_ids.ndim != 2:
        raise ctx.shape_error(f"input_ids must be 2-D (batch, sequence), got {input_ids.shape}")
    b, s = input_ids.shape
    ct = compute_dtype(word_embedding)
    tables = [(word_embedding, input_ids, "input_ids")]
    pos = np.broadcast_to(np.arange(s), (b, s)) if position_ids is None else np.broadcast_to(position_ids, (b, s))
    tables.append((position_embedding, pos, "position ids"))
    if segment_embedding is not None and segment_ids is not None:
        tables.append((segment_embedding, segment_ids, "segment_ids"))
    emb = None
    for table, idx, what in tables:
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= table.shape[0]):
            raise ctx.shape_error(f"{what} out of range [0, {table.shape[0]})")
        rows = table.astype(ct, copy=False)[idx]
        emb = rows if emb is None else emb + rows
    assert emb is not None  # tables holds at least the word embedding
    mean = emb.mean(axis=-1, keepdims=True)
    d = emb - mean
    y = d / np.sqrt(np.mean(d * d, axis=-1, keepdims=True) + ct.type(eps)) * gamma.astype(ct, copy=False)
    y += beta.astype(ct, copy=False)
    outs = [ctx.write(0, y, word_embedding.dtype)]
    if len(ctx.outs) > 1:
        index = np.zeros(b, np.int32) if mask is None else np.count_nonzero(mask == 1, axis=-1).astype(np.int32)
        outs.append(ctx.write(1, index, np.dtype(np.int32)))
    if len(ctx.outs) > 2:
        outs.append(ctx.write(2, emb, word_embedding.dtype))
    return tuple(outs) if len(outs) > 1 else outs[0]


# --------------------------------------------------------------------------- group norms


def _group_norm(ctx: OpContext, s: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """GroupNorm over ``s`` (compute dtype, NHWC or NCHW per ``channels_last``), then optional SiLU."""
    groups = int(ctx.attr("groups"))
    eps = float(ctx.attr("epsilon", 1e-5))
    last = bool(ctx.attr("channels_last", 1))
    x = s if last else np.moveaxis(s, 1, -1)  # (N, ..., C)
    n, c = x.shape[0], x.shape[-1]
    if c % groups:
        raise ctx.shape_error(f"{c} channels are not divisible by groups={groups}")
    xg = x.reshape(n, -1, groups, c // groups)
    mean = xg.mean(axis=(1, 3), keepdims=True)
    d = xg - mean
    var = np.mean(d * d, axis=(1, 3), keepdims=True)
    y = (d / np.sqrt(var + s.dtype.type(eps))).reshape(x.shape) * gamma.astype(s.dtype) + beta.astype(s.dtype)
    if int(ctx.attr("activation", 0)) == 1:
        y = y * sigmoid(y)
    return y if last else np.moveaxis(y, -1, 1)


@kernel("GroupNorm", domain=DOMAIN)
def group_norm(ctx: OpContext, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Per-group normalization with per-channel gamma/beta; NHWC unless channels_last=0; activation 1 = SiLU."""
    ct = compute_dtype(x)
    return ctx.write(0, _group_norm(ctx, x.astype(ct), gamma, beta), x.dtype)


@kernel("SkipGroupNorm", domain=DOMAIN)
def skip_group_norm(ctx: OpContext, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, skip: np.ndarray,
                    bias: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """GroupNorm(x + skip + bias); skip is (N, H, W, C), (N, 1, 1, C) or (N, C); output S is the sum."""
    ct = compute_dtype(x)
    sk = skip.astype(ct, copy=False)
    if sk.ndim == 2:
        sk = sk.reshape(sk.shape[:1] + (1,) * (x.ndim - 2) + sk.shape[1:])
    s = x.astype(ct) + sk
    if bias is not None:
        s += bias.astype(ct, copy=False)
    y = ctx.write(0, _group_norm(ctx, s, gamma, beta), x.dtype)
    return (y, ctx.write(1, s, x.dtype)) if len(ctx.outs) > 1 else y


# --------------------------------------------------------------------------- attention core


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


# --------------------------------------------------------------------------- Attention


@kernel("Attention", domain=DOMAIN)
def attention(ctx: OpContext, x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None = None,
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


# --------------------------------------------------------------------------- MultiHeadAttention


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


@kernel("MultiHeadAttention", domain=DOMAIN)
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


# --------------------------------------------------------------------------- rotary


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


@kernel("RotaryEmbedding", domain=DOMAIN)
def rotary_embedding(ctx: OpContext, x: np.ndarray, position_ids: np.ndarray, cos_cache: np.ndarray,
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
