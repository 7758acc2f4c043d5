"""Standard ops whose attributes contradict the ONNX schema are refused at load, naming the node and
the attribute: before, MaxPool without kernel_shape ran as an identity, Concat without axis used 0,
and unknown or misspelled attributes were ignored (on the ort target graphc even re-lowered the node
onnxruntime refused to its own kernel)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphc
from graphc import ModelFormatError


def _model(node, x_shape=(1, 1, 4, 4), domain_opsets=()):
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), *domain_opsets])


CASES = {
    "MaxPool without kernel_shape": (helper.make_node("MaxPool", ["x"], ["y"], name="pool"), r"'pool'.*'kernel_shape' missing"),
    "Concat without axis": (helper.make_node("Concat", ["x", "x"], ["y"], name="cat"), r"'cat'.*'axis' missing"),
    "Relu with alpha2": (helper.make_node("Relu", ["x"], ["y"], name="relu", alpha2=0.5), r"'relu'.*'alpha2' is not in the Relu schema"),
    "kernel_shap misspelled": (helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2], kernel_shap=[3, 3]),
                               r"'pool'.*'kernel_shap' is not in the MaxPool schema"),
}


@pytest.mark.parametrize("target", ["numpy", "ort"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_node_contradicting_its_schema_is_refused_at_load(case, target):
    node, pattern = CASES[case]
    with pytest.raises(ModelFormatError, match=pattern):
        graphc.compile(_model(node), target=target)


def test_a_custom_domain_node_keeps_any_attributes():
    """Custom domains have no ONNX schema: their attributes are the layer's params, not checked here."""
    from graphc.layers import LayerRegistry

    class Scale(graphc.Layer):
        factor = graphc.Param(float)

        def output_shapes(self, input_shapes):
            return [tuple(input_shapes[0])]

        def forward(self, inputs, outputs, internals):
            outputs[0][...] = inputs[0] * self.factor

    reg = LayerRegistry()
    reg.register("Scale", domain="acme")(Scale)
    node = helper.make_node("Scale", ["x"], ["y"], domain="acme", name="s", factor=3.0)
    art = graphc.compile(_model(node, domain_opsets=[helper.make_opsetid("acme", 1)]), target="numpy", layers=reg)
    np.testing.assert_array_equal(art.run({"x": np.ones((1, 1, 4, 4), np.float32)})["y"], np.full((1, 1, 4, 4), 3.0))


def test_negative_initializer_dims_are_refused():
    from onnx import numpy_helper

    w = numpy_helper.from_array(np.ones(2, np.float32), "w")
    w.dims[:] = [-2]  # numpy read it as [2]
    node = helper.make_node("Add", ["x", "w"], ["y"], name="add")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    with pytest.raises(ModelFormatError, match=r"'w' has dims \[-2\]"):
        graphc.load_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())


def test_a_graph_output_listed_twice_is_refused():
    """run() returns a dict by output name: one of the two used to be dropped silently."""
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])] * 2)
    with pytest.raises(ModelFormatError, match="'y' is listed twice"):
        graphc.load_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def test_a_reshape_target_below_minus_one_is_refused():
    """numpy reads any negative dim as -1: Reshape to [-2] used to act as flatten."""
    from graphc import GraphcError

    g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                           helper.make_tensor_value_info("s", TensorProto.INT64, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    art = graphc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), target="numpy")
    with pytest.raises(GraphcError, match=r"'reshape'.*below -1"):
        art.run({"x": np.ones((2, 3), np.float32), "s": np.array([-2])})
    assert art.run({"x": np.ones((2, 3), np.float32), "s": np.array([-1])})["y"].shape == (6,)


def _nested_ifs(depth: int) -> onnx.ModelProto:
    """``depth`` Ifs, each in the then-branch of the one before, built in place (protobuf's decoder would
    refuse to parse so deep a model from bytes, but a ModelProto built in memory can be handed to graphc)."""
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    model = helper.make_model(helper.make_graph(
        [], "top", [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                    helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])], [out]),
        opset_imports=[helper.make_opsetid("", 17)])
    graph = model.graph
    for d in range(depth):
        node = graph.node.add(op_type="If", input=["c"], output=["y"], name=f"if{d}")
        node.attribute.add(name="else_branch", type=onnx.AttributeProto.GRAPH).g.CopyFrom(
            helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "else", [], [out]))
        graph = node.attribute.add(name="then_branch", type=onnx.AttributeProto.GRAPH).g
        graph.name = f"then{d}"
        graph.output.add().CopyFrom(out)
    graph.node.add().CopyFrom(helper.make_node("Identity", ["x"], ["y"]))
    return model


def test_subgraphs_nested_past_the_limit_are_refused_naming_the_node():
    """A 1000-deep nested If was a RecursionError; past MAX_SUBGRAPH_DEPTH it is a ModelFormatError naming the
    node at the limit, at load and at compile. A model at the limit still compiles and runs."""
    from graphc.frontends.onnx import MAX_SUBGRAPH_DEPTH

    for load in (graphc.load_model, lambda m: graphc.compile(m, target="numpy")):
        with pytest.raises(ModelFormatError, match=rf"If node 'if{MAX_SUBGRAPH_DEPTH}'.*nest more than"):
            load(_nested_ifs(1000))
    art = graphc.compile(_nested_ifs(MAX_SUBGRAPH_DEPTH), target="numpy")
    assert art.run({"c": np.array(True), "x": np.ones(1, np.float32)})["y"].tolist() == [1.0]


def _pad_model(mode: str, opset: int = 18) -> onnx.ModelProto:
    node = helper.make_node("Pad", ["x", "pads"], ["y"], name="pad", mode=mode)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [helper.make_tensor("pads", TensorProto.INT64, [4], [1, 1, 1, 1])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_a_pad_mode_the_spec_does_not_list_is_refused_at_load(target):
    """Pad's ``mode`` is a free string to the schema and `onnx.checker`: ``"wrapx"`` reached numpy's own
    ``ValueError`` from ``np.pad`` at run time. Now a ModelFormatError at load naming the node, the op type, the
    value and the allowed modes."""
    with pytest.raises(ModelFormatError, match=r"'pad' \(Pad, opset 18\): attribute 'mode' is 'wrapx', "
                                               r"not one of constant, reflect, edge, wrap"):
        graphc.compile(_pad_model("wrapx"), target=target)


def test_a_pad_mode_set_after_loading_is_refused_by_the_kernel():
    """A graph changed after the loader's check (a pass or a frontend building Pad itself) meets the same list in
    the numpy kernel, as a ModelFormatError naming the node, not numpy's ValueError. Every listed mode runs and
    matches hand-computed values ("wrap" below opset 19 too, as onnxruntime runs it)."""
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    want = {"constant": [[0, 0, 0, 0, 0], [0, 0, 1, 2, 0], [0, 3, 4, 5, 0], [0, 0, 0, 0, 0]],
            "edge": [[0, 0, 1, 2, 2], [0, 0, 1, 2, 2], [3, 3, 4, 5, 5], [3, 3, 4, 5, 5]],
            "reflect": [[4, 3, 4, 5, 4], [1, 0, 1, 2, 1], [4, 3, 4, 5, 4], [1, 0, 1, 2, 1]],
            "wrap": [[5, 3, 4, 5, 3], [2, 0, 1, 2, 0], [5, 3, 4, 5, 3], [2, 0, 1, 2, 0]]}
    for mode, expected in want.items():
        np.testing.assert_array_equal(graphc.compile(_pad_model(mode), target="numpy").run({"x": x})["y"], expected)
    graph = graphc.load_model(_pad_model("reflect"))
    (op,) = [o for o in graph.ops.values() if o.op_type == "Pad"]
    op.attrs["mode"] = "wrapx"
    with pytest.raises(ModelFormatError, match=r"Pad node 'pad' \(opset 18\): mode 'wrapx' is not one of "
                                               r"constant, reflect, edge, wrap"):
        graphc.compile(graph, target="numpy").run({"x": x})
