"""If/Loop/Scan bodies on a planned arena of their own (issue 19): planned once per shape signature
and reused by warm calls, outputs the caller keeps never alias the arena or each other, every
result checked against onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _branch(tag: str, scale: float) -> onnx.GraphProto:
    """x (outer) -> Mul -> Add -> Relu -> Sigmoid -> Mul(x) -> out: four intermediates as large as x."""
    k = numpy_helper.from_array(np.array(scale, np.float32), f"{tag}_k")
    nodes = [
        helper.make_node("Mul", ["x", f"{tag}_k"], [f"{tag}_a"], name=f"{tag}_mul"),
        helper.make_node("Add", [f"{tag}_a", "x"], [f"{tag}_b"], name=f"{tag}_add"),
        helper.make_node("Relu", [f"{tag}_b"], [f"{tag}_c"], name=f"{tag}_relu"),
        helper.make_node("Sigmoid", [f"{tag}_c"], [f"{tag}_d"], name=f"{tag}_sigmoid"),
        helper.make_node("Mul", [f"{tag}_d", "x"], [f"{tag}_out"], name=f"{tag}_out"),
    ]
    return helper.make_graph(nodes, tag, [], [helper.make_tensor_value_info(f"{tag}_out", F, None)], [k])


def if_model(dims=("N", 64)) -> onnx.ModelProto:
    """y = If(cond) over x read from the outer scope, each branch a chain of five elementwise ops."""
    node = helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=_branch("then", 2.0),
                            else_branch=_branch("else", -0.5))
    return _model([node], [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                           helper.make_tensor_value_info("x", F, list(dims))],
                  [helper.make_tensor_value_info("y", F, list(dims))])


def _feeds(rows: int, cond: bool, seed: int) -> dict[str, np.ndarray]:
    x = np.random.default_rng(seed).standard_normal((rows, 64)).astype(np.float32)
    return {"cond": np.array(cond), "x": x}


@pytest.mark.parametrize("debug", [False, True])
def test_if_branches_match_onnxruntime_across_warm_calls_and_shapes(debug):
    """Both branches, two row counts in turn (one plan each), every call against onnxruntime; a result
    kept from an earlier call is unchanged after later calls reuse the branch's arena."""
    model = if_model()
    art = graphc.compile(model, "numpy", debug=debug)
    kept = []
    for i in range(12):
        feeds = _feeds(rows=(3, 5)[i % 2], cond=bool(i % 3), seed=i)
        got = art.run(feeds)["y"]
        want = ort_run(model, feeds)["y"]
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        kept.append((got, want))
    for got, want in kept:
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    arrays = [g for g, _ in kept]
    assert not any(np.shares_memory(a, b) for k, a in enumerate(arrays) for b in arrays[k + 1:])


def test_a_warm_if_call_allocates_only_its_output(monkeypatch):
    """Counted at ``np.empty`` (where kernels get buffers the plan did not give them): a signature's first
    calls run the branch without an arena, one array per op (the main graph is re-planned after its
    first call, whose bound copy then meets the branch anew); from then on the four intermediates are
    in the branch's arena and a call allocates only the branch's output, which the caller keeps."""
    art = graphc.compile(if_model(), "numpy")
    feeds = _feeds(rows=40, cond=True, seed=0)
    made = [0]
    empty = np.empty

    def counting(*args, **kwargs):
        made[0] += 1
        return empty(*args, **kwargs)

    monkeypatch.setattr(np, "empty", counting)
    counts = []
    for _ in range(8):
        made[0] = 0
        art.run(feeds)
        counts.append(made[0])
    assert counts[0] >= 5, counts
    assert counts[2:] == [1] * 6, counts


def loop_model() -> onnx.ModelProto:
    """Loop M times over carried s: t = Tanh(s * w + x), s' = t, scan output t * 2 (body intermediates planned)."""
    w = numpy_helper.from_array(np.array(0.7, np.float32), "w")
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    body = helper.make_graph(
        [helper.make_node("Mul", ["s_in", "w"], ["m"], name="mul"),
         helper.make_node("Add", ["m", "x"], ["a"], name="add"),
         helper.make_node("Tanh", ["a"], ["s_out"], name="tanh"),
         helper.make_node("Mul", ["s_out", "two"], ["scan"], name="double"),
         helper.make_node("Identity", ["c_in"], ["c_out"], name="keep")],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_in", F, ["N"])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_out", F, ["N"]),
         helper.make_tensor_value_info("scan", F, ["N"])], [w, two])
    node = helper.make_node("Loop", ["M", "", "s0"], ["s", "stack"], name="loop", body=body)
    return _model([node], [helper.make_tensor_value_info("M", TensorProto.INT64, []),
                           helper.make_tensor_value_info("x", F, ["N"]),
                           helper.make_tensor_value_info("s0", F, ["N"])],
                  [helper.make_tensor_value_info("s", F, ["N"]),
                   helper.make_tensor_value_info("stack", F, [None, "N"])])


def test_loop_body_on_its_arena_matches_onnxruntime_on_warm_calls():
    """Each iteration reuses the body's arena; carried state and scan outputs stay correct, and results
    of earlier calls are unchanged by later ones."""
    model = loop_model()
    art = graphc.compile(model, "numpy")
    kept = []
    for i, n in enumerate((7, 7, 9, 7)):
        rng = np.random.default_rng(i)
        feeds = {"M": np.array(5 + i, np.int64), "x": rng.standard_normal(n).astype(np.float32),
                 "s0": rng.standard_normal(n).astype(np.float32)}
        got, want = art.run(feeds), ort_run(model, feeds)
        for name in ("s", "stack"):
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6)
        kept.append((got, want))
    for got, want in kept:
        for name in ("s", "stack"):
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6)


def test_a_body_output_viewing_its_arena_is_copied_out():
    """The Loop body's scan output is a Reshape (a view) of an intermediate in the body's arena: each
    iteration hands back its own array, so the stacked outputs hold every iteration's values
    (onnxruntime's), not the last one's."""
    flat = numpy_helper.from_array(np.array([-1], np.int64), "flat")
    k = numpy_helper.from_array(np.array(0.9, np.float32), "k")
    body = helper.make_graph(
        [helper.make_node("Mul", ["s_in", "k"], ["m"], name="mul"),
         helper.make_node("Add", ["m", "x"], ["a"], name="add"),
         helper.make_node("Relu", ["a"], ["r"], name="relu"),
         helper.make_node("Reshape", ["r", "flat"], ["scan"], name="flatten"),
         helper.make_node("Tanh", ["a"], ["s_out"], name="tanh"),
         helper.make_node("Identity", ["c_in"], ["c_out"], name="keep")],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_in", F, [2, 3])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_out", F, [2, 3]),
         helper.make_tensor_value_info("scan", F, [6])], [flat, k])
    model = _model([helper.make_node("Loop", ["M", "", "s0"], ["s", "stack"], name="loop", body=body)],
                   [helper.make_tensor_value_info("M", TensorProto.INT64, []),
                    helper.make_tensor_value_info("x", F, [2, 3]),
                    helper.make_tensor_value_info("s0", F, [2, 3])],
                   [helper.make_tensor_value_info("s", F, [2, 3]),
                    helper.make_tensor_value_info("stack", F, [None, 6])])
    art = graphc.compile(model, "numpy")
    for i in range(4):
        rng = np.random.default_rng(i)
        feeds = {"M": np.array(6, np.int64), "x": rng.standard_normal((2, 3)).astype(np.float32),
                 "s0": rng.standard_normal((2, 3)).astype(np.float32)}
        got, want = art.run(feeds), ort_run(model, feeds)
        for name in ("s", "stack"):
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6)


def test_threads_running_if_branches_at_once_each_get_their_own_arena():
    """Four threads, 40 calls each, both branches and two row counts: every result equals onnxruntime's
    (a branch arena shared between concurrent runs would mix their intermediates)."""
    from concurrent.futures import ThreadPoolExecutor

    model = if_model()
    art = graphc.compile(model, "numpy")
    cases = [_feeds(rows=(6, 9)[i % 2], cond=bool(i % 3), seed=100 + i) for i in range(8)]
    wants = [ort_run(model, f)["y"] for f in cases]

    def worker(t: int) -> int:
        bad = 0
        for i in range(40):
            k = (t + i) % len(cases)
            bad += not np.allclose(art.run(cases[k])["y"], wants[k], rtol=1e-6, atol=1e-6)
        return bad

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(worker, range(4))) == 0
