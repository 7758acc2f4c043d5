"""The compiled ``conv1d`` path (targets/numpy/kernels/conv1d_jit.py; conv2d.CONV1D_*) of one-group 1-D
convolutions with few output columns, as in a streaming VAD's STFT and encoder, against onnxruntime,
with compiled kernels on (the path asserted) and off (the numpy paths)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import jit
from tests.oracle import ort_run

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not importable")

#: name: (channels, length, out channels, kernel, stride, dilation, pads, batch)
SHAPES = {
    "stft": (1, 576, 258, 256, 128, 1, (0, 0), 1),
    "enc0-same": (129, 3, 128, 3, 1, 1, (1, 1), 1),
    "enc2-strided": (128, 3, 64, 3, 2, 1, (1, 1), 1),
    "enc4-length2": (64, 2, 64, 3, 2, 1, (1, 1), 1),
    "enc6-length1": (64, 1, 128, 3, 1, 1, (1, 1), 1),
    "dilated-asym-pads": (5, 20, 7, 3, 2, 3, (4, 1), 2),
    "pads-wider-than-input": (3, 2, 4, 5, 1, 1, (4, 3), 1),
    "stride-over-kernel": (2, 40, 6, 4, 9, 1, (0, 2), 1),
    "kws-like-49-columns": (40, 49, 64, 5, 1, 1, (2, 2), 1),
}


def _model(c, length, m, k, stride, dil, pads, n, act=None, bias=True, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    w = (rng.standard_normal((m, c, k)) / np.sqrt(c * k)).astype(dtype)
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(m).astype(dtype), "b"))
        ins.append("b")
    nodes = [helper.make_node("Conv", ins, ["c" if act else "y"], kernel_shape=[k], strides=[stride],
                              dilations=[dil], pads=list(pads))]
    if act:
        nodes.append(helper.make_node(act[0], ["c"], ["y"], **act[1]))
    g = helper.make_graph(nodes, "conv1d", [helper.make_tensor_value_info("x", elem, [n, c, length])],
                          [helper.make_tensor_value_info("y", elem, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _paths(art):
    return [s.state.path for s in art.program.steps if getattr(s.state, "path", None)]


@pytest.mark.parametrize("jit_on", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_conv1d_matches_onnxruntime(name, jit_on, monkeypatch):
    c, length, m, k, stride, dil, pads, n = SHAPES[name]
    model = _model(c, length, m, k, stride, dil, pads, n)
    monkeypatch.setattr(jit, "ENABLED", jit_on)
    art = graphc.compile(model, "numpy", fallback=False)
    paths = _paths(art)
    assert (paths == ["conv1d"]) if jit_on else ("conv1d" not in paths)
    x = np.random.default_rng(1).standard_normal((n, c, length)).astype(np.float32)
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):  # the second run reuses the scratch patch matrix
        np.testing.assert_allclose(art.run({"x": x})["y"], want, rtol=1e-5, atol=2e-5)


ACTIVATIONS = {
    "relu": ("Relu", {}),
    "leaky": ("LeakyRelu", {"alpha": 0.2}),
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "hardsigmoid": ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),  # not in the kernel: the numpy epilogue follows
}


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_fused_activations_match_onnxruntime(act, monkeypatch):
    model = _model(16, 9, 12, 3, 1, 1, (1, 1), 1, act=ACTIVATIONS[act])
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == ["conv1d"]
    assert [s.op.op_type for s in art.program.steps] == ["FusedConv"]  # the activation rides in the plan
    x = 3 * np.random.default_rng(2).standard_normal((1, 16, 9)).astype(np.float32)
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("act", ["relu", "leaky", "sigmoid"])
def test_non_finite_inputs_propagate_as_in_onnxruntime(act, monkeypatch):
    model = _model(4, 8, 5, 3, 1, 1, (1, 1), 1, act=ACTIVATIONS[act])
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == ["conv1d"]
    x = np.random.default_rng(3).standard_normal((1, 4, 8)).astype(np.float32)
    x[0, 1, 2], x[0, 3, 6] = np.nan, np.inf
    got, want = art.run({"x": x})["y"], ort_run(model, {"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)


def test_float64_matches_a_direct_sum(monkeypatch):
    c, length, m, k, stride, dil, pads = 3, 11, 4, 3, 2, 2, (2, 1)
    model = _model(c, length, m, k, stride, dil, pads, 1, dtype=np.float64)
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _paths(art) == ["conv1d"]
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    w, b = inits["w"], inits["b"]
    x = np.random.default_rng(4).standard_normal((1, c, length))
    xp = np.pad(x[0], ((0, 0), pads))
    lo = (length + sum(pads) - dil * (k - 1) - 1) // stride + 1
    want = np.array([[b[o] + sum(w[o, ci, j] * xp[ci, t * stride + j * dil] for ci in range(c) for j in range(k))
                      for t in range(lo)] for o in range(m)])
    np.testing.assert_allclose(art.run({"x": x})["y"][0], want, rtol=1e-12, atol=1e-12)


def test_pointwise_conv_with_an_activation_is_not_taken(monkeypatch):
    model = _model(128, 1, 16, 1, 1, 1, (0, 0), 1, act=ACTIVATIONS["relu"])  # a squeeze-excitation conv
    monkeypatch.setattr(jit, "ENABLED", True)
    art = graphc.compile(model, "numpy", fallback=False)
    assert "conv1d" not in _paths(art)  # the 1x1-map paths take it
    x = np.random.default_rng(5).standard_normal((1, 128, 1)).astype(np.float32)
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-5, atol=2e-5)


def test_more_columns_than_the_limit_keep_the_numpy_paths(monkeypatch):
    from targets.numpy.kernels import conv2d

    model = _model(8, conv2d.CONV1D_MAX_COLUMNS + 3, 8, 3, 1, 1, (0, 0), 1)
    monkeypatch.setattr(jit, "ENABLED", True)
    assert "conv1d" not in _paths(graphc.compile(model, "numpy", fallback=False))


HIDDEN = 32


def _vad_branch(name: str, seed: int) -> object:
    """One sample rate's network of a Silero-like VAD: strided Conv1d "STFT", a Conv1d encoder, an LSTM whose
    (h, c) comes from the outer ``state`` and leaves as ``stateN``, a sigmoid speech probability."""
    rng = np.random.default_rng(seed)

    def init(n, shape, scale):
        return numpy_helper.from_array((scale * rng.standard_normal(shape)).astype(np.float32), f"{name}_{n}")

    p = f"{name}_"
    inits = [init("stft", (16, 1, 64), 0.2), init("enc", (16, 16, 3), 0.2), init("W", (1, 4 * HIDDEN, 16), 0.2),
             init("R", (1, 4 * HIDDEN, HIDDEN), 0.2), init("B", (1, 8 * HIDDEN), 0.1), init("head", (HIDDEN, 1), 0.3),
             numpy_helper.from_array(np.array([1, 1, 512], np.int64), p + "shape"),
             numpy_helper.from_array(np.array([0], np.int64), p + "zero"),
             numpy_helper.from_array(np.array([1], np.int64), p + "one"),
             numpy_helper.from_array(np.array([2], np.int64), p + "two")]
    nodes = [
        helper.make_node("Reshape", ["input", p + "shape"], [p + "x"]),
        helper.make_node("Conv", [p + "x", p + "stft"], [p + "spec"], strides=[32]),
        helper.make_node("Relu", [p + "spec"], [p + "spec_r"]),
        helper.make_node("Conv", [p + "spec_r", p + "enc"], [p + "enc_o"], pads=[1, 1]),
        helper.make_node("Relu", [p + "enc_o"], [p + "feat"]),
        helper.make_node("Transpose", [p + "feat"], [p + "seq"], perm=[2, 0, 1]),
        helper.make_node("Slice", ["state", p + "zero", p + "one", p + "zero"], [p + "h0"]),
        helper.make_node("Slice", ["state", p + "one", p + "two", p + "zero"], [p + "c0"]),
        helper.make_node("LSTM", [p + "seq", p + "W", p + "R", p + "B", "", p + "h0", p + "c0"],
                         [p + "Y", p + "Yh", p + "Yc"], hidden_size=HIDDEN),
        helper.make_node("Concat", [p + "Yh", p + "Yc"], [p + "stateN"], axis=0),
        helper.make_node("Squeeze", [p + "Yh", p + "zero"], [p + "h"]),
        helper.make_node("MatMul", [p + "h", p + "head"], [p + "logit"]),
        helper.make_node("Sigmoid", [p + "logit"], [p + "prob"]),
    ]
    return helper.make_graph(nodes, name, [], [
        helper.make_tensor_value_info(p + "prob", TensorProto.FLOAT, [1, 1]),
        helper.make_tensor_value_info(p + "stateN", TensorProto.FLOAT, [2, 1, HIDDEN])], inits)


def _vad_model():
    """A streaming VAD as the perf suite's silero_like_vad is built: an If on the sample rate over two branches."""
    graph = helper.make_graph(
        [helper.make_node("Equal", ["sr", "sr16k"], ["is16k"]),
         helper.make_node("If", ["is16k"], ["output", "stateN"], then_branch=_vad_branch("k16", 1),
                          else_branch=_vad_branch("k8", 2))],
        "vad",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 512]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, 1, HIDDEN]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1]),
         helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [2, 1, HIDDEN])],
        [numpy_helper.from_array(np.array(16000, np.int64), "sr16k")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("sample_rate", [16000, 8000])
@pytest.mark.parametrize("jit_on", [True, False], ids=["jit", "numpy"])
def test_streaming_vad_matches_onnxruntime(jit_on, sample_rate, monkeypatch):
    monkeypatch.setattr(jit, "ENABLED", jit_on)
    model = _vad_model()
    art = graphc.compile(model, "numpy")
    paths = [st.state.path for step in art.program.steps for body, _ in step.subprograms.values()
             for st in body.steps if getattr(st.state, "path", None)]
    assert ("conv1d" in paths) == jit_on, paths
    rng = np.random.default_rng(5)
    state = np.zeros((2, 1, HIDDEN), np.float32)
    want_state = state
    sr = np.array(sample_rate, np.int64)
    for _ in range(3):  # the LSTM state carried from chunk to chunk
        chunk = (0.1 * rng.standard_normal((1, 512))).astype(np.float32)
        got = art.run({"input": chunk, "state": state, "sr": sr})
        want = ort_run(model, {"input": chunk, "state": want_state, "sr": sr})
        np.testing.assert_allclose(got["output"], want["output"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got["stateN"], want["stateN"], rtol=1e-4, atol=1e-5)
        state, want_state = got["stateN"], want["stateN"]
