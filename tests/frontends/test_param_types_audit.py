"""TensorFlow attr values and Keras configs keep their types whatever the spelling (issue 16,
item 1's audit): TF's AttrValue says its kind (``f: 8`` is 8.0, a one-element ``list`` a list);
Keras configs are JSON written by ``get_config()`` (2.0 stays a float, a one-element list a list)."""

from __future__ import annotations

from graphc.frontends.keras import config_to_graph
from graphc.frontends.tensorflow import load_tensorflow

TF_GRAPH = r'''
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
node { name: "m" op: "MyOp" input: "x"
  attr { key: "scale" value { f: 8 } }
  attr { key: "n" value { i: 2 } }
  attr { key: "sizes" value { list { i: 3 } } }
  attr { key: "ratios" value { list { f: 2 } } }
  attr { key: "empty" value { list { } } }
  attr { key: "shape" value { shape { dim { size: -1 } dim { size: 3 } } } }
  attr { key: "T" value { type: DT_FLOAT } } }
'''


def test_tf_attr_types_follow_the_attr_kind():
    attrs = load_tensorflow(TF_GRAPH.encode(), text=True).ops["m"].attrs
    assert attrs == {"scale": 8.0, "n": 2, "sizes": [3], "ratios": [2.0], "empty": [], "shape": [-1, 3],
                     "T": "float32"}
    assert type(attrs["scale"]) is float and type(attrs["ratios"][0]) is float and type(attrs["n"]) is int


def _keras(config: dict) -> dict:
    tensor = {"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}
    model = {"class_name": "Functional", "config": {"name": "m", "output_layers": [["my", 0, 0]], "layers": [
        {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [None, 4]}, "inbound_nodes": []},
        {"class_name": "MyLayer", "name": "my", "config": {"name": "my", "trainable": True, **config},
         "inbound_nodes": [{"args": [tensor], "kwargs": {}}]}]}}
    return config_to_graph(model).ops["my"].attrs


def test_keras_config_types_are_the_saved_json_types():
    attrs = _keras({"scale": 2.0, "steps": 8, "ratios": [2.0], "names": ["a"], "clip": False, "unset": None})
    assert attrs == {"scale": 2.0, "steps": 8, "ratios": [2.0], "names": ["a"], "clip": False}
    assert type(attrs["scale"]) is float and type(attrs["ratios"][0]) is float and attrs["clip"] is False
    # nested lists and dicts have no ONNX attribute type: they travel as JSON text
    assert _keras({"pairs": [[1, 2], [3, 4]]}) == {"pairs": "[[1, 2], [3, 4]]"}
