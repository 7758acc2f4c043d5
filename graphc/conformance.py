"""The ONNX node-test suite as data: cases generated from the installed onnx wheel, and the
comparison onnx's backend runner applies.

The cases are built by onnx's own generators (``onnx.backend.test.case.node``), so they
follow the installed onnx release. The test suite runs all of them; the ort target runs
single ones to check whether a declared onnxruntime deviation is still present
(:mod:`targets.ort.deviations`).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

__all__ = ["NodeCase", "collect_node_cases", "outputs_match"]


@dataclass(frozen=True)
class NodeCase:
    """One (case, data set) pair: a model, its inputs, the expected outputs and tolerances."""

    name: str
    model: onnx.ModelProto
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]
    rtol: float
    atol: float

    @property
    def tensor_only(self) -> bool:
        return all(isinstance(x, (np.ndarray, np.generic)) for x in self.inputs + self.outputs)

    @property
    def feeds(self) -> dict[str, Any]:
        """The inputs by graph-input name."""
        return {i.name: x for i, x in zip(self.model.graph.input, self.inputs)}


@functools.cache
def collect_node_cases() -> tuple[NodeCase, ...]:
    """Every (case, data set) pair of the node suite, in a stable order; a case with several data
    sets gives ``name``, ``name_1``, ... Built once per process (onnx's generators run on first
    import only, so they cannot be asked again for another subset)."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            raw = collect_testcases(None)
    cases = []
    for c in sorted(raw, key=lambda c: c.name):
        for i, (ins, outs) in enumerate(c.data_sets or ()):
            name = c.name if i == 0 else f"{c.name}_{i}"
            assert c.model is not None  # a node test case always has its model
            cases.append(NodeCase(name, c.model, _arrays(ins), _arrays(outs), c.rtol, c.atol))
    return tuple(cases)


def _arrays(values: Any) -> tuple[Any, ...]:
    """Case data as numpy arrays: TensorProto values (float8, int4, bfloat16...) decoded
    with onnx's numpy_helper (ml_dtypes types), other values (sequences, None) as given."""
    from onnx import TensorProto, numpy_helper

    return tuple(numpy_helper.to_array(v) if isinstance(v, TensorProto) else v for v in values)


def outputs_match(expected: Any, got: Any, rtol: float, atol: float) -> str | None:
    """Compare as onnx's backend runner does; return None or why they differ."""
    exp, act = np.asarray(expected), np.asarray(got)
    if exp.dtype != act.dtype:
        return f"dtype {act.dtype} != expected {exp.dtype}"
    if exp.shape != act.shape:
        return f"shape {act.shape} != expected {exp.shape}"
    if exp.dtype == object or exp.dtype.kind in "SU":
        return None if exp.tolist() == act.tolist() else "values differ"
    if exp.dtype.kind in "fc" or exp.dtype.fields is None and exp.dtype.kind == "V":
        try:
            np.testing.assert_allclose(act, exp, rtol=rtol, atol=atol)
        except AssertionError as e:
            return str(e).strip().splitlines()[-1] if str(e) else "values differ"
        except TypeError:
            same = np.array_equal(np.ascontiguousarray(act).view(np.uint8), np.ascontiguousarray(exp).view(np.uint8))
            return None if same else "values differ"
        return None
    return None if np.array_equal(act, exp) else "values differ"
