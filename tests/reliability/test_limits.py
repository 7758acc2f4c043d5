"""Resource limits: a memory budget refuses big plans at compile time; runaway loops stop."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from graphc import GraphcError, PlanError


def _big_intermediate_model(n: int):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
    nodes = [helper.make_node("MatMul", ["x", "x"], ["m"]), helper.make_node("Relu", ["m"], ["r"]),
             helper.make_node("Add", ["r", "x"], ["y"])]
    return helper.make_model(helper.make_graph(nodes, "big", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])


def test_memory_budget_refuses_a_plan_with_the_figure():
    with pytest.raises(PlanError, match=r"budget") as e:
        graphc.compile(_big_intermediate_model(2048), target="numpy", memory_budget=1 << 20)
    assert any(ch.isdigit() for ch in str(e.value))


def test_memory_budget_allows_a_plan_that_fits():
    art = graphc.compile(_big_intermediate_model(16), target="numpy", memory_budget=1 << 20)
    x = np.eye(16, dtype=np.float32)
    np.testing.assert_allclose(art.run({"x": x})["y"], 2 * x)


def _runaway_loop(trip_count: int):
    """Loop with a huge trip count M and a body that only counts."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["acc_in", "one"], ["acc_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])],
    )
    nodes = [
        helper.make_node("Constant", [], ["M"], value=helper.make_tensor("M", TensorProto.INT64, [], [trip_count])),
        helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True])),
        helper.make_node("Loop", ["M", "c", "x"], ["y"], name="runaway", body=body),
    ]
    g = helper.make_graph(nodes, "loop", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_runaway_loop_obeys_the_iteration_limit(monkeypatch):
    monkeypatch.setenv("GRAPHC_MAX_LOOP_ITERATIONS", "1000")
    art = graphc.compile(_runaway_loop(10**12), target="numpy")
    # the limit message, not the node name: the node name alone also matched a loop that ran its
    # 1000 iterations and stopped by spending (trip-count check disabled) or failed for another reason
    with pytest.raises(PlanError, match=r"Loop node 'runaway': trip count M=1000000000000 exceeds the limit of 1000 "
                                        r"loop iterations per run; raise GRAPHC_MAX_LOOP_ITERATIONS"):
        art.run({"x": np.zeros(1, np.float32)})


def test_loop_within_the_limit_runs(monkeypatch):
    monkeypatch.setenv("GRAPHC_MAX_LOOP_ITERATIONS", "1000")
    art = graphc.compile(_runaway_loop(10), target="numpy")
    np.testing.assert_array_equal(art.run({"x": np.zeros(1, np.float32)})["y"], [10.0])


def test_constant_folding_never_allocates_past_the_budget():
    """A 1 GiB ConstantOfShape is not evaluated at compile time: the planner refuses it with figures."""
    import tracemalloc

    from onnx import numpy_helper

    nodes = [helper.make_node("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
             helper.make_node("ReduceSum", ["c"], ["r"], keepdims=0), helper.make_node("Add", ["r", "x"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
                          [numpy_helper.from_array(np.array([16384, 16384], np.int64), "s")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    tracemalloc.start()
    try:
        with pytest.raises(PlanError, match="1073741824 bytes"):
            graphc.compile(model, target="numpy", memory_budget=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"compiling allocated {peak} bytes"


def test_without_a_budget_the_default_refuses_a_4_tib_plan(monkeypatch):
    """No memory_budget given: half the machine's memory applies (GRAPHC_MEMORY_BUDGET overrides)."""
    from graphc.limits import default_memory_budget

    monkeypatch.delenv("GRAPHC_MEMORY_BUDGET", raising=False)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1 << 20, 1 << 20])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1 << 20, 1 << 20])
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "x"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "huge", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(PlanError, match=f"memory budget of {default_memory_budget()} bytes"):
        graphc.compile(model, target="numpy")
    monkeypatch.setenv("GRAPHC_MEMORY_BUDGET", str(1 << 10))
    with pytest.raises(PlanError, match="memory budget of 1024 bytes"):
        graphc.compile(_big_intermediate_model(64), target="numpy")


def _expand_model(n: int):
    """y = Expand(x, [n, n]): a 4-byte input and an n*n*4-byte graph output (no intermediate at all)."""
    from onnx import numpy_helper

    g = helper.make_graph([helper.make_node("Expand", ["x", "shape"], ["y"])], "expand",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
                          [numpy_helper.from_array(np.array([n, n], np.int64), "shape")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_graph_outputs_count_in_the_memory_budget():
    """A 400 MB output under a 10 MB budget is refused at compile time with the figure."""
    with pytest.raises(PlanError, match="400000000 bytes"):
        graphc.compile(_expand_model(10_000), target="numpy", memory_budget=10 << 20)
    art = graphc.compile(_expand_model(100), target="numpy", memory_budget=10 << 20)
    assert art.plan.output_bytes == 40_000
    assert art.run({"x": np.ones((1, 1), np.float32)})["y"].shape == (100, 100)


def test_outputs_and_arena_together_count_in_the_budget():
    """Two outputs of 6 MB each: neither alone is over 10 MB, together they are."""
    from onnx import numpy_helper

    n = 1224  # 1224 * 1224 * 4 = 5.99 MB
    g = helper.make_graph([helper.make_node("Expand", ["x", "shape"], ["y"]), helper.make_node("Neg", ["y"], ["z"])],
                          "two", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n]),
                           helper.make_tensor_value_info("z", TensorProto.FLOAT, [n, n])],
                          [numpy_helper.from_array(np.array([n, n], np.int64), "shape")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(PlanError, match="graph outputs need 11985408 bytes"):
        graphc.compile(model, target="numpy", memory_budget=10 << 20)


def test_a_manifest_cannot_raise_the_users_memory_budget(tmp_path, monkeypatch):
    """options.memory_budget=1e15 in the manifest: GRAPHC_MEMORY_BUDGET (the user's limit) still applies."""
    import json
    import zipfile

    monkeypatch.delenv("GRAPHC_MEMORY_BUDGET", raising=False)
    path = tmp_path / "a.graphc"
    graphc.compile(_big_intermediate_model(64), target="numpy").save(path)
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(files["manifest.json"])
    manifest["options"]["memory_budget"] = 10**15
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    graphc.load(path)  # no user limit: the recorded one applies (it is under half the memory)
    monkeypatch.setenv("GRAPHC_MEMORY_BUDGET", str(1 << 10))
    with pytest.raises(PlanError, match="memory budget of 1024 bytes"):
        graphc.load(path)


def test_a_budget_recorded_at_compile_time_still_applies_at_load(tmp_path, monkeypatch):
    """The stricter limit wins either way: a small recorded budget is kept under a larger user limit."""
    monkeypatch.setenv("GRAPHC_MEMORY_BUDGET", str(1 << 30))
    path = tmp_path / "a.graphc"
    graphc.compile(_big_intermediate_model(64), target="numpy", memory_budget=1 << 20).save(path)
    assert graphc.load(path).memory_budget == 1 << 20


@pytest.mark.parametrize("bad", ["lots", -1, True, [1]])
def test_a_manifest_budget_that_is_not_a_number_is_a_model_format_error(tmp_path, bad):
    import json
    import zipfile

    from graphc import ModelFormatError

    path = tmp_path / "a.graphc"
    graphc.compile(_big_intermediate_model(4), target="numpy").save(path)
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(files["manifest.json"])
    manifest["options"]["memory_budget"] = bad
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    with pytest.raises(ModelFormatError, match="memory_budget"):
        graphc.load(path)


def _nested_loops(outer: int, inner: int, fed: bool = False):
    """Loop (M=outer) whose body runs Loop (M=inner) counting into a float; M's are inputs when ``fed``."""
    f = helper.make_tensor_value_info
    inner_body = helper.make_graph(
        [helper.make_node("Identity", ["ci"], ["co"]), helper.make_node("Add", ["a_in", "one"], ["a_out"])],
        "inner_body", [f("j", TensorProto.INT64, []), f("ci", TensorProto.BOOL, []), f("a_in", TensorProto.FLOAT, [1])],
        [f("co", TensorProto.BOOL, []), f("a_out", TensorProto.FLOAT, [1])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
    outer_body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Loop", ["N", "", "acc_in"], ["acc_out"], name="inner", body=inner_body)],
        "outer_body", [f("i", TensorProto.INT64, []), f("c_in", TensorProto.BOOL, []), f("acc_in", TensorProto.FLOAT, [1])],
        [f("c_out", TensorProto.BOOL, []), f("acc_out", TensorProto.FLOAT, [1])])
    nodes = [helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True])),
             helper.make_node("Loop", ["M", "c", "x"], ["y"], name="outer", body=outer_body)]
    inputs, inits = [f("x", TensorProto.FLOAT, [1])], []
    for name, n in (("M", outer), ("N", inner)):
        if fed:
            inputs.append(f(name, TensorProto.INT64, []))
        else:
            inits.append(helper.make_tensor(name, TensorProto.INT64, [], [n]))
    g = helper.make_graph(nodes, "nested", inputs, [f("y", TensorProto.FLOAT, [1])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_nested_loops_share_one_iteration_budget_per_run(monkeypatch):
    """100 x 100 iterations: each loop is under a limit of 1000, together they are 10x over it."""
    monkeypatch.setenv("GRAPHC_MAX_LOOP_ITERATIONS", "1000")
    art = graphc.compile(_nested_loops(100, 100), target="numpy")
    with pytest.raises(PlanError, match="'inner'.*1000 iterations.*nested loops count together"):
        art.run({"x": np.zeros(1, np.float32)})
    monkeypatch.setenv("GRAPHC_MAX_LOOP_ITERATIONS", "10100")  # 100 outer + 100 * 100 inner
    np.testing.assert_array_equal(art.run({"x": np.zeros(1, np.float32)})["y"], [10_000.0])
    np.testing.assert_array_equal(art.run({"x": np.zeros(1, np.float32)})["y"], [10_000.0])  # a fresh budget per run


ORT_CHILD = """
import sys
import numpy as np
import graphc
from graphc import PlanError
from tests.reliability.test_limits import _double_layers, _nested_loops, _runaway_loop, _two_regions

model = {build}
art = graphc.compile(model, target="ort", mode="{mode}", layers=_double_layers())
print("artifact", type(art).__name__, flush=True)
for feeds in {feeds}:
    try:
        print("ran", art.run(feeds)["y"].tolist(), flush=True)
    except PlanError as e:
        print("PlanError", e, flush=True)
"""


def _ort_child(build: str, feeds: str, limit: int | None = None, mode: str = "single") -> list[str]:
    """Compile and run on the ort target in a child process: an unbounded loop inside onnxruntime
    cannot be interrupted from Python, so a regression must time out, not hang the test run."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("GRAPHC_MAX_LOOP_ITERATIONS", None)
    if limit is not None:
        env["GRAPHC_MAX_LOOP_ITERATIONS"] = str(limit)
    code = ORT_CHILD.format(build=build, feeds=feeds, mode=mode)
    try:
        r = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("the ort run was still going after 90 s: no iteration limit")
    assert r.returncode == 0, r.stderr[-2000:]
    kind, *lines = r.stdout.splitlines()
    assert kind == ("artifact PartitionedArtifact" if mode == "partitioned" else "artifact OrtArtifact"), kind
    return lines


class _Double(graphc.Layer):
    """y = 2x, run by Python: it splits a partitioned ort artifact into regions."""

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = inputs[0] * 2


def _double_layers():
    from graphc.layers import LayerRegistry

    reg = LayerRegistry()
    reg.register("Double", domain="acme")(_Double)
    return reg


def _two_regions(outer: int, inner: int):
    """Nested loops (outer x inner), a Python layer, nested loops again: two onnxruntime regions with loops."""
    first, second = _nested_loops(outer, inner), _nested_loops(outer, inner)
    g = first.graph
    g.node[-1].output[0] = "a"
    g.node.append(helper.make_node("Double", ["a"], ["b"], domain="acme", name="double"))
    for n in second.graph.node:
        n.name = f"{n.name}2" if n.name else n.name
        n.input[:] = [{"x": "b", "M": "M2", "N": "N2", "c": "c2"}.get(i, i) for i in n.input]
        n.output[:] = [{"c": "c2"}.get(o, o) for o in n.output]
    for t in second.graph.initializer:
        t.name += "2"
    for n in second.graph.node:
        for a in n.attribute:
            if a.name == "body":
                for m in a.g.node:
                    m.input[:] = [{"N": "N2"}.get(i, i) for i in m.input]
    g.node.extend(second.graph.node)
    g.initializer.extend(second.graph.initializer)
    g.node[-1].output[0] = "y"
    first.opset_import.append(helper.make_opsetid("acme", 1))
    return first


def _fed_trip_count():
    model = _runaway_loop(10)
    model.graph.node.pop(0)  # M becomes an input
    model.graph.input.append(helper.make_tensor_value_info("M", TensorProto.INT64, []))
    return model


def test_a_fed_trip_count_of_1e12_is_refused_on_the_ort_target():
    """onnxruntime has no loop limit: without graphc's guard this runs until the process is killed."""
    x = "np.zeros(1, np.float32)"
    lines = _ort_child("__import__('tests.reliability.test_limits', fromlist=['x'])._fed_trip_count()",
                       f"[{{'x': {x}, 'M': np.array(10**12)}}, {{'x': {x}, 'M': np.array(5)}}]")
    assert lines[0].startswith("PlanError Loop node 'runaway': trip count M=1000000000000 exceeds the limit"), lines
    assert lines[1] == "ran [5.0]", lines


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_a_condition_only_runaway_loop_stops_at_the_limit(monkeypatch, target):
    build = "_runaway_loop(10); model.graph.node[2].input[0] = ''"  # no trip count: the condition alone
    if target == "ort":
        lines = _ort_child(build, "[{'x': np.zeros(1, np.float32)}]", limit=2000)
        assert lines == ["PlanError Loop node 'runaway': still running after 2000 iterations, the limit of loop "
                         "iterations per run (nested loops count together); raise GRAPHC_MAX_LOOP_ITERATIONS if "
                         "this is intended"], lines
        return
    monkeypatch.setenv("GRAPHC_MAX_LOOP_ITERATIONS", "2000")
    model = _runaway_loop(10)
    model.graph.node[2].input[0] = ""
    with pytest.raises(PlanError, match="'runaway': still running after 2000 iterations"):
        graphc.compile(model, target="numpy").run({"x": np.zeros(1, np.float32)})


@pytest.mark.parametrize("fed", [False, True])
def test_nested_loops_share_one_iteration_budget_on_the_ort_target(fed):
    """100 x 100 iterations, each loop under the limit of 1000, and 10x over it together."""
    feeds = "{'x': np.zeros(1, np.float32)" + (", 'M': np.array(100), 'N': np.array(100)}" if fed else "}")
    lines = _ort_child(f"_nested_loops(100, 100, {fed})", f"[{feeds}]", limit=1000)
    assert len(lines) == 1 and lines[0].startswith("PlanError Loop node 'inner': still running after 1000"), lines
    lines = _ort_child(f"_nested_loops(100, 100, {fed})", f"[{feeds}, {feeds}]", limit=10_100)
    assert lines == ["ran [10000.0]", "ran [10000.0]"], lines  # a fresh budget per run


def test_the_regions_of_a_partitioned_run_share_one_iteration_budget():
    """Two onnxruntime regions, each with 100 x 100 nested loops (10,100 iterations), around a Python layer:
    within a limit of 15,000 each, not together."""
    lines = _ort_child("_two_regions(100, 100)", "[{'x': np.zeros(1, np.float32)}]", limit=15_000, mode="partitioned")
    assert len(lines) == 1 and lines[0].startswith("PlanError Loop node 'inner"), lines
    lines = _ort_child("_two_regions(100, 100)", "[{'x': np.zeros(1, np.float32)}] * 2", limit=20_200, mode="partitioned")
    assert lines == ["ran [30000.0]", "ran [30000.0]"], lines  # (10,000 * 2) + 10,000, a fresh budget per run


def test_a_small_constant_loop_on_the_ort_target_runs_unguarded():
    """A top-level Loop with a small constant trip count costs no Python call per iteration."""
    art = graphc.compile(_runaway_loop(10), target="ort", mode="single")
    assert not art.host.specs, "a guard was registered for a loop that cannot run long"
    np.testing.assert_array_equal(art.run({"x": np.zeros(1, np.float32)})["y"], [10.0])


def test_a_layer_promising_a_huge_output_is_refused_on_the_numpy_target():
    """The docs' Interp layer at 200000 x 200000 with a symbolic batch: refused before any allocation."""
    from graphc import LayerError
    from graphc.layers import LayerRegistry

    class Interp(graphc.Layer):
        height = graphc.Param(int)
        width = graphc.Param(int)

        def output_shapes(self, input_shapes):
            n, c, _, _ = input_shapes[0]
            return [(n, c, self.height, self.width)]

        def forward(self, inputs, outputs, internals):
            outputs[0][...] = 0

    reg = LayerRegistry()
    reg.register("Interp", domain="caffe")(Interp)
    node = helper.make_node("Interp", ["x"], ["y"], domain="caffe", name="resize1", height=200_000, width=200_000)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("caffe", 1)])
    art = graphc.compile(model, target="numpy", layers=reg)
    with pytest.raises(LayerError, match=r"'resize1'.*promises 160000000000 bytes.*memory budget"):
        art.run({"x": np.ones((1, 1, 2, 2), np.float32)})


def test_a_fed_shape_over_the_budget_is_refused_before_allocation():
    """Expand to a shape fed as data: the plan cannot know the size, so the run checks it when the output is
    allocated. It used to compute the 800 MB result, then refuse it at re-planning, on every call."""
    import time
    import tracemalloc

    g = helper.make_graph([helper.make_node("Expand", ["x", "shape"], ["y"], name="grow")], "fed",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1]),
                           helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    art = graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), target="numpy",
                         memory_budget=10 << 20)
    x = np.ones((1, 1), np.float32)
    assert art.run({"x": x, "shape": np.array([100, 100])})["y"].shape == (100, 100)
    tracemalloc.start()
    try:
        for _ in range(3):
            start = time.perf_counter()
            with pytest.raises(PlanError, match=r"'grow'.*800000000 bytes, over the memory budget of 10485760"):
                art.run({"x": x, "shape": np.array([10_000, 20_000])})
            assert time.perf_counter() - start < 1.0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"the refused run allocated {peak} bytes"


def _window_model(size: int | None):
    """HannWindow of a constant ``size``, or of a size fed as input ``n`` (None)."""
    nodes = [helper.make_node("HannWindow", ["n"], ["y"], name="hann")]
    inputs = [helper.make_tensor_value_info("n", TensorProto.INT64, [])]
    if size is not None:
        nodes.insert(0, helper.make_node("Constant", [], ["n"], value=helper.make_tensor("n", TensorProto.INT64,
                                                                                        [], [size])))
        inputs = []
    g = helper.make_graph(nodes, "window", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


_UNDER_ADDRESS_LIMIT = """
import resource, sys, numpy as np, onnx, graphc
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
model = onnx.load_from_string(sys.stdin.buffer.read())
try:
    art = graphc.compile(model, target="numpy")
    art.run({} if not model.graph.input else {"n": np.array(int(sys.argv[1]))})
    print("ran")
except Exception as e:
    print(type(e).__name__, str(e).splitlines()[0])
"""


def _under_address_limit(model, fed: int = 0, budget: str | None = None) -> str:
    """What compiling and running ``model`` prints in a child process limited to 3 GiB of address space."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GRAPHC_MEMORY_BUDGET"}
    if budget is not None:
        env["GRAPHC_MEMORY_BUDGET"] = budget
    res = subprocess.run([sys.executable, "-c", _UNDER_ADDRESS_LIMIT, str(fed)], input=model.SerializeToString(),
                         capture_output=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    return res.stdout.decode().strip()


def test_the_default_budget_respects_the_address_space_limit():
    """HannWindow of a constant 3e9 (a 12 GB output) under ``ulimit -v`` 3 GiB: the default budget is half
    of the least of the machine's memory, the address-space limit and the container's limit, so the plan
    is refused naming the node (it was half the machine's memory, passed, and the run died of MemoryError)."""
    from graphc.limits import default_memory_budget

    out = _under_address_limit(_window_model(3_000_000_000))
    assert out.startswith("PlanError") and "'hann'" in out and "12000000000 bytes" in out, out
    assert "1610612736" in out, out  # half of 3 GiB
    assert default_memory_budget() > 0


def test_a_window_of_fed_size_is_checked_before_allocation():
    """The window kernels write into ``ctx.out`` (checked against the run's budget) a chunk at a time; they
    used to build the whole window in float64 first (240 MB of scratch for a 120 MB output here)."""
    import tracemalloc

    art = graphc.compile(_window_model(None), target="numpy", memory_budget=10 << 20)
    from onnx.reference import ReferenceEvaluator

    expected = ReferenceEvaluator(_window_model(None)).run(None, {"n": np.array(70_000)})[0]
    np.testing.assert_allclose(art.run({"n": np.array(70_000)})["y"], expected, atol=1e-6)
    tracemalloc.start()
    try:
        with pytest.raises(PlanError, match=r"HannWindow node 'hann'.*120000000 bytes"):
            art.run({"n": np.array(30_000_000)})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"the refused run allocated {peak} bytes"


def test_running_out_of_memory_in_a_kernel_is_a_plan_error_naming_the_node():
    """A budget set above what the process can allocate (GRAPHC_MEMORY_BUDGET=100 GB under ``ulimit -v``
    3 GiB): the kernel's MemoryError is a PlanError naming the node and what to do, not a bare GraphcError."""
    out = _under_address_limit(_window_model(None), fed=1_000_000_000, budget=str(100 << 30))
    assert out.startswith("PlanError") and "'hann'" in out and "out of memory" in out, out


def test_an_image_to_decode_is_checked_against_the_budget_before_decoding():
    """ImageDecoder (onnx.reference fallback) reads the image's header first: a 3000x3000 PNG of a few KB
    under a 16 MiB budget is a PlanError naming the node and the dimensions, with nothing decoded (a 236 KB
    PNG of 9000x9000 pixels peaked at 869 MB). A small image still decodes."""
    import io
    import tracemalloc

    image = pytest.importorskip("PIL.Image")

    def png(width: int, height: int) -> np.ndarray:
        buf = io.BytesIO()
        image.new("RGB", (width, height), (10, 20, 30)).save(buf, format="PNG")
        return np.frombuffer(buf.getvalue(), np.uint8)

    g = helper.make_graph([helper.make_node("ImageDecoder", ["b"], ["y"], name="decode")], "decode",
                          [helper.make_tensor_value_info("b", TensorProto.UINT8, [None])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)])
    art = graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]), target="numpy",
                         memory_budget=16 << 20)
    small = art.run({"b": png(20, 10)})["y"]
    assert small.shape == (10, 20, 3) and small[0, 0].tolist() == [10, 20, 30]
    big = png(3000, 3000)
    tracemalloc.start()
    try:
        with pytest.raises(PlanError, match=r"ImageDecoder node 'decode': decoding a 3000x3000 image.*16777216"):
            art.run({"b": big})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"the refused run allocated {peak} bytes"


def _stacking_loop(trips: int):
    """A Loop emitting a fed-size value (``Expand`` of x to ``shape``) as a scan output ``trips`` times."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["s_in"], ["s_out"]),
         helper.make_node("Identity", ["big"], ["scan"], name="emit")], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_out", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("scan", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("Constant", [], ["M"], value=helper.make_tensor("M", TensorProto.INT64, [], [trips])),
             helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True])),
             helper.make_node("Expand", ["x", "shape"], ["big"], name="expand"),
             helper.make_node("Loop", ["M", "c", "x"], ["s", "stack"], name="stacking", body=body),
             helper.make_node("ReduceSum", ["stack"], ["y"], keepdims=0)]
    g = helper.make_graph(nodes, "stacking", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1]),
                                              helper.make_tensor_value_info("shape", TensorProto.INT64, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_loop_scan_outputs_are_checked_as_they_grow():
    """200 iterations each emitting 1 MB as a scan output, under a 10 MiB budget: no single value is over it,
    so the run used to stack all 200 MB and only then refuse at re-planning; the Loop now counts what its scan
    outputs hold and stops at the iteration that passes the budget."""
    import tracemalloc

    art = graphc.compile(_stacking_loop(200), target="numpy", memory_budget=10 << 20)
    feeds = {"x": np.ones(1, np.float32), "shape": np.array([262_144])}
    assert float(art.run({"x": feeds["x"], "shape": np.array([4])})["y"]) == 800.0
    tracemalloc.start()
    try:
        with pytest.raises(PlanError, match=r"Loop node 'stacking': its scan outputs need \d+ bytes after 11 "
                                            r"iterations, over the memory budget of 10485760"):
            art.run(feeds)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"the refused run allocated {peak} bytes"


def test_a_concat_doubling_chain_of_symbolic_size_stops_at_the_budget():
    """40 Concats each doubling a value of symbolic length N (the plan knows no size; 2^40 x N floats in the
    end): refused at the first output that, with its input still live, is over the budget, naming that node
    (issue 20: grew to MemoryError; checked alone, the 8 MiB output of cat18 passed with its 4 MiB input live,
    and cat19's 16 MiB was the first refused)."""
    nodes, prev = [], "x"
    for i in range(40):
        nodes.append(helper.make_node("Concat", [prev, prev], [f"c{i}"], axis=0, name=f"cat{i}"))
        prev = f"c{i}"
    nodes.append(helper.make_node("ReduceSum", [prev], ["y"], keepdims=0))
    g = helper.make_graph(nodes, "doubling", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    art = graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), target="numpy",
                         memory_budget=10 << 20)
    with pytest.raises(PlanError, match=r"Concat node 'cat18'.*8388608 bytes while 4194304 bytes .* still live, "
                                        r"together over the memory budget of 10485760"):
        art.run({"x": np.ones(4, np.float32)})


def _two_live_values_model():
    """``a = x * 2`` and ``b = x * 3``, both alive until ``y = a + b``: three values of run-time size."""
    nodes = [helper.make_node("Mul", ["x", "two"], ["a"], name="double"),
             helper.make_node("Mul", ["x", "three"], ["b"], name="triple"),
             helper.make_node("Add", ["a", "b"], ["y"], name="sum")]
    g = helper.make_graph(nodes, "colive", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])],
                          [helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
                           helper.make_tensor("three", TensorProto.FLOAT, [], [3.0])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_values_of_run_time_size_live_at_once_count_together():
    """Two 6 MiB values alive at once under a 10 MiB budget: each passed the per-value check alone (the
    run held 12 MiB plus its output); now the second is refused naming the node and the live bytes. The same
    model under a 20 MiB budget runs and gives 5x."""
    x = np.arange(6 << 18, dtype=np.float32)  # 6 MiB
    art = graphc.compile(_two_live_values_model(), target="numpy", memory_budget=10 << 20)
    with pytest.raises(PlanError, match=r"Mul node '(double|triple)'.*6291456 bytes while 6291456 bytes .* "
                                        r"still live, together over the memory budget of 10485760"):
        art.run({"x": x})
    art = graphc.compile(_two_live_values_model(), target="numpy", memory_budget=20 << 20)
    np.testing.assert_array_equal(art.run({"x": x})["y"], x * 5)


def test_a_chain_whose_values_die_in_turn_stays_within_the_budget():
    """Values freed after their last reader do not add up: 8 x 4 MiB in a row (two alive at a time) under
    10 MiB, on the first run of the shape too, which records shapes for re-planning (it kept every value alive
    until the end: 32 MiB counted, refused at the third)."""
    nodes, prev = [], "x"
    for i in range(8):
        nodes.append(helper.make_node("Mul", [prev, "one"], [f"t{i}"], name=f"scale{i}"))
        prev = f"t{i}"
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["N"])],
                          [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])])
    art = graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), target="numpy",
                         memory_budget=10 << 20)
    x = np.arange(1 << 20, dtype=np.float32)
    for _ in range(2):
        np.testing.assert_array_equal(art.run({"x": x})[prev], x)


def test_a_loop_doubling_its_state_stops_at_the_budget():
    """A Loop of 40 iterations whose body doubles its carried state: refused inside the body, at the first
    state over the budget, the error naming the Loop and the body's node (issue 20: grew to MemoryError)."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Concat", ["s_in", "s_in"], ["s_out"], axis=0, name="grow")], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_out", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("Constant", [], ["M"], value=helper.make_tensor("M", TensorProto.INT64, [], [40])),
             helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True])),
             helper.make_node("Loop", ["M", "c", "x"], ["s"], name="doubling", body=body),
             helper.make_node("ReduceSum", ["s"], ["y"], keepdims=0)]
    g = helper.make_graph(nodes, "loop", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    art = graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), target="numpy",
                         memory_budget=10 << 20)
    with pytest.raises(PlanError, match=r"'doubling'.*Concat node 'grow'.*over the memory budget of 10485760"):
        art.run({"x": np.ones(1, np.float32)})


def _peak_of(fn):
    """(exception raised or None, peak traced bytes) of calling ``fn``."""
    import tracemalloc

    tracemalloc.start()
    try:
        try:
            fn()
            err = None
        except PlanError as e:
            err = e
        return err, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _conv7x7_budget_model():
    """A one-channel 7x7 Conv over an image of symbolic size, compiled for the numpy target with a 10 MiB budget."""
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], "conv",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 7, 7], np.ones(49, np.float32))])
    return graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), target="numpy",
                          memory_budget=10 << 20)


def test_a_convolutions_im2col_scratch_is_checked_against_the_budget(monkeypatch):
    """A 7x7 Conv over a 512x512 image of symbolic size on the numpy im2col path (compiled convolutions off): its
    1 MiB output fits a 10 MiB budget, but the im2col columns it builds (49 taps x ~259,000 columns, 50 MB) do
    not: a PlanError naming the node and the scratch before it is allocated (the run used to allocate the 50 MB).
    A 64x64 image runs and matches a direct sum."""
    from targets.numpy.kernels import conv2d

    monkeypatch.setattr(conv2d, "CONV_JIT", False)
    art = _conv7x7_budget_model()
    small = np.arange(64 * 64, dtype=np.float32).reshape(1, 1, 64, 64) / 4096
    want = np.lib.stride_tricks.sliding_window_view(small[0, 0], (7, 7)).sum(axis=(2, 3))
    np.testing.assert_allclose(art.run({"x": small})["y"][0, 0], want, rtol=1e-5)
    x = np.ones((1, 1, 512, 512), np.float32)
    err, peak = _peak_of(lambda: art.run({"x": x}))
    assert err is not None and "Conv node 'conv': its scratch 'conv-cols'" in str(err), err
    assert "over the memory budget of 10485760" in str(err)
    assert peak < 10 << 20, f"the refused run allocated {peak} bytes"


def test_the_compiled_convolution_runs_that_image_within_the_budget():
    """The same Conv where numba is available: the compiled one-channel (depthwise) loop builds no im2col
    columns, so the 512x512 run fits the 10 MiB budget and gives the direct sum (49 at every position)."""
    from targets.numpy.kernels import jit

    if not jit.available():
        pytest.skip("numba is not importable or GRAPHC_JIT=0: the numpy path is checked above")
    art = _conv7x7_budget_model()
    art.run({"x": np.ones((1, 1, 64, 64), np.float32)})  # numba compiles (Python objects tracemalloc counts)
    x = np.ones((1, 1, 512, 512), np.float32)
    err, peak = _peak_of(lambda: art.run({"x": x}))
    assert err is None, err
    assert peak < 10 << 20, f"the run allocated {peak} bytes"
    np.testing.assert_array_equal(art.run({"x": x})["y"], np.full((1, 1, 506, 506), 49, np.float32))


def test_a_fallback_nodes_output_is_predicted_and_checked_before_it_runs():
    """RandomUniformLike (run by onnx.reference) of a fed 3 MiB float32 input, as float64: ONNX shape inference
    with the run's input shape predicts 6 MiB, over a 4 MiB budget: a PlanError naming the node and its output
    before the evaluator runs (it used to draw the 6 MiB, then refuse at re-planning)."""
    g = helper.make_graph([helper.make_node("RandomUniformLike", ["x"], ["y"], name="rnd", dtype=TensorProto.DOUBLE,
                                            low=2.0, high=3.0)], "rnd",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                          [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    art = graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), target="numpy",
                         memory_budget=4 << 20)
    y = art.run({"x": np.ones(1000, np.float32)})["y"]
    assert y.shape == (1000,) and y.dtype == np.float64 and 2.0 <= y.min() and y.max() < 3.0
    x = np.ones(3 << 18, np.float32)
    err, peak = _peak_of(lambda: art.run({"x": x}))
    assert err is not None, "a 6 MiB output ran under a 4 MiB budget"
    assert ("RandomUniformLike node 'rnd': output 'y' (predicted before the onnx.reference fallback runs) of shape "
            "[786432] needs 6291456 bytes, over the memory budget of 4194304") in str(err)
    assert peak < 1 << 20, f"the refused run allocated {peak} bytes"
