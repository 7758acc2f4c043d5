"""The compiled convolutions (kernels/conv_jit.py and depthwise_jit.py: ``depthwise`` and ``small`` plan paths) against
onnxruntime; the depthwise plans in both variants (plane loop and channel-blocked, ``plan.blocked``).

Every case runs twice: with compiled kernels (the plan must take the ``depthwise`` path) and with
``jit.ENABLED`` patched False (the numpy ``phase`` path); both must give onnxruntime's answer.
Tolerances come from the arithmetic: float32 sums of ``taps`` products, each rounding within
``eps`` of the running magnitude, so |error| <= (taps + 2) * eps * sum(|w| |x|) + |b| + |z|.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import jit
from tests.oracle import ort_run

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not importable")


def _activation_nodes(act: str, src: str) -> tuple[list, list]:
    """ONNX nodes applying ``act`` to ``src`` (output "y") and their initializers."""
    if act == "none":
        return [helper.make_node("Identity", [src], ["y"])], []
    if act == "Clip":
        inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("lo", 0.0), ("hi", 6.0))]
        return [helper.make_node("Clip", [src, "lo", "hi"], ["y"])], inits
    if act == "SiLU":
        return [helper.make_node("Sigmoid", [src], ["s"]), helper.make_node("Mul", [src, "s"], ["y"])], []
    attrs = {"LeakyRelu": dict(alpha=0.1), "HardSigmoid": dict(alpha=0.3, beta=0.4)}.get(act, {})
    return [helper.make_node(act, [src], ["y"], **attrs)], []


def _model(c, hw, k, stride, dil, pads, n=1, act="none", residual=False, bias=True, seed=0):
    """y = act(depthwise Conv(x) [+ z]) with z = x * 0.5 (dies at the Add) when ``residual``."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((c, 1, k, k)) / k).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(c).astype(np.float32), "b"))
        ins.append("b")
    nodes = [helper.make_node("Conv", ins, ["c"], kernel_shape=[k, k], strides=[stride] * 2,
                              dilations=[dil] * 2, pads=list(pads), group=c)]
    src = "c"
    if residual:
        inits.append(numpy_helper.from_array(np.array(0.5, np.float32), "half"))
        nodes += [helper.make_node("Mul", ["x", "half"], ["z"]), helper.make_node("Add", ["c", "z"], ["r"])]
        src = "r"
    act_nodes, act_inits = _activation_nodes(act, src)
    g = helper.make_graph(nodes + act_nodes, "dw", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                  [n, c, *hw])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits + act_inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _paths(art):
    return [s.state.path for s in art.program.steps if getattr(s.state, "path", None)]


def _bound(model, x):
    """The error bound of the arithmetic (module docstring), from the model's |w|, |b| and |x|."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    w = inits["w"]
    taps = w[0, 0].size
    mag = taps * np.abs(w).max() * np.abs(x).max() + (np.abs(inits["b"]).max() if "b" in inits else 0) \
        + np.abs(x).max()
    return (taps + 2) * np.finfo(np.float32).eps * mag


GEOMETRIES = {
    # name: (channels, (h, w), kernel, stride, dilation, pads (top, left, bottom, right), batch)
    "k3-s1-same": (8, (15, 13), 3, 1, 1, (1, 1, 1, 1), 2),
    "k3-s2-same-odd": (6, (13, 11), 3, 2, 1, (1, 1, 1, 1), 1),
    "k3-s2-asym": (5, (12, 10), 3, 2, 1, (0, 0, 1, 1), 2),
    "k3-s1-valid": (4, (9, 10), 3, 1, 1, (0, 0, 0, 0), 1),
    "k5-s1-same": (6, (11, 11), 5, 1, 1, (2, 2, 2, 2), 1),
    "k5-s2-same": (6, (17, 15), 5, 2, 1, (2, 2, 2, 2), 2),
    "k7-s1-pad3": (3, (9, 9), 7, 1, 1, (3, 3, 3, 3), 1),
    "k7-s2-asym": (3, (14, 13), 7, 2, 1, (2, 3, 4, 1), 1),
    "k3-s1-dil2": (4, (14, 12), 3, 1, 2, (2, 2, 2, 2), 1),
    "k3-s2-dil2-asym": (4, (15, 16), 3, 2, 2, (1, 2, 3, 0), 1),
    "k5-s1-dil2-valid": (3, (13, 13), 5, 1, 2, (0, 0, 0, 0), 1),
    "k3-s3": (4, (14, 14), 3, 3, 1, (1, 1, 1, 1), 1),
    "k3-wide-pads": (4, (6, 7), 3, 1, 1, (3, 2, 4, 3), 1),
}


def _check(model, x, jit_on, monkeypatch, path):
    monkeypatch.setattr(jit, "ENABLED", jit_on)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == [path]
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):  # the second run reuses the scratch buffers
        got = art.run({"x": x})["y"]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=_bound(model, x))
    return art


@pytest.mark.parametrize("jit_on", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_depthwise_geometry_matches_onnxruntime(name, jit_on, monkeypatch):
    c, hw, k, stride, dil, pads, n = GEOMETRIES[name]
    model = _model(c, hw, k, stride, dil, pads, n, bias=name != "k3-s1-valid")
    x = np.random.default_rng(1).standard_normal((n, c, *hw)).astype(np.float32)
    _check(model, x, jit_on, monkeypatch, "depthwise" if jit_on else "phase")


ACTIVATIONS = ["Relu", "Clip", "LeakyRelu", "SiLU", "HardSwish", "HardSigmoid", "Sigmoid", "Tanh"]


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activation_matches_onnxruntime(act, monkeypatch):
    """The epilogue applied in the compiled loop (FusedConv with the activation)."""
    model = _model(6, (11, 11), 3, 1, 1, (1, 1, 1, 1), 2, act=act)
    x = (3 * np.random.default_rng(2).standard_normal((2, 6, 11, 11))).astype(np.float32)
    art = _check(model, x, True, monkeypatch, "depthwise")
    (plan,) = [s.state for s in art.program.steps if getattr(s.state, "path", None)]
    assert plan.activation is not None and plan.activation[0] == act  # fused: the compiled epilogue ran
    assert plan.act_code > 0


@pytest.mark.parametrize("stride", [1, 2])
def test_residual_and_relu_match_onnxruntime(stride, monkeypatch):
    """Conv + Add(z) + Relu as one FusedConv with Z (z = x / 2 dies there: its buffer may take the output);
    at stride 2 z is the residual of the strided input's shape (x[..., ::2, ::2] / 2 via a strided conv)."""
    if stride == 1:
        model = _model(6, (11, 11), 3, 1, 1, (1, 1, 1, 1), 2, act="Relu", residual=True)
    else:  # z from a second depthwise conv of the output's shape
        model = _model(6, (11, 11), 3, 2, 1, (1, 1, 1, 1), 2, act="Relu")
        g = model.graph
        k = numpy_helper.from_array(np.full((6, 1, 1, 1), 0.5, np.float32), "k")
        g.initializer.append(k)
        conv, relu = g.node[0], g.node[1]
        z = helper.make_node("Conv", ["x", "k"], ["z"], kernel_shape=[1, 1], strides=[2, 2], group=6)
        add = helper.make_node("Add", ["c", "z"], ["r"])
        relu = helper.make_node("Relu", ["r"], ["y"])
        del g.node[:]
        g.node.extend([conv, z, add, relu])
    x = (3 * np.random.default_rng(2).standard_normal((2, 6, 11, 11))).astype(np.float32)
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    fused = [s for s in art.program.steps if s.op.op_type == "FusedConv"]
    assert len(fused) == 1 and len(fused[0].op.inputs) == 4 and fused[0].state.path == "depthwise"
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):
        np.testing.assert_allclose(art.run({"x": x})["y"], want, rtol=1e-5, atol=_bound(model, x))


def test_silu_at_large_magnitudes_matches_onnxruntime(monkeypatch):
    """The vectorized exp of the SiLU epilogue over its whole range (overflow to inf, underflow to 0)."""
    model = _model(4, (9, 9), 3, 2, 1, (1, 1, 1, 1), 1, act="SiLU")
    x = (40 * np.random.default_rng(3).standard_normal((1, 4, 9, 9))).astype(np.float32)
    _check(model, x, True, monkeypatch, "depthwise")


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("act", ["none", "Relu", "Clip", "SiLU", "HardSwish"])
def test_non_finite_inputs_propagate_as_in_onnxruntime(act, value, monkeypatch):
    model = _model(5, (10, 10), 3, 1, 1, (1, 1, 1, 1), 1, act=act)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 5, 10, 10)).astype(np.float32)
    x.reshape(-1)[rng.choice(x.size, 5, replace=False)] = value
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == ["depthwise"]
    want, got = ort_run(model, {"x": x})["y"], art.run({"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_float64_matches_a_direct_sum():
    """float64 (onnxruntime has no double depthwise kernel here): the direct sum over the padded input."""
    rng = np.random.default_rng(5)
    c, h, k = 4, 9, 5
    w = rng.standard_normal((c, 1, k, k))
    b = rng.standard_normal(c)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=[2, 2],
                            pads=[2, 1, 2, 3], group=c)
    g = helper.make_graph([node], "dw64", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2, c, h, h])],
                          [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == ["depthwise"]
    x = rng.standard_normal((2, c, h, h))
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (1, 3)))
    ho, wo = (h + 4 - k) // 2 + 1, (h + 4 - k) // 2 + 1
    want = np.zeros((2, c, ho, wo)) + b[None, :, None, None]
    for ki in range(k):
        for kj in range(k):
            want += w[None, :, 0, ki, kj, None, None] * xp[:, :, ki:ki + 2 * ho - 1:2, kj:kj + 2 * wo - 1:2]
    np.testing.assert_allclose(art.run({"x": x})["y"], want, rtol=1e-12, atol=1e-12)


def test_conv1d_depthwise_takes_the_compiled_path(monkeypatch):
    rng = np.random.default_rng(6)
    c, length, k = 6, 31, 5
    w = rng.standard_normal((c, 1, k)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[k], strides=[2], pads=[2, 1], group=c)
    g = helper.make_graph([node], "dw1d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, c, length])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "w")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((2, c, length)).astype(np.float32)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == ["depthwise"]
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5, atol=1e-5)


SMALL = {
    # name: (channels, size, out channels, kernel, stride, dilation, pads, batch): one-group convs of small maps
    "pnet-conv1": (3, 12, 10, 3, 1, 1, (0, 0, 0, 0), 1),
    "pnet-conv2": (10, 5, 16, 3, 1, 1, (0, 0, 0, 0), 2),
    "pnet-conv3": (16, 3, 32, 3, 1, 1, (0, 0, 0, 0), 1),
    "pnet-head-1x1": (32, 1, 4, 1, 1, 1, (0, 0, 0, 0), 1),
    "rnet-2x2": (48, 4, 64, 2, 1, 1, (0, 0, 0, 0), 1),
    "stride2-asym-pads": (5, 13, 7, 3, 2, 1, (1, 0, 2, 1), 2),
    "k5-dilated": (4, 11, 6, 5, 1, 2, (2, 2, 2, 2), 1),
    "stride3-wide-pads": (3, 10, 5, 3, 3, 1, (3, 2, 1, 4), 1),
    # under 16 output positions (the position-major patch matrix) with windows over the padding
    "tiny-padded": (6, 3, 8, 3, 1, 1, (1, 1, 1, 1), 2),
    "tiny-dilated-strided-pads": (4, 5, 6, 3, 2, 2, (2, 1, 1, 2), 1),
}


def _small_model(c, size, m, k, stride, dil, pads, n, relu_residual=False, dtype=np.float32):
    rng = np.random.default_rng(7)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    w = (rng.standard_normal((m, c, k, k)) / np.sqrt(c * k * k)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c" if relu_residual else "y"], kernel_shape=[k, k],
                              strides=[stride] * 2, dilations=[dil] * 2, pads=list(pads))]
    inputs = [helper.make_tensor_value_info("x", elem, [n, c, size, size])]
    if relu_residual:  # Conv + Add(z) + Relu: one FusedConv with Z
        nodes += [helper.make_node("Add", ["c", "z"], ["r"]), helper.make_node("Relu", ["r"], ["y"])]
        inputs.append(helper.make_tensor_value_info("z", elem, None))
    g = helper.make_graph(nodes, "small", inputs, [helper.make_tensor_value_info("y", elem, None)],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("jit_on", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_conv_matches_onnxruntime(name, jit_on, monkeypatch):
    c, size, m, k, stride, dil, pads, n = SMALL[name]
    model = _small_model(c, size, m, k, stride, dil, pads, n)
    monkeypatch.setattr(jit, "ENABLED", jit_on)
    art = graphc.compile(model, "numpy", fallback=False)
    paths = _paths(art)
    if jit_on:  # a 1x1 conv over a 1x1 map is a GEMV (kernels/gemv_jit.py)
        assert paths == (["gemv"] if size == 1 and k == 1 else ["small"])
    else:
        assert paths in (["phase"], ["pointwise"])
    x = np.random.default_rng(8).standard_normal((n, c, size, size)).astype(np.float32)
    want = ort_run(model, {"x": x})["y"]
    taps = c * k * k  # |w| <= ~4 / sqrt(taps), |x| <= ~5: the sum's rounding is a few eps times sqrt(taps)
    for _ in range(2):
        np.testing.assert_allclose(art.run({"x": x})["y"], want, rtol=1e-5, atol=(taps + 2) * 2e-7)


def test_small_conv_with_residual_relu_and_non_finite_inputs(monkeypatch):
    model = _small_model(6, 9, 8, 3, 1, 1, (1, 1, 1, 1), 1, relu_residual=True)
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == ["small"]
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 6, 9, 9)).astype(np.float32)
    z = rng.standard_normal((1, 8, 9, 9)).astype(np.float32)
    for value in (None, np.inf, -np.inf, np.nan):
        if value is not None:
            x.reshape(-1)[rng.choice(x.size, 3, replace=False)] = value
        want = ort_run(model, {"x": x, "z": z})["y"]
        got = art.run({"x": x, "z": z})["y"]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_small_conv_float64_matches_a_direct_sum(monkeypatch):
    c, size, m, k = 3, 8, 5, 3
    model = _small_model(c, size, m, k, 2, 1, (1, 1, 0, 0), 2, dtype=np.float64)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == ["small"]
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    w, b = inits["w"], inits["b"]
    x = np.random.default_rng(10).standard_normal((2, c, size, size))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 0), (1, 0)))
    ho = (size + 1 - k) // 2 + 1
    want = np.zeros((2, m, ho, ho)) + b[None, :, None, None]
    for ki in range(k):
        for kj in range(k):
            want += np.einsum("nchw,mc->nmhw", xp[:, :, ki:ki + 2 * ho - 1:2, kj:kj + 2 * ho - 1:2], w[:, :, ki, kj])
    np.testing.assert_allclose(art.run({"x": x})["y"], want, rtol=1e-12, atol=1e-12)


def test_squeeze_excitation_conv_takes_the_gemv_path(monkeypatch):
    """A squeeze-excitation 1x1 conv with a fused activation on a 1x1 map: the compiled GEMV (kernels/gemv_jit.py)."""
    rng = np.random.default_rng(11)
    w = rng.standard_normal((8, 32, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    g = helper.make_graph(nodes, "se", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 1, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "w")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == ["gemv"]
    x = rng.standard_normal((1, 32, 1, 1)).astype(np.float32)
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5, atol=1e-5)


def test_dynamic_shape_depthwise_plans_per_shape(monkeypatch):
    """A symbolic batch and size (DeferredConv): each concrete shape gets its own compiled depthwise plan."""
    from targets.numpy.kernels.conv2d import DeferredConv

    model = _model(5, (9, 9), 3, 2, 1, (1, 1, 1, 1), 1, act="Relu")
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    (state,) = [s.state for s in art.program.steps if isinstance(s.state, DeferredConv)]
    rng = np.random.default_rng(12)
    for shape in ((1, 5, 9, 9), (3, 5, 12, 9), (1, 5, 9, 9)):
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5,
                                   atol=_bound(model, x))
    assert sorted(p.path for p in state._plans.values()) == ["depthwise", "depthwise"]


@pytest.mark.parametrize("kernel, strides, dilations, pads", [
    ((5, 3), (1, 2), (1, 1), (2, 1, 2, 1)),
    ((3, 5), (2, 1), (2, 1), (1, 2, 2, 2)),
    ((1, 7), (1, 3), (1, 1), (0, 3, 0, 3)),
])
def test_anisotropic_depthwise_matches_onnxruntime(kernel, strides, dilations, pads, monkeypatch):
    rng = np.random.default_rng(13)
    c = 6
    w = rng.standard_normal((c, 1, *kernel)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=list(kernel), strides=list(strides),
                            dilations=list(dilations), pads=list(pads), group=c)
    g = helper.make_graph([node], "dw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, c, 13, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.standard_normal((2, c, 13, 16)).astype(np.float32)
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == ["depthwise"]
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- channel-blocked depthwise (depthwise_jit)
BLOCKED_GEOMETRIES = {
    # name: (channels, (h, w), kernel, stride, dilation, pads, batch): tail blocks (C % 16), several blocks
    "c5-k3-s1": (5, (7, 7), 3, 1, 1, (1, 1, 1, 1), 2),
    "c37-k5-s1": (37, (7, 9), 5, 1, 1, (2, 2, 2, 2), 1),
    "c32-k5-s2": (32, (14, 13), 5, 2, 1, (2, 2, 2, 2), 2),
    "c20-k3-s2-asym": (20, (12, 10), 3, 2, 1, (0, 1, 1, 0), 1),
    "c17-k7-s1-dil2": (17, (9, 8), 7, 1, 2, (6, 5, 6, 7), 1),
    "c16-k3-s2-dil2": (16, (13, 15), 3, 2, 2, (1, 2, 3, 0), 1),
}


def _variant(monkeypatch, variant):
    """Force the plane (``depthwise_jit.depthwise_conv``) or the channel-blocked loop for every float32 shape."""
    from targets.numpy.kernels import conv2d

    monkeypatch.setattr(conv2d, "DW_BLOCKED_MAX_PIXELS", 1 << 30 if variant == "blocked" else 0)
    monkeypatch.setattr(conv2d, "DW_BLOCKED_SMALL_KERNEL_MAX_PIXELS", 1 << 30 if variant == "blocked" else 0)


def _plan(art):
    (plan,) = [s.state for s in art.program.steps if getattr(s.state, "path", None)]
    return plan


@pytest.mark.parametrize("variant", ["plane", "blocked"])
@pytest.mark.parametrize("name", sorted(BLOCKED_GEOMETRIES))
def test_depthwise_variants_match_onnxruntime(name, variant, monkeypatch):
    c, hw, k, stride, dil, pads, n = BLOCKED_GEOMETRIES[name]
    _variant(monkeypatch, variant)
    model = _model(c, hw, k, stride, dil, pads, n, act="Clip", seed=7)
    x = (2 * np.random.default_rng(8).standard_normal((n, c, *hw))).astype(np.float32)
    art = _check(model, x, True, monkeypatch, "depthwise")
    assert _plan(art).blocked == (variant == "blocked")


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_blocked_activations_match_onnxruntime(act, monkeypatch):
    """Every fused epilogue on the block (SiLU/Sigmoid: epilogue_jit's vectorized exp), large magnitudes."""
    _variant(monkeypatch, "blocked")
    model = _model(19, (8, 8), 3, 1, 1, (1, 1, 1, 1), 1, act=act)
    x = (12 * np.random.default_rng(9).standard_normal((1, 19, 8, 8))).astype(np.float32)
    art = _check(model, x, True, monkeypatch, "depthwise")
    plan = _plan(art)
    assert plan.blocked and plan.activation is not None and plan.activation[0] == act and plan.act_code > 0


def test_blocked_residual_relu_matches_onnxruntime(monkeypatch):
    _variant(monkeypatch, "blocked")
    model = _model(21, (7, 7), 5, 1, 1, (2, 2, 2, 2), 2, act="Relu", residual=True)
    x = (3 * np.random.default_rng(10).standard_normal((2, 21, 7, 7))).astype(np.float32)
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    fused = [s for s in art.program.steps if s.op.op_type == "FusedConv"]
    assert len(fused) == 1 and len(fused[0].op.inputs) == 4 and fused[0].state.blocked
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):
        np.testing.assert_allclose(art.run({"x": x})["y"], want, rtol=1e-5, atol=_bound(model, x))


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("act", ["none", "Relu", "Clip", "SiLU", "HardSwish"])
def test_blocked_non_finite_inputs_propagate_as_in_onnxruntime(act, value, monkeypatch):
    _variant(monkeypatch, "blocked")
    model = _model(18, (7, 7), 3, 1, 1, (1, 1, 1, 1), 1, act=act)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 18, 7, 7)).astype(np.float32)
    x.reshape(-1)[rng.choice(x.size, 6, replace=False)] = value
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _plan(art).blocked
    want, got = ort_run(model, {"x": x})["y"], art.run({"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hw, stride, k, blocked", [
    ((7, 7), 1, 3, True), ((7, 7), 1, 5, True), ((14, 14), 2, 5, True), ((14, 14), 1, 3, True),
    ((14, 14), 1, 5, False), ((28, 28), 1, 3, False), ((7, 7), 3, 3, False),
])
def test_blocked_variant_is_chosen_by_output_pixels(hw, stride, k, blocked, monkeypatch):
    """The default rule (conv2d.DW_BLOCKED_MAX_PIXELS, DW_BLOCKED_SMALL_KERNEL_MAX_PIXELS): 7x7 outputs, and
    14x14 ones of 3x3 kernels, at strides up to 2 run blocked."""
    monkeypatch.setattr(jit, "ENABLED", True)
    model = _model(24, hw, k, stride, 1, (k // 2,) * 4)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _plan(art).blocked == blocked
    x = np.random.default_rng(14).standard_normal((1, 24, *hw)).astype(np.float32)
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5,
                               atol=_bound(model, x))
