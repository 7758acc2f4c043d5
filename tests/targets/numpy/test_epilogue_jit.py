"""Compiled one-pass epilogues (targets/numpy/kernels/epilogue_jit.py): accuracy against float64
arithmetic, bias modes against hand-computed values, NaN/Inf, and whole FusedConv models against
onnxruntime with compiled kernels on and off."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import epilogue, jit
from tests.oracle import ort_run

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not importable")

F = TensorProto.FLOAT


def _ej():
    from targets.numpy.kernels import epilogue_jit

    return epilogue_jit


def _reference(name: str, params: list[float], x: np.ndarray) -> np.ndarray:
    """The activation in float64 from its definition."""
    x = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if name == "Relu":
            return np.maximum(x, 0)
        if name == "Clip":
            return np.clip(x, params[0], params[1])
        if name == "LeakyRelu":
            return np.where(x < 0, x * params[0], x)
        if name == "HardSigmoid":
            return np.clip(params[0] * x + params[1], 0, 1)
        if name == "HardSwish":
            return x * np.clip(params[0] * x + params[1], 0, 1)
        if name == "Sigmoid":
            return 1 / (1 + np.exp(-x))
        if name == "SiLU":
            return x / (1 + np.exp(-x))
        if name == epilogue.HALF_SILU:  # the input holds x / 2
            return 2 * x / (1 + np.exp(-2 * x))
    raise AssertionError(name)


ACTS = [("Relu", []), ("Clip", [0.0, 6.0]), ("LeakyRelu", [0.1]), ("HardSigmoid", [0.2, 0.5]),
        ("HardSwish", [1 / 6, 0.5]), ("Sigmoid", []), ("SiLU", []), (epilogue.HALF_SILU, [])]


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in float32 steps of want."""
    step = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / step


def test_the_compiled_set_is_the_one_epilogue_py_names():
    assert _ej().ACTIVATIONS == epilogue.JIT_ACTIVATIONS


@pytest.mark.parametrize("name, bound", [("Sigmoid", 3.0), ("SiLU", 4.0), (epilogue.HALF_SILU, 4.0)])
def test_sigmoid_and_silu_within_a_few_ulp(name, bound):
    x = np.linspace(-80, 80, 400_001).astype(np.float32)
    if name == epilogue.HALF_SILU:
        x = x / np.float32(2)
    got = _ej().activate(x.copy(), name, [])
    err = _ulps(got, _reference(name, [], x))
    assert err.max() <= bound, (name, float(err.max()), float(x[err.argmax()]))
    assert err.mean() < 0.5


@pytest.mark.parametrize("name, params", ACTS)
def test_each_activation_matches_its_definition(name, params):
    x = (4 * np.random.default_rng(0).standard_normal(10_000)).astype(np.float32)
    got = _ej().activate(x.copy(), name, params)
    np.testing.assert_allclose(got, _reference(name, params, x), rtol=5e-7, atol=1e-7)


@pytest.mark.parametrize("name, params", ACTS)
def test_nan_and_inf_propagate(name, params):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 100.0, -100.0, 1e-30, -1e-30], np.float32)
    want = _reference(name, params, x)
    if name in ("Sigmoid", "SiLU", epilogue.HALF_SILU):
        want[np.abs(want) < np.finfo(np.float32).tiny] = 0  # results below the normal range are flushed
    got = _ej().activate(x.copy(), name, params)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
    np.testing.assert_allclose(got, want, rtol=5e-7, atol=1e-37, err_msg=name)


@pytest.mark.parametrize("name, params", ACTS)
def test_bias_modes(name, params):
    rng = np.random.default_rng(1)
    n, m, length = 2, 5, 37
    y = (3 * rng.standard_normal((n * m, length))).astype(np.float32)
    bias = rng.standard_normal(m).astype(np.float32)
    run = _ej().kernel(name, params)
    rows = y.copy()
    run(rows, bias, _ej().BIAS_ROWS)  # row r gets bias[r % m]: N images of M channels
    want = _reference(name, params, (y.reshape(n, m, length) + bias[:, None]).reshape(y.shape))
    np.testing.assert_allclose(rows, want, rtol=5e-7, atol=1e-7)
    cols_bias = rng.standard_normal(length).astype(np.float32)
    cols = y.copy()
    run(cols, cols_bias, _ej().BIAS_COLS)  # column i gets bias[i]
    np.testing.assert_allclose(cols, _reference(name, params, y + cols_bias), rtol=5e-7, atol=1e-7)
    none = y.copy()
    run(none, np.zeros(0, np.float32), _ej().BIAS_NONE)
    np.testing.assert_allclose(none, _reference(name, params, y), rtol=5e-7, atol=1e-7)


def test_apply_activation_takes_the_compiled_loop_only_where_it_can(monkeypatch):
    calls = []
    real = _ej().activate
    monkeypatch.setattr(_ej(), "activate", lambda buf, name, params: calls.append(name) or real(buf, name, params))
    x = (3 * np.random.default_rng(2).standard_normal((4, 64, 64))).astype(np.float32)
    epilogue.apply_activation(x.copy(), "HardSwish", [1 / 6, 0.5])
    assert calls == ["HardSwish"]
    for buf in (x.astype(np.float64), x.copy()[:, :, ::2], x[:1, :4, :4].copy()):  # float64, strided, small Relu
        got = epilogue.apply_activation(buf.copy() if buf.flags.c_contiguous else buf, "Relu", [])
        np.testing.assert_array_equal(got, np.maximum(buf, 0))
    assert calls == ["HardSwish"]
    monkeypatch.setattr(jit, "ENABLED", False)
    want = _reference("SiLU", [], x)  # numpy's SiLU: sigmoid within 6e-8 absolute, times |x| (up to 13)
    np.testing.assert_allclose(epilogue.apply_activation(x.copy(), "SiLU", []), want, rtol=1e-6, atol=1e-6)
    assert calls == ["HardSwish"]
    assert epilogue.compiled_epilogue("SiLU", [], np.dtype(np.float32)) is None


def _fused_conv_model(c, h, m, k, activation, params, seed=0):
    """x -> com.microsoft::FusedConv(activation) -> y (onnxruntime runs it)."""
    rng = np.random.default_rng(seed)
    w = (2 * rng.standard_normal((m, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    attrs = {"activation": activation, "kernel_shape": [k, k], "pads": [k // 2] * 4}
    if params:
        attrs["activation_params"] = params
    node = helper.make_node("FusedConv", ["x", "w", "b"], ["y"], domain="com.microsoft", **attrs)
    g = helper.make_graph([node], "fused", [helper.make_tensor_value_info("x", F, [1, c, h, h])],
                          [helper.make_tensor_value_info("y", F, None)],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])


def _silu_model(c, h, m, k, seed=0):
    """x -> Conv -> Sigmoid -> Mul (graphc fuses it into a graphc::FusedConv with SiLU)."""
    rng = np.random.default_rng(seed)
    w = (2 * rng.standard_normal((m, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[k, k], pads=[k // 2] * 4),
             helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    g = helper.make_graph(nodes, "silu", [helper.make_tensor_value_info("x", F, [1, c, h, h])],
                          [helper.make_tensor_value_info("y", F, None)],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


MODEL_ACTS = [("Relu", []), ("Clip", [0.0, 6.0]), ("LeakyRelu", [0.1]), ("HardSigmoid", [0.2, 0.5]),
              ("Sigmoid", []), ("Tanh", [])]


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("activation, params", MODEL_ACTS)
def test_fused_conv_against_onnxruntime(monkeypatch, compiled, k, activation, params):
    monkeypatch.setattr(jit, "ENABLED", compiled)
    model = _fused_conv_model(8, 24, 16, k, activation, params)
    x = (2 * np.random.default_rng(3).standard_normal((1, 8, 24, 24))).astype(np.float32)
    x[0, 0, 0, :3] = [np.nan, np.inf, -np.inf]
    got, want = graphc.compile(model, "numpy").run({"x": x})["y"], ort_run(model, {"x": x})["y"]
    # the convolution's sums differ in order (1e-5, as test_conv_paths.py); a wrong epilogue is off by tenths
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_conv_silu_against_onnxruntime(monkeypatch, compiled, k):
    monkeypatch.setattr(jit, "ENABLED", compiled)
    model = _silu_model(8, 24, 16, k)
    x = (3 * np.random.default_rng(4).standard_normal((1, 8, 24, 24))).astype(np.float32)
    art = graphc.compile(model, "numpy")
    assert [op.qualified_type for op in art.graph.walk()] == ["graphc::FusedConv"]
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5, atol=1e-5)


def _tail_model(c, h, dtype=np.float32, scale_first=False):
    """x -> GlobalAveragePool -> Sigmoid -> Mul(x, .) -> y: a squeeze-excitation tail; also outputs the pool."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    mul_inputs = ["s", "x"] if scale_first else ["x", "s"]
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"]), helper.make_node("Sigmoid", ["g"], ["s"]),
             helper.make_node("Mul", mul_inputs, ["y"])]
    g = helper.make_graph(nodes, "se", [helper.make_tensor_value_info("x", elem, [2, c, h, h])],
                          [helper.make_tensor_value_info("y", elem, None), helper.make_tensor_value_info("g", elem, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c, h, scale_first", [(24, 14, False), (40, 7, True), (8, 56, False)])
def test_squeeze_excitation_tail_against_onnxruntime(monkeypatch, compiled, dtype, c, h, scale_first):
    monkeypatch.setattr(jit, "ENABLED", compiled)
    model = _tail_model(c, h, dtype, scale_first)
    x = (np.random.default_rng(5).standard_normal((2, c, h, h)) + 0.5).astype(dtype)
    x[0, 1, 2, 3] = np.nan
    x[1, 2, 0, 0] = np.inf
    got = graphc.compile(model, "numpy").run({"x": x})
    if dtype == np.float32:
        want = ort_run(model, {"x": x})
    else:  # onnxruntime has no float64 GlobalAveragePool: the definition in float64
        pooled = x.mean(axis=(2, 3), keepdims=True)
        want = {"g": pooled, "y": x / (1 + np.exp(-pooled))}
    for name in ("g", "y"):
        assert np.array_equal(np.isnan(got[name]), np.isnan(want[name])), name
        # the pool sums h * h values in float32 in another order (rtol 1e-6 covers 3136 of them)
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-7, err_msg=name)


def test_channel_loops_compute_what_they_say():
    ej = _ej()
    x = np.random.default_rng(6).standard_normal((2, 3, 5, 7)).astype(np.float32)
    s = np.random.default_rng(7).standard_normal((2, 3, 1, 1)).astype(np.float32)
    np.testing.assert_array_equal(ej.channel_scale(x, s, np.empty_like(x)), x * s)  # one rounding: exact
    inplace = x.copy()
    assert ej.channel_scale(inplace, s, inplace) is inplace
    np.testing.assert_array_equal(inplace, x * s)
    mean = ej.channel_mean(x, np.empty((2, 3, 1, 1), np.float32))
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=(2, 3), keepdims=True), rtol=1e-6, atol=1e-7)


def _unary_model(op, shape, **attrs):
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    g = helper.make_graph([node], op, [helper.make_tensor_value_info("x", F, shape)],
                          [helper.make_tensor_value_info("y", F, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("op, attrs", [("Sigmoid", {}), ("HardSwish", {}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4})])
def test_standalone_activation_nodes_against_onnxruntime(monkeypatch, compiled, op, attrs):
    monkeypatch.setattr(jit, "ENABLED", compiled)
    calls = []
    real = _ej().activate
    monkeypatch.setattr(_ej(), "activate", lambda buf, name, params: calls.append(name) or real(buf, name, params))
    model = _unary_model(op, [2, 16, 9, 9], **attrs)
    x = (4 * np.random.default_rng(8).standard_normal((2, 16, 9, 9))).astype(np.float32)
    x.flat[:4] = [np.nan, np.inf, -np.inf, -100.0]
    got, want = graphc.compile(model, "numpy").run({"x": x})["y"], ort_run(model, {"x": x})["y"]
    assert calls == ([op] if compiled else [])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_compiled_into_copies_then_activates():
    x = (3 * np.random.default_rng(9).standard_normal((3, 50))).astype(np.float32)
    buf = np.empty_like(x)
    assert epilogue.compiled_into(buf, x, "HardSwish", [1 / 6, 0.5])
    np.testing.assert_allclose(buf, _reference("HardSwish", [1 / 6, 0.5], x), rtol=5e-7, atol=1e-7)
    same = x.copy()
    assert epilogue.compiled_into(same, same, "Sigmoid", [])
    np.testing.assert_allclose(same, _reference("Sigmoid", [], x), rtol=5e-7, atol=1e-7)
    assert not epilogue.compiled_into(np.empty((3, 50)), x.astype(np.float64), "Sigmoid", [])  # float64: numpy's
    assert not epilogue.compiled_into(np.empty_like(x), x, "Tanh", [])  # no compiled Tanh
