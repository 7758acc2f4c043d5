"""Kernels: control flow If, Loop and Scan.

The bodies are subgraphs run through ``ctx.run_subgraph(attr_name, inputs)``, which the
executor binds (``ctx.subgraph_runner``); it returns the body's outputs as a list, fresh arrays the
kernel may keep (the body's intermediates live in an arena the next call reuses).

* If runs ``then_branch`` or ``else_branch`` with no inputs.
* Loop runs ``body`` with ``[iteration, cond, *carried]`` and receives
  ``[cond, *carried, *scan_outputs]``; per-iteration scan outputs are stacked on a new
  axis 0. Iterations are bounded per run by ``GRAPHC_MAX_LOOP_ITERATIONS`` (default
  10,000,000; :class:`graphc.limits.RunBudget`), every Loop of the run, nested ones
  included, spending from one budget: a larger ``M`` or a run whose loops together go past
  it raises :class:`graphc.errors.PlanError` naming the node.
* Scan (opset 9+) runs ``body`` with ``[*states, *slices]`` per step over
  ``scan_input_axes`` / ``scan_input_directions`` and stacks the per-step outputs on
  ``scan_output_axes`` (reversed for ``scan_output_directions`` 1). Scan-8 (batch axis 0,
  optional ``sequence_lens``) runs the same loop once per batch entry.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphc.errors import PlanError
from graphc.limits import current_budget, max_loop_iterations

from .registry import OpContext, kernel

__all__ = ["max_loop_iterations"]


def _results(outputs: Sequence[Any]) -> Any:
    outs = list(outputs)
    return outs[0] if len(outs) == 1 else tuple(outs)


def _truth(value: Any) -> bool:
    return bool(np.asarray(value).reshape(-1)[0]) if np.asarray(value).size else False


@kernel("If")
def if_(ctx: OpContext, cond: np.ndarray) -> Any:
    """Run ``then_branch`` when ``cond`` is true, else ``else_branch``; return its outputs."""
    branch = "then_branch" if _truth(cond) else "else_branch"
    return _results(ctx.run_subgraph(branch, []))


def _check_scan_growth(ctx: OpContext, budget: int, held: int, step: Sequence[Any], steps: int) -> int:
    """The bytes the scan outputs of a Loop or Scan will stack into after this step; PlanError naming
    the node once that passes the run's memory budget (each step's values are small, so no single
    allocation was over it: 200 steps of 1 MB stacked into 200 MB under a 10 MB budget, checked only
    after the whole run)."""
    held += sum(int(getattr(v, "nbytes", 0)) for v in step)
    if held > budget:
        raise PlanError(f"{ctx.op_type} node {ctx.name!r}: its scan outputs need {held} bytes after {steps} "
                        f"iterations, over the memory budget of {budget} bytes; raise memory_budget "
                        "(GRAPHC_MEMORY_BUDGET) or run fewer iterations")
    return held


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    if not parts:
        return np.empty((0,), dtype=np.float32)
    return np.stack([np.asarray(p) for p in parts], axis=0)


@kernel("Loop")
def loop(ctx: OpContext, m: np.ndarray | None = None, cond: np.ndarray | None = None, *carried: Any) -> Any:
    """Iterate ``body`` while ``i < M`` and ``cond`` (either may be omitted)."""
    budget = current_budget()  # the run's: nested loops spend from the same one
    trip = None if m is None or np.asarray(m).size == 0 else int(np.asarray(m).reshape(-1)[0])
    if trip is not None:
        budget.check_trip_count(ctx.name, trip)
    keep_going = True if cond is None else _truth(cond)
    state = list(carried)
    scans: list[list[np.ndarray]] | None = None
    i, stacked = 0, 0
    while keep_going and (trip is None or i < trip):
        budget.spend(ctx.name)
        outs = ctx.run_subgraph("body", [np.array(i, dtype=np.int64), np.array(keep_going), *state])
        if len(outs) < 1 + len(state):
            raise ctx.shape_error(
                f"body returned {len(outs)} values, expected at least {1 + len(state)}"
            )
        keep_going = _truth(outs[0])
        state = list(outs[1: 1 + len(state)])
        step_scans = outs[1 + len(carried):]
        if scans is None:
            scans = [[] for _ in step_scans]
        for acc, v in zip(scans, step_scans):
            acc.append(v)
        i += 1
        stacked = _check_scan_growth(ctx, budget.memory, stacked, step_scans, i)
    n_scan = len(ctx.outs) - len(carried) if ctx.outs else (len(scans) if scans else 0)
    scan_outs = [_stack(s) for s in scans] if scans is not None else [_stack([]) for _ in range(max(n_scan, 0))]
    return _results(state + scan_outs)


def _ints(values: Any, n: int, default: int = 0) -> list[int]:
    vals = list(values) if values is not None else []
    return [int(v) for v in vals] + [default] * (n - len(vals))


def _scan_once(ctx: OpContext, states: list[Any], inputs: Sequence[np.ndarray], in_axes: list[int],
               in_dirs: list[int], out_axes: list[int], out_dirs: list[int], steps: int | None = None
               ) -> tuple[list[Any], list[np.ndarray]]:
    """One Scan over ``inputs``; returns (final states, stacked scan outputs)."""
    axes = [a + x.ndim if a < 0 else a for a, x in zip(in_axes, inputs)]
    lengths = {x.shape[a] for x, a in zip(inputs, axes)}
    if len(lengths) > 1:
        raise ctx.shape_error(f"scan inputs have different lengths {sorted(lengths)}")
    n = steps if steps is not None else (lengths.pop() if lengths else 0)
    per_step: list[list[np.ndarray]] = []
    memory, held = current_budget().memory, 0
    for t in range(n):
        slices = [np.take(x, n - 1 - t if d else t, axis=a) for x, a, d in zip(inputs, axes, in_dirs)]
        outs = ctx.run_subgraph("body", [*states, *slices])
        states = list(outs[: len(states)])
        for k, v in enumerate(outs[len(states):]):
            if t == 0:
                per_step.append([])
            per_step[k].append(np.asarray(v))
        held = _check_scan_growth(ctx, memory, held, outs[len(states):], t + 1)
    stacked = []
    for k, parts in enumerate(per_step):
        if out_dirs[k]:
            parts = parts[::-1]
        ax = out_axes[k]
        ax = ax + parts[0].ndim + 1 if ax < 0 else ax
        stacked.append(np.stack(parts, axis=ax))
    return states, stacked


@kernel("Scan", since=9)
def scan(ctx: OpContext, *args: Any) -> Any:
    """Run ``body`` over slices of the last ``num_scan_inputs`` inputs, threading the states."""
    n_in = int(ctx.attr("num_scan_inputs"))
    states, inputs = list(args[: len(args) - n_in]), list(args[len(args) - n_in:])
    in_axes = _ints(ctx.attr("scan_input_axes"), n_in)
    in_dirs = _ints(ctx.attr("scan_input_directions"), n_in)
    n_out = max(len(ctx.outs) - len(states), 0) if ctx.outs else 64
    out_axes = _ints(ctx.attr("scan_output_axes"), n_out)
    out_dirs = _ints(ctx.attr("scan_output_directions"), n_out)
    final, stacked = _scan_once(ctx, states, inputs, in_axes, in_dirs, out_axes, out_dirs)
    return _results(final + stacked)


@kernel("Scan", until=8)
def scan_8(ctx: OpContext, seq_lens: np.ndarray | None, *args: Any) -> Any:
    """Scan-8: axis 0 is a batch axis, scanning runs along axis 1 up to ``sequence_lens``."""
    n_in = int(ctx.attr("num_scan_inputs"))
    states, inputs = list(args[: len(args) - n_in]), list(args[len(args) - n_in:])
    batch = inputs[0].shape[0] if inputs else (states[0].shape[0] if states else 0)
    dirs = _ints(ctx.attr("directions"), n_in)
    n_out = max(len(ctx.outs) - len(states), 0) if ctx.outs else 64
    finals: list[list[Any]] = [[] for _ in states]
    outs: list[list[np.ndarray]] = []
    for b in range(batch):
        length = None if seq_lens is None else int(np.asarray(seq_lens).reshape(-1)[b])
        b_inputs = [x[b, :length] if length is not None else x[b] for x in inputs]
        final, stacked = _scan_once(ctx, [s[b] for s in states], b_inputs, [0] * n_in, dirs,
                                    [0] * n_out, [0] * n_out)
        for k, v in enumerate(final):
            finals[k].append(np.asarray(v))
        for k, v in enumerate(stacked):
            if b == 0:
                outs.append([])
            outs[k].append(v)
    return _results([np.stack(f) for f in finals] + [np.stack(o) for o in outs])
