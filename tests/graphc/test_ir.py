"""The IR's invariants: verify() names offenders, mutation keeps networkx and lists in step."""

from __future__ import annotations

import numpy as np
import pytest

from graphc import Graph, TensorType, VerifyError

F32 = TensorType(np.dtype("float32"), (2, 3))


def chain(n: int) -> Graph:
    g = Graph()
    v = g.add_input("x", F32)
    for i in range(n):
        v = g.add_op("Relu", [v], [f"v{i}"], name=f"op{i}").outputs[0]
    g.add_output(v)
    return g


def test_topological_order_is_deterministic_and_follows_insertion():
    g = Graph()
    x = g.add_input("x", F32)
    a = g.add_op("Relu", [x], ["a"], name="a")
    b = g.add_op("Neg", [x], ["b"], name="b")
    c = g.add_op("Add", [b.outputs[0], a.outputs[0]], ["c"], name="c")
    g.add_output(c.outputs[0])
    assert [op.name for op in g.topological_order()] == ["a", "b", "c"]
    assert [op.name for op in g.copy().topological_order()] == ["a", "b", "c"]


def test_copy_is_independent():
    g = chain(3)
    h = g.copy()
    h.replace_all_uses(h.value("v1"), h.value("v0"))
    h.remove_op(h.op("op1"))
    assert len(g) == 3 and len(h) == 2
    g.verify()
    h.verify()


def test_remove_op_refuses_live_outputs():
    g = chain(2)
    with pytest.raises(VerifyError, match=r"op0.*still used by ops \['op1'\]"):
        g.remove_op(g.op("op0"))


def test_replace_region_refuses_dangling_uses():
    g = chain(4)
    region = [g.op("op1"), g.op("op2")]
    with pytest.raises(VerifyError, match="'v2'.*dangling.*op3"):
        g.replace_region(region, {})
    g.replace_region(region, {g.value("v2"): g.value("v0")})
    g.verify()
    assert [op.name for op in g.topological_order()] == ["op0", "op3"]
    assert g.op("op3").inputs[0].name == "v0"


def test_verify_names_the_node_with_a_bad_slot():
    g = chain(2)
    op = g.op("op1")
    op.inputs.append(g.value("x"))  # bypassing the Graph methods
    with pytest.raises(VerifyError, match="op 'op1' \\(Relu\\): input slots"):
        g.verify()


def test_cycle_is_reported():
    g = chain(2)
    g.set_input(g.op("op0"), 0, g.value("v1"))
    with pytest.raises(VerifyError, match="cycle"):
        g.verify()


def test_fold_to_constants_keeps_readers():
    g = chain(2)
    g.fold_to_constants(g.op("op0"), [np.zeros((2, 3), np.float32)])
    g.verify()
    assert g.value("v0").is_const and g.op("op1").inputs[0] is g.value("v0")


def test_subgraph_captures_outer_values():
    from onnx import TensorProto, helper

    from graphc.frontends.onnx import load_onnx

    then = helper.make_graph([helper.make_node("Relu", ["outer"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    other = helper.make_graph([helper.make_node("Neg", ["outer"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    nodes = [helper.make_node("Abs", ["x"], ["outer"], name="abs"),
             helper.make_node("If", ["c"], ["y"], name="if", then_branch=then, else_branch=other)]
    model = helper.make_model(helper.make_graph(
        nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                     helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])]))
    g = load_onnx(model)
    g.verify()
    if_op = g.op("if")
    assert [v.name for v in g.captures(if_op)] == ["outer"]
    assert [op.name for op in g.topological_order()] == ["abs", "if"]
    g.rename_value(g.value("outer"), "renamed")
    g.verify()
    assert g.op("if").attrs["then_branch"].topological_order()[0].inputs[0].name == "renamed"
