"""Nodes onnxruntime refuses at session creation, or computes unlike the spec, run on graphc's kernels."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import graphc
from targets.ort import OrtTarget
from targets.ort.artifact import SessionRefused
from targets.ort.probe import SessionProbe, named_in


def _model(nodes, inputs, outputs, opset=22, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _gru_batchwise(layout: int):
    """GRU with layout=1 (batch first): onnxruntime's kernel refuses it when the session is
    created, and its message names no node."""
    hidden, feat = 3, 2
    rng = np.random.default_rng(0)
    w = rng.standard_normal((1, 3 * hidden, feat)).astype(np.float32)
    r = rng.standard_normal((1, 3 * hidden, hidden)).astype(np.float32)
    node = helper.make_node("GRU", ["x", "w", "r"], ["y", "y_h"], name="gru", hidden_size=hidden, layout=layout)
    x_shape = [2, 4, feat] if layout else [4, 2, feat]
    return _model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                   helper.make_tensor_value_info("y_h", TensorProto.FLOAT, None)],
                  initializers=[onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(r, "r")])


def test_a_node_refused_without_a_name_is_found_by_probing_and_relowered():
    model = _gru_batchwise(layout=1)
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 4, 2)
    target = OrtTarget()
    art = graphc.compile(model, target=target)
    (entry,) = art.manifest["custom_ops"]
    assert entry["node"] == "gru" and entry["lowering"] == "numpy-kernel"
    assert "onnxruntime refused the node" in entry["reason"] and "layout" in entry["reason"]
    assert len(target.probe) == 1  # one single-node session answered it
    want = ReferenceEvaluator(model).run(None, {"x": x})
    got = art.run({"x": x})
    np.testing.assert_allclose(got["y"], want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["y_h"], want[1], rtol=1e-5, atol=1e-6)


def test_an_accepted_model_is_never_probed():
    target = OrtTarget()
    art = graphc.compile(_gru_batchwise(layout=0), target=target)
    assert art.manifest["custom_ops"] == [] and len(target.probe) == 0


def test_without_the_fallback_the_refusal_is_reported():
    with pytest.raises(SessionRefused, match="layout"):
        graphc.compile(_gru_batchwise(layout=1), target=OrtTarget(fallback=False))


def test_probe_answers_are_cached_by_signature_not_by_name():
    probe = SessionProbe()
    a, b = _gru_batchwise(1), _gru_batchwise(1)
    b.graph.node[0].name = "another_name"
    assert "layout" in probe.refusal(a, a.graph.node[0])
    assert "layout" in probe.refusal(b, b.graph.node[0])
    assert len(probe) == 1
    assert probe.refusal(_gru_batchwise(0), _gru_batchwise(0).graph.node[0]) is None and len(probe) == 2


def test_node_names_are_read_from_onnxruntime_messages():
    assert named_in("Could not find an implementation for RoiAlign(22) node with name 'roi'") == ["roi"]
    assert named_in("Failed to find kernel for Cast(25) (node:'c1' ep:'CPUExecutionProvider')") == ["c1"]
    assert named_in("Node (Range__27) Op (Range) [ShapeInferenceError] Input to 'Range'") == ["Range__27"]
    assert named_in("Failed to find kernel for Cast(25) (node:'' ep:'CPUExecutionProvider')") == []


def test_reduce_min_over_an_empty_bool_set_follows_the_spec():
    node = helper.make_node("ReduceMin", ["x", "axes"], ["y"], name="rmin", keepdims=1)
    model = _model([node], [helper.make_tensor_value_info("x", TensorProto.BOOL, [2, 0, 4]),
                            helper.make_tensor_value_info("axes", TensorProto.INT64, [1])],
                   [helper.make_tensor_value_info("y", TensorProto.BOOL, None)], opset=20)
    art = graphc.compile(model, target="ort")
    (entry,) = art.manifest["custom_ops"]
    assert "departs from the spec" in entry["reason"]
    y = art.run({"x": np.zeros((2, 0, 4), bool), "axes": np.array([1], np.int64)})["y"]
    np.testing.assert_array_equal(y, np.ones((2, 1, 4), bool))
