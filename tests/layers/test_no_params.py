"""A layer with no parameters needs no get_config() (issue 16, item 9)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphc
from graphc.errors import LayerError


class Swish(graphc.Layer):
    """x * sigmoid(x): nothing to configure."""

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        x = inputs[0]
        outputs[0][...] = x / (1 + np.exp(-x))


def _model(**attrs) -> onnx.ModelProto:
    node = helper.make_node("Swish", ["x"], ["y"], name="act", domain="my", **attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my", 1)])


def _registry() -> graphc.LayerRegistry:
    reg = graphc.LayerRegistry()
    reg.register("Swish", domain="my")(Swish)
    return reg


def test_parameterless_layer_compiles_saves_and_loads(tmp_path):
    x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    art = graphc.compile(_model(), "numpy", layers=_registry())
    y = art.run({"x": x})["y"]
    np.testing.assert_allclose(y, x / (1 + np.exp(-x)), rtol=1e-6)
    art.save(tmp_path / "swish.graphc")
    again = graphc.load(tmp_path / "swish.graphc", layers=_registry())
    np.testing.assert_array_equal(again.run({"x": x})["y"], y)
    assert Swish({}).get_config() == {}


def test_an_attribute_it_cannot_take_is_still_refused():
    with pytest.raises(LayerError, match="declares no parameters and has no get_config"):
        graphc.compile(_model(beta=2.0), "numpy", layers=_registry())
