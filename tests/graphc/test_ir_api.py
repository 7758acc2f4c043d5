"""The IR's query API (issue 18 item 2): one recursive walk, use queries without networkx,
captures apart from uses, graph inputs/outputs that keep the graph's index in step."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from graphc import Graph, TensorType, VerifyError
from graphc.frontends.onnx import load_onnx

F32 = TensorType(np.dtype("float32"), (2,))


def _if_model():
    """abs -> If (then: Exp(Relu(outer)), else: Neg(outer)) -> Sigmoid tail."""
    then = helper.make_graph([helper.make_node("Relu", ["outer"], ["t"], name="t_relu"),
                              helper.make_node("Exp", ["t"], ["t2"], name="t_exp")], "then", [],
                             [helper.make_tensor_value_info("t2", TensorProto.FLOAT, [2])])
    other = helper.make_graph([helper.make_node("Neg", ["outer"], ["e"], name="e_neg")], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    nodes = [helper.make_node("Abs", ["x"], ["outer"], name="abs"),
             helper.make_node("If", ["c"], ["y0"], name="if", then_branch=then, else_branch=other),
             helper.make_node("Sigmoid", ["y0"], ["y"], name="tail")]
    return load_onnx(helper.make_model(helper.make_graph(
        nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                     helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])))


def test_walk_orders_and_owning_graphs():
    g = _if_model()
    pre = [(op.name, op.graph.name) for op in g.walk()]
    # subgraphs in attribute order (onnx.helper sorts attributes: else_branch, then_branch)
    assert pre == [("abs", "m"), ("if", "m"), ("e_neg", "else"), ("t_relu", "then"), ("t_exp", "then"), ("tail", "m")]
    post = [op.name for op in g.walk("post")]
    assert post == ["abs", "e_neg", "t_relu", "t_exp", "if", "tail"]
    assert [sub.name for sub in g.all_graphs()] == ["m", "else", "then"]
    with pytest.raises(ValueError, match="'pre' or 'post'"):
        list(g.walk("sideways"))


def test_walk_skips_an_op_removed_before_its_turn():
    g = Graph()
    x = g.add_input("x", F32)
    a = g.add_op("Relu", [x], ["a"], name="a")
    b = g.add_op("Neg", [x], ["b"], name="b")
    g.outputs.append(a.outputs[0])
    seen = []
    for op in g.walk():
        seen.append(op.name)
        if op.name == "a":
            g.remove_op(b)  # b is dead; removed before the walk reaches it
    assert seen == ["a"]


def test_uses_captures_and_is_used():
    g = _if_model()
    outer, if_op = g.value("outer"), g.op("if")
    assert outer.uses() == []  # only the If's bodies read it: a capture, not a use slot
    assert outer.capturers() == [if_op]
    assert outer.consumers() == [if_op] and outer.is_used()
    assert g.captures(if_op) == [outer]
    y0 = g.value("y0")
    assert y0.uses() == [(g.op("tail"), 0)] and not y0.is_graph_output()
    y = g.value("y")
    assert y.uses() == [] and y.is_graph_output() and y.is_used()
    assert g.value("x").is_graph_input() and not y.is_graph_input()


def test_unused_value_reports_unused_and_can_be_removed():
    g = Graph()
    x = g.add_input("x", F32)
    r = g.add_op("Relu", [x], ["r"], name="r")
    g.outputs.append(r.outputs[0])
    dead = g.add_op("Neg", [x], ["n"], name="n").outputs[0]
    assert not dead.is_used() and x.uses() == [(g.op("r"), 0), (g.op("n"), 0)]
    g.remove_op(g.op("n"))
    assert x.uses() == [(g.op("r"), 0)] and "n" not in g.values
    with pytest.raises(VerifyError, match="still used by the graph outputs"):
        g.remove_op(g.op("r"))


def test_outputs_list_keeps_membership_in_step():
    g = Graph()
    x = g.add_input("x", F32)
    a, b = (g.add_op(t, [x], [n], name=n).outputs[0] for t, n in (("Relu", "a"), ("Neg", "b")))
    g.outputs.append(a)
    assert g.is_output(a) and not g.is_output(b)
    g.outputs[0] = b
    assert g.is_output(b) and not g.is_output(a)
    g.outputs += [a]
    assert g.is_output(a)
    g.outputs.remove(a)
    del g.outputs[0]
    assert not g.is_output(a) and not g.is_output(b)
    g.outputs = [a]
    assert g.is_output(a)
    g.outputs.append(b)
    assert g.is_output(b)  # the list assigned above notifies too
    g.inputs.pop()
    assert not g.is_input(x)


def test_networkx_view_is_a_snapshot_with_capture_edges():
    g = _if_model()
    view = g.nx
    if_op, outer = g.op("if"), g.value("outer")
    assert view.has_edge(outer, if_op, key="capture")
    assert view.has_edge(g.value("y0"), g.op("tail"), key=0)
    view.remove_node(if_op)  # changing the view leaves the graph alone
    assert "if" in g.ops
    g.verify()


def test_verify_names_a_use_record_out_of_step():
    g = Graph()
    x = g.add_input("x", F32)
    r = g.add_op("Relu", [x], ["r"], name="r")
    g.outputs.append(r.outputs[0])
    r.inputs.append(x)  # behind the graph's back: no use record for slot 1
    with pytest.raises(VerifyError, match="op 'r' \\(Relu\\): input slots disagree"):
        g.verify()


def test_name_collisions_op_names_are_derived_value_names_are_refused():
    g = Graph()
    x = g.add_input("x", F32)
    a = g.add_op("Relu", [x], ["a"], name="n")
    b = g.add_op("Relu", [a.outputs[0]], ["b"], name="n")  # a duplicate node name, as ONNX allows
    assert a.name == "n" and b.name != "n" and b.name.startswith("n")
    with pytest.raises(VerifyError, match="already has a value named 'a'"):
        g.add_value("a")
    assert g.add_value().name not in ("a", "b", "x")
