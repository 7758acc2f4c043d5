"""Models for the partitioned-execution tests (tools/bench_ort_partition.py builds its own squeezenet).

Each custom node uses a layer from ``layer_files/partition_layers.py`` (``PARTITION_LAYERS``),
none of which has ``to_onnx``: every one is a Python node.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from graphc.examples import insert_after_first

__all__ = ["PARTITION_LAYERS", "chain_model", "diamond_model", "io_model", "shared_const_model", "dynamic_model",
           "if_model", "loop_model", "two_loops_model", "two_chains_model", "squeezenet_with_layer", "squeezenet_without_layer"]

PARTITION_LAYERS = Path(__file__).resolve().parent / "layer_files" / "partition_layers.py"
F = onnx.TensorProto.FLOAT
OPSETS = (("", 18), ("acme", 1))


def _model(nodes, inputs, outputs, inits=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in OPSETS], ir_version=9)


def _x(shape=(2, 3, 4, 5), name: str = "x"):
    return helper.make_tensor_value_info(name, F, list(shape))


def _out(name: str):
    return helper.make_tensor_value_info(name, F, None)


def _layer(op: str, ins, out: str, name: str, **params):
    return helper.make_node(op, ins, [out], name=name, domain="acme", **params)


def chain_model() -> onnx.ModelProto:
    """x -> Relu -> Scale(2) -> Scale(3) -> Sigmoid -> y: two layers in a row between two regions."""
    return _model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                   _layer("Scale", ["r"], "s1", "scale1", factor=2.0),
                   _layer("Scale", ["s1"], "s2", "scale2", factor=3.0),
                   helper.make_node("Sigmoid", ["s2"], ["y"], name="sigmoid")], [_x()], [_out("y")])


def diamond_model() -> onnx.ModelProto:
    """x -> Relu -> {Scale, Neg -> Scale} -> Add -> y: two independent layers share one Python stage."""
    return _model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                   _layer("Scale", ["r"], "a", "scale_a", factor=2.0),
                   helper.make_node("Neg", ["r"], ["n"], name="neg"),
                   _layer("Scale", ["n"], "b", "scale_b", factor=3.0),
                   helper.make_node("Add", ["a", "b"], ["y"], name="add")], [_x()], [_out("y")])


def io_model() -> onnx.ModelProto:
    """A layer reading the graph input and feeding a graph output (and a Relu after it); an independent
    Sigmoid of the input. As soon as possible that is two regions; as late as possible, one."""
    return _model([helper.make_node("Sigmoid", ["x"], ["y_sig"], name="sigmoid"),
                   _layer("Scale", ["x"], "y_layer", "scale", factor=-2.0),
                   helper.make_node("Relu", ["y_layer"], ["y_relu"], name="relu")],
                  [_x()], [_out("y_sig"), _out("y_layer"), _out("y_relu")])


def shared_const_model() -> onnx.ModelProto:
    """x + w -> Scale -> * w -> Mix(., x) -> Relu -> y: the constant w is read by two regions."""
    w = numpy_helper.from_array(np.linspace(-1, 1, 5, dtype=np.float32), "w")
    return _model([helper.make_node("Add", ["x", "w"], ["a"], name="add"),
                   _layer("Scale", ["a"], "s", "scale", factor=0.5),
                   helper.make_node("Mul", ["s", "w"], ["m"], name="mul"),
                   _layer("Mix", ["m", "x"], "x2", "mix", weight=0.25),
                   helper.make_node("Relu", ["x2"], ["y"], name="relu")], [_x()], [_out("y")], [w])


def dynamic_model() -> onnx.ModelProto:
    """x (N, 8) -> Relu -> Scale -> Softmax -> y, plus NonZero(Relu(x)) (a data-dependent shape):
    no region output can be bound to a buffer before the run."""
    return _model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                   _layer("Scale", ["r"], "s", "scale", factor=3.0),
                   helper.make_node("Softmax", ["s"], ["y"], name="softmax", axis=-1),
                   helper.make_node("NonZero", ["s"], ["nz"], name="nonzero")],
                  [_x(("N", 8))], [_out("y"), helper.make_tensor_value_info("nz", onnx.TensorProto.INT64, None)])


def if_model() -> onnx.ModelProto:
    """A layer inside an If branch (kept as a Python op inside onnxruntime) and one at top level."""
    then_g = helper.make_graph([_layer("Scale", ["r"], "t", "then_scale", factor=10.0)], "then", [], [_out("t")])
    else_g = helper.make_graph([helper.make_node("Neg", ["r"], ["e"], name="else_neg")], "else", [], [_out("e")])
    cond = helper.make_tensor_value_info("c", onnx.TensorProto.BOOL, [])
    return _model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                   helper.make_node("If", ["c"], ["i"], name="if", then_branch=then_g, else_branch=else_g),
                   _layer("Scale", ["i"], "y", "scale", factor=0.5)], [_x(), cond], [_out("y")])


def _add_one_body() -> onnx.GraphProto:
    return helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond"),
         helper.make_node("Constant", [], ["one"], name="body_one", value_float=1.0),
         helper.make_node("Add", ["v_in", "one"], ["v_out"], name="body_add")], "body",
        [helper.make_tensor_value_info("i", onnx.TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", onnx.TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", F, [2, 3, 4, 5])],
        [helper.make_tensor_value_info("cond_out", onnx.TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", F, [2, 3, 4, 5])])


def loop_model() -> onnx.ModelProto:
    """A layer, then a Loop adding 1 three times (trip count and condition constant)."""
    inits = [numpy_helper.from_array(np.array(3, np.int64), "m"), numpy_helper.from_array(np.array(True), "t")]
    return _model([_layer("Scale", ["x"], "s", "scale", factor=2.0),
                   helper.make_node("Loop", ["m", "t", "s"], ["y"], name="loop", body=_add_one_body())],
                  [_x()], [_out("y")], inits)


def two_loops_model() -> onnx.ModelProto:
    """Loop (fed trip count m) adding 1, a layer, the same Loop again: two regions, each with a Loop."""
    return _model([helper.make_node("Loop", ["m", "t", "x"], ["a"], name="loop1", body=_add_one_body()),
                   _layer("Scale", ["a"], "s", "scale", factor=2.0),
                   helper.make_node("Loop", ["m", "t", "s"], ["y"], name="loop2", body=_add_one_body())],
                  [_x(), helper.make_tensor_value_info("m", onnx.TensorProto.INT64, [])], [_out("y")],
                  [numpy_helper.from_array(np.array(True), "t")])


def _seeded_squeezenet(seed: int) -> onnx.ModelProto:
    """The light squeezenet with its ConstantOfShape weights replaced by seeded random initializers."""
    from graphc.examples import example_path

    model = onnx.load(example_path("squeezenet"))
    rng = np.random.default_rng(seed)
    shapes = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    inits = [t for t in model.graph.initializer if not t.name.endswith("__SHAPE")]
    kept = []
    for node in model.graph.node:
        if node.op_type != "ConstantOfShape":
            kept.append(node)
            continue
        shape = tuple(int(d) for d in shapes[node.input[0]])
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        w = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, node.output[0]))
    del model.graph.node[:]
    model.graph.node.extend(kept)
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)
    keep_inputs = [i for i in model.graph.input if i.name == "data_0"]
    del model.graph.input[:]
    model.graph.input.extend(keep_inputs)
    model.ir_version = 9
    return model


def squeezenet_without_layer(seed: int = 0) -> onnx.ModelProto:
    """The light squeezenet (1x3x224x224 input) with seeded random weights."""
    return _seeded_squeezenet(seed)


def squeezenet_with_layer(seed: int = 0, factor: float = 1.5) -> onnx.ModelProto:
    """:func:`squeezenet_without_layer` with an ``acme::Scale`` layer after its first Relu (1x64x111x111)."""
    model = _seeded_squeezenet(seed)
    return insert_after_first(model, "Relu", "Scale", name="user_layer", output="layer_out", domain="acme",
                              factor=factor)


def two_chains_model() -> onnx.ModelProto:
    """Two chains from x: layer, Relu, layer, Relu (-> y1) and Neg, layer, Sigmoid, layer (-> y2).
    Two sessions suffice only if the second chain's regions line up with the first's, which neither
    leveling that ends in a region finds (three sessions); ending in a Python stage does."""
    return _model([_layer("Scale", ["x"], "a1", "p1a", factor=2.0),
                   helper.make_node("Relu", ["a1"], ["a2"], name="o1a"),
                   _layer("Scale", ["a2"], "a3", "p1b", factor=3.0),
                   helper.make_node("Relu", ["a3"], ["y1"], name="o1b"),
                   helper.make_node("Neg", ["x"], ["b1"], name="o2a"),
                   _layer("Scale", ["b1"], "b2", "p2a", factor=0.5),
                   helper.make_node("Sigmoid", ["b2"], ["b3"], name="o2b"),
                   _layer("Scale", ["b3"], "y2", "p2b", factor=4.0)],
                  [_x()], [_out("y1"), _out("y2")])
