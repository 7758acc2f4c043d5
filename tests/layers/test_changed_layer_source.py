"""A numpy artifact refuses a layer file that changed since it was saved, as an ort bundle does
(issue 16, item 8); --trust runs it with a warning; a missing layer is a LayerError for both."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphc
from graphc.errors import LayerError
from graphc.cli.main import main

LAYER = '''
import graphc


@graphc.register_layer("Scale", domain="my")
class Scale(graphc.Layer):
    factor = graphc.Param(float, default=2.0)

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = inputs[0] * FACTOR
'''


def _setup(tmp_path):
    node = helper.make_node("Scale", ["x"], ["y"], name="scale", domain="my")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my", 1)]),
              tmp_path / "m.onnx")
    (tmp_path / "my_layers.py").write_text(LAYER.replace("FACTOR", "self.factor"))
    art = graphc.compile(tmp_path / "m.onnx", "numpy", layers=graphc.layers.load_layer_modules([tmp_path / "my_layers.py"]))
    art.save(tmp_path / "m.graphc")
    return tmp_path / "m.graphc"


def test_unchanged_layer_file_loads(tmp_path):
    path = _setup(tmp_path)
    art = graphc.load(path, layers=[str(tmp_path / "my_layers.py")])
    np.testing.assert_array_equal(art.run({"x": np.ones(2, np.float32)})["y"], [2.0, 2.0])


def test_changed_layer_file_is_refused_unless_trusted(tmp_path, caplog):
    path = _setup(tmp_path)
    (tmp_path / "my_layers.py").write_text(LAYER.replace("FACTOR", "-self.factor"))  # the layer changed
    with pytest.raises(LayerError, match=r"layer my_layers.py:Scale|changed since the artifact was saved"):
        graphc.load(path, layers=[str(tmp_path / "my_layers.py")])
    with caplog.at_level(logging.WARNING):
        art = graphc.load(path, layers=[str(tmp_path / "my_layers.py")], trust=True)
    np.testing.assert_array_equal(art.run({"x": np.ones(2, np.float32)})["y"], [-2.0, -2.0])
    assert any("changed since the artifact was saved" in r.getMessage() for r in caplog.records)


def test_missing_layer_is_a_layer_error(tmp_path, capsys):
    path = _setup(tmp_path)
    with pytest.raises(LayerError, match="uses custom layers from module"):
        graphc.load(path)
    assert main(["run", str(path), "--random-inputs", "0"]) == 1
