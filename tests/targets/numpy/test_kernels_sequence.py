"""Sequence kernels (the ops torch.onnx emits for scripted decode loops) against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from tests.oracle import ort_run


def _run_both(nodes, inputs, outputs, feeds, inits=()):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, t, None) for n, t in inputs],
                          [helper.make_tensor_value_info(n, t, None) for n, t in outputs], list(inits))
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    want = ort_run(model, feeds)
    art = graphc.compile(model, "numpy", fallback=False)
    assert art.describe()["runs"].keys() == {"native"}
    got = art.run(feeds)
    for k, w in want.items():
        assert got[k].shape == w.shape and got[k].dtype == w.dtype, k
        np.testing.assert_array_equal(got[k], w, err_msg=k)


@pytest.mark.parametrize("split,keepdims,axis", [(None, 1, 1), (None, 0, 1), (np.array(2, np.int64), 1, 0),
                                                 (np.array([1, 3, 1], np.int64), 1, 1)])
def test_split_to_sequence_then_at_and_concat(split, keepdims, axis):
    x = np.arange(4 * 5 * 2, dtype=np.float32).reshape(4, 5, 2)
    names = ["x"] if split is None else ["x", "split"]
    inits = [] if split is None else [numpy_helper.from_array(split, "split")]
    nodes = [helper.make_node("SplitToSequence", names, ["s"], axis=axis, keepdims=keepdims),
             helper.make_node("SequenceLength", ["s"], ["n"]),
             helper.make_node("SequenceAt", ["s", "last"], ["tail"]),
             helper.make_node("ConcatFromSequence", ["s"], ["cat"], axis=axis, new_axis=1 - keepdims if split is None else 0)]
    inits.append(numpy_helper.from_array(np.array(-1, np.int64), "last"))
    _run_both(nodes, [("x", TensorProto.FLOAT)],
              [("n", TensorProto.INT64), ("tail", TensorProto.FLOAT), ("cat", TensorProto.FLOAT)], {"x": x}, inits)


def test_insert_erase_construct_keep_their_inputs_intact():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = a + 10
    nodes = [helper.make_node("SequenceConstruct", ["a", "b"], ["s0"]),
             helper.make_node("Relu", ["a"], ["ra"]),
             helper.make_node("SequenceInsert", ["s0", "ra", "zero"], ["s1"]),  # at the front
             helper.make_node("SequenceInsert", ["s1", "b"], ["s2"]),           # appended
             helper.make_node("SequenceErase", ["s2", "one"], ["s3"]),
             helper.make_node("SequenceErase", ["s3"], ["s4"]),                 # the last
             helper.make_node("ConcatFromSequence", ["s4"], ["cat"], axis=0),
             helper.make_node("ConcatFromSequence", ["s2"], ["all"], axis=-1, new_axis=1),
             helper.make_node("SequenceEmpty", [], ["e"], dtype=TensorProto.FLOAT),
             helper.make_node("SequenceLength", ["e"], ["n"])]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "zero"), numpy_helper.from_array(np.array(1, np.int64), "one")]
    _run_both(nodes, [("a", TensorProto.FLOAT), ("b", TensorProto.FLOAT)],
              [("cat", TensorProto.FLOAT), ("all", TensorProto.FLOAT), ("n", TensorProto.INT64)], {"a": a, "b": b}, inits)
