"""eliminate-dropout: inference Dropout removed, training or mask-reading Dropout kept; numerics unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphc import PassContext, PassManager, load_model
from graphc.exporters.onnx import to_onnx
from passes.eliminate_dropout import is_inference_dropout
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _model(opset, dropout_inputs=("x",), outputs=("d",), inits=(), attrs=None, graph_inputs=()):
    nodes = [helper.make_node("Dropout", list(dropout_inputs), list(outputs), name="drop", **(attrs or {})),
             helper.make_node("Relu", ["d"], ["y"], name="relu")]
    outs = [helper.make_tensor_value_info("y", F, None)]
    if len(outputs) > 1 and outputs[1] == "mask_out":
        outs.append(helper.make_tensor_value_info("mask_out", TensorProto.BOOL, None))
    ins = [helper.make_tensor_value_info("x", F, [2, 3])] + list(graph_inputs)
    g = helper.make_graph(nodes, "g", ins, outs, [numpy_helper.from_array(v, k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])




def _types(graph):
    return sorted(o.op_type for o in graph.ops.values())


@pytest.mark.parametrize("opset,kw", [
    (6, dict(attrs={"is_test": 1}, outputs=("d", "m"))),
    (10, dict(outputs=("d", "m"))),
    (13, dict(dropout_inputs=("x", "r", "t"), inits=[("r", np.array(0.5, np.float32)), ("t", np.array(False))])),
    (13, dict()),
])
def test_inference_dropout_is_removed(opset, kw):
    model = _model(opset, **kw)
    graph = load_model(model)
    PassManager("canonicalize,eliminate-dropout").run(graph, PassContext())
    graph.verify()
    assert _types(graph) == ["Relu"]
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(ort_run(to_onnx(graph), {"x": x})["y"], np.maximum(x, 0))


@pytest.mark.parametrize("opset,kw", [
    (13, dict(outputs=("d", "mask_out"))),  # the mask is read (a graph output)
    (13, dict(dropout_inputs=("x", "r", "t"), inits=[("r", np.array(0.5, np.float32)), ("t", np.array(True))])),
    (13, dict(dropout_inputs=("x", "", "t"), graph_inputs=[helper.make_tensor_value_info("t", TensorProto.BOOL, [])])),
    (6, dict(outputs=("d", "m"))),  # opset < 7 with a mask and no is_test: training mode
])
def test_training_or_mask_reading_dropout_is_kept(opset, kw):
    graph = load_model(_model(opset, **kw))
    PassManager("canonicalize,eliminate-dropout").run(graph, PassContext())
    assert "Dropout" in _types(graph)


def test_the_reason_a_dropout_stays():
    graph = load_model(_model(13, outputs=("d", "mask_out")))
    (drop,) = [o for o in graph.ops.values() if o.op_type == "Dropout"]
    assert is_inference_dropout(drop) == "its mask output is read"
