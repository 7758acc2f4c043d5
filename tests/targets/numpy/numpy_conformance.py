"""Run ONNX node-suite cases through graphc.compile(model, "numpy") and compare as onnx's backend runner does."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from tests.node_cases import NodeCase, outputs_match, tensor_cases
from tests.oracle import run_keeping_inputs

__all__ = ["CaseResult", "run_case", "run_cases"]


@dataclass(frozen=True)
class CaseResult:
    name: str
    ok: bool
    reason: str = ""
    op_types: tuple[str, ...] = ()


def run_case(case: NodeCase) -> CaseResult:
    """Compile and run one case; a failure carries a one-line reason."""
    import graphc

    ops = tuple(sorted({n.op_type for n in case.model.graph.node}))
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            art = graphc.compile(case.model, "numpy")
            names = [i.name for i in case.model.graph.input][: len(case.inputs)]
            out = run_keeping_inputs(art, dict(zip(names, case.inputs)))
    except Exception as e:  # noqa: BLE001 - every failure is reported with its reason
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return CaseResult(case.name, False, f"{type(e).__name__}: {first[:300]}", ops)
    got = [out[o.name] for o in case.model.graph.output]
    if len(got) != len(case.outputs):
        return CaseResult(case.name, False, f"{len(got)} outputs, expected {len(case.outputs)}", ops)
    for i, (e, a) in enumerate(zip(case.outputs, got)):
        why = _sequence_match(e, a, case) if isinstance(e, list) else outputs_match(e, a, case.rtol, case.atol)
        if why is not None:
            return CaseResult(case.name, False, f"output {i}: {_detail(e, a, case) or why[:300]}", ops)
    return CaseResult(case.name, True, "", ops)


def run_cases(cases: Iterable[NodeCase] | None = None) -> list[CaseResult]:
    return [run_case(c) for c in (tensor_cases() if cases is None else cases)]


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
