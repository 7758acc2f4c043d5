"""The compiled GEMM of pointwise (1x1) convolutions (kernels/gemm_jit.py) against onnxruntime and float64.

Each model case runs with compiled kernels (on an AVX-512 CPU the ``pointwise`` plan must carry packed weights,
so the compiled GEMM runs; elsewhere it must not) and with ``jit.ENABLED`` patched False (numpy's matmul); both
must give onnxruntime's answer. The kernel cases run on any CPU.
Shapes cover row tails (M not a multiple of the 6-row panel), every column tail (the 32- and 16-wide tiles
and the padded last < 16 columns, alone or after 64-wide tiles), odd K, batches and a strided 1x1 conv.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import conv2d, jit
from tests.oracle import ort_run

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not importable")


def _model(c, m, h, w, n=1, act="none", bias=True, stride=1, residual=False, seed=0):
    """y = act(Conv1x1(x) [+ x]) over an (n, c, h, w) input."""
    rng = np.random.default_rng(seed)
    wt = (rng.standard_normal((m, c, 1, 1)) / np.sqrt(c)).astype(np.float32)
    inits = [numpy_helper.from_array(wt, "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "b"))
        ins.append("b")
    nodes = [helper.make_node("Conv", ins, ["c0"], kernel_shape=[1, 1], strides=[stride, stride])]
    src = "c0"
    if residual:
        nodes.append(helper.make_node("Add", ["c0", "x"], ["c1"]))
        src = "c1"
    if act == "none":
        nodes.append(helper.make_node("Identity", [src], ["y"]))
    elif act == "Clip":
        inits += [numpy_helper.from_array(np.array(v, np.float32), name) for name, v in (("lo", 0.0), ("hi", 6.0))]
        nodes.append(helper.make_node("Clip", [src, "lo", "hi"], ["y"]))
    elif act == "SiLU":
        nodes += [helper.make_node("Sigmoid", [src], ["s"]), helper.make_node("Mul", [src, "s"], ["y"])]
    else:
        nodes.append(helper.make_node(act, [src], ["y"]))
    g = helper.make_graph(nodes, "pw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, h, w])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _supported():
    from targets.numpy.kernels import gemm_jit

    return gemm_jit.supported()


def _plans(art):
    return [s.state for s in art.program.steps if getattr(s.state, "path", None)]


def _check(model, x, jit_on, monkeypatch):
    monkeypatch.setattr(jit, "ENABLED", jit_on)
    art = graphc.compile(model, "numpy", fallback=False)
    (plan,) = _plans(art)
    assert plan.path == "pointwise"
    assert (plan.packed is not None) == (jit_on and _supported())
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):
        got = art.run({"x": x})["y"]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    return got, want


@pytest.mark.parametrize("jit_on", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("c, m, h, w, n, bias, stride", [
    (32, 96, 14, 14, 1, True, 1),     # 196 columns: three full tiles and a 4-column tail
    (37, 13, 7, 7, 2, True, 1),       # 49 columns (tail only), row tail, odd K, batch
    (24, 64, 16, 8, 1, False, 1),     # exactly two tiles, no bias
    (17, 40, 9, 15, 2, True, 2),      # strided: the subsampled copy feeds the GEMM
    (200, 7, 3, 50, 1, True, 1),      # long K, fewer rows than one panel
])
def test_pointwise_gemm_matches_onnxruntime(c, m, h, w, n, bias, stride, jit_on, monkeypatch):
    model = _model(c, m, h, w, n, "Relu", bias, stride)
    x = np.random.default_rng(1).standard_normal((n, c, h, w)).astype(np.float32)
    _check(model, x, jit_on, monkeypatch)


@pytest.mark.parametrize("act", ["none", "Relu", "Clip", "SiLU", "HardSwish", "Sigmoid", "Tanh"])
@pytest.mark.parametrize("residual", [False, True])
def test_activations_and_residual(act, residual, monkeypatch):
    model = _model(48, 48, 10, 10, 1, act, True, residual=residual)
    x = np.random.default_rng(2).standard_normal((1, 48, 10, 10)).astype(np.float32)
    _check(model, x, True, monkeypatch)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("act", ["none", "Relu", "SiLU"])
def test_non_finite_inputs_propagate_as_in_onnxruntime(act, value, monkeypatch):
    model = _model(40, 50, 11, 11, 2, act)  # 121 columns: one tile and a tail
    x = np.random.default_rng(4).standard_normal((2, 40, 11, 11)).astype(np.float32)
    x.reshape(-1)[[3, 100, 6000]] = value  # one in the full tile, the tail and the second image
    got, want = _run(model, x, monkeypatch)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-5)


def _run(model, x, monkeypatch):
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    (plan,) = _plans(art)
    assert plan.path == "pointwise" and (plan.packed is not None) == _supported()
    return art.run({"x": x})["y"], ort_run(model, {"x": x})["y"]


def test_gemm_off_switch_keeps_numpy_matmul(monkeypatch):
    monkeypatch.setattr(conv2d, "GEMM_JIT", False)
    art = graphc.compile(_model(64, 64, 16, 16), "numpy", fallback=False)
    (plan,) = _plans(art)
    assert plan.path == "pointwise" and plan.packed is None


@pytest.mark.parametrize("m, k, n, images", [(1, 1, 1, 1), (6, 5, 64, 1), (7, 3, 65, 2), (13, 29, 130, 1),
                                             (50, 70, 47, 3), (12, 300, 128, 1), (5, 8, 16, 2), (11, 9, 31, 1),
                                             (19, 40, 48, 1), (8, 17, 113, 2),
                                             (9, 21, 63, 1), (14, 33, 177, 1)])
def test_kernel_against_float64(m, k, n, images):
    from targets.numpy.kernels import gemm_jit

    rng = np.random.default_rng(m * 1000 + n)
    w = rng.standard_normal((m, k)).astype(np.float32)
    x = rng.standard_normal((images, k, n)).astype(np.float32)
    out = np.full((images, m, n), np.nan, np.float32)  # every element must be written
    gemm_jit.gemm(gemm_jit.pack_weights(w), x, out)
    want = np.matmul(w.astype(np.float64), x.astype(np.float64))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=k * 1e-6)


@pytest.mark.parametrize("features, expected", [("+avx2,+fma,-avx512f", False),
                                                ("+avx2,+avx512f,+avx512bw", True), ("", False)])
def test_supported_follows_numba_cpu_features(features, expected, monkeypatch):
    from numba.core import config

    from targets.numpy.kernels import gemm_jit

    monkeypatch.setattr(config, "CPU_FEATURES", features)
    gemm_jit.supported.cache_clear()
    try:
        assert gemm_jit.supported() is expected
    finally:
        monkeypatch.undo()
        gemm_jit.supported.cache_clear()


def test_without_avx512_the_plan_keeps_numpy_matmul(monkeypatch):
    from targets.numpy.kernels import gemm_jit

    monkeypatch.setattr(gemm_jit, "supported", lambda: False)
    model = _model(40, 50, 11, 11, 1, "Relu")
    x = np.random.default_rng(5).standard_normal((1, 40, 11, 11)).astype(np.float32)
    art = graphc.compile(model, "numpy", fallback=False)
    (plan,) = _plans(art)
    assert plan.path == "pointwise" and plan.packed is None
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5, atol=1e-5)
