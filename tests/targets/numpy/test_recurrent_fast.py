"""The recurrent kernels' fast path (targets/numpy/kernels/recurrent_fast.py) against onnxruntime.

Every case checks that the fast path actually ran (a call outside it would test the general
driver instead), on kernel calls with runtime weights and on compiled models whose weights are
initializers (prepared once at lowering).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import recurrent
from tests.oracle import ort_run
from tests.targets.numpy.test_kernels_nn import assert_close, rand, run_kernel, run_ort

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
CASES = [
    ("LSTM", dict()),
    ("LSTM", dict(direction="bidirectional")),
    ("LSTM", dict(direction="reverse", layout=1)),
    ("GRU", dict(linear_before_reset=1)),
    ("GRU", dict(direction="bidirectional", linear_before_reset=0)),
    ("GRU", dict(direction="reverse", linear_before_reset=1, layout=1)),
    ("RNN", dict(direction="bidirectional")),
    ("RNN", dict(activations=["Tanh"], layout=1)),
]


@pytest.fixture
def fast_calls(monkeypatch):
    """How many calls the fast path answered (it returns None when a call does not qualify)."""
    answered = []
    real = recurrent.run_fast

    def counting(*args, **kwargs):
        res = real(*args, **kwargs)
        answered.append(res is not None)
        return res

    monkeypatch.setattr(recurrent, "run_fast", counting)
    return answered


def _inputs(op: str, attrs: dict, seq: int = 5, batch: int = 3, inp: int = 4, hid: int = 6, lens=None):
    gates = GATES[op]
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    layout = attrs.get("layout", 0)
    x = rand(*((batch, seq, inp) if layout else (seq, batch, inp)), seed=51)
    w, r = rand(dirs, gates * hid, inp, seed=52) * 0.5, rand(dirs, gates * hid, hid, seed=53) * 0.5
    b = rand(dirs, 2 * gates * hid, seed=54) * 0.3
    h0 = rand(*((batch, dirs, hid) if layout else (dirs, batch, hid)), seed=55)
    inputs = [x, w, r, b, lens, h0]
    if op == "LSTM":
        inputs.append(rand(*h0.shape, seed=56))
    return inputs


def _want(op: str, inputs: list, attrs: dict, n_out: int, hid: int) -> list[np.ndarray]:
    """onnxruntime's outputs (it runs layout 0 only: layout 1 is compared on transposed data)."""
    if not attrs.get("layout", 0):
        return run_ort(op, inputs, opset=14, n_out=n_out, hidden_size=hid, **attrs)
    attrs = {k: v for k, v in attrs.items() if k != "layout"}
    inputs = [np.swapaxes(v, 0, 1) if k in (0, 5, 6) else v for k, v in enumerate(inputs)]
    want = run_ort(op, inputs, opset=14, n_out=n_out, hidden_size=hid, **attrs)
    return [want[0].transpose(2, 0, 1, 3)] + [np.swapaxes(v, 0, 1) for v in want[1:]]


@pytest.mark.parametrize("op,attrs", CASES)
def test_fast_path_matches_onnxruntime(op, attrs, fast_calls):
    inputs = _inputs(op, attrs)
    n_out = 3 if op == "LSTM" else 2
    got = run_kernel(op, *inputs, opset=14, n_out=n_out, hidden_size=6, **attrs)
    assert fast_calls == [True]
    assert_close(got, _want(op, inputs, attrs, n_out, 6), rtol=1e-4, atol=1e-5)


def test_full_length_sequence_lens_take_the_fast_path_and_short_ones_do_not(fast_calls):
    full = _inputs("GRU", {}, lens=np.array([5, 5, 5], np.int32))
    got = run_kernel("GRU", *full, opset=14, n_out=2, hidden_size=6, linear_before_reset=1)
    assert_close(got, _want("GRU", full, dict(linear_before_reset=1), 2, 6), rtol=1e-4, atol=1e-5)
    short = _inputs("GRU", {}, lens=np.array([5, 2, 4], np.int32))
    got = run_kernel("GRU", *short, opset=14, n_out=2, hidden_size=6, linear_before_reset=1)
    assert_close(got, _want("GRU", short, dict(linear_before_reset=1), 2, 6), rtol=1e-4, atol=1e-5)
    assert fast_calls == [True, False]


def _model(op: str, attrs: dict, inputs: list, hid: int) -> onnx.ModelProto:
    """One recurrent node whose W, R, B are initializers; X and the initial states are graph inputs."""
    names = ["x", "w", "r", "b", "", "h0"] + (["c0"] if op == "LSTM" else [])
    outs = ["y", "yh"] + (["yc"] if op == "LSTM" else [])
    node = helper.make_node(op, names, outs, hidden_size=hid, **attrs)
    feeds = {n: v for n, v in zip(names, inputs) if n in ("x", "h0", "c0")}
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, v.shape) for n, v in feeds.items()],
        [helper.make_empty_tensor_value_info(o) for o in outs],
        [numpy_helper.from_array(v, n) for n, v in zip(names, inputs) if n in ("w", "r", "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8)


@pytest.mark.parametrize("op,attrs", [c for c in CASES if not c[1].get("layout")])
def test_compiled_model_with_prepared_weights_matches_onnxruntime(op, attrs, fast_calls):
    inputs = _inputs(op, attrs, seq=7, batch=1, inp=10, hid=16)
    model = _model(op, attrs, inputs, 16)
    feeds = {n: v for n, v in zip(["x", "w", "r", "b", "", "h0", "c0"], inputs) if n in ("x", "h0", "c0")}
    art = graphc.compile(model, "numpy")
    want = ort_run(model, feeds)
    for _ in range(2):  # the second call reuses the prepared weights and the planned buffers
        got = art.run(feeds)
        for name, value in want.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-5)
    assert fast_calls == [True, True]
