"""The compiled crop + activation store of the ``phase`` path (kernels/store_jit.py) and its compiled GEMM
(kernels/gemm_jit.py, ``conv2d.PHASE_GEMM_JIT``) against onnxruntime.

A "wide rows" GEMM result is cropped into the output by :func:`store_jit.crop_store`, which applies the
FusedConv activation in the same pass (before: Relu/Clip only, every other activation a pass of its own).
Each case runs with compiled kernels (the plan must take the store) and with ``jit.ENABLED`` patched False
(numpy crop, then the epilogue); both must give onnxruntime's answer, NaN and infinities included.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import conv2d, jit
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _model(c, m, hw, k=3, stride=2, group=1, act="SiLU", seed=0):
    """y = act(Conv(x) + b), 'same' padding."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((m, c // group, k, k)) / np.sqrt(k * k * c / group)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[k, k], pads=[k // 2] * 4,
                              strides=[stride, stride], group=group)]
    if act == "SiLU":
        nodes += [helper.make_node("Sigmoid", ["c"], ["g"]), helper.make_node("Mul", ["c", "g"], ["y"])]
    elif act == "Clip":
        inits += [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("lo", -0.5), ("hi", 0.75))]
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["y"]))
    elif act == "LeakyRelu":
        nodes.append(helper.make_node("LeakyRelu", ["c"], ["y"], alpha=0.1))
    elif act == "HardSigmoid":
        nodes.append(helper.make_node("HardSigmoid", ["c"], ["y"], alpha=0.3, beta=0.4))
    else:
        nodes.append(helper.make_node(act, ["c"], ["y"]))
    graph = helper.make_graph(nodes, "store", [helper.make_tensor_value_info("x", F, [1, c, *hw])],
                              [helper.make_tensor_value_info("y", F, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _gemm_supported():
    from targets.numpy.kernels import gemm_jit  # imports numba

    return gemm_jit.supported()


def _plans(art):
    return [s.state for s in art.program.steps if getattr(s.state, "path", None)]


SHAPES = {
    # name: (C, M, (H, W), k, stride, group, implicit GEMM without compiled kernels, wide rows)
    "im2col-stride2": (16, 24, (21, 26), 3, 2, 1, False, True),
    "implicit-stride2": (32, 16, (80, 80), 3, 2, 1, True, True),  # yolov8n's 32->64 on 80x80 at a quarter of M
    "grouped-5x5": (16, 16, (14, 40), 5, 1, 2, False, True),
    "exact-5x5": (32, 40, (30, 8), 5, 1, 1, False, False),  # exact taps: no crop, the GEMM writes the output
}
ACTS = ["SiLU", "HardSwish", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid"]


@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_crop_store_matches_onnxruntime(shape, act, compiled, monkeypatch):
    if compiled and not jit.available():
        pytest.skip("numba is not importable")
    monkeypatch.setattr(jit, "ENABLED", compiled)
    c, m, hw, k, stride, group, implicit, wide = SHAPES[shape]
    model = _model(c, m, hw, k, stride, group, act)
    art = graphc.compile(model, "numpy", fallback=False)
    (plan,) = _plans(art)
    # with compiled kernels one-group plans run im2col and the compiled GEMM (conv2d.PHASE_GEMM_JIT)
    gemm = compiled and group == 1 and conv2d.PHASE_GEMM_JIT and _gemm_supported()
    assert plan.path == "phase" and plan.wide == wide and plan.implicit == (implicit and not gemm)
    assert (plan.packed is not None) == gemm
    assert (plan.crop_store is not None) == (compiled and wide)
    if compiled and wide:
        from targets.numpy.kernels import store_jit
        from targets.numpy.kernels._numeric import HALF_SILU

        # a SiLU plan halves its weights (the numpy epilogue's trick): the store takes SiLU of twice the value
        assert plan.act_code == store_jit.STORE_ACTIVATIONS[HALF_SILU if act == "SiLU" else act]
    rng = np.random.default_rng(1)
    x = (2 * rng.standard_normal((1, c, *hw))).astype(np.float32)
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):
        got = art.run({"x": x})["y"]
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("act", ["SiLU", "HardSwish", "Relu"])
def test_crop_store_propagates_nan_and_inf(act):
    """NaN stays NaN and infinities saturate as in onnxruntime (SiLU(-inf) = NaN there: -inf * 0)."""
    if not jit.available():
        pytest.skip("numba is not importable")
    model = _model(16, 24, (21, 26), act=act)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _plans(art)[0].crop_store is not None
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 16, 21, 26)).astype(np.float32)
    x[0, 3, 4, 5], x[0, 7, 10, 11], x[0, 9, 16, 20] = np.nan, np.inf, -np.inf
    want = ort_run(model, {"x": x})["y"]
    got = art.run({"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    np.testing.assert_allclose(got[finite], want[finite], rtol=2e-5, atol=2e-6 * float(np.abs(want[finite]).max()))
