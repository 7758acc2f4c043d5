"""Attention building blocks shared by the ONNX and ``com.microsoft`` attention kernels.

Head layout (split / merge), rotary position embedding, grouped-query matmul and the
default softmax scale; the kernels in :mod:`.attention`, :mod:`.rotary` and
:mod:`.group_query_attention` compose them.
"""

from __future__ import annotations

import math

import numpy as np

from .registry import OpContext

__all__ = ["split_heads", "merge_heads", "rotate", "grouped_matmul", "attention_scale"]


def split_heads(x: np.ndarray, n: int) -> np.ndarray:
    """(B, S, N*H) -> (B, N, S, H) view."""
    b, s, d = x.shape
    return x.reshape(b, s, n, d // n).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """(B, N, S, H) -> (B, S, N*H)."""
    b, n, s, h = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, n * h)


def rotate(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, rot: int, interleaved: bool) -> np.ndarray:
    """RoPE on the first ``rot`` features of (..., S, H) ``x`` with (..., S, rot/2) cos/sin (broadcast)."""
    out = x.copy()
    xr = x[..., :rot]
    if interleaved:
        x1, x2 = xr[..., 0::2], xr[..., 1::2]
        out[..., 0:rot:2] = cos * x1 - sin * x2
        out[..., 1:rot:2] = sin * x1 + cos * x2
    else:
        half = rot // 2
        x1, x2 = xr[..., :half], xr[..., half:]
        out[..., :half] = cos * x1 - sin * x2
        out[..., half:rot] = sin * x1 + cos * x2
    return out


def grouped_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B, Nq, S, X) @ (B, Nkv, X, Y) with head i of ``a`` using head i // (Nq/Nkv) of ``b`` (GQA), no repeat."""
    bq, nq = a.shape[:2]
    nkv = b.shape[1]
    if nq == nkv or nkv == 1:
        return np.matmul(a, b)
    out = np.matmul(a.reshape(bq, nkv, nq // nkv, *a.shape[2:]), b[:, :, None])
    return out.reshape(bq, nq, *out.shape[3:])


def attention_scale(ctx: OpContext, head_size: int) -> float:
    """The node's ``scale`` attribute, or 1 / sqrt(head_size) when it is absent or 0."""
    scale = float(ctx.attr("scale", 0.0))
    return scale if scale != 0.0 else 1.0 / math.sqrt(head_size)
