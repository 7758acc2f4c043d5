"""The compiled few-input-channel convolution (kernels/stem_jit.py, the ``stem`` plan path) against onnxruntime.

Each geometry runs with compiled kernels (the plan must take the ``stem`` path) and with
``jit.ENABLED`` patched False (the numpy ``phase`` path); both must give onnxruntime's answer within the
float32 bound of the sum: |error| <= (taps + 2) * eps * (taps * max|w| * max|x| + max|b|).
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import conv2d, jit
from tests.oracle import ort_run

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not importable")


def _model(c, m, hw, k, stride, dil, pads, n=1, act="none", bias=True, seed=0, dtype=np.float32):
    """y = act(Conv(x)) with a one-group (M, C, k, k) convolution."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((m, c, k, k)) / k).astype(dtype)
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(m).astype(dtype), "b"))
        ins.append("b")
    nodes = [helper.make_node("Conv", ins, ["c"], kernel_shape=[k, k], strides=[stride] * 2,
                              dilations=[dil] * 2, pads=list(pads))]
    if act == "none":
        nodes.append(helper.make_node("Identity", ["c"], ["y"]))
    elif act == "Clip":
        inits += [numpy_helper.from_array(np.array(v, dtype), name) for name, v in (("lo", 0.0), ("hi", 6.0))]
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["y"]))
    elif act == "SiLU":
        nodes += [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    else:
        attrs = {"LeakyRelu": dict(alpha=0.1), "HardSigmoid": dict(alpha=0.3, beta=0.4)}.get(act, {})
        nodes.append(helper.make_node(act, ["c"], ["y"], **attrs))
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    g = helper.make_graph(nodes, "stem", [helper.make_tensor_value_info("x", elem, [n, c, *hw])],
                          [helper.make_tensor_value_info("y", elem, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _plans(art):
    return [s.state for s in art.program.steps if getattr(s.state, "path", None)]


def _bound(model, x):
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    w = inits["w"]
    taps = w[0].size
    mag = taps * np.abs(w).max() * np.abs(x).max() + (np.abs(inits["b"]).max() if "b" in inits else 0)
    return (taps + 2) * np.finfo(np.float32).eps * mag


GEOMETRIES = {
    # name: (C, M, (h, w), kernel, stride, dilation, pads (top, left, bottom, right), batch)
    "k3-s2-same-stem": (3, 16, (40, 38), 3, 2, 1, (1, 1, 1, 1), 2),
    "k3-s2-odd-asym": (3, 13, (45, 43), 3, 2, 1, (0, 1, 1, 0), 1),
    "k3-s1-same": (3, 8, (30, 29), 3, 1, 1, (1, 1, 1, 1), 2),
    "k3-s1-valid-c1": (1, 32, (34, 35), 3, 1, 1, (0, 0, 0, 0), 1),
    "k5-s1-c2": (2, 12, (27, 25), 5, 1, 1, (2, 2, 2, 2), 1),
    "k5-s2-c4": (4, 9, (33, 36), 5, 2, 1, (2, 1, 2, 3), 2),
    "k7-s2-resnet": (3, 8, (44, 42), 7, 2, 1, (3, 3, 3, 3), 1),
    "k7-s1-c1": (1, 6, (26, 26), 7, 1, 1, (3, 3, 3, 3), 1),
    "k3-s2-dil2": (3, 11, (48, 46), 3, 2, 2, (2, 2, 2, 2), 1),
    "k4-s2-generic": (3, 10, (38, 38), 4, 2, 1, (1, 1, 2, 2), 1),
    "k3-wide-pads": (3, 8, (26, 26), 3, 1, 1, (3, 2, 4, 3), 1),
}


def _check(model, x, jit_on, monkeypatch, path):
    monkeypatch.setattr(jit, "ENABLED", jit_on)
    art = graphc.compile(model, "numpy", fallback=False)
    assert [p.path for p in _plans(art)] == [path]
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):  # the second run reuses the scratch buffers (the pads must still be zero)
        got = art.run({"x": x})["y"]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=_bound(model, x))
    return art


@pytest.mark.parametrize("jit_on", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_stem_geometry_matches_onnxruntime(name, jit_on, monkeypatch):
    c, m, hw, k, stride, dil, pads, n = GEOMETRIES[name]
    model = _model(c, m, hw, k, stride, dil, pads, n, bias=name != "k3-s1-same")
    x = np.random.default_rng(1).standard_normal((n, c, *hw)).astype(np.float32)
    _check(model, x, jit_on, monkeypatch, "stem" if jit_on else "phase")


ACTIVATIONS = ["Relu", "Clip", "LeakyRelu", "SiLU", "HardSwish", "HardSigmoid", "Sigmoid", "Tanh"]


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activation_matches_onnxruntime(act, monkeypatch):
    """The activation applied in the compiled store (FusedConv), or after it (Tanh: code -1)."""
    model = _model(3, 16, (36, 36), 3, 2, 1, (1, 1, 1, 1), 2, act=act)
    x = (3 * np.random.default_rng(2).standard_normal((2, 3, 36, 36))).astype(np.float32)
    art = _check(model, x, True, monkeypatch, "stem")
    (plan,) = _plans(art)
    assert plan.activation is not None and plan.activation[0] == act
    assert (plan.act_code > 0) == (act != "Tanh")


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("act", ["none", "Relu", "Clip", "SiLU", "HardSwish"])
def test_non_finite_inputs_propagate_as_in_onnxruntime(act, value, monkeypatch):
    model = _model(3, 12, (48, 48), 3, 2, 1, (1, 1, 1, 1), 1, act=act)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 3, 48, 48)).astype(np.float32)
    x.reshape(-1)[rng.choice(x.size, 5, replace=False)] = value
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    assert [p.path for p in _plans(art)] == ["stem"]
    want, got = ort_run(model, {"x": x})["y"], art.run({"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_float64_with_relu_matches_a_direct_sum(monkeypatch):
    """float64 (onnxruntime has no double Conv here): the kernel sums in double, the direct sum in numpy."""
    monkeypatch.setattr(jit, "ENABLED", True)
    c, m, h, k = 3, 10, 34, 5
    model = _model(c, m, (h, h), k, 2, 1, (2, 1, 2, 3), 2, act="Relu", dtype=np.float64)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    w, b = inits["w"], inits["b"]
    art = graphc.compile(model, "numpy", fallback=False)
    (plan,) = _plans(art)
    assert plan.path == "stem"
    x = np.random.default_rng(5).standard_normal((2, c, h, h))
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (1, 3)))
    ho, wo = (h + 4 - k) // 2 + 1, (h + 4 - k) // 2 + 1
    want = np.zeros((2, m, ho, wo)) + b[None, :, None, None]
    for ki in range(k):
        for kj in range(k):
            want += np.einsum("mc,ncyx->nmyx", w[:, :, ki, kj], xp[:, :, ki:ki + 2 * ho - 1:2, kj:kj + 2 * wo - 1:2])
    want = np.maximum(want, 0)
    np.testing.assert_allclose(art.run({"x": x})["y"], want, rtol=1e-12, atol=1e-12)


def test_path_limits(monkeypatch):
    """More input channels, more outputs than STEM_MAX_OUTPUTS, stride 3 or a small map: not the stem path."""
    monkeypatch.setattr(jit, "ENABLED", True)
    cases = [(conv2d.STEM_MAX_CHANNELS + 1, 16, (32, 32), 3, 1), (3, conv2d.STEM_MAX_OUTPUTS + 4, (32, 32), 3, 1),
             (3, 16, (48, 48), 3, 3), (3, 4, (10, 10), 3, 1)]
    for c, m, hw, k, stride in cases:
        model = _model(c, m, hw, k, stride, 1, (1, 1, 1, 1))
        (plan,) = _plans(graphc.compile(model, "numpy", fallback=False))
        assert plan.path != "stem", (c, m, hw, k, stride)


def test_residual_and_relu_match_onnxruntime(monkeypatch):
    """Conv + Add(z) + Relu as one FusedConv with Z: the kernel stores the sum, then z and the activation follow."""
    model = _model(3, 8, (32, 32), 3, 1, 1, (1, 1, 1, 1), 2, act="Relu")
    g = model.graph
    relu = g.node[1]
    del g.node[1:]
    g.input.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 8, 32, 32]))
    g.node.extend([helper.make_node("Add", ["c", "z"], ["r"]), helper.make_node("Relu", ["r"], ["y"])])
    assert relu.op_type == "Relu"
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    fused = [s for s in art.program.steps if s.op.op_type == "FusedConv"]
    assert len(fused) == 1 and len(fused[0].op.inputs) == 4 and fused[0].state.path == "stem"
    rng = np.random.default_rng(9)
    feeds = {"x": rng.standard_normal((2, 3, 32, 32)).astype(np.float32),
             "z": rng.standard_normal((2, 8, 32, 32)).astype(np.float32)}
    want = ort_run(model, feeds)["y"]
    for _ in range(2):
        np.testing.assert_allclose(art.run(feeds)["y"], want, rtol=1e-5, atol=_bound(model, feeds["x"]) + 1e-6)
