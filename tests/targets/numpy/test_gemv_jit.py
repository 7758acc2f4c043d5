"""The compiled 1x1 convolution over 1x1 maps (kernels/gemv_jit.py, the ``gemv`` plan path) against onnxruntime.

Squeeze-excitation convs: each case runs with compiled kernels (the plan must take the ``gemv`` path) and
with ``jit.ENABLED`` patched False (numpy's ``pointwise`` GEMM); both must give onnxruntime's answer.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import jit
from tests.oracle import ort_run

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not importable")


def _model(c, m, n=1, act="none", bias=True, seed=0):
    """y = act(Conv1x1(x)) over an (n, c, 1, 1) input."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((m, c, 1, 1)) / np.sqrt(c)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "b"))
        ins.append("b")
    nodes = [helper.make_node("Conv", ins, ["c"], kernel_shape=[1, 1])]
    if act == "none":
        nodes.append(helper.make_node("Identity", ["c"], ["y"]))
    elif act == "Clip":
        inits += [numpy_helper.from_array(np.array(v, np.float32), name) for name, v in (("lo", 0.0), ("hi", 6.0))]
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["y"]))
    elif act == "SiLU":
        nodes += [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    else:
        attrs = {"LeakyRelu": dict(alpha=0.1), "HardSigmoid": dict(alpha=0.3, beta=0.4)}.get(act, {})
        nodes.append(helper.make_node(act, ["c"], ["y"], **attrs))
    g = helper.make_graph(nodes, "se", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, 1, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _plans(art):
    return [s.state for s in art.program.steps if getattr(s.state, "path", None)]


ACTIVATIONS = ["none", "Relu", "Clip", "LeakyRelu", "SiLU", "HardSwish", "HardSigmoid", "Sigmoid", "Tanh"]


@pytest.mark.parametrize("jit_on", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("c, m, n, bias", [(576, 144, 1, True), (8, 16, 2, False), (33, 7, 3, True)])
def test_gemv_matches_onnxruntime(c, m, n, bias, act, jit_on, monkeypatch):
    monkeypatch.setattr(jit, "ENABLED", jit_on)
    model = _model(c, m, n, act, bias)
    art = graphc.compile(model, "numpy", fallback=False)
    (plan,) = _plans(art)
    assert plan.path == ("gemv" if jit_on else "pointwise")
    if jit_on:  # the activation runs in the compiled loop, except Tanh (the numpy epilogue follows)
        assert (plan.act_code > 0) == (act not in ("none", "Tanh"))
    x = (2 * np.random.default_rng(1).standard_normal((n, c, 1, 1))).astype(np.float32)
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):
        np.testing.assert_allclose(art.run({"x": x})["y"], want, rtol=1e-5, atol=(c + 2) * 1e-7 * 10)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("act", ["none", "Relu", "HardSigmoid", "SiLU"])
def test_non_finite_inputs_propagate_as_in_onnxruntime(act, value, monkeypatch):
    monkeypatch.setattr(jit, "ENABLED", True)
    model = _model(24, 12, 2, act)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 24, 1, 1)).astype(np.float32)
    x.reshape(-1)[[3, 30]] = value
    art = graphc.compile(model, "numpy", fallback=False)
    assert [p.path for p in _plans(art)] == ["gemv"]
    want, got = ort_run(model, {"x": x})["y"], art.run({"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
