"""Compiled kernels of small models' ops (MaxPool: targets/numpy/kernels/pool_jit.py; the recurrent step loop:
targets/numpy/kernels/recurrent_jit.py) against onnxruntime, with the compiled path asserted taken, and the
same cases with compiled kernels off (the numpy paths)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from targets.numpy.kernels import activations_jit, jit, pool_jit
from tests.oracle import ort_run

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba not importable")

POOLS = {
    # name: (input shape, attributes)
    "squeezenet-3x3s2-ceil": ((1, 8, 37, 41), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    "pnet-2x2s2-ceil": ((1, 10, 11, 11), dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
    "rnet-3x3s2-ceil-odd": ((2, 5, 9, 9), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    "pads": ((2, 3, 9, 10), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2])),
    "pads-ceil-s3": ((2, 3, 9, 10), dict(kernel_shape=[3, 3], strides=[3, 3], pads=[2, 2, 2, 2], ceil_mode=1)),
    "dilated-ceil": ((2, 3, 9, 10), dict(kernel_shape=[3, 2], strides=[1, 2], dilations=[2, 3], ceil_mode=1)),
    "stride1-same": ((1, 4, 7, 7), dict(kernel_shape=[3, 5], pads=[1, 2, 1, 2])),
    "same-upper-s2": ((1, 3, 8, 11), dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    "1x1-s2": ((1, 4, 7, 7), dict(kernel_shape=[1, 1], strides=[2, 2])),
    "stride-w4": ((1, 2, 6, 19), dict(kernel_shape=[2, 5], strides=[1, 4], ceil_mode=1)),
    "wide-pads-dilated": ((1, 3, 12, 40), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 2, 2, 1],
                                               dilations=[2, 1], ceil_mode=1)),
    "wide-s3": ((2, 2, 7, 35), dict(kernel_shape=[2, 3], strides=[3, 3], pads=[0, 1, 0, 1])),
    "no-inside-window": ((1, 2, 3, 3), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
}


def _pool_model(shape, attrs, elem=TensorProto.FLOAT):
    g = helper.make_graph([helper.make_node("MaxPool", ["x"], ["y"], name="pool", **attrs)], "pool",
                          [helper.make_tensor_value_info("x", elem, shape)],
                          [helper.make_tensor_value_info("y", elem, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])


def _jit_pools(art) -> list[bool]:
    return [isinstance(s.state[4], pool_jit.MaxPoolPlan) for s in art.program.steps if s.op.op_type == "MaxPool"]


@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("name", sorted(POOLS))
def test_maxpool_matches_onnxruntime_exactly(name, compiled, monkeypatch):
    if not compiled:
        monkeypatch.setattr(jit, "ENABLED", False)
    shape, attrs = POOLS[name]
    model = _pool_model(shape, attrs)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _jit_pools(art) == [compiled]
    rng = np.random.default_rng(7)
    for _ in range(2):
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_array_equal(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"])


def test_maxpool_float64_and_infinities():
    shape, attrs = POOLS["pads-ceil-s3"]
    model = _pool_model(shape, attrs, TensorProto.DOUBLE)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _jit_pools(art) == [True]
    x = np.random.default_rng(8).standard_normal(shape)
    x[0, 0, :3, :3] = -np.inf  # a window of -inf only stays -inf; +inf wins
    x[1, 2, 4, 4] = np.inf
    np.testing.assert_array_equal(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"])


@pytest.mark.parametrize("where", [(0, 0), (4, 4), (8, 8), (8, 0)])
def test_maxpool_nan_makes_its_windows_nan(where):
    """A NaN anywhere in a window (first, middle, last tap; the ceil-mode border) gives NaN there and only there."""
    shape, attrs = POOLS["rnet-3x3s2-ceil-odd"]
    art = graphc.compile(_pool_model(shape, attrs), "numpy", fallback=False)
    assert _jit_pools(art) == [True]
    x = np.random.default_rng(9).standard_normal(shape).astype(np.float32)
    x[1, 3][where] = np.nan
    y = art.run({"x": x})["y"]
    rows = [o for o in range(4) if 2 * o <= where[0] <= 2 * o + 2]
    cols = [o for o in range(4) if 2 * o <= where[1] <= 2 * o + 2]
    expect = np.zeros(y.shape, bool)
    expect[1, 3][np.ix_(rows, cols)] = True
    np.testing.assert_array_equal(np.isnan(y), expect)
    clean = x.copy()
    clean[1, 3][where] = -np.inf
    want = ort_run(_pool_model(shape, attrs), {"x": clean})["y"]
    np.testing.assert_array_equal(y[~expect], want[~expect])


@pytest.mark.parametrize("shape,kernel", [((1, 128, 23, 23), "narrow"), ((1, 4, 9, 40), "rows"),
                                          ((1, 8, 22, 22), "rows"), ((1, 160, 22, 22), "numpy")])
def test_maxpool_kernel_by_row_width_and_border(shape, kernel):
    """Rows narrower than NARROW_WIDTH whose windows read no padding: the flat-plane kernel; wider rows or
    ceil-mode windows past the input: the row kernel, except narrow rows on large inputs (numpy, faster)."""
    model = _pool_model(shape, dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1))
    art = graphc.compile(model, "numpy", fallback=False)
    plans = [s.state[4] for s in art.program.steps if s.op.op_type == "MaxPool"]
    assert [None if p is None else "narrow" if p.narrow else "rows" for p in plans] == \
        [None if kernel == "numpy" else kernel]
    x = np.random.default_rng(10).standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"])


# --------------------------------------------------------------------------- recurrent step loops

RECURRENT = [
    ("LSTM", dict()),
    ("LSTM", dict(direction="bidirectional")),
    ("GRU", dict(linear_before_reset=1)),
    ("GRU", dict(direction="reverse", linear_before_reset=0)),
    ("GRU", dict(direction="bidirectional", linear_before_reset=1)),
    ("RNN", dict(direction="bidirectional")),
]


def _recurrent_model(op, attrs, seq, batch, inp, hid, elem=TensorProto.FLOAT, states=True):
    """One recurrent node with initializer weights; X and the initial states (or none) are graph inputs."""
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    dtype = np.float32 if elem == TensorProto.FLOAT else np.float64
    rng = np.random.default_rng(11)
    inits = {"w": rng.standard_normal((dirs, gates * hid, inp)) * 0.4,
             "r": rng.standard_normal((dirs, gates * hid, hid)) * 0.4,
             "b": rng.standard_normal((dirs, 2 * gates * hid)) * 0.3}
    feeds = {"x": rng.standard_normal((seq, batch, inp)), "h0": rng.standard_normal((dirs, batch, hid))}
    if op == "LSTM":
        feeds["c0"] = rng.standard_normal((dirs, batch, hid))
    feeds = {k: v.astype(dtype) for k, v in feeds.items() if states or k == "x"}
    outs = ["y", "yh"] + (["yc"] if op == "LSTM" else [])
    ins = ["x", "w", "r", "b"] + ((["", "h0"] + (["c0"] if op == "LSTM" else [])) if states else [])
    node = helper.make_node(op, ins, outs, hidden_size=hid, **attrs)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, elem, v.shape) for n, v in feeds.items()],
        [helper.make_empty_tensor_value_info(o) for o in outs],
        [helper.make_tensor(n, elem, v.shape, v.astype(dtype).ravel()) for n, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8), feeds


def _steppers(art) -> list[bool]:
    return [s.state.stepper is not None for s in art.program.steps if s.op.op_type in ("RNN", "GRU", "LSTM")]


@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("op,attrs", RECURRENT, ids=[f"{o}-{'-'.join(f'{k}{v}' for k, v in a.items())}"
                                                     for o, a in RECURRENT])
@pytest.mark.parametrize("states", [True, False], ids=["states", "zero-states"])
def test_recurrent_step_loop_matches_onnxruntime(op, attrs, compiled, states, monkeypatch):
    if not compiled:
        monkeypatch.setattr(jit, "ENABLED", False)
    model, feeds = _recurrent_model(op, attrs, seq=6, batch=2, inp=5, hid=12, states=states)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _steppers(art) == [compiled]
    want = ort_run(model, feeds)
    for _ in range(2):
        got = art.run(feeds)
        for name, value in want.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=2e-6, err_msg=name)


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_recurrent_step_loop_float64_nan_and_saturation(op):
    """float64 on the compiled loop (onnxruntime's float32 model as the oracle: it has no float64 LSTM); huge
    inputs saturate the gates; a NaN input makes its batch row NaN from its step on (onnxruntime's activations
    clamp NaN away, so those positions are checked by hand and the rest against onnxruntime)."""
    attrs = dict(linear_before_reset=1) if op == "GRU" else {}
    model, feeds = _recurrent_model(op, attrs, seq=5, batch=3, inp=4, hid=8, elem=TensorProto.DOUBLE)
    model32, _ = _recurrent_model(op, attrs, seq=5, batch=3, inp=4, hid=8)
    feeds["x"][2, 1, 0] = np.nan
    feeds["x"][:, 2] *= 1e4
    art = graphc.compile(model, "numpy", fallback=False)
    assert _steppers(art) == [True]
    got = art.run(feeds)
    want = ort_run(model32, {k: v.astype(np.float32) for k, v in feeds.items()})
    nan_y = np.zeros(got["y"].shape, bool)
    nan_y[2:, 0, 1] = True
    np.testing.assert_array_equal(np.isnan(got["y"]), nan_y)
    for name, value in want.items():
        assert got[name].dtype == np.float64
        if name != "y":  # the final states: batch row 1 is NaN
            assert np.isnan(got[name][0, 1]).all() and not np.isnan(got[name][0, [0, 2]]).any()
        keep = ~np.isnan(got[name])
        np.testing.assert_allclose(got[name][keep], value[keep], rtol=1e-5, atol=2e-6, err_msg=name)


# --------------------------------------------------------------------------- PRelu and Softmax

def _one_node(op, x_shape, attrs=None, slope=None, opset=13):
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    inits = [] if slope is None else [helper.make_tensor("slope", TensorProto.FLOAT, slope.shape, slope.ravel())]
    node = helper.make_node(op, ["x"] + (["slope"] if slope is not None else []), ["y"], **(attrs or {}))
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.fixture
def compiled_calls(monkeypatch):
    """Calls answered by the compiled PRelu/Softmax plans (they return None when a call does not fit)."""
    answered = []
    for cls in (activations_jit.PReluPlan, activations_jit.SoftmaxPlan):
        real = cls.run

        def counting(self, *args, real=real):
            res = real(self, *args)
            answered.append(res is not None)
            return res

        monkeypatch.setattr(cls, "run", counting)
    return answered


PRELU = {
    # name: (x shape, slope shape, compiled)
    "per-channel": ((2, 5, 4, 3), (5, 1, 1), True),
    "per-channel-2d": ((3, 6), (6,), True),
    "scalar": ((1, 4, 3, 3), (1,), True),
    "negative-and-large-slopes": ((1, 3, 2, 2), (3, 1, 1), True),
    "per-position": ((1, 2, 3, 3), (3, 3), False),  # not one value per channel: numpy kernel
}


@pytest.mark.parametrize("jit_on", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("name", sorted(PRELU))
def test_prelu_matches_onnxruntime(name, jit_on, compiled_calls, monkeypatch):
    if not jit_on:
        monkeypatch.setattr(jit, "ENABLED", False)
    x_shape, slope_shape, compiled = PRELU[name]
    rng = np.random.default_rng(12)
    slope = rng.uniform(-2, 3, slope_shape).astype(np.float32)
    model = _one_node("PRelu", x_shape, slope=slope)
    x = rng.standard_normal(x_shape).astype(np.float32)
    x.flat[0], x.flat[1], x.flat[2] = np.nan, -np.inf, np.inf
    got = graphc.compile(model, "numpy", fallback=False).run({"x": x})["y"]
    np.testing.assert_allclose(got, ort_run(model, {"x": x})["y"], rtol=1e-6, atol=0)
    assert compiled_calls == ([True] if compiled and jit_on else [])  # no plan: no call


SOFTMAX = {
    # name: (x shape, attributes, opset, compiled)
    "mtcnn-axis1": ((1, 2, 3, 3), dict(axis=1), 13, True),
    "rows-last-axis": ((4, 7), dict(), 13, True),
    "middle-axis": ((2, 5, 3), dict(axis=-2), 13, True),
    "opset11-coerced-2d": ((2, 3, 4), dict(axis=1), 11, True),
    "large-numpy": ((2, 600), dict(), 13, False),
}


@pytest.mark.parametrize("jit_on", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("name", sorted(SOFTMAX))
def test_softmax_matches_onnxruntime(name, jit_on, compiled_calls, monkeypatch):
    if not jit_on:
        monkeypatch.setattr(jit, "ENABLED", False)
    x_shape, attrs, opset, compiled = SOFTMAX[name]
    model = _one_node("Softmax", x_shape, attrs, opset=opset)
    art = graphc.compile(model, "numpy", fallback=False)
    rng = np.random.default_rng(13)
    x = (rng.standard_normal(x_shape) * 5).astype(np.float32)
    x.flat[3] = 80.0  # exp would overflow without the max subtracted
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=2e-6, atol=1e-7)
    assert compiled_calls == ([compiled] if jit_on else [])  # a large input: the plan declines


def test_softmax_nan_and_infinities_follow_the_numpy_kernel():
    """A NaN makes its softmax row NaN, +inf too (inf - inf); a -inf entry is 0: checked by hand."""
    model = _one_node("Softmax", (1, 3, 4), dict(axis=1))
    art = graphc.compile(model, "numpy", fallback=False)
    x = np.zeros((1, 3, 4), np.float32)
    x[0, 1, 0], x[0, 2, 1], x[0, 0, 2] = np.nan, np.inf, -np.inf
    y = art.run({"x": x})["y"]
    assert np.isnan(y[0, :, :2]).all()
    np.testing.assert_allclose(y[0, :, 2], [0, 0.5, 0.5])
    np.testing.assert_allclose(y[0, :, 3], [1 / 3] * 3, rtol=1e-6)


# --------------------------------------------------------------------------- prepared small shape ops (VAD body)

def _graph_model(nodes, x_shape, inits, opset=17):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("axis,index", [(2, 0), (2, -1), (0, 0), (1, -3), (1, 2)])
def test_gather_of_a_constant_scalar_index_matches_onnxruntime(axis, index):
    """Gather with a constant scalar index (prepared: a basic index and a copy), then Unsqueeze and Squeeze of
    constant axes (prepared: one reshape), as in the VAD's If body."""
    inits = [helper.make_tensor("i", TensorProto.INT64, (), [index]),
             helper.make_tensor("ax", TensorProto.INT64, (1,), [1])]
    nodes = [helper.make_node("Gather", ["x", "i"], ["g"], axis=axis),
             helper.make_node("Unsqueeze", ["g", "ax"], ["u"]),
             helper.make_node("Squeeze", ["u", "ax"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    model = _graph_model(nodes, (3, 4, 5), inits)
    art = graphc.compile(model, "numpy", fallback=False)
    states = {s.op.op_type: s.state for s in art.program.steps}
    assert states["Gather"] == index and states["Unsqueeze"] is not None and states["Squeeze"] is not None
    x = np.random.default_rng(14).standard_normal((3, 4, 5)).astype(np.float32)
    for _ in range(2):
        np.testing.assert_array_equal(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"])
