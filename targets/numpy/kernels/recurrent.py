"""Kernels: recurrent layers RNN, GRU and LSTM.

Nodes with the default activations, no ``clip`` and no LSTM peepholes whose sequences all
run their full length take the fast path of :mod:`.recurrent_fast` (weights re-laid out once
by the ``prepare`` hook, gate math in place in preallocated buffers). Everything else goes
through one general driver: the input projection ``X @ W^T + Wb`` of every time step
is one GEMM up front, then a Python loop over time steps does the recurrent GEMM and
the gate math for the whole batch. Directions forward, reverse and bidirectional,
``layout`` 0 (sequence first) and 1 (batch first), ``sequence_lens`` (steps past a
sequence's length leave its state unchanged and output zeros; reverse runs over each
sequence's own valid prefix), initial states, the ``activations`` list with
``activation_alpha``/``activation_beta``, ``clip``, GRU ``linear_before_reset`` and LSTM
peepholes and ``input_forget`` are supported.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from graphc.errors import UnsupportedOpError

from .recurrent_fast import FastWeights, prepare_recurrent, run_fast
from .registry import OpContext, kernel

Activation = Callable[[np.ndarray], np.ndarray]

# name -> (number of alpha, beta params used, defaults)
_PARAMS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "Affine": ((1.0,), (0.0,)),
    "LeakyRelu": ((0.01,), ()),
    "ThresholdedRelu": ((1.0,), ()),
    "ScaledTanh": ((1.0,), (1.0,)),
    "HardSigmoid": ((0.2,), (0.5,)),
    "Elu": ((1.0,), ()),
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) as 0.5 + 0.5 tanh(x / 2): no overflow to guard against, three passes."""
    y = np.tanh(x * x.dtype.type(0.5))
    y *= x.dtype.type(0.5)
    y += x.dtype.type(0.5)
    return y


def _make_activation(name: str, alpha: float | None, beta: float | None) -> Activation:
    """The activation function ``name`` with its parameters bound."""
    key = name.lower()
    if key == "sigmoid":
        return _sigmoid
    if key == "tanh":
        return np.tanh
    if key == "relu":
        return lambda x: np.maximum(x, 0)
    if key == "affine":
        assert alpha is not None and beta is not None  # _PARAMS gives Affine both
        return lambda x: alpha * x + beta
    if key == "leakyrelu":
        return lambda x: np.where(x >= 0, x, alpha * x)
    if key == "thresholdedrelu":
        return lambda x: np.where(x > alpha, x, 0)
    if key == "scaledtanh":
        return lambda x: alpha * np.tanh(beta * x)
    if key == "hardsigmoid":
        assert alpha is not None and beta is not None  # _PARAMS gives HardSigmoid both
        return lambda x: np.clip(alpha * x + beta, 0, 1)
    if key == "elu":
        return lambda x: np.where(x >= 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1))
    if key == "softsign":
        return lambda x: x / (1 + np.abs(x))
    if key == "softplus":
        return lambda x: np.logaddexp(x, 0)
    raise UnsupportedOpError(f"recurrent activation {name!r} is not supported")


def _activations(ctx: OpContext, defaults: Sequence[str], num_dirs: int) -> list[list[Activation]]:
    """Per direction, the activation functions (alpha/beta lists consumed in order)."""
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in (ctx.attr("activations") or [])]
    if not names:
        names = list(defaults) * num_dirs
    elif len(names) == len(defaults) and num_dirs == 2:
        names = names * 2
    if len(names) != len(defaults) * num_dirs:
        raise ctx.shape_error(
            f"{len(names)} activations given, expected {len(defaults) * num_dirs}"
        )
    alphas = list(ctx.attr("activation_alpha") or [])
    betas = list(ctx.attr("activation_beta") or [])
    fns = []
    for name in names:
        canon = next((k for k in _PARAMS if k.lower() == name.lower()), None)
        alpha = beta = None
        if canon is not None:
            da, db = _PARAMS[canon]
            if da:
                alpha = float(alphas.pop(0)) if alphas else da[0]
            if db:
                beta = float(betas.pop(0)) if betas else db[0]
        fns.append(_make_activation(name, alpha, beta))
    k = len(defaults)
    return [fns[d * k:(d + 1) * k] for d in range(num_dirs)]


def _prepare(op_type: str) -> Callable[[OpContext, Sequence[Any]], FastWeights | None]:
    """The ``prepare`` hook of ``op_type``: the fast path's weights when W, R (and B) are constants."""
    def prepare(ctx: OpContext, inputs: Sequence[Any]) -> FastWeights | None:
        args = list(inputs) + [None] * 8
        return prepare_recurrent(op_type, ctx.attrs, args[1], args[2], args[3], args[7] if op_type == "LSTM" else None)
    return prepare


def _fast(ctx: OpContext, x: np.ndarray, w: np.ndarray, r: np.ndarray, b: np.ndarray | None,
          seq_lens: np.ndarray | None, init: Sequence[np.ndarray | None], peepholes: np.ndarray | None = None
          ) -> tuple[np.ndarray, ...] | None:
    """The node's outputs from the fast path (:mod:`.recurrent_fast`), or None when the call does not qualify."""
    fw = ctx.state
    if not isinstance(fw, FastWeights):
        fw = prepare_recurrent(ctx.op_type, ctx.attrs, w, r, b, peepholes)
        if fw is None:
            return None
    n_out = len(ctx.outs) if ctx.outs else 1 + len(init)
    return run_fast(ctx.op_type, fw, int(ctx.attr("layout", 0)), x, seq_lens, init, n_out, ctx.out)


class _Setup:
    """Inputs normalized to layout 0 and per-direction arrays."""

    def __init__(self, ctx: OpContext, x: np.ndarray, w: np.ndarray, r: np.ndarray, b: np.ndarray | None,
                 seq_lens: np.ndarray | None, gates: int, init: Sequence[np.ndarray | None]):
        self.layout = int(ctx.attr("layout", 0))
        direction = ctx.attr("direction", "forward")
        self.direction = direction.decode() if isinstance(direction, bytes) else str(direction)
        if self.direction not in ("forward", "reverse", "bidirectional"):
            raise ctx.shape_error(f"unknown direction {self.direction!r}")
        self.num_dirs = 2 if self.direction == "bidirectional" else 1
        if w.shape[0] != self.num_dirs:
            raise ctx.shape_error(
                f"W has {w.shape[0]} directions, {self.direction} needs {self.num_dirs}"
            )
        self.x = np.swapaxes(x, 0, 1) if self.layout else x
        self.seq, self.batch, _ = self.x.shape
        self.hidden = int(ctx.attr("hidden_size") or r.shape[-1])
        self.dtype = x.dtype
        h = self.hidden
        self.b = np.zeros((self.num_dirs, 2 * gates * h), x.dtype) if b is None else b
        self.lens = (np.full(self.batch, self.seq, np.int64) if seq_lens is None
                     else np.asarray(seq_lens, dtype=np.int64).reshape(-1))
        self.init = []
        for s in init:
            if s is None:
                self.init.append(np.zeros((self.num_dirs, self.batch, h), x.dtype))
            else:
                self.init.append(np.swapaxes(s, 0, 1) if self.layout else s)
        self.clip = ctx.attr("clip")
        self.w, self.r = w, r

    def order(self, d: int) -> np.ndarray:
        """(seq, batch) time index each step of direction ``d`` reads (reverse: per-sequence)."""
        t = np.arange(self.seq)[:, None]
        if self.direction == "reverse" or d == 1:
            rev = self.lens[None, :] - 1 - t
            return np.where(rev >= 0, rev, t)
        return np.broadcast_to(t, (self.seq, self.batch))

    def projected(self, d: int, gates: int) -> np.ndarray:
        """X @ W^T + Wb for all steps of direction ``d``, in that direction's step order."""
        h = self.hidden
        proj = self.x.reshape(-1, self.x.shape[-1]) @ self.w[d].T
        proj = proj.reshape(self.seq, self.batch, gates * h) + self.b[d, : gates * h]
        idx = self.order(d)
        return proj[idx, np.arange(self.batch)[None, :]]

    def clipped(self, v: np.ndarray) -> np.ndarray:
        return v if self.clip is None else np.clip(v, -float(self.clip), float(self.clip))

    def scatter(self, y_dir: np.ndarray, d: int) -> np.ndarray:
        """Step-ordered outputs back to time order (zeros past each sequence's length)."""
        out = np.zeros_like(y_dir)
        idx = self.order(d)
        out[idx, np.arange(self.batch)[None, :]] = y_dir
        valid = np.arange(self.seq)[:, None] < self.lens[None, :]
        out *= valid[:, :, None]
        return out

    def finish(self, ctx: OpContext, ys: list[np.ndarray], finals: list[list[np.ndarray]]) -> tuple[np.ndarray, ...]:
        y = np.stack(ys, axis=1)  # (seq, dirs, batch, hidden)
        states = [np.stack(f, axis=0) for f in finals]  # (dirs, batch, hidden)
        if self.layout:
            y = y.transpose(2, 0, 1, 3)
            states = [s.transpose(1, 0, 2) for s in states]
        outs = [y] + states
        n = len(ctx.outs) if ctx.outs else len(outs)
        res = []
        for i, v in enumerate(outs[:n]):
            buf = ctx.out(i, v.shape, self.dtype)
            np.copyto(buf, v, casting="unsafe")
            res.append(buf)
        return tuple(res)


def _run(setup: _Setup, gates: int, step: Callable[..., tuple[np.ndarray, ...]], d: int,
         states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Run direction ``d``: ``step(proj_t, *states) -> (h, *states)``; masked by lengths."""
    proj = setup.projected(d, gates)
    ys = np.zeros((setup.seq, setup.batch, setup.hidden), setup.dtype)
    steps = np.arange(setup.seq)[:, None]
    active = steps < np.asarray(setup.lens).reshape(1, -1)  # (seq, batch): which sequences still run
    everyone: list[bool] = active.all(axis=1).tolist()  # type: ignore[assignment]  # 1-D: a list
    for t in range(setup.seq):
        new = step(proj[t], *states)
        if everyone[t]:
            states = list(new)
        else:
            states = [np.where(active[t][:, None], n, s) for n, s in zip(new, states)]
        ys[t] = states[0]
    return setup.scatter(ys, d), states


def _run_directions(setup: _Setup, gates: int, make_step: Callable[[int], Callable[..., tuple[np.ndarray, ...]]]
                    ) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Every direction ``d`` with the step ``make_step(d)``: (outputs per direction, final states per state)."""
    ys: list[np.ndarray] = []
    finals: list[list[np.ndarray]] = [[] for _ in setup.init]
    for d in range(setup.num_dirs):
        y, states = _run(setup, gates, make_step(d), d, [init[d] for init in setup.init])
        ys.append(y)
        for final, state in zip(finals, states):
            final.append(state)
    return ys, finals


@kernel("RNN", prepare=_prepare("RNN"))
def rnn(ctx: OpContext, x: np.ndarray, w: np.ndarray, r: np.ndarray, b: np.ndarray | None = None,
        seq_lens: np.ndarray | None = None, h0: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Ht = f(Xt W^T + Ht-1 R^T + Wb + Rb)."""
    fast = _fast(ctx, x, w, r, b, seq_lens, [h0])
    if fast is not None:
        return fast
    s = _Setup(ctx, x, w, r, b, seq_lens, 1, [h0])
    acts = _activations(ctx, ["Tanh"], s.num_dirs)

    def make_step(d: int) -> Callable[..., tuple[np.ndarray, ...]]:
        rt, rb = s.r[d].T, s.b[d, s.hidden:]
        (f,) = acts[d]

        def step(p, h):
            return (f(s.clipped(p + h @ rt + rb)),)

        return step

    return s.finish(ctx, *_run_directions(s, 1, make_step))


@kernel("GRU", prepare=_prepare("GRU"))
def gru(ctx: OpContext, x: np.ndarray, w: np.ndarray, r: np.ndarray, b: np.ndarray | None = None,
        seq_lens: np.ndarray | None = None, h0: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Gated recurrent unit, gates z, r, h; ``linear_before_reset`` applies R_h before the reset gate."""
    fast = _fast(ctx, x, w, r, b, seq_lens, [h0])
    if fast is not None:
        return fast
    s = _Setup(ctx, x, w, r, b, seq_lens, 3, [h0])
    acts = _activations(ctx, ["Sigmoid", "Tanh"], s.num_dirs)
    lbr = bool(ctx.attr("linear_before_reset", 0))
    hs = s.hidden

    def make_step(d: int) -> Callable[..., tuple[np.ndarray, ...]]:
        f, g = acts[d]
        rzr = s.r[d, : 2 * hs].T
        rh = s.r[d, 2 * hs:].T
        rb = s.b[d, 3 * hs:]

        def step(p, h):
            zr = f(s.clipped(p[:, : 2 * hs] + h @ rzr + rb[: 2 * hs]))  # update and reset gates in one call
            z, rg = zr[:, :hs], zr[:, hs:]
            if lbr:
                cand = p[:, 2 * hs:] + rg * (h @ rh + rb[2 * hs:])
            else:
                cand = p[:, 2 * hs:] + (rg * h) @ rh + rb[2 * hs:]
            hh = g(s.clipped(cand))
            return ((1 - z) * hh + z * h,)

        return step

    return s.finish(ctx, *_run_directions(s, 3, make_step))


@kernel("LSTM", prepare=_prepare("LSTM"))
def lstm(ctx: OpContext, x: np.ndarray, w: np.ndarray, r: np.ndarray, b: np.ndarray | None = None,
         seq_lens: np.ndarray | None = None, h0: np.ndarray | None = None, c0: np.ndarray | None = None,
         p: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Long short-term memory, gate order i, o, f, c; peepholes P = [Pi, Po, Pf]."""
    fast = _fast(ctx, x, w, r, b, seq_lens, [h0, c0], p)
    if fast is not None:
        return fast
    s = _Setup(ctx, x, w, r, b, seq_lens, 4, [h0, c0])
    acts = _activations(ctx, ["Sigmoid", "Tanh", "Tanh"], s.num_dirs)
    input_forget = bool(ctx.attr("input_forget", 0))
    hs = s.hidden

    def make_step(d: int) -> Callable[..., tuple[np.ndarray, ...]]:
        f, g, hf = acts[d]
        rt = s.r[d].T
        rb = s.b[d, 4 * hs:]
        if p is None:
            def step_no_peepholes(pr, h, c):
                gates = pr + h @ rt + rb
                iof = f(s.clipped(gates[:, :3 * hs]))  # input, output and forget gates in one call
                i = iof[:, :hs]
                fg = 1 - i if input_forget else iof[:, 2 * hs:]
                c_new = fg * c + i * g(s.clipped(gates[:, 3 * hs:]))
                return iof[:, hs: 2 * hs] * hf(c_new), c_new

            return step_no_peepholes
        pi, po, pf = p[d, :hs], p[d, hs: 2 * hs], p[d, 2 * hs:]

        def step(pr, h, c):
            gates = pr + h @ rt + rb
            i = f(s.clipped(gates[:, :hs] + pi * c))
            fg = 1 - i if input_forget else f(s.clipped(gates[:, 2 * hs: 3 * hs] + pf * c))
            cc = g(s.clipped(gates[:, 3 * hs:]))
            c_new = fg * c + i * cc
            o = f(s.clipped(gates[:, hs: 2 * hs] + po * c_new))
            return o * hf(c_new), c_new

        return step

    return s.finish(ctx, *_run_directions(s, 4, make_step))
