"""Loops the ort target's loop guard cannot count are refused (issue 20 Low: a Loop inside a layer's
``to_onnx`` model-local function, or run by onnx.reference inside a Python op, escaped the per-run limit)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from graphc import LayerError
from graphc.layers.registry import LayerRegistry


def _counting_body():
    """A Loop body adding 1 to its carried value each iteration."""
    return helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["s_in", "one"], ["s_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [2])],
        [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])])


class CountUp(graphc.Layer):
    """y = x + n, n fed: a loop of n iterations in its ONNX decomposition."""

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = inputs[0] + float(inputs[1])

    def to_onnx(self, g):
        cond = g.const(np.array(True))
        return [g.op("Loop", g.inputs[1], cond, g.inputs[0], body=_counting_body())]


def _model():
    node = helper.make_node("CountUp", ["x", "n"], ["y"], domain="h4.loops", name="count")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                                        helper.make_tensor_value_info("n", TensorProto.INT64, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("h4.loops", 1)])


def _registry():
    reg = LayerRegistry()
    reg.register("CountUp", domain="h4.loops")(CountUp)
    return reg


@pytest.mark.parametrize("mode", ["single", "partitioned"])
def test_a_loop_in_a_layers_onnx_function_is_refused_naming_the_node(mode):
    """onnxruntime would run the function's Loop with a fed n (1e12 ran until killed) outside the guard."""
    from targets.ort import OrtTarget

    with pytest.raises(LayerError, match=r"node 'count' \(h4.loops::CountUp\).*to_onnx\(\) writes a Loop; .*"
                                         r"GRAPHC_MAX_LOOP_ITERATIONS"):
        graphc.compile(_model(), target=OrtTarget(mode=mode), layers=_registry())
    # the same layer on the numpy target runs its forward
    x = np.array([1.0, 2.0], np.float32)
    art = graphc.compile(_model(), target="numpy", layers=_registry())
    np.testing.assert_array_equal(art.run({"x": x, "n": np.array(5)})["y"], [6.0, 7.0])


class _NoKernels:
    """An onnxruntime kernel registry covering nothing, so every node is offered to graphc's fallback."""

    max_opsets = {"": 21}
    max_ir_version = 10

    def covers(self, op):
        return False


def _sequence_map(body_nodes, name):
    """SequenceMap (run by onnx.reference: graphc has no kernel for it) over a sequence of [2] floats."""
    body = helper.make_graph(body_nodes, "body", [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])],
                             [helper.make_tensor_value_info("r", TensorProto.FLOAT, [2])],
                             [helper.make_tensor("M", TensorProto.INT64, [], [3]),
                              helper.make_tensor("c", TensorProto.BOOL, [], [True])])
    return helper.make_node("SequenceMap", ["seq"], ["out"], name=name, body=body)


def test_a_loop_is_never_run_by_onnx_reference_inside_a_python_op():
    """SequenceMap is run by onnx.reference inside a Python op on the ort target when onnxruntime does not run
    it; a Loop in its body would run there uncounted by the loop guard, so such a node is not offered to the
    fallback (backing None: the compile refuses it) while one without a Loop still is."""
    from graphc.frontends.onnx import load_onnx
    from targets.ort import OrtTarget

    with_loop = _sequence_map([helper.make_node("Loop", ["M", "c", "e"], ["r"], name="spin", body=_counting_body())],
                              "map_loop")
    plain = _sequence_map([helper.make_node("Relu", ["e"], ["r"])], "map_relu")
    seq = helper.make_tensor_sequence_value_info
    graphs = {}
    for node in (with_loop, plain):
        g = helper.make_graph([node], "g", [seq("seq", TensorProto.FLOAT, [2])], [seq("out", TensorProto.FLOAT, [2])])
        graphs[node.name] = load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    target = OrtTarget(registry=_NoKernels())
    ops = {op.name: op for graph in graphs.values() for op in graph.walk()}
    assert target.backing(ops["map_relu"]) == "onnx-reference"
    assert target.backing(ops["map_loop"]) is None


def test_the_numpy_fallback_refuses_a_node_holding_a_loop():
    """On the numpy target onnx.reference would run the Loop in a SequenceMap body outside the run's iteration
    budget: an UnsupportedOpError naming the node at compile; the same node without a Loop runs (Relu of
    each element, compared with numpy)."""
    from graphc import UnsupportedOpError

    seq = helper.make_tensor_sequence_value_info

    def model(node):
        g = helper.make_graph([node], "g", [seq("seq", TensorProto.FLOAT, [2])], [seq("out", TensorProto.FLOAT, [2])])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])

    loop = _sequence_map([helper.make_node("Loop", ["M", "c", "e"], ["r"], name="spin", body=_counting_body())],
                         "map_loop")
    with pytest.raises(UnsupportedOpError, match=r"node 'map_loop' \(SequenceMap\): a Loop inside its body would "
                                                 r"run in onnx.reference, outside the limit"):
        graphc.compile(model(loop), target="numpy")
    plain = model(_sequence_map([helper.make_node("Relu", ["e"], ["r"])], "map_relu"))
    items = [np.array([-1.0, 2.0], np.float32), np.array([3.0, -4.0], np.float32)]
    got = graphc.compile(plain, target="numpy").run({"seq": items})["out"]
    for g_, x in zip(got, items):
        np.testing.assert_array_equal(g_, np.maximum(x, 0))
