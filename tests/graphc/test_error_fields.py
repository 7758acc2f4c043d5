"""GraphcError's structured fields (node, op_type, pass_name): set by the raisers and the pass
manager, read by code instead of parsing messages; the messages themselves are unchanged."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from graphc import GraphcError, PassContext, PassError, PassManager, ShapeInferenceError, UnsupportedOpError
from graphc.layers.serialize import NotSerializable
from graphc.passinfra import PassRegistry, graph_pass

F = TensorProto.FLOAT


def _model(op_type="Relu", domain=""):
    node = helper.make_node(op_type, ["x"], ["y"], name="the_node", domain=domain)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, [2, 3])],
                          [helper.make_tensor_value_info("y", F, None)])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(g, opset_imports=opsets)


def test_fields_default_to_none_and_survive_pickling():
    plain = GraphcError("bad")
    assert (plain.node, plain.op_type, plain.pass_name) == (None, None, None)
    e = GraphcError("bad", node="n", op_type="Relu", pass_name="p")
    back = pickle.loads(pickle.dumps(e))
    assert (str(back), back.node, back.op_type, back.pass_name) == ("bad", "n", "Relu", "p")


def test_with_message_keeps_the_class_and_fields_of_an_error_with_its_own_constructor():
    e = NotSerializable("params.w", object())
    e.node = "n"
    new = e.with_message("context added", pass_name="p", node="other")
    assert type(new) is NotSerializable and str(new) == "context added"
    assert (new.node, new.pass_name, new.path) == ("n", "p", "params.w")  # node kept: only None fields fill


def test_the_pass_manager_sets_pass_name_and_the_node_in_focus():
    reg = PassRegistry()

    @graph_pass("refuse", "raises at its first op", registry=reg)
    def refuse(graph, ctx):
        op = next(iter(graph.topological_order()))
        ctx.focus(op)
        raise GraphcError("no can do")

    @graph_pass("buggy", "a pass bug", registry=reg)
    def buggy(graph, ctx):
        raise ValueError("oops")

    graph = graphc.load_model(_model())
    with pytest.raises(GraphcError) as info:
        PassManager("refuse", registry=reg).run(graph, PassContext())
    e = info.value
    assert (e.pass_name, e.node, e.op_type) == ("refuse", "the_node", "Relu")
    assert str(e) == "no can do\n  [pass 'refuse' at node 'the_node' (Relu) (after: (none))]"
    with pytest.raises(PassError) as info:
        PassManager("buggy", registry=reg).run(graph, PassContext())
    assert info.value.pass_name == "buggy" and info.value.node is None
    assert str(info.value) == "pass 'buggy' failed (after: (none)): ValueError: oops"


def test_legalize_names_itself_and_its_message_gets_no_context():
    with pytest.raises(UnsupportedOpError) as info:
        graphc.compile(_model("Frobnicate", "acme"), "numpy")
    assert info.value.pass_name == "legalize"
    assert "[pass" not in str(info.value)


def test_a_kernel_failure_at_run_names_the_node_in_its_fields():
    """Reshape of a dynamic-length input to a fixed 2x3: 5 elements fail in the kernel at run."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [2, 3])
    node = helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_it")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, ["n"])],
                          [helper.make_tensor_value_info("y", F, None)], [shape])
    art = graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), "numpy")
    np.testing.assert_array_equal(art.run({"x": np.arange(6, dtype=np.float32)})["y"],
                                  np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.raises(ShapeInferenceError) as info:
        art.run({"x": np.arange(5, dtype=np.float32)})
    e = info.value
    assert (e.node, e.op_type) == ("reshape_it", "Reshape")
    assert str(e).startswith("Reshape node 'reshape_it' (opset 17): cannot reshape an input of shape [5]")
