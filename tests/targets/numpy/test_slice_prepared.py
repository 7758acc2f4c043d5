"""Slice with constant starts/ends/axes/steps, decoded once by its prepare hook, against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels.indexing import SliceBounds
from tests.oracle import ort_run


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ([0], [129], [1], [1]),  # an STFT's real half
    ([-1, 1], [-100, 4], [2, 0], [-1, 2]),  # negative starts/ends, reverse steps, two axes
    ([1, 0, 2], [5, 2, 9], None, None),  # axes and steps omitted
])
def test_constant_slice_matches_onnxruntime_for_every_input_length(starts, ends, axes, steps):
    consts = {"starts": starts, "ends": ends, "axes": axes, "steps": steps}
    names = [k if v is not None else "" for k, v in consts.items()]
    while names and names[-1] == "":
        names.pop()
    graph = helper.make_graph(
        [helper.make_node("Slice", ["x"] + names, ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 258, "n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in consts.items() if v is not None])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    art = graphc.compile(model, "numpy")
    assert isinstance(art.program.steps[0].state, SliceBounds)  # decoded at lowering
    for n in (3, 11, 3, 1, 4, 7, 2, 3):  # the symbolic axis changes between calls, over more shapes than are kept
        feeds = {"x": np.random.default_rng(n).standard_normal((5, 258, n)).astype(np.float32)}
        np.testing.assert_array_equal(art.run(feeds)["y"], ort_run(model, feeds)["y"])
    assert len(art.program.steps[0].state._index) <= SliceBounds.MAX_SHAPES
