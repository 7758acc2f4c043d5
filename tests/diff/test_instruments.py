"""DiffPrinter, StageDumper and NumericsCheck around real pipelines, and a wrong rewrite caught."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from rich.console import Console

from graphc import PassContext, PassManager, load_model
from graphc.diff import GraphDiff
from graphc.diff.instrument import DiffPrinter, NumericsCheck, NumericsError, StageDumper, seeded_inputs
from graphc.exporters.onnx import to_onnx
from graphc.passinfra import PassRegistry, graph_pass
from graphc.passinfra.declare import PASSES
from graphc.pattern import P, Rule, RuleSet, var
from tests.conftest import ort_session

F = TensorProto.FLOAT


def mlp_model() -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "B"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "c")]
    nodes = [helper.make_node("MatMul", ["x", "B"], ["t"], name="mm"), helper.make_node("Add", ["t", "c"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["y"], name="relu")]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", F, [2, 3])],
                          [helper.make_tensor_value_info("y", F, [2, 4])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def ort_runner(graph, feeds, ctx):
    model = to_onnx(graph)
    sess = ort_session(model)
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


#: the deliberately wrong rewrite: Add -> Sub
ADD_TO_SUB = RuleSet([Rule("add-to-sub", P.Add(var("a"), var("b")), lambda m, b: b.Sub(m["a"], m["b"]))], name="wrong-add-to-sub")


@pytest.fixture
def registry():
    reg = PassRegistry()
    for name in ("canonicalize", "dce", "infer-shapes", "fuse-matmul-add", "fuse-activation"):
        reg.add(PASSES.get(name))

    @graph_pass("wrong-add-to-sub", "a broken rewrite: Add becomes Sub", registry=reg)
    def wrong(graph, ctx):
        return ADD_TO_SUB.apply(graph, ctx)

    return reg


def test_diff_printer_prints_only_changing_passes(registry):
    console = Console(record=True, width=120, no_color=True)
    graph = load_model(mlp_model())
    PassManager("canonicalize,infer-shapes,fuse-matmul-add,dce", registry).run(graph, PassContext(instruments=[DiffPrinter(console)]))
    text = console.export_text()
    assert "fuse-matmul-add (matmul-add=1)" in text and "graph diff: +1 −2 ~0   ops 3 → 2" in text
    assert "+ Gemm add_Gemm" in text
    assert "── dce" not in text and "canonicalize" not in text  # no change, no diff
    assert text.count("graph diff:") == 2  # infer-shapes typed values, fuse-matmul-add fused


def test_stage_dumper_writes_changed_stages(tmp_path, registry):
    graph = load_model(mlp_model())
    dumper = StageDumper(tmp_path / "stages")
    PassManager("canonicalize,fuse-matmul-add,dce", registry).run(graph, PassContext(instruments=[dumper]))
    names = sorted(p.name for p in (tmp_path / "stages").iterdir())
    assert names == ["00_input.onnx", "01_fuse-matmul-add.onnx"]
    diff = GraphDiff(load_model(tmp_path / "stages" / names[0]), load_model(tmp_path / "stages" / names[1]))
    assert diff.summary["added"] == 1 and diff.summary["removed"] == 2


def test_numerics_check_passes_a_correct_pipeline(registry):
    check = NumericsCheck(runner=ort_runner)
    graph = load_model(mlp_model())
    PassManager("canonicalize,infer-shapes,fuse-matmul-add,fuse-activation", registry).run(graph, PassContext(instruments=[check]))
    assert check.checked == ["infer-shapes", "fuse-matmul-add", "fuse-activation"]


def test_numerics_check_names_the_wrong_pass(registry):
    graph = load_model(mlp_model())
    check = NumericsCheck(runner=ort_runner)
    with pytest.raises(NumericsError, match=r"pass 'wrong-add-to-sub' changed the model's outputs beyond tolerance .*output 'y' differs"):
        PassManager("canonicalize,fuse-activation,wrong-add-to-sub,dce", registry).run(graph, PassContext(instruments=[check]))
    assert check.checked == []  # fuse-activation found nothing to do (no Conv/Gemm yet): never checked


def test_numerics_check_with_the_numpy_target_names_the_wrong_pass(registry):
    graph = load_model(mlp_model())
    with pytest.raises(NumericsError, match="pass 'wrong-add-to-sub'") as info:
        PassManager("canonicalize,infer-shapes,wrong-add-to-sub", registry).run(
            graph, PassContext(instruments=[NumericsCheck()]))
    assert info.value.pass_name == "wrong-add-to-sub"


def test_seeded_inputs_are_deterministic():
    graph = load_model(mlp_model())
    a, b = seeded_inputs(graph, 3), seeded_inputs(graph, 3)
    assert a.keys() == {"x"} and np.array_equal(a["x"], b["x"]) and a["x"].dtype == np.float32


def test_check_numerics_flag_names_the_wrong_pass_and_writes_nothing(tmp_path, capsys):
    from graphc.cli.main import main

    @graph_pass("wrong-add-to-sub-cli", "test only: rewrites Add into Sub", registry=PASSES)
    def wrong_cli(graph, ctx):
        return ADD_TO_SUB.apply(graph, ctx)

    src, out = tmp_path / "mlp.onnx", tmp_path / "out.onnx"
    onnx.save(mlp_model(), src)
    try:
        code = main(["optimize", str(src), "-o", str(out), "--check-numerics",
                     "--passes", "canonicalize,infer-shapes,wrong-add-to-sub-cli"])
    finally:
        PASSES.remove("wrong-add-to-sub-cli")
    err = capsys.readouterr().err
    assert code == 1 and "pass 'wrong-add-to-sub-cli' changed the model's outputs" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
