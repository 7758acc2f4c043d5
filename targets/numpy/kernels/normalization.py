"""Kernels: normalization.

BatchNormalization (inference, and the training-mode outputs of opsets 6-15),
InstanceNormalization, LayerNormalization (Y, Mean, InvStdDev), GroupNormalization
(per-group scale before opset 21, per-channel after), RMSNormalization, LRN,
MeanVarianceNormalization and LpNormalization; onnxruntime's layer and group norms
(following its CPU kernels): ``SkipLayerNormalization``, ``SkipSimplifiedLayerNormalization``
(with the optional mean / inv_std_var / input_skip_bias_sum outputs),
``SimplifiedLayerNormalization`` (registered by onnxruntime in the *default* domain, opset
1 on), ``EmbedLayerNormalization`` (embedding lookups summed, then LayerNorm) and
``GroupNorm`` / ``SkipGroupNorm`` (NHWC by default), all ``com.microsoft`` but the third.
Softmax, LogSoftmax and Hardmax live in :mod:`targets.numpy.kernels.activations`.

Statistics of float16/bfloat16 inputs are computed in float32 (the ``stash_type``
default) and the result cast back.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._numeric import compute_dtype, sigmoid
from .pooling import combine_axis_flat, combine_taps, tap_ranges
from .registry import OpContext, kernel

MS_DOMAIN = "com.microsoft"


def _channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """A per-channel vector shaped to broadcast over N x C x spatial."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _mean_var(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Population mean and variance over ``axes`` (keepdims)."""
    mean = x.mean(axis=axes, keepdims=True)
    diff = x - mean
    np.multiply(diff, diff, out=diff)
    return mean, diff.mean(axis=axes, keepdims=True)


# --------------------------------------------------------------------------- BatchNormalization


def _batchnorm_training(ctx: OpContext) -> bool:
    if ctx.opset >= 14:
        return bool(ctx.attr("training_mode", 0))
    if ctx.opset < 7 and ctx.attr("is_test", 0):
        return False
    return len(ctx.outs) > 1


def _prepare_batchnorm(ctx: OpContext, inputs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """Inference BatchNormalization with constant parameters: the per-channel (multiplier, shift), once."""
    if len(inputs) != 5 or _batchnorm_training(ctx) or not all(isinstance(a, np.ndarray) for a in inputs[1:]):
        return None
    xt = inputs[0]
    rank = getattr(xt, "rank", None)
    dtype = getattr(xt, "dtype", None)
    if rank is None or rank < 2 or dtype is None or np.dtype(dtype) not in (np.float32, np.float64):
        return None
    ct = np.dtype(dtype)
    scale, bias, mean, var = (a.astype(ct) for a in inputs[1:])
    inv = scale / np.sqrt(var + ct.type(float(ctx.attr("epsilon", 1e-5))))
    shift = bias - mean * inv
    return _channel(inv, rank), _channel(shift, rank)


@kernel("BatchNormalization", prepare=_prepare_batchnorm)
def batch_normalization(ctx: OpContext, x: np.ndarray, scale: np.ndarray, bias: np.ndarray,
                        mean: np.ndarray, var: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
    """scale * (x - mean) / sqrt(var + eps) + bias per channel.

    In training mode the batch statistics normalize and the running statistics
    ``momentum * running + (1 - momentum) * batch`` are returned too: (Y, running_mean,
    running_var) from opset 14, plus the saved batch mean/var before it.
    """
    prepared = ctx.state
    if prepared is not None and len(ctx.outs) <= 1 and prepared[0].dtype == x.dtype and prepared[0].ndim == x.ndim:
        buf = ctx.out(0, x.shape, x.dtype)
        np.multiply(x, prepared[0], out=buf)
        return np.add(buf, prepared[1], out=buf)
    eps = float(ctx.attr("epsilon", 1e-5))
    ct = compute_dtype(x)
    xc = x.astype(ct, copy=False)
    buf = ctx.out(0, x.shape, x.dtype)
    if not _batchnorm_training(ctx):
        inv = scale.astype(ct) / np.sqrt(var.astype(ct) + ct.type(eps))
        shift = bias.astype(ct) - mean.astype(ct) * inv
        if buf.dtype == ct:
            np.multiply(xc, _channel(inv, x.ndim), out=buf)
            np.add(buf, _channel(shift, x.ndim), out=buf)
        else:
            np.copyto(buf, xc * _channel(inv, x.ndim) + _channel(shift, x.ndim), casting="unsafe")
        return buf
    momentum = float(ctx.attr("momentum", 0.9))
    axes = (0,) + tuple(range(2, x.ndim))
    bmean, bvar = _mean_var(xc, axes)
    y = _channel(scale.astype(ct), x.ndim) * (xc - bmean) / np.sqrt(bvar + ct.type(eps)) + _channel(bias, x.ndim)
    np.copyto(buf, y, casting="unsafe")
    bmean, bvar = bmean.reshape(-1), bvar.reshape(-1)
    run_mean = mean * momentum + bmean * (1 - momentum)
    run_var = var * momentum + bvar * (1 - momentum)
    outs = [buf, ctx.write(1, run_mean, mean.dtype), ctx.write(2, run_var, var.dtype)]
    if ctx.opset < 14:
        outs += [ctx.write(3, bmean, mean.dtype), ctx.write(4, bvar, var.dtype)]
    return tuple(outs[: max(len(ctx.outs), 1)])


# --------------------------------------------------------------------------- Instance / Group


@kernel("InstanceNormalization")
def instance_normalization(ctx: OpContext, x: np.ndarray, scale: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Normalize each (n, c) plane over its spatial axes, then per-channel scale and bias."""
    eps = float(ctx.attr("epsilon", 1e-5))
    ct = compute_dtype(x)
    xc = x.astype(ct, copy=False)
    mean, var = _mean_var(xc, tuple(range(2, x.ndim)))
    y = (xc - mean) / np.sqrt(var + ct.type(eps)) * _channel(scale.astype(ct), x.ndim) + _channel(bias.astype(ct), x.ndim)
    return ctx.write(0, y, x.dtype)


@kernel("GroupNormalization")
def group_normalization(ctx: OpContext, x: np.ndarray, scale: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Normalize channel groups over (channels in group, spatial), then scale and bias.

    Opset 18 scales per group (scale/bias of length ``num_groups``); opset 21 per channel.
    """
    groups = int(ctx.attr("num_groups"))
    eps = float(ctx.attr("epsilon", 1e-5))
    n, c = x.shape[:2]
    if c % groups:
        raise ctx.shape_error(f"{c} channels not divisible by num_groups={groups}")
    ct = compute_dtype(x)
    xg = x.astype(ct, copy=False).reshape((n, groups, -1))
    mean, var = _mean_var(xg, (2,))
    y = ((xg - mean) / np.sqrt(var + ct.type(eps))).reshape(x.shape)
    sc, bi = scale.astype(ct), bias.astype(ct)
    if sc.size == groups and groups != c:
        sc, bi = np.repeat(sc, c // groups), np.repeat(bi, c // groups)
    y = y * _channel(sc, x.ndim) + _channel(bi, x.ndim)
    return ctx.write(0, y, x.dtype)


# --------------------------------------------------------------------------- Layer / RMS


def _trailing_axes(ctx: OpContext, x: np.ndarray) -> tuple[int, ...]:
    axis = int(ctx.attr("axis", -1))
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis < max(x.ndim, 1):
        raise ctx.shape_error(f"axis {ctx.attr('axis')} out of range for rank {x.ndim}")
    return tuple(range(axis, x.ndim))


def _stash_dtype(ctx: OpContext, x: np.ndarray) -> np.dtype:
    stash = int(ctx.attr("stash_type", 1))
    return np.dtype(np.float32) if stash == 1 and x.dtype != np.float64 else compute_dtype(x)


@kernel("LayerNormalization")
def layer_normalization(ctx: OpContext, x: np.ndarray, scale: np.ndarray, bias: np.ndarray | None = None
                        ) -> np.ndarray | tuple[np.ndarray, ...]:
    """(x - mean) / sqrt(var + eps) * scale + bias over the axes from ``axis`` on.

    Optional outputs Mean and InvStdDev have the reduced axes kept as 1 and the stash type.
    """
    eps = float(ctx.attr("epsilon", 1e-5))
    axes = _trailing_axes(ctx, x)
    st = _stash_dtype(ctx, x)
    xc = x.astype(st, copy=False)
    mean, var = _mean_var(xc, axes)
    inv = 1.0 / np.sqrt(var + st.type(eps))
    y = (xc - mean) * inv * scale.astype(st, copy=False)
    if bias is not None:
        y += bias.astype(st, copy=False)
    outs = [ctx.write(0, y, x.dtype)]
    if len(ctx.outs) > 1:
        outs.append(ctx.write(1, mean, st))
        if len(ctx.outs) > 2:
            outs.append(ctx.write(2, inv, st))
        return tuple(outs)
    return outs[0]


@kernel("RMSNormalization")
def rms_normalization(ctx: OpContext, x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """x / sqrt(mean(x^2) + eps) * scale over the axes from ``axis`` on."""
    eps = float(ctx.attr("epsilon", 1e-5))
    axes = _trailing_axes(ctx, x)
    st = _stash_dtype(ctx, x)
    xc = x.astype(st, copy=False)
    ms = np.mean(xc * xc, axis=axes, keepdims=True)
    y = xc / np.sqrt(ms + st.type(eps)) * scale.astype(st, copy=False)
    return ctx.write(0, y, x.dtype)


# --------------------------------------------------------------------------- LRN, MVN, Lp


#: LRN works on blocks of spatial positions whose per-channel scratch is about this size (stays in cache)
LRN_BLOCK_BYTES = 1 << 18


@kernel("LRN")
def lrn(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x / (bias + alpha / size * sum of squares over a channel window) ** beta.

    Runs over cache-sized blocks of spatial positions (all channels), so its dozen
    elementwise passes stay in cache. The window sums run along the channel axis
    through the separable pooling taps (no cumulative sums to cancel); beta 0.75 and
    0.5 (the common ones) take square roots instead of ``pow``, which costs ten times more.
    """
    size = int(ctx.attr("size"))
    alpha = float(ctx.attr("alpha", 1e-4))
    beta = float(ctx.attr("beta", 0.75))
    bias = float(ctx.attr("bias", 1.0))
    ct = compute_dtype(x)
    n, c = x.shape[:2]
    xc = x.astype(ct, copy=False).reshape(n, c, -1)
    buf = ctx.out(0, x.shape, x.dtype)
    direct = buf.dtype == ct
    res = buf.reshape(n, c, -1) if direct else ctx.scratch("lrn-result", xc.shape, ct)
    ranges = tap_ranges(c, size, 1, 1, (size - 1) // 2, c)
    scale, shift = ct.type(alpha / size), ct.type(bias)
    width = max(64, LRN_BLOCK_BYTES // (max(c, 1) * ct.itemsize))
    for i in range(n):
        for j0 in range(0, xc.shape[2], width):
            shape = xc[i, :, j0:j0 + width].shape
            xb = ctx.scratch("lrn-x", shape, ct)  # one strided read of x per block
            np.copyto(xb, xc[i, :, j0:j0 + width])
            sq = ctx.scratch("lrn-square", shape, ct)
            window = ctx.scratch("lrn-window", shape, ct)
            np.multiply(xb, xb, out=sq)
            if not combine_axis_flat(sq, window, 0, ranges, 1, np.add, 0):
                combine_taps(sq, window, 0, ranges, 1, (0, c), np.add, 0)
            np.multiply(window, scale, out=window)
            np.add(window, shift, out=window)
            if beta == 0.75:  # d ** 0.75 = sqrt(d) * sqrt(sqrt(d))
                np.sqrt(window, out=window)
                np.sqrt(window, out=sq)
                np.multiply(window, sq, out=window)
            elif beta == 0.5:
                np.sqrt(window, out=window)
            elif beta != 1.0:
                np.power(window, ct.type(beta), out=window)
            np.divide(xb, window, out=res[i, :, j0:j0 + width])
    if not direct:
        np.copyto(buf, res.reshape(x.shape), casting="unsafe")
    return buf


@kernel("MeanVarianceNormalization")
def mean_variance_normalization(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """(x - mean) / (std + 1e-9) over ``axes`` (default N, H, W)."""
    axes = tuple(int(a) for a in ctx.attr("axes", [0, 2, 3]))
    ct = compute_dtype(x)
    xc = x.astype(ct, copy=False)
    mean = xc.mean(axis=axes, keepdims=True)
    std = np.sqrt(np.maximum((xc * xc).mean(axis=axes, keepdims=True) - mean * mean, 0))
    return ctx.write(0, (xc - mean) / (std + ct.type(1e-9)), x.dtype)


@kernel("LpNormalization")
def lp_normalization(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    """x / ||x||_p along ``axis`` (p 1 or 2); 0 where the norm is 0."""
    axis = int(ctx.attr("axis", -1))
    p = int(ctx.attr("p", 2))
    if p not in (1, 2):
        raise ctx.shape_error(f"p must be 1 or 2, got {p}")
    norm = np.abs(x).sum(axis=axis, keepdims=True) if p == 1 else np.sqrt((x * x).sum(axis=axis, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(norm == 0, 0, x / norm)
    return ctx.write(0, y, x.dtype)


# --------------------------------------------------------------------------- com.microsoft layer norms


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


@kernel("SkipLayerNormalization", domain=MS_DOMAIN)
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


@kernel("SkipSimplifiedLayerNormalization", domain=MS_DOMAIN)
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


@kernel("EmbedLayerNormalization", domain=MS_DOMAIN)
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


# --------------------------------------------------------------------------- com.microsoft group norms


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


@kernel("GroupNorm", domain=MS_DOMAIN)
def group_norm(ctx: OpContext, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Per-group normalization with per-channel gamma/beta; NHWC unless channels_last=0; activation 1 = SiLU."""
    ct = compute_dtype(x)
    return ctx.write(0, _group_norm(ctx, x.astype(ct), gamma, beta), x.dtype)


@kernel("SkipGroupNorm", domain=MS_DOMAIN)
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
