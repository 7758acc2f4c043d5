"""Compiled time-step loops of the recurrent fast path (:mod:`.recurrent_fast`): one call per direction.

A small model's recurrent step is a GEMV on ``hidden x gates*hidden`` weights and a few gate ufuncs
on a vector of ``gates*hidden`` numbers: in numpy that is about ten calls per step at 0.3-1 us each
(kws_crnn's GRUs: 25 steps x 7 us). Here the whole sequence of one direction is one compiled loop:
per step and batch row the recurrent GEMV (rows of ``R^T`` scaled by ``h[k]`` and summed, unit
stride), then the gates. They take the fast path's weights as they are: the sigmoid gates' columns
are pre-scaled by 0.5, so every gate is ``s = sigmoid(2 g)`` (the sigmoid of a pre-scaled gate, and
``tanh(g) = 2 s - 1`` for the unscaled candidate and cell). In float32 the sigmoid is
:func:`.epilogue_jit.sigmoid32` (no libm call, so the gate loops vectorize; within 2.6 float32 ulp),
in float64 ``1 / (1 + exp(-x))``. NaN and infinities propagate as in the numpy path.

This module imports numba: :mod:`.recurrent_fast` imports it only once :func:`jit.available` said True.

The steppers here have the signature of :mod:`.recurrent_fast`'s (weights, direction, projected
inputs ``(seq, batch, gates*hidden)``, ``Y`` view ``(seq, batch, hidden)``, initial states) and
return the final states (``in_place``: computed in the given start state arrays, which the kernels
overwrite step by step); the fast path picks them when :func:`jit.available` at preparation.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from numba.extending import register_jitable

from . import jit
from .epilogue_jit import sigmoid as _sigmoid

__all__ = ["STEPPERS"]


@register_jitable
def _gemv_add(acc, vec, mat):  # pragma: no cover - compiled
    """acc += vec @ mat: rows of ``mat`` scaled by ``vec[k]`` and summed (unit stride, vectorizes)."""
    for k in range(vec.shape[0]):
        vk = vec[k]
        for j in range(acc.shape[0]):
            acc[j] += vk * mat[k, j]


@register_jitable
def _carry(h, y_t):  # pragma: no cover - compiled
    """The step's outputs become the next step's state: h[b] = y_t[b] for every batch row."""
    for b in range(h.shape[0]):
        for j in range(h.shape[1]):
            h[b, j] = y_t[b, j]


@jit.compiled
def _lstm_seq(proj, rt, y, h, c, one, two):  # pragma: no cover - compiled
    """LSTM gates i, o, f (pre-scaled), candidate; ``h``/``c`` (batch, hidden) hold the start and end states."""
    seq, batch, gates = proj.shape
    hid = h.shape[1]
    g = np.empty(gates, proj.dtype)
    for t in range(seq):
        for b in range(batch):
            for j in range(gates):
                g[j] = proj[t, b, j]
            _gemv_add(g, h[b], rt)
            for j in range(gates):
                g[j] = _sigmoid(two * g[j])
            for j in range(hid):
                cj = g[2 * hid + j] * c[b, j] + g[j] * (two * g[3 * hid + j] - one)
                c[b, j] = cj
                y[t, b, j] = g[hid + j] * (two * _sigmoid(two * cj) - one)
        _carry(h, y[t])


@jit.compiled
def _gru_lbr_seq(proj, rt, rb_n, y, h, one, two):  # pragma: no cover - compiled
    """GRU with linear_before_reset: z, r (pre-scaled) from ``h R^T + P``; n = tanh(P_n + r (h R_n^T + Rb_n))."""
    seq, batch, gates = proj.shape
    hid = h.shape[1]
    g = np.empty(gates, proj.dtype)
    for t in range(seq):
        for b in range(batch):
            for j in range(gates):
                g[j] = 0
            _gemv_add(g, h[b], rt)
            for j in range(2 * hid):
                g[j] = _sigmoid(two * (g[j] + proj[t, b, j]))
            for j in range(hid):
                n = proj[t, b, 2 * hid + j] + g[hid + j] * (g[2 * hid + j] + rb_n[j])
                n = two * _sigmoid(two * n) - one
                y[t, b, j] = n + g[j] * (h[b, j] - n)
        _carry(h, y[t])


@jit.compiled
def _gru_seq(proj, rt_zr, rt_n, y, h, one, two):  # pragma: no cover - compiled
    """GRU without linear_before_reset: z, r (pre-scaled) from ``h R_zr^T + P``; n = tanh(P_n + (r h) R_n^T)."""
    seq, batch, gates = proj.shape
    hid = h.shape[1]
    zr = np.empty(2 * hid, proj.dtype)
    n = np.empty(hid, proj.dtype)
    for t in range(seq):
        for b in range(batch):
            for j in range(2 * hid):
                zr[j] = proj[t, b, j]
            _gemv_add(zr, h[b], rt_zr)
            for j in range(2 * hid):
                zr[j] = _sigmoid(two * zr[j])
            for j in range(hid):
                n[j] = proj[t, b, 2 * hid + j]
            for k in range(hid):
                rh = zr[hid + k] * h[b, k]
                for j in range(hid):
                    n[j] += rh * rt_n[k, j]
            for j in range(hid):
                nj = two * _sigmoid(two * n[j]) - one
                y[t, b, j] = nj + zr[j] * (h[b, j] - nj)
        _carry(h, y[t])


@jit.compiled
def _rnn_seq(proj, rt, y, h, one, two):  # pragma: no cover - compiled
    """Ht = tanh(P_t + H_{t-1} R^T)."""
    seq, batch, hid = proj.shape
    g = np.empty(hid, proj.dtype)
    for t in range(seq):
        for b in range(batch):
            for j in range(hid):
                g[j] = proj[t, b, j]
            _gemv_add(g, h[b], rt)
            for j in range(hid):
                y[t, b, j] = two * _sigmoid(two * g[j]) - one
        _carry(h, y[t])


def _constants(proj: np.ndarray) -> tuple[Any, Any]:
    return proj.dtype.type(1), proj.dtype.type(2)


def _lstm_steps(fw: Any, d: int, proj: np.ndarray, y: np.ndarray, start: list[np.ndarray],
                in_place: bool = False) -> list[np.ndarray]:
    h, c = (start[0], start[1]) if in_place else (start[0].copy(), start[1].copy())
    fw.compiled(proj, fw.rt[d], y, h, c, *_constants(proj))
    return [h, c]


def _gru_steps(fw: Any, d: int, proj: np.ndarray, y: np.ndarray, start: list[np.ndarray],
               in_place: bool = False) -> list[np.ndarray]:
    h = start[0] if in_place else start[0].copy()
    if fw.rb_cand is not None:
        fw.compiled(proj, fw.rt[d], fw.rb_cand[d, 0], y, h, *_constants(proj))
    else:
        fw.compiled(proj, fw.rt_zr[d], fw.rt_n[d], y, h, *_constants(proj))
    return [h]


def _rnn_steps(fw: Any, d: int, proj: np.ndarray, y: np.ndarray, start: list[np.ndarray],
               in_place: bool = False) -> list[np.ndarray]:
    h = start[0] if in_place else start[0].copy()
    fw.compiled(proj, fw.rt[d], y, h, *_constants(proj))
    return [h]


#: op type (GRU: linear_before_reset) -> (compiled kernel, stepper calling it)
STEPPERS: dict[tuple[str, bool], tuple[Any, Callable[..., list[np.ndarray]]]] = {
    ("LSTM", False): (_lstm_seq, _lstm_steps),
    ("GRU", True): (_gru_lbr_seq, _gru_steps),
    ("GRU", False): (_gru_seq, _gru_steps),
    ("RNN", False): (_rnn_seq, _rnn_steps),
}
