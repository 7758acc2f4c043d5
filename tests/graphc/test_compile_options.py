"""compile()'s keyword options: the loader's reach the loader, the target's the target, and an
option nobody takes is an error instead of being dropped."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from graphc.errors import GraphcError, ModelFormatError
from tests.frontends.test_tensorflow import GraphText


def _relu():
    return helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])]))


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_an_unknown_option_is_an_error_naming_the_known_ones(target):
    with pytest.raises(GraphcError, match=r"unknown option\(s\) bogus_option .*fallback"):
        graphc.compile(_relu(), target, bogus_option=1)


def test_a_target_option_of_another_target_is_refused():
    with pytest.raises(GraphcError, match="unknown option.*mode for target 'numpy'"):
        graphc.compile(_relu(), "numpy", mode="single")


def test_loader_options_reach_the_loader(tmp_path):
    with pytest.raises(GraphcError, match="apply to framework models only"):
        graphc.compile(_relu(), "numpy", weights="/nonexistent")
    g = GraphText()
    g.placeholder("x", (2, 3))
    g.node("a", "Relu", ["x"])
    g.node("b", "Sigmoid", ["x"])
    (tmp_path / "two.pbtxt").write_text(g.text())
    art = graphc.compile(tmp_path / "two.pbtxt", "numpy", outputs=["b"])
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    (y,) = art.run({"x": x}).values()
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x)), rtol=1e-6)
    with pytest.raises(ModelFormatError, match="nope"):
        graphc.compile(tmp_path / "two.pbtxt", "numpy", outputs=["nope"])
