"""The ONNX node suite (cases with tensor inputs and outputs) through the ort target; prints the rate."""

from __future__ import annotations

import logging

import numpy as np

import graphc
from tests.node_cases import outputs_match, tensor_cases

#: the rate reached (the issue asks 97%; see docs/ort-target.md for what is still missing)
FLOOR = 0.98


def _run(case) -> str | None:
    try:
        art = graphc.compile(case.model, target="ort")
        out = art.run({i.name: x for i, x in zip(case.model.graph.input, case.inputs)})
        got = [out[o.name] for o in case.model.graph.output]
    except Exception as e:  # noqa: BLE001 - counted, not hidden: the failures are printed
        return f"{type(e).__name__}: {str(e)[:160]}"
    return next((w for w in (outputs_match(e, a, case.rtol, case.atol) for e, a in zip(case.outputs, got)) if w), None)


def test_node_suite_rate_through_the_ort_target(capsys):
    logging.disable(logging.WARNING)
    try:
        with np.errstate(all="ignore"):
            results = {c.name: _run(c) for c in tensor_cases()}
    finally:
        logging.disable(logging.NOTSET)
    failed = {k: v for k, v in results.items() if v is not None}
    rate = 1 - len(failed) / len(results)
    with capsys.disabled():
        print(f"\nort target, ONNX node suite: {len(results) - len(failed)}/{len(results)} tensor cases pass "
              f"({rate:.1%})")
        for name, why in sorted(failed.items()):
            print(f"  FAIL {name}: {why.splitlines()[0][:150]}")
    assert rate >= FLOOR
