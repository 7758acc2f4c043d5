"""Kernels: the training losses NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.

Input is (N, C) or (N, C, d1, ..., dk) scores, target (N) or (N, d1, ..., dk) class
indices, weight an optional (C) per-class weight. The per-element loss is
``-weight[t] * input[n, t, d...]`` (``t = target[n, d...]``), 0 where ``t == ignore_index``;
``reduction`` is ``none`` (the per-element loss, target-shaped), ``sum``, or ``mean``:
the sum divided by the sum of the gathered weights when a weight or an ``ignore_index``
is given, the plain mean otherwise. SoftmaxCrossEntropyLoss first takes the log-softmax
over the class axis and can also output it (``log_prob``). Like ``onnx.reference``, a
target that is not ignored must lie in [0, C).
"""

from __future__ import annotations

import numpy as np

from .registry import OpContext, kernel


def _nll(ctx: OpContext, logp: np.ndarray, target: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """The reduced negative log-likelihood of ``logp`` (N, C, ...) at ``target`` (N, ...), in logp's dtype."""
    if logp.ndim < 2 or target.shape != logp.shape[:1] + logp.shape[2:]:
        raise ctx.shape_error(f"input {logp.shape} must be (N, C, d1, ...) and target {target.shape} (N, d1, ...)")
    c = logp.shape[1]
    if weight is not None and weight.shape != (c,):
        raise ctx.shape_error(f"weight {weight.shape} must be ({c},)")
    reduction = ctx.attr("reduction", "mean")
    if isinstance(reduction, bytes):
        reduction = reduction.decode()
    if reduction not in ("none", "sum", "mean"):
        raise ctx.shape_error(f"reduction must be 'none', 'sum' or 'mean', got {reduction!r}")
    ignore = ctx.attr("ignore_index")
    t = np.asarray(target, dtype=np.int64)
    keep = None if ignore is None else t != int(ignore)
    idx = t if keep is None else np.where(keep, t, 0)
    if idx.size and (idx.min() < 0 or idx.max() >= c):
        raise ctx.shape_error(f"target holds class indices outside [0, {c}) that are not ignore_index={ignore}")
    dtype = logp.dtype
    loss = -np.take_along_axis(logp, idx[:, None], axis=1)[:, 0]
    w = None
    if weight is not None:
        w = weight.astype(dtype, copy=False)[idx]
        if keep is not None:
            w = np.where(keep, w, dtype.type(0))
    elif keep is not None:
        w = keep.astype(dtype)
    if w is not None:
        loss = loss * w
    if reduction == "none":
        return loss.astype(dtype, copy=False)
    total = np.sum(loss)
    if reduction == "sum":
        return np.asarray(total, dtype=dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / np.sum(w) if w is not None else np.mean(loss), dtype=dtype)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    """log softmax over axis 1 (the class axis)."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


@kernel("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(ctx: OpContext, x: np.ndarray, target: np.ndarray,
                                 weight: np.ndarray | None = None) -> np.ndarray:
    """-input[n, target[n, ...], ...] (weighted, ignore_index zeroed), reduced per ``reduction``."""
    return ctx.write(0, _nll(ctx, x, target, weight), x.dtype)


@kernel("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(ctx: OpContext, x: np.ndarray, target: np.ndarray,
                               weight: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """NegativeLogLikelihoodLoss of log_softmax(input, axis=1); second output: that log-probability."""
    if x.ndim < 2:
        raise ctx.shape_error(f"input {x.shape} must be (N, C, d1, ...)")
    ct = np.dtype(np.float64) if x.dtype == np.float64 else np.dtype(np.float32)
    logp = _log_softmax(x.astype(ct, copy=False))
    loss = ctx.write(0, _nll(ctx, logp, target, weight), x.dtype)
    if len(ctx.outs) > 1:
        return loss, ctx.write(1, logp, x.dtype)
    return loss
