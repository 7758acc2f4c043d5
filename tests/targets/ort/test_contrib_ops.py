"""onnxruntime's own com.microsoft contrib ops (ORT-optimized transformer models) stay native in the ort bundle."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import graphc
from tests.oracle import ort_run


def test_contrib_ops_onnxruntime_implements_are_lowered_as_themselves():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    skip = rng.standard_normal((2, 5, 8)).astype(np.float32)
    inits = [numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), n) for n in ("bias", "gamma", "beta")]
    nodes = [helper.make_node("BiasGelu", ["x", "bias"], ["g"], domain="com.microsoft"),
             helper.make_node("SkipLayerNormalization", ["g", "skip", "gamma", "beta"], ["y"], domain="com.microsoft",
                              epsilon=1e-5)]
    graph = helper.make_graph(nodes, "contrib", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", 8]),
                                                 helper.make_tensor_value_info("skip", TensorProto.FLOAT, ["b", "s", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    feeds = {"x": x, "skip": skip}
    art = graphc.compile(model, "ort", fallback=False)  # before the fix: "neither onnxruntime nor graphc implements it"
    assert not art.python_ops
    np.testing.assert_allclose(art.run(feeds)["y"], ort_run(model, feeds)["y"], rtol=1e-5, atol=1e-6)
