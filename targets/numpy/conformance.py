"""The numpy target on the ONNX node suite: each case (:mod:`graphc.conformance`) compiled with
``graphc.compile(model, "numpy")``, run once, and compared as onnx's backend runner compares (the
case's rtol/atol, exact shape and dtype). tools/conformance_report.py writes docs/conformance.md
from it; the test suite holds the failing set to that list."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from graphc.conformance import NodeCase, collect_node_cases, outputs_match
from graphc.errors import GraphcError

__all__ = ["CaseResult", "run_case", "run_cases", "tensor_cases"]


def tensor_cases() -> tuple[NodeCase, ...]:
    """The node-suite cases whose inputs and outputs are all tensors."""
    return tuple(c for c in collect_node_cases() if c.tensor_only)


@dataclass(frozen=True)
class CaseResult:
    """One case's outcome; ``reason`` (one line) says why a failed case failed."""

    name: str
    ok: bool
    reason: str = ""
    op_types: tuple[str, ...] = ()


def run_case(case: NodeCase) -> CaseResult:
    """Compile and run one case; a failure (an exception, a run that modified the caller's inputs,
    an output that does not match) carries a one-line reason."""
    import graphc

    ops = tuple(sorted({n.op_type for n in case.model.graph.node}))
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            art = graphc.compile(case.model, "numpy")
            names = [i.name for i in case.model.graph.input][: len(case.inputs)]
            out = _run_keeping_inputs(art, dict(zip(names, case.inputs)))
    except Exception as e:  # noqa: BLE001 - every failure is reported with its reason
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return CaseResult(case.name, False, f"{type(e).__name__}: {first[:300]}", ops)
    got = [out[o.name] for o in case.model.graph.output]
    if len(got) != len(case.outputs):
        return CaseResult(case.name, False, f"{len(got)} outputs, expected {len(case.outputs)}", ops)
    for i, (want, a) in enumerate(zip(case.outputs, got)):
        why = _sequence_match(want, a, case) if isinstance(want, list) else outputs_match(want, a, case.rtol, case.atol)
        if why is not None:
            return CaseResult(case.name, False, f"output {i}: {_detail(want, a, case) or why[:300]}", ops)
    return CaseResult(case.name, True, "", ops)


def run_cases(cases: Iterable[NodeCase] | None = None) -> list[CaseResult]:
    """:func:`run_case` on each of ``cases`` (default: :func:`tensor_cases`)."""
    return [run_case(c) for c in (tensor_cases() if cases is None else cases)]


def _run_keeping_inputs(art: Any, feeds: dict[str, Any]) -> dict[str, Any]:
    """``art.run(feeds)``; GraphcError when the run changed a caller's array (dtype, shape or any bit,
    NaNs and ml_dtypes types included; a sequence feed element by element): inputs are never
    modified (docs/reliability.md)."""
    before = {k: _snapshot(v) for k, v in feeds.items()}
    out = art.run(feeds)
    for k, v in before.items():
        if not _unchanged(v, feeds[k]):
            raise GraphcError(f"the run modified the caller's input {k!r}")
    return out


def _snapshot(value: Any) -> Any:
    return [_snapshot(v) for v in value] if isinstance(value, list) else np.array(value, copy=True)


def _unchanged(before: Any, now: Any) -> bool:
    if isinstance(before, list):
        return isinstance(now, list) and len(now) == len(before) and all(map(_unchanged, before, now))
    now = np.asarray(now)
    return now.dtype == before.dtype and now.shape == before.shape and (
        now.tobytes() == before.tobytes() if now.dtype != object else now.tolist() == before.tolist())


def _sequence_match(expected: list, got, case: NodeCase) -> str | None:
    """Sequence outputs: the same length and each element matching."""
    if not isinstance(got, list) or len(got) != len(expected):
        return f"got {type(got).__name__} of length {len(got) if hasattr(got, '__len__') else '?'}, expected a list of {len(expected)}"
    for j, (e, a) in enumerate(zip(expected, got)):
        why = outputs_match(e, a, case.rtol, case.atol)
        if why is not None:
            return f"element {j}: {why}"
    return None


def _detail(expected, got, case: NodeCase) -> str:
    """For a numeric mismatch of equal shapes: how many elements differ and by how much."""
    e, a = np.asarray(expected), np.asarray(got)
    if e.shape != a.shape or e.dtype != a.dtype or e.dtype.kind not in "fciub":
        return ""
    e64, a64 = e.astype(np.float64), a.astype(np.float64)
    bad = ~np.isclose(a64, e64, rtol=case.rtol, atol=case.atol, equal_nan=True)
    if not bad.any():
        return ""
    err = np.abs(a64 - e64)[bad]
    return (f"{int(bad.sum())} of {bad.size} elements differ beyond rtol={case.rtol}, atol={case.atol} "
            f"(max abs error {np.nanmax(err):.3g})")
