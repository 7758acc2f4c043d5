"""Python ops inside If/Loop/Scan bodies, and ops with subgraphs run whole as a Python op."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import graphc
from graphc.layers import LayerRegistry, Param


class Scale(graphc.Layer):
    factor = Param(float, default=2.0)

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = inputs[0] * self.factor


def _if_model(then_nodes, then_out, else_nodes, else_out, x_shape, opsets, then_inits=()):
    then_g = helper.make_graph(then_nodes, "then", [], [then_out], initializer=list(then_inits))
    else_g = helper.make_graph(else_nodes, "else", [], [else_out])
    node = helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g, name="if")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape),
                                            helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])


def test_a_custom_layer_inside_an_if_branch_runs_as_a_python_op():
    reg = LayerRegistry()
    reg.register("Scale", domain="acme")(Scale)
    model = _if_model([helper.make_node("Scale", ["x"], ["t"], name="scale_in_then", domain="acme", factor=3.0)],
                      helper.make_tensor_value_info("t", TensorProto.FLOAT, [2, 3]),
                      [helper.make_node("Neg", ["x"], ["e"], name="neg_in_else")],
                      helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 3]), [2, 3], [("", 21), ("acme", 1)])
    art = graphc.compile(model, target="ort", layers=reg)
    assert [(e["node"], e["lowering"]) for e in art.manifest["custom_ops"]] == [("scale_in_then", "python-op")]
    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(art.run({"x": x, "c": np.array(True)})["y"], x * 3)
    np.testing.assert_array_equal(art.run({"x": x, "c": np.array(False)})["y"], -x)


def test_a_refused_node_inside_a_branch_is_relowered():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((1, 9, 2)).astype(np.float32)
    r = rng.standard_normal((1, 9, 3)).astype(np.float32)
    model = _if_model(
        [helper.make_node("GRU", ["x", "w", "r"], ["t", "t_h"], name="gru_in_then", hidden_size=3, layout=1)],
        helper.make_tensor_value_info("t_h", TensorProto.FLOAT, [2, 1, 3]),
        [helper.make_node("ReduceMean", ["x"], ["e"], name="mean_in_else", axes=[2], keepdims=1)],
        helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 4, 1]), [2, 4, 2], [("", 17)],
        then_inits=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(r, "r")])
    art = graphc.compile(model, target="ort")
    (entry,) = art.manifest["custom_ops"]
    assert entry["node"] == "gru_in_then" and "refused" in entry["reason"]
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 4, 2)
    for c in (True, False):
        want = ReferenceEvaluator(model).run(None, {"x": x, "c": np.array(c)})[0]
        np.testing.assert_allclose(art.run({"x": x, "c": np.array(c)})["y"], want, rtol=1e-5, atol=1e-6)


def test_an_op_with_self_contained_subgraphs_runs_whole_in_onnx_reference(tmp_path):
    """FlexAttention (ai.onnx.preview): no onnxruntime kernel; its score_mod graph travels with the node."""
    score_mod = helper.make_graph([helper.make_node("Add", ["s", "b"], ["s_out"])], "score_mod",
                                  [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)],
                                  [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, None)],
                                  initializer=[helper.make_tensor("b", TensorProto.FLOAT, [], [0.5])])
    node = helper.make_node("FlexAttention", ["q", "k", "v"], ["y"], domain="ai.onnx.preview", name="flex",
                            score_mod=score_mod)
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2, 3, 4]) for n in "qkv"]
    graph = helper.make_graph([node], "g", io, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 26),
                                                    helper.make_opsetid("ai.onnx.preview", 1)])
    art = graphc.compile(model, target="ort")
    (entry,) = art.manifest["custom_ops"]
    assert entry["lowering"] == "onnx-reference" and list(entry["subgraphs"]) == ["score_mod"]
    rng = np.random.default_rng(1)
    feeds = {n: rng.standard_normal((1, 2, 3, 4)).astype(np.float32) for n in "qkv"}
    want = ReferenceEvaluator(model).run(None, feeds)[0]
    np.testing.assert_allclose(art.run(feeds)["y"], want, rtol=1e-6, atol=1e-6)
    art.save(tmp_path / "flex.zip")  # the subgraph is in the manifest: the bundle runs again on its own
    np.testing.assert_allclose(graphc.load(tmp_path / "flex.zip").run(feeds)["y"], want, rtol=1e-6, atol=1e-6)
