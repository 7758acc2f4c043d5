"""Overriding a framework op looks the same on every frontend (issue 16, item 7): a registered
caffe::Crop (HED's center crop) is logged and summarized as an override, as a layer for an ONNX
op the target runs natively is."""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import TensorProto, helper

import graphc

CROP_NET = """
layer { name: "a" type: "Input" top: "a" top: "ref" input_param { shape { dim: 1 dim: 2 dim: 7 dim: 8 }
                                                       shape { dim: 1 dim: 1 dim: 3 dim: 4 } } }
layer { name: "crop" type: "Crop" bottom: "a" bottom: "ref" top: "crop" crop_param { axis: 2 offset: 1 } }
"""


class CenterCrop(graphc.Layer):
    axis = graphc.Param(int, default=2)
    offset = graphc.Param(list, default=[])

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0][:2]) + tuple(input_shapes[1][2:])]

    def forward(self, inputs, outputs, internals):
        a, ref = inputs
        oh, ow = (a.shape[2] - ref.shape[2]) // 2, (a.shape[3] - ref.shape[3]) // 2
        outputs[0][...] = a[:, :, oh: oh + ref.shape[2], ow: ow + ref.shape[3]]


class MySlice(graphc.Layer):
    def get_config(self):
        return {}

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = inputs[0]


def _kinds(art) -> dict[str, str]:
    return {name: kind for name, _, kind in art.op_kinds()}


def test_caffe_crop_override_is_logged_and_summarized_like_an_onnx_one(tmp_path, caplog):
    (tmp_path / "crop.prototxt").write_text(CROP_NET)
    reg = graphc.LayerRegistry()
    reg.register("Crop", domain="caffe")(CenterCrop)
    with caplog.at_level(logging.WARNING, logger="graphc.layers"):
        art = graphc.compile(tmp_path / "crop.prototxt", "numpy", layers=reg)
    assert _kinds(art)["crop"] == "layer-override"
    assert any("overrides graphc's built-in import of Caffe Crop" in r.getMessage() and "crop" in r.getMessage()
               for r in caplog.records)

    node = helper.make_node("Slice", ["x", "s", "e"], ["y"], name="slice")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [onnx.numpy_helper.from_array(np.array([0]), "s"), onnx.numpy_helper.from_array(np.array([4]), "e")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx_reg = graphc.LayerRegistry()
    onnx_reg.register("Slice")(MySlice)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="graphc.layers"):
        art = graphc.compile(model, "numpy", layers=onnx_reg)
    assert _kinds(art)["slice"] == "layer-override"
    assert any("overrides the target's built-in Slice" in r.getMessage() for r in caplog.records)


def test_a_type_graphc_does_not_map_is_a_plain_layer(tmp_path):
    (tmp_path / "crop.prototxt").write_text(CROP_NET.replace('type: "Crop"', 'type: "MyCrop"'))
    reg = graphc.LayerRegistry()
    reg.register("MyCrop", domain="caffe")(CenterCrop)
    assert _kinds(graphc.compile(tmp_path / "crop.prototxt", "numpy", layers=reg))["crop"] == "layer"


def test_tensorflow_and_keras_overrides_are_marked_too():
    from graphc.frontends.builder import OVERRIDDEN_MAPPING
    from graphc.frontends.keras import config_to_graph
    from graphc.frontends.tensorflow import load_tensorflow

    reg = graphc.LayerRegistry()
    reg.register("Relu", domain="tf")(MySlice)
    reg.register("Flatten", domain="keras")(MySlice)
    tf = load_tensorflow(b'node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\n'
                         b'node { name: "r" op: "Relu" input: "x" }', text=True, layers=reg)
    assert tf.ops["r"].metadata[OVERRIDDEN_MAPPING] == "TensorFlow Relu"
    tensor = {"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}
    keras = config_to_graph({"class_name": "Functional", "config": {"name": "m", "output_layers": [["f", 0, 0]], "layers": [
        {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [None, 2, 2]}, "inbound_nodes": []},
        {"class_name": "Flatten", "name": "f", "config": {"name": "f"}, "inbound_nodes": [{"args": [tensor], "kwargs": {}}]}]}},
        layers=reg)
    assert keras.ops["f"].metadata[OVERRIDDEN_MAPPING] == "Keras Flatten"
