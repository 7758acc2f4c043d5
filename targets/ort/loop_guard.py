"""Loop iteration bounds on the ort target: a guard Python op at the end of every Loop body that
onnxruntime could otherwise run without bound.

onnxruntime has no iteration limit: a fed trip count of 1e12, or a condition that stays true, runs
until the process is killed. graphc's numpy target spends every iteration of a run from one
:class:`graphc.limits.RunBudget` (``GRAPHC_MAX_LOOP_ITERATIONS``). The same budget bounds a
session here: :func:`guard_loops` rewrites the session's copy of the model so that a Loop body's
condition output passes through a guard op, which

1. at the first iteration refuses a trip count ``M`` above the per-run limit, as the numpy kernel does;
2. spends one iteration from the run's budget (:attr:`PyOpHost.iterations`, fresh per run, shared
   by every Loop of the run: nested loops count together);
3. when the budget is exhausted, records the ``PlanError`` and returns false, so the Loop, and every
   enclosing Loop at its next iteration, stops; ``run()`` then raises the error.

A guard costs one Python call per iteration, so a Loop is left unguarded when it cannot run long:
its trip count is a constant (initializer or ``Constant`` node of its own graph), it is not inside
another Loop or Scan body (where it would run once per outer step), and all such constant trip
counts together stay within the limit. Anything else (a fed or computed ``M``, a condition-only
loop, any nested Loop) is guarded. The saved bundle is not changed.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from graphc.domains import is_onnx_domain
from graphc.limits import max_loop_iterations

from .pyops import CONTRIB_DOMAIN, HostedOp, PyOpHost, PyOpSpec

__all__ = ["guard_loops", "GUARD_SUFFIX"]

#: suffix of a guard node's name (the Loop's name before it)
GUARD_SUFFIX = "__iteration_guard"
_REPEATING = {"Loop", "Scan"}


def guard_loops(model: onnx.ModelProto, host: PyOpHost) -> tuple[onnx.ModelProto, dict[str, tuple[HostedOp, PyOpSpec]]]:
    """``model`` (a copy when something changed) with a guard in every Loop body that needs one,
    and each guard's registration, keyed by guard node name, for :func:`~.pyops.rewrite_for_host`."""
    loops = list(_loops(model.graph, repeated=False))
    if not loops:
        return model, {}
    limit = max_loop_iterations()
    static = [(node, m) for node, m in ((n, _static_trip(g, n)) for g, n, rep in loops if not rep) if m is not None]
    cheap = {id(n) for n, _ in static} if sum(m for _, m in static) <= limit else set()
    targets = [(g, n) for g, n, _ in loops if id(n) not in cheap]
    if not targets:
        return model, {}
    out = onnx.ModelProto()
    out.CopyFrom(model)
    renames: dict[str, tuple[HostedOp, PyOpSpec]] = {}
    wanted = {id(n) for _, n in targets}
    for k, (graph, node, _) in enumerate(_loops(out.graph, repeated=False)):
        if id(loops[k][1]) not in wanted:
            continue
        spec = _guard(node, host, k)
        guard_name = f"{spec.node}{GUARD_SUFFIX}_{k}"
        renames[guard_name] = (host.register(spec), spec)
        _insert_guard(node, guard_name)
    return out, renames


def _loops(graph: onnx.GraphProto, repeated: bool) -> Iterator[tuple[onnx.GraphProto, onnx.NodeProto, bool]]:
    """(graph, Loop node, inside a repeating body) for every Loop, outer ones before their bodies'."""
    for node in graph.node:
        standard = is_onnx_domain(node.domain)
        if standard and node.op_type == "Loop":
            yield graph, node, repeated
        inner = repeated or (standard and node.op_type in _REPEATING)
        for a in node.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _loops(g, inner)


def _static_trip(graph: onnx.GraphProto, node: onnx.NodeProto) -> int | None:
    """The Loop's trip count when it is a constant of its own graph, else None."""
    name = node.input[0] if node.input else ""
    if not name:
        return None
    for init in graph.initializer:
        if init.name == name:
            return _int(numpy_helper.to_array(init))
    for n in graph.node:
        if n.op_type == "Constant" and is_onnx_domain(n.domain) and name in n.output:
            value = next((a for a in n.attribute if a.name == "value" and a.HasField("t")), None)
            return _int(numpy_helper.to_array(value.t)) if value is not None else None
    return None


def _int(arr: np.ndarray) -> int | None:
    return int(arr.reshape(-1)[0]) if arr.size == 1 and arr.dtype.kind in "iu" else None


def _guard(node: onnx.NodeProto, host: PyOpHost, k: int) -> PyOpSpec:
    """The guard op of Loop ``node``: (cond, iteration[, M]) -> cond, spending from the host's budget."""
    name = node.name or f"Loop_{k}"
    has_m = bool(node.input and node.input[0])

    def call(arrays: list[np.ndarray]) -> Sequence[np.ndarray]:
        budget = host.iterations
        if has_m and int(arrays[1].reshape(-1)[0]) == 0:
            budget.check_trip_count(name, int(arrays[2].reshape(-1)[0]))
        budget.spend(name)
        return [np.asarray(arrays[0], dtype=np.bool_)]

    dtypes = [np.dtype(np.bool_), np.dtype(np.int64)] + ([np.dtype(np.int64)] if has_m else [])
    return PyOpSpec(name, "Loop iteration guard (GRAPHC_MAX_LOOP_ITERATIONS)", dtypes, [np.dtype(np.bool_)], [()], call)


def _insert_guard(node: onnx.NodeProto, guard_name: str) -> None:
    """Route the Loop body's condition output through guard node ``guard_name``."""
    body = next(a.g for a in node.attribute if a.name == "body")
    cond_out, iteration = body.output[0].name, body.input[0].name
    guarded = f"{guard_name}__cond"
    inputs = [cond_out, iteration] + ([node.input[0]] if node.input and node.input[0] else [])
    body.node.append(helper.make_node("Guard", inputs, [guarded], domain=CONTRIB_DOMAIN, name=guard_name))
    body.output[0].name = guarded

