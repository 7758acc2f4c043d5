"""Gemm nodes on the compiled GEMV (kernels/linalg.py's GemvPlan over gemv_jit.gemv_conv) against onnxruntime.

Classifier heads: a few rows of float32 A times a small constant B, plus C. Each case runs with compiled
kernels (the node must be prepared with a GemvPlan) and with ``jit.ENABLED`` patched False (numpy's
matmul); both must give onnxruntime's answer.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import jit
from targets.numpy.kernels.linalg import GemvPlan
from tests.oracle import ort_run

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not importable")


def _model(k, m, n, trans_b=1, beta=1.0, c_shape=("m",), seed=0):
    """y = Gemm(x (n, k), B, C) with constant B and C (C omitted when ``c_shape`` is None)."""
    rng = np.random.default_rng(seed)
    b = (rng.standard_normal((m, k) if trans_b else (k, m)) / np.sqrt(k)).astype(np.float32)
    inits = [numpy_helper.from_array(b, "b")]
    ins = ["x", "b"]
    if c_shape is not None:
        shape = tuple(m if d == "m" else d for d in c_shape)
        inits.append(numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), "c"))
        ins.append("c")
    node = helper.make_node("Gemm", ins, ["y"], transB=trans_b, beta=beta)
    g = helper.make_graph([node], "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def _gemv_nodes(art):
    return sum(isinstance(s.state, GemvPlan) for s in art.program.steps)


CASES = {
    # name: (k, m, rows, transB, beta, C shape)
    "rnet-bbox-head": (128, 4, 1, 1, 1.0, ("m",)),
    "rnet-fc": (576, 128, 1, 1, 1.0, ("m",)),
    "b-not-transposed": (96, 12, 1, 0, 1.0, ("m",)),
    "three-rows-row-c": (33, 7, 3, 1, 1.0, (1, "m")),
    "scaled-c": (20, 5, 2, 0, 0.5, ("m",)),
    "no-c": (17, 3, 1, 1, 1.0, None),
    "beta-zero": (17, 3, 1, 1, 0.0, ("m",)),
}


@pytest.mark.parametrize("jit_on", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gemm_gemv_matches_onnxruntime(name, jit_on, monkeypatch):
    k, m, n, trans_b, beta, c_shape = CASES[name]
    monkeypatch.setattr(jit, "ENABLED", jit_on)
    model = _model(k, m, n, trans_b, beta, c_shape)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _gemv_nodes(art) == (1 if jit_on else 0)
    x = np.random.default_rng(1).standard_normal((n, k)).astype(np.float32)
    for _ in range(2):  # the second run reuses the planned buffers
        np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5, atol=1e-5)


def test_gemm_gemv_propagates_nan_and_inf():
    model = _model(16, 4, 2)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _gemv_nodes(art) == 1
    x = np.random.default_rng(2).standard_normal((2, 16)).astype(np.float32)
    x[0, 3] = np.nan
    x[1, 5] = np.inf
    got, want = art.run({"x": x})["y"], ort_run(model, {"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_gemm_more_rows_than_the_gemv_takes_runs_numpy():
    """A batch past GEMV_MAX_ROWS (a symbolic batch of 9 here) takes matmul, with the same answer."""
    model = _model(24, 6, "batch")
    art = graphc.compile(model, "numpy", fallback=False)
    assert _gemv_nodes(art) == 1
    x = np.random.default_rng(3).standard_normal((9, 24)).astype(np.float32)
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5, atol=1e-5)


def test_gemm_with_transposed_a_or_alpha_is_not_prepared():
    rng = np.random.default_rng(4)
    b = rng.standard_normal((8, 5)).astype(np.float32)
    for attrs, x_shape in ((dict(transA=1), [8, 2]), (dict(alpha=2.0), [2, 8])):
        node = helper.make_node("Gemm", ["x", "b"], ["y"], **attrs)
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(b, "b")])
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        art = graphc.compile(model, "numpy", fallback=False)
        assert _gemv_nodes(art) == 0
        x = rng.standard_normal(x_shape).astype(np.float32)
        np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5, atol=1e-5)
