"""A fold-blobs diff reads as it did when the pass moved constants out of op.inputs
(expected text recorded from graphc before blobs became a view)."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from graphc.diff import GraphDiff
from graphc.frontends.onnx import load_onnx
from graphc.passinfra import PassContext, PassManager


def test_fold_blobs_diff_shows_the_input_leaving_the_weight_removed_and_the_blob():
    m = helper.make_model(helper.make_graph(
        [helper.make_node("Mul", ["x", "c"], ["y"], name="mul")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.array([1, 2], np.float32), "c")]), opset_imports=[helper.make_opsetid("", 18)])
    g = load_onnx(m)
    before = g.copy()
    PassManager("fold-blobs").run(g, PassContext())
    assert GraphDiff(before, g).to_text().splitlines() == [
        "graph diff: +0 −1 ~2   ops 1 → 1",
        "Ops rewired (1)",
        "  ~ Mul mul  input 1: c → ∅",
        "      ← x (graph input)",
        "      → y (graph output)",
        "Weights (2)",
        "  - c  float32[2] #7cc1469d",
        "  ~ Mul mul  blobs: (none) → float32[2] #7cc1469d",
    ]
    assert GraphDiff(g, g.copy()).changes == []  # a folded graph against its copy: nothing changed
