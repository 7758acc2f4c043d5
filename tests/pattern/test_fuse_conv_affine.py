"""fuse-conv-affine (per-channel Mul/Add folded into Conv/BatchNormalization) and fuse-activation's
conv-add-relu rule (residual Add + Relu into FusedConv's epilogue): numerics against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphc import PassContext, PassManager, load_model
from graphc.exporters.onnx import to_onnx
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _model(nodes, inputs, inits, opset=17):
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", F, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _optimize(model, pipeline):
    """Run ``pipeline`` (its last entry a rule-set pass) and return (graph, that pass's PassResult)."""
    import passes.fuse_activation
    import passes.fuse_conv_affine

    rule_sets = {"fuse-conv-affine": passes.fuse_conv_affine.RULES, "fuse-activation": passes.fuse_activation.RULES}
    *before, last = pipeline.split(",")
    graph = load_model(model)
    ctx = PassContext()
    PassManager(",".join(before)).run(graph, ctx)
    result = rule_sets[last].apply(graph, ctx, pass_name=last)
    graph.verify()
    return graph, result


def _op_types(graph):
    return sorted(o.op_type for o in graph.ops.values())


def _close(model, graph, feeds):
    want = ort_run(model, feeds)["y"]
    got = ort_run(to_onnx(graph), feeds)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _scale_model(rng, k_shape=(4, 1, 1), bias=True, add_first=False, bn=False):
    inits = {"W": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
             "k": (rng.random(k_shape) + 0.5).astype(np.float32),
             "c": rng.standard_normal(k_shape).astype(np.float32)}
    conv_in = ["x", "W"]
    if bias:
        inits["B"] = rng.standard_normal(4).astype(np.float32)
        conv_in.append("B")
    nodes = [helper.make_node("Conv", conv_in, ["h"], pads=[1, 1, 1, 1])]
    if bn:
        for name in ("scale", "bias", "mean", "var"):
            inits[name] = rng.random(4).astype(np.float32) + 0.5
        nodes.append(helper.make_node("BatchNormalization", ["h", "scale", "bias", "mean", "var"], ["h2"]))
        src = "h2"
    else:
        src = "h"
    ops = [("Add", "c"), ("Mul", "k")] if add_first else [("Mul", "k"), ("Add", "c")]
    nodes += [helper.make_node(ops[0][0], [src, ops[0][1]], ["m"]),
              helper.make_node(ops[1][0], [ops[1][1], "m"], ["y"])]  # second one with swapped inputs
    return _model(nodes, [helper.make_tensor_value_info("x", F, [1, 3, 6, 6])], inits)


@pytest.mark.parametrize("bias,add_first,k_shape", [
    (True, False, (4, 1, 1)), (False, False, (1, 4, 1, 1)), (True, True, (4, 1, 1)), (True, False, ()),
])
def test_conv_mul_add_fold_into_the_conv(bias, add_first, k_shape):
    rng = np.random.default_rng(0)
    model = _scale_model(rng, k_shape, bias, add_first)
    graph, result = _optimize(model, "canonicalize,infer-shapes,fuse-conv-affine")
    assert _op_types(graph) == ["Conv"]
    assert result.changed
    _close(model, graph, {"x": rng.standard_normal((1, 3, 6, 6)).astype(np.float32)})


def test_batchnorm_mul_add_fold_into_the_batchnorm():
    rng = np.random.default_rng(1)
    model = _scale_model(rng, bn=True)
    graph, _ = _optimize(model, "canonicalize,infer-shapes,fuse-conv-affine")
    assert _op_types(graph) == ["BatchNormalization", "Conv"]
    _close(model, graph, {"x": rng.standard_normal((1, 3, 6, 6)).astype(np.float32)})


@pytest.mark.parametrize("k_shape", [(4, 6, 6), (1, 1, 6), (6, 1)])
def test_constants_that_are_not_per_channel_are_left_alone(k_shape):
    rng = np.random.default_rng(2)
    inits = {"W": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
             "k": (rng.random(k_shape) + 0.5).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "W"], ["h"], pads=[1, 1, 1, 1]), helper.make_node("Mul", ["h", "k"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", F, [1, 3, 6, 6])], inits)
    graph, result = _optimize(model, "canonicalize,infer-shapes,fuse-conv-affine")
    assert _op_types(graph) == ["Conv", "Mul"]
    assert not result.changed


def test_conv_output_read_elsewhere_is_left_alone():
    rng = np.random.default_rng(3)
    inits = {"W": rng.standard_normal((4, 3, 1, 1)).astype(np.float32), "k": rng.random((4, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "W"], ["h"]), helper.make_node("Mul", ["h", "k"], ["m"]),
             helper.make_node("Add", ["m", "h"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", F, [1, 3, 4, 4])], inits)
    graph, result = _optimize(model, "canonicalize,infer-shapes,fuse-conv-affine")
    assert _op_types(graph) == ["Add", "Conv", "Mul"] and not result.changed


def _residual_model(rng, z_shape=(1, 4, 5, 5), op="Add", relu=True):
    inits = {"W": (rng.standard_normal((4, 4, 3, 3)) / 6).astype(np.float32), "B": rng.standard_normal(4).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["h"], pads=[1, 1, 1, 1]), helper.make_node(op, ["z", "h"], ["s"])]
    nodes.append(helper.make_node("Relu" if relu else "Sigmoid", ["s"], ["y"]))
    inputs = [helper.make_tensor_value_info("x", F, [1, 4, 5, 5]), helper.make_tensor_value_info("z", F, list(z_shape))]
    return _model(nodes, inputs, inits)


@pytest.mark.parametrize("op", ["Add", "Sum"])
def test_residual_add_relu_becomes_fused_conv_with_z(op):
    rng = np.random.default_rng(4)
    model = _residual_model(rng, op=op)
    graph, result = _optimize(model, "canonicalize,infer-shapes,fuse-activation")
    (fused,) = graph.ops.values()
    assert fused.op_type == "FusedConv" and fused.domain == "com.microsoft" and fused.attrs["activation"] == "Relu"
    assert [v.name for v in fused.inputs if v is not None][-1] == "z"
    feeds = {"x": rng.standard_normal((1, 4, 5, 5)).astype(np.float32), "z": rng.standard_normal((1, 4, 5, 5)).astype(np.float32)}
    _close(model, graph, feeds)


@pytest.mark.parametrize("z_shape,relu", [((1, 4, 1, 1), True), ((1, 4, 5, 5), False)])
def test_broadcast_residual_or_other_activation_is_left_alone(z_shape, relu):
    model = _residual_model(np.random.default_rng(5), z_shape, relu=relu)
    graph, _ = _optimize(model, "canonicalize,infer-shapes,fuse-activation")
    assert "Add" in _op_types(graph)
