"""The fast path of the recurrent kernels: RNN, GRU and LSTM with their default activations.

Where a node uses the default activations (RNN tanh; GRU sigmoid, tanh; LSTM sigmoid, tanh,
tanh), no ``clip``, no LSTM peepholes or ``input_forget``, and every sequence runs its full
length, the whole sequence is one kernel call doing:

* the input projection ``X @ W^T`` of every time step and direction as one GEMM, with the
  biases that can be added up front (``Wb + Rb``; GRU ``linear_before_reset`` keeps the
  candidate gate's ``Rb`` apart) folded in;
* per time step, the recurrent GEMM into a preallocated gate buffer and the gate math in
  place (about ten ufunc calls on that buffer, no temporaries; ``np.dot`` rather than
  ``np.matmul`` for the product, 0.5 against 0.85 us at hidden 32), the new hidden state written
  straight into the ``Y`` output (in step order, flipped once at the end for a reverse
  direction). The directions of a bidirectional node run one after the other: advancing
  both together (one batched GEMM, one call per gate op on (2, batch, gates) buffers) was
  measured and did not pay, the gate slices being strided then (GRU 1.10x, LSTM 0.98x the
  time at hidden 32, batch 1).

The sigmoid is computed as ``0.5 + 0.5 tanh(x / 2)`` (as the general path does): the sigmoid
gates' rows of ``W``, ``R`` and the biases are scaled by 0.5 once, at preparation (exact in
binary floating point), so one ``tanh`` over the whole gate buffer serves the sigmoid and the
tanh gates alike. Where numba is available (:func:`jit.available` at preparation), each direction's
step loop is one compiled call instead (:mod:`.recurrent_jit`, the same weights).
:func:`prepare_recurrent` builds the re-laid-out weights once per node at
lowering (the ``prepare`` hook); :func:`run_fast` returns None when a call falls outside the
fast path (the caller then runs the general driver).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from . import jit

__all__ = ["FastWeights", "prepare_recurrent", "run_fast"]

#: op type -> (gates, default activations)
_OPS = {"RNN": (1, ("tanh",)), "GRU": (3, ("sigmoid", "tanh")), "LSTM": (4, ("sigmoid", "tanh", "tanh"))}


@dataclass(frozen=True)
class FastWeights:
    """The weights re-laid out for the fast path (read-only, shared by every call); sigmoid gates' columns
    are scaled by 0.5."""

    wt: np.ndarray  # (input, dirs*gates*hidden): every direction's W^T side by side, for one projection GEMM
    bias: np.ndarray  # (dirs*gates*hidden,) added to the projection (GRU lbr: candidate columns hold Wb only)
    rt: np.ndarray  # (dirs, hidden, gates*hidden) R^T per direction
    rt_zr: np.ndarray | None  # GRU without linear_before_reset: R^T's update/reset columns ...
    rt_n: np.ndarray | None  # ... and its candidate columns, applied to r * H
    rb_cand: np.ndarray | None  # GRU linear_before_reset: (dirs, 1, hidden) the candidate gate's Rb
    hidden: int
    gates: int
    reverse: tuple[bool, ...]  # per direction: runs from the last step to the first
    #: with compiled kernels: the numba dispatcher of this op's step loop (:mod:`.recurrent_jit`) ...
    compiled: Any = None
    #: ... and the stepper calling it (in place of the numpy steppers here)
    stepper: Callable[..., list[np.ndarray]] | None = None

    @property
    def dirs(self) -> int:
        return len(self.reverse)


def _attr_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _default_activations(attrs: dict[str, Any], defaults: Sequence[str], dirs: int) -> bool:
    names = [_attr_str(n).lower() for n in (attrs.get("activations") or [])]
    return not names or names == list(defaults) * (dirs if len(names) != len(defaults) else 1)


def prepare_recurrent(op_type: str, attrs: dict[str, Any], w: Any, r: Any, b: Any, peepholes: Any = None
                      ) -> FastWeights | None:
    """The fast-path weights for a node with constant ``w``, ``r`` (and ``b``), or None when it does not qualify."""
    gates, defaults = _OPS[op_type]
    if not all(isinstance(a, np.ndarray) for a in (w, r)) or not (b is None or isinstance(b, np.ndarray)):
        return None
    if w.dtype not in (np.float32, np.float64) or r.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
        return None
    direction = _attr_str(attrs.get("direction", "forward"))
    dirs = 2 if direction == "bidirectional" else 1
    hidden = r.shape[-1]
    if attrs.get("clip") is not None or int(attrs.get("input_forget", 0)) or peepholes is not None \
            or direction not in ("forward", "reverse", "bidirectional") or w.ndim != 3 or w.shape[0] != dirs \
            or r.shape != (dirs, gates * hidden, hidden) or w.shape[1] != gates * hidden \
            or int(attrs.get("hidden_size") or hidden) != hidden \
            or (b is not None and b.shape != (dirs, 2 * gates * hidden)) \
            or not _default_activations(attrs, defaults, dirs):
        return None
    lbr = op_type == "GRU" and bool(int(attrs.get("linear_before_reset", 0)))
    n_sig = {"RNN": 0, "GRU": 2, "LSTM": 3}[op_type] * hidden  # the sigmoid gates come first (i, o, f / z, r)
    scale = np.ones(gates * hidden, w.dtype)
    scale[:n_sig] = 0.5
    bias = np.zeros((dirs, 2 * gates * hidden), w.dtype) if b is None else b
    wb, rb = bias[:, :gates * hidden], bias[:, gates * hidden:]
    folded = wb + rb
    if lbr:
        folded[:, 2 * hidden:] = wb[:, 2 * hidden:]
    rt = np.ascontiguousarray(r.transpose(0, 2, 1) * scale)
    split = op_type == "GRU" and not lbr
    compiled = stepper = None
    if jit.available():
        from .recurrent_jit import STEPPERS  # imports numba

        kernel, stepper = STEPPERS[(op_type, lbr)]
        compiled = kernel.dispatcher()
    return FastWeights(
        wt=np.ascontiguousarray(np.concatenate([w[d].T * scale for d in range(dirs)], axis=1)),
        bias=np.ascontiguousarray((folded * scale).reshape(-1)),
        rt=rt,
        rt_zr=np.ascontiguousarray(rt[:, :, :2 * hidden]) if split else None,
        rt_n=np.ascontiguousarray(rt[:, :, 2 * hidden:]) if split else None,
        rb_cand=np.ascontiguousarray(rb[:, None, 2 * hidden:]) if lbr else None,
        hidden=hidden, gates=gates,
        reverse=tuple(direction == "reverse" or d == 1 for d in range(dirs)),
        compiled=compiled, stepper=stepper)


def run_fast(op_type: str, fw: FastWeights, layout: int, x: np.ndarray, seq_lens: np.ndarray | None,
             init: Sequence[np.ndarray | None], n_out: int, out: Any) -> tuple[np.ndarray, ...] | None:
    """Run the node on the fast path; None when this call does not qualify (other dtype, short sequences).

    ``init`` holds the initial states as fed (``layout`` 1: batch first), ``n_out`` the number
    of outputs to return and ``out(i, shape, dtype)`` gives output ``i``'s buffer.
    """
    if x.dtype != fw.wt.dtype or x.ndim != 3 or x.shape[-1] != fw.wt.shape[0]:
        return None
    xs = np.swapaxes(x, 0, 1) if layout else x
    seq, batch, _ = xs.shape
    if seq_lens is not None and not bool(np.all(np.asarray(seq_lens) == seq)):
        return None
    h, dirs = fw.hidden, fw.dirs
    states = []
    for s in init:
        if s is not None:
            s = np.swapaxes(s, 0, 1) if layout else s
            if s.shape != (dirs, batch, h) or s.dtype != x.dtype:
                return None
        states.append(s)
    g = fw.gates * h
    # the projection of every step and direction in one GEMM, laid out in step order: (dirs, seq, batch, g)
    proj = (xs.reshape(seq * batch, xs.shape[-1]) @ fw.wt)
    proj += fw.bias
    if fw.stepper is not None and dirs == 1 and not layout and not fw.reverse[0] and seq:
        return _run_forward(fw, proj.reshape(seq, batch, g), states, n_out, out)
    by_dir = proj.reshape(seq, batch, dirs, g)
    steps = np.empty((dirs, seq, batch, g), x.dtype)
    for d in range(dirs):
        steps[d] = by_dir[::-1, :, d] if fw.reverse[d] else by_dir[:, :, d]
    start = [np.zeros((dirs, batch, h), x.dtype) if s is None else s for s in states]
    in_order = not layout and not any(fw.reverse)
    ys = out(0, (seq, dirs, batch, h), x.dtype) if in_order else np.empty((seq, dirs, batch, h), x.dtype)
    last = [np.empty((dirs, batch, h), x.dtype) for _ in init]
    stepper = fw.stepper or _STEPPERS[op_type]
    for d in range(dirs):
        for final, v in zip(last, stepper(fw, d, steps[d], ys[:, d], [s[d] for s in start])):
            final[d] = v
    y = ys
    if not in_order:
        y = np.empty_like(ys) if layout else out(0, ys.shape, x.dtype)
        for d in range(dirs):
            y[:, d] = ys[::-1, d] if fw.reverse[d] else ys[:, d]
    if layout:
        outs = [y.transpose(2, 0, 1, 3)] + [v.transpose(1, 0, 2) for v in last]
    else:
        outs = [y] + last
    res = []
    for i, v in enumerate(outs[:n_out]):
        buf = out(i, v.shape, x.dtype)
        if buf is not v:
            np.copyto(buf, v)
        res.append(buf)
    return tuple(res)


def _run_forward(fw: FastWeights, proj: np.ndarray, states: list[np.ndarray | None], n_out: int, out: Any
                 ) -> tuple[np.ndarray, ...]:
    """One forward direction, layout 0, on the compiled stepper: the final states are computed in their output
    buffers (a small model's per-call cost: about half of :func:`run_fast`'s general layout code)."""
    seq, batch, _ = proj.shape
    dtype = proj.dtype
    shape = (1, batch, fw.hidden)
    y = out(0, (seq, 1, batch, fw.hidden), dtype)
    finals = []
    for i, s in enumerate(states):
        buf = out(1 + i, shape, dtype) if 1 + i < n_out else np.empty(shape, dtype)
        if s is None:
            buf.fill(0)
        else:
            np.copyto(buf, s)
        finals.append(buf)
    assert fw.stepper is not None
    fw.stepper(fw, 0, proj, y[:, 0], [f[0] for f in finals], True)
    return (y, *finals)[:n_out]


def _rnn_steps(fw: FastWeights, d: int, proj: np.ndarray, y: np.ndarray, start: list[np.ndarray]
               ) -> list[np.ndarray]:
    """Ht = tanh(P_t + H_{t-1} R^T), written into ``y[t]`` (direction ``d``)."""
    dot, tanh = np.dot, np.tanh  # bound once: the loop calls them every step
    rt = fw.rt[d]
    h = start[0]
    for t in range(proj.shape[0]):
        ht = y[t]
        dot(h, rt, out=ht)
        ht += proj[t]
        tanh(ht, out=ht)
        h = ht
    return [h]


def _gru_steps(fw: FastWeights, d: int, proj: np.ndarray, y: np.ndarray, start: list[np.ndarray]
               ) -> list[np.ndarray]:
    """Gates z, r (scaled by 0.5: sigmoid = 0.5 + 0.5 tanh) and candidate n; Ht = n + z (H_{t-1} - n)."""
    # bound once: the loops call them every step
    dot, tanh, add, subtract, multiply, matmul = np.dot, np.tanh, np.add, np.subtract, np.multiply, np.matmul
    hs = fw.hidden
    g = np.empty(proj.shape[1:], proj.dtype)
    tmp = np.empty(y.shape[1:], proj.dtype)
    zr, z, rg, n = g[..., :2 * hs], g[..., :hs], g[..., hs:2 * hs], g[..., 2 * hs:]
    half = proj.dtype.type(0.5)
    h = start[0]
    if fw.rb_cand is not None:  # linear_before_reset
        # g = [z r | n] = H R^T + [P_zr | Rb_n] in one add; the candidate's projection is kept apart
        rt = fw.rt[d]
        p_cand = proj[..., 2 * hs:].copy()
        proj[..., 2 * hs:] = fw.rb_cand[d]
        for t in range(proj.shape[0]):
            dot(h, rt, out=g)
            g += proj[t]
            tanh(zr, out=zr)
            zr *= half
            zr += half
            n *= rg
            n += p_cand[t]
            tanh(n, out=n)
            subtract(h, n, out=tmp)
            tmp *= z
            h = y[t]
            add(tmp, n, out=h)
        return [h]
    assert fw.rt_zr is not None and fw.rt_n is not None
    rt_zr, rt_n = fw.rt_zr[d], fw.rt_n[d]
    for t in range(proj.shape[0]):
        pt = proj[t]
        matmul(h, rt_zr, out=zr)
        zr += pt[..., :2 * hs]
        tanh(zr, out=zr)
        zr *= half
        zr += half
        multiply(rg, h, out=tmp)
        matmul(tmp, rt_n, out=n)
        n += pt[..., 2 * hs:]
        tanh(n, out=n)
        subtract(h, n, out=tmp)
        tmp *= z
        h = y[t]
        add(tmp, n, out=h)
    return [h]


def _lstm_steps(fw: FastWeights, d: int, proj: np.ndarray, y: np.ndarray, start: list[np.ndarray]
                ) -> list[np.ndarray]:
    """Gates i, o, f (scaled by 0.5) and candidate c; Ct = f C_{t-1} + i c, Ht = o tanh(Ct)."""
    dot, tanh, multiply = np.dot, np.tanh, np.multiply  # bound once: the loop calls them every step
    hs = fw.hidden
    rt = fw.rt[d]
    g = np.empty(proj.shape[1:], proj.dtype)
    tmp = np.empty(y.shape[1:], proj.dtype)
    iof, i, o, f, cand = g[..., :3 * hs], g[..., :hs], g[..., hs:2 * hs], g[..., 2 * hs:3 * hs], g[..., 3 * hs:]
    half = proj.dtype.type(0.5)
    h = start[0]
    c = start[1].copy()
    for t in range(proj.shape[0]):
        dot(h, rt, out=g)
        g += proj[t]
        tanh(g, out=g)
        iof *= half
        iof += half
        c *= f
        cand *= i
        c += cand
        tanh(c, out=tmp)
        h = y[t]
        multiply(o, tmp, out=h)
    return [h, c]


_STEPPERS = {"RNN": _rnn_steps, "GRU": _gru_steps, "LSTM": _lstm_steps}
