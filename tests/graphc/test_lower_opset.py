"""lower-opset{opset=N,ir=M} through `graphc optimize` (issue 21 Low: its re-stamp and refusal
branches were untested). Schema versions below are from the ONNX operator changelog: Relu and Add
changed in opset 14, Identity in 16, Neg in 13, Flat is a custom-domain op."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from graphc.cli import main


def _vec(name: str):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [3])


def _model(path, nodes, opset: int = 17, ir: int = 9, outputs=("y",), extra_opsets=()):
    g = helper.make_graph(nodes, "g", [_vec("x")], [_vec(o) for o in outputs])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), *extra_opsets])
    m.ir_version = ir
    onnx.save(m, path)
    return str(path)


def _relu_add(path, opset: int = 17, ir: int = 9):
    return _model(path, [helper.make_node("Relu", ["x"], ["r"], name="relu"),
                         helper.make_node("Add", ["r", "x"], ["y"], name="add")], opset, ir)


def _optimize(model, out, spec: str) -> int:
    return main(["optimize", model, "-o", str(out), "--passes", f"lower-opset{{{spec}}}"])


def test_restamps_opset_and_ir_when_no_op_changed_since(tmp_path, capsys):
    model = _relu_add(tmp_path / "m.onnx")
    assert _optimize(model, tmp_path / "o.onnx", "opset=14,ir=7") == 0
    assert "changed by: lower-opset (2)" in capsys.readouterr().out
    out = onnx.load(tmp_path / "o.onnx")
    assert {o.domain: o.version for o in out.opset_import} == {"": 14} and out.ir_version == 7
    assert [(n.op_type, n.name) for n in out.graph.node] == [("Relu", "relu"), ("Add", "add")]
    onnx.checker.check_model(out, full_check=True)  # the ops are valid at opset 14 / IR 7
    x = np.array([-1.5, 0.0, 2.0], np.float32)
    sess = ort.InferenceSession(out.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], np.array([-1.5, 0.0, 4.0], np.float32))


def test_ir_only_and_nothing_to_do(tmp_path, capsys):
    model = _relu_add(tmp_path / "m.onnx", opset=14, ir=8)
    assert _optimize(model, tmp_path / "a.onnx", "opset=17,ir=9") == 0  # already at or below both
    assert "changed by: nothing" in capsys.readouterr().out
    a = onnx.load(tmp_path / "a.onnx")
    assert a.opset_import[0].version == 14 and a.ir_version == 8
    assert _optimize(model, tmp_path / "b.onnx", "ir=7") == 0  # opset=0 leaves the opset alone
    assert "changed by: lower-opset (1)" in capsys.readouterr().out
    b = onnx.load(tmp_path / "b.onnx")
    assert b.opset_import[0].version == 14 and b.ir_version == 7


def test_refuses_naming_each_changed_op_its_version_and_nodes(tmp_path, capsys):
    model = _relu_add(tmp_path / "m.onnx")
    assert _optimize(model, tmp_path / "o.onnx", "opset=13") == 1
    err = capsys.readouterr().err
    assert "the model uses ai.onnx opset 17 but the target accepts at most 13" in err
    assert "Add (changed in opset 14): nodes add" in err and "Relu (changed in opset 14): nodes relu" in err
    assert "Re-export the model at opset 13, or install a runtime that accepts opset 17" in err
    assert not (tmp_path / "o.onnx").exists()


def test_refusal_lists_five_nodes_then_a_count_and_ignores_unchanged_and_custom_ops(tmp_path, capsys):
    nodes = [helper.make_node("Neg", ["x"], ["n"], name="neg"),
             helper.make_node("Flat", ["n"], ["f"], name="flat", domain="test")]
    prev = "n"
    for i in range(7):
        nodes.append(helper.make_node("Identity", [prev], [f"i{i}"], name=f"id{i}"))
        prev = f"i{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"], name="last"))
    model = _model(tmp_path / "m.onnx", nodes, outputs=("y", "f"), extra_opsets=[helper.make_opsetid("test", 1)])
    assert _optimize(model, tmp_path / "o.onnx", "opset=15") == 1
    err = capsys.readouterr().err
    assert "Identity (changed in opset 16): nodes id0, id1, id2, id3, id4 and 3 more" in err
    assert "Neg" not in err and "Flat" not in err
    assert _optimize(model, tmp_path / "o.onnx", "opset=16") == 0  # Neg (13) and Identity (16) allow 16
    assert onnx.load(tmp_path / "o.onnx").opset_import[0].version == 16


def test_ops_inside_subgraphs_count(tmp_path, capsys):
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"], name="inner_relu")], "then", [], [_vec("t")])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"], name="inner_neg")], "else", [], [_vec("e")])
    cond = helper.make_node("Constant", [], ["c"], name="c",
                            value=helper.make_tensor("c", TensorProto.BOOL, [], [True]))
    model = _model(tmp_path / "m.onnx", [cond, helper.make_node("If", ["c"], ["y"], name="if",
                                                                then_branch=then_g, else_branch=else_g)])
    assert _optimize(model, tmp_path / "o.onnx", "opset=13") == 1
    err = capsys.readouterr().err
    assert "Relu (changed in opset 14): nodes inner_relu" in err and "inner_neg" not in err
