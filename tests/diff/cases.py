"""Small before/after model pairs, one per change kind, for the diff goldens and CLI tests."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def model(nodes, inputs=None, outputs=None, inits=None, value_info=()):
    inputs = inputs or [helper.make_tensor_value_info("x", F, [1, 4])]
    outputs = outputs or [helper.make_tensor_value_info("y", F, [1, 4])]
    inits = [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()]
    g = helper.make_graph(nodes, "g", inputs, outputs, inits, value_info=list(value_info))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def base():
    return model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                  helper.make_node("Add", ["r", "c"], ["y"], name="add")],
                 inits={"c": np.ones(4, np.float32)})


def pairs():
    """name -> (before, after) ModelProtos."""
    b = base()
    added = model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                   helper.make_node("Sigmoid", ["r"], ["s"], name="sig"),
                   helper.make_node("Add", ["s", "c"], ["y"], name="add")],
                  inits={"c": np.ones(4, np.float32)})
    removed = model([helper.make_node("Add", ["x", "c"], ["y"], name="add")], inits={"c": np.ones(4, np.float32)})
    rewired = model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                     helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                    outputs=[helper.make_tensor_value_info("y", F, [1, 4]), helper.make_tensor_value_info("r", F, [1, 4])],
                    inits={"c": np.ones(4, np.float32)})
    attribute = model([helper.make_node("LeakyRelu", ["x"], ["r"], name="relu", alpha=0.1),
                       helper.make_node("Add", ["r", "c"], ["y"], name="add")],
                      inits={"c": np.ones(4, np.float32)})
    attribute_b = model([helper.make_node("LeakyRelu", ["x"], ["r"], name="relu", alpha=0.2),
                         helper.make_node("Add", ["r", "c"], ["y"], name="add")],
                        inits={"c": np.full(4, 2, np.float32)})
    shape = model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                   helper.make_node("Add", ["r", "c"], ["y"], name="add")],
                  inputs=[helper.make_tensor_value_info("x", F, ["n", 4])],
                  outputs=[helper.make_tensor_value_info("y", F, ["n", 4])],
                  inits={"c": np.ones(4, np.float32)}, value_info=[helper.make_tensor_value_info("r", F, ["n", 4])])
    return {"added": (b, added), "removed": (b, removed), "rewired": (b, rewired),
            "attribute": (attribute, attribute_b), "shape": (b, shape)}
