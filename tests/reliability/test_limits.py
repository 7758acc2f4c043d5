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
    with pytest.raises(GraphcError, match="runaway"):
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
