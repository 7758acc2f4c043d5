"""The ONNX node-test suite, generated from the installed onnx wheel's case generators
(:mod:`graphc.conformance`), built once per process."""

from __future__ import annotations

from graphc.conformance import NodeCase, collect_node_cases, outputs_match

__all__ = ["NodeCase", "node_cases", "tensor_cases", "assert_outputs_match", "outputs_match"]


def node_cases() -> tuple[NodeCase, ...]:
    """Every (case, data set) pair of the node suite, in a stable order."""
    return collect_node_cases()


def tensor_cases() -> tuple[NodeCase, ...]:
    return tuple(c for c in node_cases() if c.tensor_only)


def assert_outputs_match(case: NodeCase, got: list) -> None:
    assert len(got) == len(case.outputs), f"{len(got)} outputs, expected {len(case.outputs)}"
    for i, (e, a) in enumerate(zip(case.outputs, got)):
        why = outputs_match(e, a, case.rtol, case.atol)
        assert why is None, f"output {i}: {why}"
