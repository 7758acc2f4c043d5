"""Writes tests/layers/data/folded_blobs_pre_view.graphc with the graphc of commit 2e26359
(blobs moved out of op.inputs) and the model it was compiled from."""
import numpy as np, onnx, graphc
from onnx import helper, numpy_helper, TensorProto as T
rng = np.random.default_rng(7)
w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
b = rng.standard_normal(4).astype(np.float32)
c = rng.standard_normal((1, 4, 1, 1)).astype(np.float32)
scales = np.array([1, 1, 2, 2], np.float32)
nodes = [
    helper.make_node("Conv", ["x", "w", "b"], ["h"], name="conv", pads=[1, 1, 1, 1]),
    helper.make_node("Mul", ["c", "h"], ["m"], name="mul"),  # the constant at slot 0
    helper.make_node("Resize", ["m", "", "scales"], ["r"], name="resize", mode="nearest"),
    helper.make_node("Sub", ["d", "r"], ["y"], name="sub"),  # a constant at slot 0 after the resize
]
g = helper.make_graph(nodes, "folded", [helper.make_tensor_value_info("x", T.FLOAT, [1, 3, 5, 5])],
                      [helper.make_tensor_value_info("y", T.FLOAT, [1, 4, 10, 10])],
                      [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
                       numpy_helper.from_array(c, "c"), numpy_helper.from_array(scales, "scales"),
                       numpy_helper.from_array(np.float32(rng.standard_normal((4, 1, 1))), "d")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, "tests/layers/data/folded_blobs_model.onnx")
art = graphc.compile(m, target="numpy")
art.save("tests/layers/data/folded_blobs_pre_view.graphc")
