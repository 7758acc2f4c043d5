"""The buffer plan lives in memory (graph.meta), never in exported metadata; artifacts saved
when graphc still exported it (graph metadata ``graphc.plan``, JSON) keep loading."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import onnx
from onnx import TensorProto, helper, numpy_helper

import graphc
from graphc.exporters.onnx import to_onnx
from graphc.planning import LEGACY_PLAN_KEY, PLAN_KEY, BufferPlan, read_plan
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _model() -> onnx.ModelProto:
    """x -> Add(b) -> Relu -> Mul(2) -> Sigmoid -> y: intermediates the planner places in the arena."""
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    nodes = [helper.make_node("Add", ["x", "b"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["r"], name="relu"),
             helper.make_node("Mul", ["r", "two"], ["m"], name="mul"),
             helper.make_node("Sigmoid", ["m"], ["y"], name="sigmoid")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [4, 8]),
                                       helper.make_tensor_value_info("b", F, [4, 8])],
                          [helper.make_tensor_value_info("y", F, [4, 8])], [two])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _feeds() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x": rng.standard_normal((4, 8), np.float32), "b": rng.standard_normal((4, 8), np.float32)}


def _all_metadata_keys(model: onnx.ModelProto) -> set[str]:
    keys = {p.key for p in model.metadata_props} | {p.key for p in model.graph.metadata_props}
    for vi in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        keys |= {p.key for p in vi.metadata_props}
    return keys


def test_planned_graph_keeps_the_plan_in_memory_and_exports_no_plan():
    art = graphc.compile(_model(), target="numpy")
    plan = read_plan(art.graph)
    assert isinstance(plan, BufferPlan) and plan.offsets  # "s", "r", "m" live in the arena
    assert art.graph.meta[PLAN_KEY] is plan
    assert PLAN_KEY not in art.graph.metadata
    assert "graphc.plan" not in _all_metadata_keys(to_onnx(art.graph))
    assert art.graph.copy().meta == {}  # analysis results are not carried by a copy


def test_saved_artifact_has_no_plan_in_its_model(tmp_path):
    path = tmp_path / "m.graphc"
    graphc.compile(_model(), target="numpy").save(path)
    with zipfile.ZipFile(path) as z:
        model = onnx.load_from_string(z.read("model.onnx"))
        manifest = json.loads(z.read("manifest.json"))
    assert "graphc.plan" not in _all_metadata_keys(model)
    assert manifest["plan"]["arena_bytes"] > 0  # the figures stay in the manifest


def _with_legacy_plan(path, out, plan_json: str) -> None:
    """Rewrite a saved artifact as graphc wrote it before the in-memory store: the plan's JSON in
    the graph's metadata_props under ``graphc.plan``."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    model = onnx.load_from_string(members["model.onnx"])
    model.graph.metadata_props.add(key=LEGACY_PLAN_KEY, value=plan_json)
    members["model.onnx"] = model.SerializeToString()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    out.write_bytes(buf.getvalue())


def test_artifact_saved_with_the_legacy_plan_metadata_loads_and_runs(tmp_path):
    saved = tmp_path / "new.graphc"
    art = graphc.compile(_model(), target="numpy")
    art.save(saved)
    # a stale plan (an arena too small for one tensor) must not be used
    stale = BufferPlan.from_json(art.plan.to_json())
    stale.arena_bytes = 64
    stale.buffers = [(0, 64, 0, 3)]
    old = tmp_path / "old.graphc"
    _with_legacy_plan(saved, old, stale.to_json())

    loaded = graphc.load(old)
    feeds = _feeds()
    want = ort_run(_model(), feeds)["y"]
    np.testing.assert_allclose(loaded.run(feeds)["y"], want, rtol=1e-6, atol=1e-6)
    assert LEGACY_PLAN_KEY not in loaded.graph.metadata
    assert read_plan(loaded.graph) is loaded.plan
    assert loaded.plan.to_json() == art.plan.to_json() != stale.to_json()  # re-planned, not read back
    resaved = tmp_path / "resaved.graphc"
    loaded.save(resaved)
    with zipfile.ZipFile(resaved) as z:
        assert "graphc.plan" not in _all_metadata_keys(onnx.load_from_string(z.read("model.onnx")))


def _matmul_add_model() -> onnx.ModelProto:
    """x @ w + c -> Relu -> y: fuse-matmul-add has work to do even after plan-buffers."""
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((8, 6)).astype(np.float32), "w")
    c = numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "c")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"], name="mm"),
             helper.make_node("Add", ["mm", "c"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["y"], name="relu")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [4, 8])],
                          [helper.make_tensor_value_info("y", F, [4, 6])], [w, c])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_a_pass_that_changes_the_graph_after_plan_buffers_drops_the_plan():
    from graphc.compiler import run_pipeline
    from targets.numpy.target import MINIMAL_PIPELINE

    graph, _, _ = run_pipeline(_matmul_add_model(), "numpy", passes=MINIMAL_PIPELINE)
    assert read_plan(graph) is not None and "mm" in read_plan(graph).offsets
    graph, _, _ = run_pipeline(_matmul_add_model(), "numpy", passes=MINIMAL_PIPELINE + ",dce")
    assert read_plan(graph) is not None  # a pass that changes nothing keeps it
    passes = MINIMAL_PIPELINE + ",fuse-matmul-add"
    graph, _, _ = run_pipeline(_matmul_add_model(), "numpy", passes=passes)
    assert [op.op_type for op in graph.topological_order()] == ["Gemm", "Relu"]
    assert read_plan(graph) is None and graph.meta == {}
    art = graphc.compile(_matmul_add_model(), target="numpy", passes=passes)
    assert "mm" not in art.plan.offsets  # planned afresh for the fused graph
    x = np.random.default_rng(2).standard_normal((4, 8)).astype(np.float32)
    np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(_matmul_add_model(), {"x": x})["y"],
                               rtol=1e-5, atol=1e-5)


def _planned_graph():
    from graphc.compiler import run_pipeline
    from targets.numpy.target import MINIMAL_PIPELINE

    graph, _, _ = run_pipeline(_model(), "numpy", passes=MINIMAL_PIPELINE)
    assert read_plan(graph) is not None
    return graph


def _rewire(g):
    relu = g.op("relu")
    g.set_input(g.op("mul"), 0, relu.inputs[0])


def _add_op(g):
    g.add_op("Neg", [g.value("y")], 1)


def _remove_op(g):
    g.set_outputs([g.value("m")])
    g.remove_op(g.op("sigmoid"))


@pytest.mark.parametrize("mutate", [
    _rewire, _add_op, _remove_op,
    lambda g: g.rename_value(g.value("r"), "r2"),  # the plan's offsets are keyed by value name
    lambda g: g.rename_op(g.op("relu"), "relu2"),
    lambda g: g.add_output(g.value("r")),  # an output leaves the arena
    lambda g: g.reorder(list(reversed(g.topological_order()))),
], ids=["set_input", "add_op", "remove_op", "rename_value", "rename_op", "add_output", "reorder"])
def test_changing_a_planned_graph_drops_the_plan(mutate):
    g = _planned_graph()
    mutate(g)
    assert read_plan(g) is None and g.meta == {}


def test_changing_a_subgraph_drops_the_enclosing_graphs_analyses():
    from graphc.ir import Graph

    outer = Graph("outer")
    outer.meta["analysis"] = object()
    body = Graph("body")
    cond = outer.add_input("c", graphc.ir.TensorType(np.dtype(bool), ()))
    op = outer.add_op("If", [cond], 0, attrs={"then_branch": body, "else_branch": Graph("else")})
    outer.meta["analysis"] = object()
    assert body.parent is op
    body.add_op("Constant", [], 1, attrs={"value": np.zeros(1, np.float32)})
    assert outer.meta == {}
