"""The built-in fusions written with the pattern API: numerics checked with onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphc import PassContext, PassManager, load_model
from graphc.exporters.onnx import to_onnx
from tests.conftest import ort_session

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits, opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _run(model, feeds):
    return ort_session(model).run(None, feeds)


def _optimize(model, pipeline):
    graph = load_model(model)
    ctx = PassContext()
    from graphc.passinfra.instruments import Timing

    timing = Timing()
    ctx.instruments.append(timing)
    PassManager(pipeline).run(graph, ctx)
    graph.verify()
    rec = timing.records[-1]
    return graph, rec[2], rec[3]


def _conv_bn_model(rng, bias=True, extra_reader=False, bn_mean_input=False):
    c_out = 4
    inits = {
        "W": rng.standard_normal((c_out, 3, 3, 3)).astype(np.float32),
        "scale": rng.random(c_out).astype(np.float32) + 0.5,
        "bnb": rng.standard_normal(c_out).astype(np.float32),
        "mean": rng.standard_normal(c_out).astype(np.float32),
        "var": rng.random(c_out).astype(np.float32) + 0.1,
    }
    conv_in = ["x", "W"]
    if bias:
        inits["B"] = rng.standard_normal(c_out).astype(np.float32)
        conv_in.append("B")
    inputs = [helper.make_tensor_value_info("x", F, [1, 3, 8, 8])]
    mean = "mean"
    if bn_mean_input:
        inputs.append(helper.make_tensor_value_info("m", F, [c_out]))
        mean = "m"
        del inits["mean"]
    nodes = [
        helper.make_node("Conv", conv_in, ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "scale", "bnb", mean, "var"], ["y"], name="bn", epsilon=1e-3),
        helper.make_node("Relu", ["y"], ["z"], name="relu"),
    ]
    outputs = [helper.make_tensor_value_info("z", F, None)]
    if extra_reader:
        nodes.append(helper.make_node("Sigmoid", ["c"], ["s"], name="tap"))
        outputs.append(helper.make_tensor_value_info("s", F, None))
    return _model(nodes, inputs, outputs, inits)


@pytest.mark.parametrize("bias", [True, False])
def test_fuse_conv_bn_folds_and_keeps_numerics(rng, bias):
    model = _conv_bn_model(rng, bias=bias)
    graph, changed, stats = _optimize(model, "canonicalize,fuse-conv-bn")
    assert changed and stats == {"conv-bn": 1}
    assert [o.op_type for o in graph.topological_order()] == ["Conv", "Relu"]
    conv = graph.op("conv")  # the fused Conv takes the old name back
    assert conv.attrs["pads"] == [1, 1, 1, 1] and conv.inputs[2] is not None
    assert conv.provenance[-1] == {"pass": "fuse-conv-bn", "rule": "conv-bn", "replaced": ["bn", "conv"]}
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_run(to_onnx(graph), {"x": x})[0], _run(model, {"x": x})[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", ["extra_reader", "bn_mean_input"])
def test_fuse_conv_bn_leaves_alone(rng, case):
    model = _conv_bn_model(rng, **{case: True})
    graph, changed, stats = _optimize(model, "canonicalize,fuse-conv-bn")
    assert not changed and stats == {}
    assert sorted(o.op_type for o in graph.ops.values())[:2] == ["BatchNormalization", "Conv"]


def _matmul_add_model(rng, a_shape=(2, 3), c_shape=(4,), b_const=True, swap=False):
    inits = {"c": rng.standard_normal(c_shape).astype(np.float32)}
    inputs = [helper.make_tensor_value_info("a", F, list(a_shape))]
    if b_const:
        inits["B"] = rng.standard_normal((a_shape[-1], 4)).astype(np.float32)
    else:
        inputs.append(helper.make_tensor_value_info("B", F, [a_shape[-1], 4]))
    add_in = ["c", "t"] if swap else ["t", "c"]
    nodes = [helper.make_node("MatMul", ["a", "B"], ["t"], name="mm"), helper.make_node("Add", add_in, ["y"], name="add")]
    return _model(nodes, inputs, [helper.make_tensor_value_info("y", F, None)], inits)


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("c_shape", [(4,), (1, 4), (2, 4), ()])
def test_fuse_matmul_add_makes_gemm(rng, swap, c_shape):
    model = _matmul_add_model(rng, c_shape=c_shape, swap=swap)
    graph, changed, stats = _optimize(model, "canonicalize,infer-shapes,fuse-matmul-add")
    assert changed and stats == {"matmul-add": 1}
    assert [o.op_type for o in graph.ops.values()] == ["Gemm"]
    assert graph.outputs[0].name == "y"
    a = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(_run(to_onnx(graph), {"a": a})[0], _run(model, {"a": a})[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [dict(a_shape=(2, 2, 3)), dict(b_const=False), dict(c_shape=(3, 2, 4)), dict(a_shape=("n", 3), c_shape=(2, 4))])
def test_fuse_matmul_add_leaves_alone(rng, kwargs):
    model = _matmul_add_model(rng, **kwargs)
    graph, changed, stats = _optimize(model, "canonicalize,infer-shapes,fuse-matmul-add")
    assert not changed and stats == {}
    assert sorted(o.op_type for o in graph.ops.values()) == ["Add", "MatMul"]


@pytest.mark.parametrize("act,attrs,extra", [
    ("Relu", {}, []), ("LeakyRelu", {"alpha": 0.2}, []), ("Sigmoid", {}, []), ("Tanh", {}, []),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, []), ("Clip", {}, ["lo", "hi"]),
])
def test_fuse_activation_conv(rng, act, attrs, extra):
    inits = {"W": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
             "lo": np.array(0.0, np.float32), "hi": np.array(0.5, np.float32)}
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node(act, ["c", *extra], ["y"], name="act", **attrs)]
    model = _model(nodes, [helper.make_tensor_value_info("x", F, [1, 3, 6, 6])], [helper.make_tensor_value_info("y", F, None)], inits)
    graph, changed, stats = _optimize(model, "canonicalize,fuse-activation")
    assert changed and sum(stats.values()) == 1
    (op,) = graph.ops.values()
    assert (op.domain, op.op_type, op.name, op.attrs["activation"]) == ("com.microsoft", "FusedConv", "conv", act)
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(_run(to_onnx(graph), {"x": x})[0], _run(model, {"x": x})[0], rtol=1e-5, atol=1e-5)


def test_fuse_activation_gemm_and_leaves_alone(rng):
    inits = {"B": rng.standard_normal((3, 4)).astype(np.float32)}
    nodes = [helper.make_node("Gemm", ["a", "B"], ["g"], name="gemm"), helper.make_node("LeakyRelu", ["g"], ["y"], name="act", alpha=0.3),
             helper.make_node("MatMul", ["a", "B"], ["m"], name="mm"), helper.make_node("Relu", ["m"], ["z"], name="relu")]
    outs = [helper.make_tensor_value_info(n, F, None) for n in ("y", "z")]
    model = _model(nodes, [helper.make_tensor_value_info("a", F, [2, 3])], outs, inits)
    graph, changed, stats = _optimize(model, "canonicalize,fuse-activation")
    assert changed and stats == {"gemm-activation": 1}
    assert sorted(o.qualified_type for o in graph.ops.values()) == ["MatMul", "Relu", "com.microsoft::FusedGemm"]
    a = rng.standard_normal((2, 3)).astype(np.float32)
    for got, want in zip(_run(to_onnx(graph), {"a": a}), _run(model, {"a": a})):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_fuse_activation_declines_when_target_lacks_the_op(rng):
    class NoFused:
        name = "nofused"

        def supports(self, op):
            return op.domain == ""

    inits = {"W": rng.standard_normal((4, 3, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"), helper.make_node("Relu", ["c"], ["y"], name="act")]
    model = _model(nodes, [helper.make_tensor_value_info("x", F, [1, 3, 2, 2])], [helper.make_tensor_value_info("y", F, None)], inits)
    graph = load_model(model)
    before = len(graph.values)
    PassManager("fuse-activation").run(graph, PassContext(target=NoFused()))
    assert sorted(o.op_type for o in graph.ops.values()) == ["Conv", "Relu"]
    assert len(graph.values) == before  # the declined replacement left nothing behind
    graph.verify()


def test_fusing_every_block_sorts_the_graph_a_constant_number_of_times(monkeypatch):
    """Rewrites are linear: removing a match's ops looks at the match, not a re-sorted graph
    (a full topological sort per rewrite made fusing 10,000 ops quadratic)."""
    import sys
    from pathlib import Path

    from graphc.ir import Graph

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    from bench_compile import conv_bn_relu_model

    sorts = []
    original = Graph.topological_order

    def counting(self):
        if self._topo_cache is None:
            sorts.append(self.name)
        return original(self)

    monkeypatch.setattr(Graph, "topological_order", counting)
    for blocks in (20, 200):
        sorts.clear()
        graph = load_model(conv_bn_relu_model(3 * blocks))
        result = PassManager("infer-shapes,fuse-conv-bn,fuse-activation").run(graph, PassContext())
        assert result is not None and [op.op_type for op in graph] == ["FusedConv"] * blocks
        assert len(sorts) <= 8, f"{len(sorts)} full sorts for {blocks} blocks"
