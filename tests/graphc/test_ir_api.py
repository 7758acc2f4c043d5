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
    g.add_output(a.outputs[0])
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
    g.add_output(r.outputs[0])
    dead = g.add_op("Neg", [x], ["n"], name="n").outputs[0]
    assert not dead.is_used() and x.uses() == [(g.op("r"), 0), (g.op("n"), 0)]
    g.remove_op(g.op("n"))
    assert x.uses() == [(g.op("r"), 0)] and "n" not in g.values
    with pytest.raises(VerifyError, match="still used by the graph outputs"):
        g.remove_op(g.op("r"))


def test_outputs_change_through_graph_methods_and_keep_membership_in_step():
    g = Graph()
    x = g.add_input("x", F32)
    a, b = (g.add_op(t, [x], [n], name=n).outputs[0] for t, n in (("Relu", "a"), ("Neg", "b")))
    g.add_output(a)
    assert g.outputs == (a,) and g.is_output(a) and not g.is_output(b)
    g.replace_output(a, b)
    assert g.outputs == (b,) and g.is_output(b) and not g.is_output(a)
    g.set_outputs([b, a, b])
    assert g.outputs == (b, a, b) and g.is_output(a)
    g.remove_output(b)
    assert g.outputs == (a,) and not g.is_output(b)
    with pytest.raises(VerifyError, match="'b' is not an output"):
        g.remove_output(b)
    with pytest.raises(TypeError, match="must be Values, not str"):
        g.add_output("a")  # type: ignore[arg-type]
    g.set_inputs([])
    assert g.inputs == () and not g.is_input(x)
    g.set_inputs([x])
    assert g.is_input(x)


@pytest.mark.parametrize("mutate", [
    lambda g, v: g.outputs.append(v), lambda g, v: g.outputs.remove(v), lambda g, v: g.outputs.pop(),
    lambda g, v: g.outputs.__setitem__(0, v), lambda g, v: g.outputs.__delitem__(0),
    lambda g, v: g.outputs.__iadd__([v]), lambda g, v: g.outputs.extend([v]), lambda g, v: g.outputs.insert(0, v),
])
def test_mutating_the_outputs_view_names_the_graph_method(mutate):
    g = Graph()
    x = g.add_input("x", F32)
    g.add_output(x)
    with pytest.raises(TypeError, match=r"read-only: use Graph.add_output\(value\), set_outputs"):
        mutate(g, x)
    assert g.outputs == (x,) and g.is_output(x)


def test_assigning_or_mutating_inputs_names_the_graph_method():
    g = Graph()
    x = g.add_input("x", F32)
    with pytest.raises(TypeError, match=r"graph.inputs is read-only: use Graph.add_input\(name, type\)"):
        g.inputs.append(x)
    with pytest.raises(TypeError, match="graph.outputs is read-only"):
        g.outputs += [x]
    with pytest.raises(AttributeError, match="set_inputs"):
        g.inputs = [x]
    with pytest.raises(AttributeError, match="set_outputs"):
        g.outputs = [x]
    assert g.inputs == (x,) and g.outputs == ()


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
    g.add_output(r.outputs[0])
    r.inputs.append(x)  # behind the graph's back: no use record for slot 1
    with pytest.raises(VerifyError, match="op 'r' \\(Relu\\): input slots disagree"):
        g.verify()


def test_name_collisions_are_renamed_by_default_and_refused_with_exact():
    g = Graph()
    x = g.add_input("x", F32)
    a = g.add_op("Relu", [x], ["a"], name="n")
    b = g.add_op("Relu", [a.outputs[0]], ["b"], name="n")  # a duplicate node name, as ONNX allows
    assert a.name == "n" and b.name not in ("n", "a", "b", "x") and b.name.startswith("n__")
    v = g.add_value("a")
    assert v.name not in ("a", "b", "x", b.name) and v.name.startswith("a__") and g.value("a") is a.outputs[0]
    x2 = g.add_input("x", F32)
    assert x2.name.startswith("x__") and g.inputs == (x, x2)
    assert g.add_value().name not in g.ops and g.add_op("Neg", [x]).name == "Neg"
    with pytest.raises(VerifyError, match="graph 'main' already has a value named 'a'"):
        g.add_value("a", exact=True)
    with pytest.raises(VerifyError, match="graph 'main' already has an op named 'n'"):
        g.add_op("Relu", [x], name="n", exact=True)
    with pytest.raises(VerifyError, match="already has a value named 'x'"):
        g.add_input("x", F32, exact=True)
    assert g.inputs == (x, x2) and len(g.ops) == 3
    assert g.add_value("free", exact=True).name == "free" and g.add_op("Abs", [x], name="m", exact=True).name == "m"


def test_frontends_rename_duplicate_node_names_and_refuse_duplicate_input_names():
    from graphc.frontends.caffe import load_caffe

    model = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["a"], name="n"), helper.make_node("Neg", ["a"], ["y"], name="n")], "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])]))
    g = load_onnx(model)  # ONNX allows duplicate node names: the second is renamed
    relu, neg = g.value("a").producer(), g.value("y").producer()
    assert relu.name == "n" and neg.name.startswith("n__") and neg.op_type == "Neg"
    proto = (b'name: "n"\ninput: "data"\ninput_shape { dim: 1 dim: 3 }\ninput: "data"\ninput_shape { dim: 1 dim: 3 }\n'
             b'layer { name: "r" type: "ReLU" bottom: "data" top: "y" }\n')
    with pytest.raises(VerifyError, match="already has a value named 'data'"):
        load_caffe(proto)  # a duplicate input name in the file is an error, not renamed


def test_static_shape_is_the_int_dims_and_refuses_unknown_ones():
    from graphc.errors import ShapeInferenceError

    assert TensorType(np.dtype("float32"), (2, 3)).static_shape == (2, 3)
    assert TensorType(np.dtype("float32"), ()).static_shape == ()
    for shape in [None, ("N", 3), (2, None)]:
        t = TensorType(np.dtype("float32"), shape)
        assert not t.is_static
        with pytest.raises(ShapeInferenceError, match="no static shape"):
            t.static_shape


def test_set_input_keeps_blob_slots_and_the_blobs_view_in_step():
    g = Graph()
    x = g.add_input("x", F32)
    w = g.add_constant(np.array([2.0, 3.0], np.float32), "w")
    b = g.add_constant(np.array([1.0, -1.0], np.float32), "b")
    op = g.add_op("Custom", [x, w, b], 1, domain="my")
    op.blob_slots = [1, 2]
    assert [a.tolist() for a in op.blobs] == [[2.0, 3.0], [1.0, -1.0]]
    g.set_input(op, 1, g.add_constant(np.array([5.0, 6.0], np.float32), "w2"))  # still a constant: still a blob
    assert op.blob_slots == [1, 2] and op.blobs[0].tolist() == [5.0, 6.0]
    g.set_input(op, 2, x)  # a runtime value is no blob
    assert op.blob_slots == [1] and [a.tolist() for a in op.blobs] == [[5.0, 6.0]]
    g.truncate_inputs(op, 1)
    assert op.blob_slots == [] and op.blobs == [] and op.inputs == [x]
    assert {o.name for o in x.consumers()} == {op.name} and not w.is_used()
