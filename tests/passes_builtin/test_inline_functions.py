"""inline-functions: calls of model-local functions become their bodies, numerics unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import AttributeProto, TensorProto, helper
from onnx.reference import ReferenceEvaluator

from graphc import ModelFormatError, PassContext, PassManager, load_model
from graphc.exporters.onnx import to_onnx


def _model(recursive: bool = False):
    alpha = helper.make_attribute_ref("alpha", AttributeProto.FLOAT)
    leaky = helper.make_node("LeakyRelu", ["a"], ["b"])
    leaky.attribute.append(alpha)
    inner = helper.make_function("local", "Scale", ["a"], ["b"], [leaky], [helper.make_opsetid("", 19)], attributes=["alpha"])
    body = [helper.make_node("Scale", ["u"], ["t"], domain="local", alpha=0.5),
            helper.make_node("Add" if not recursive else "Outer", ["t", "u"], ["v"], domain="" if not recursive else "local")]
    outer = helper.make_function("local", "Outer", ["u"], ["v"], body, [helper.make_opsetid("", 19), helper.make_opsetid("local", 1)])
    graph = helper.make_graph([helper.make_node("Outer", ["x"], ["y"], domain="local", name="call")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    return helper.make_model(graph, functions=[inner, outer],
                             opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid("local", 1)])


def test_nested_function_calls_inline_with_attribute_references():
    model = _model()
    g = load_model(model)
    PassManager("inline-functions").run(g, PassContext())
    g.verify()
    assert sorted(op.op_type for op in g.ops.values()) == ["Add", "LeakyRelu"]
    leaky = next(op for op in g.ops.values() if op.op_type == "LeakyRelu")
    assert leaky.attrs["alpha"] == 0.5 and leaky.provenance[0]["pass"] == "inline-functions"
    x = np.array([-2, -1, 1, 2], np.float32)
    out = to_onnx(g)
    expected = np.where(x > 0, x, 0.5 * x) + x
    np.testing.assert_allclose(ReferenceEvaluator(out).run(None, {"x": x})[0], expected)
    assert [v.name for v in g.outputs] == ["y"]


def test_model_without_functions_is_unchanged():
    g = load_model(helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])))
    from graphc.passinfra.instruments import Timing

    t = Timing()
    PassManager("inline-functions").run(g, PassContext(instruments=[t]))
    assert t.records[0][2] is False and len(g) == 1


def test_recursive_function_is_refused():
    with pytest.raises(ModelFormatError, match="calls itself"):
        PassManager("inline-functions").run(load_model(_model(recursive=True)), PassContext())
