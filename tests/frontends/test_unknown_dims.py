"""Conventional "unknown" dim spellings are anonymous dims (issue 16, item 11): a Paddle export's
[-1, 3, "?", "?"] input accepts 48x192, as onnxruntime does; real symbols still unify."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphc
from graphc.errors import InputError
from graphc.frontends.onnx import load_onnx


def _relu(shape, name="x") -> onnx.ModelProto:
    g = helper.make_graph([helper.make_node("Relu", [name], ["y"], name="relu")], "g",
                          [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("spelling", ["?", "unk__12", "-1", "None", ""])
def test_unknown_spellings_are_anonymous(spelling):
    model = _relu([-1, 3, spelling, spelling])
    assert load_onnx(model).inputs[0].type.shape == (None, 3, None, None)
    x = np.random.default_rng(0).standard_normal((1, 3, 48, 192)).astype(np.float32)
    np.testing.assert_array_equal(graphc.compile(model, "numpy").run({"x": x})["y"], np.maximum(x, 0))


def test_named_symbols_still_unify():
    model = _relu(["N", 3, "H", "H"])
    assert load_onnx(model).inputs[0].type.shape == ("N", 3, "H", "H")
    with pytest.raises(InputError, match="'H'"):
        graphc.compile(model, "numpy").run({"x": np.zeros((1, 3, 48, 192), np.float32)})
