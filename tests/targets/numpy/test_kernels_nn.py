"""Native numpy kernels of the NN families: conv, pooling, normalization, linalg, resize,
quantize, recurrent and control flow. The ONNX node suite's single-node cases plus
targeted comparisons against onnxruntime on random data."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from graphc.attributes import decode_attribute
from graphc.errors import PlanError
from tests.node_cases import node_cases
from tests.targets.numpy.kernel_cases import check_kernel_on_case
from targets.numpy.kernels import KERNELS, OpContext

NN_OPS = {
    "Conv", "ConvTranspose", "ConvInteger", "QLinearConv",
    "MaxPool", "AveragePool", "LpPool", "GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool", "MaxUnpool", "RoiAlign",
    "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization", "RMSNormalization",
    "LRN", "MeanVarianceNormalization", "LpNormalization",
    "MatMul", "Gemm", "MatMulInteger", "QLinearMatMul",
    "Resize", "Upsample",
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
    "RNN", "GRU", "LSTM",
    "If", "Loop", "Scan",
}


def _reference_runner(attrs: dict, opsets: dict[str, int]):
    """A stand-in for the executor's subgraph runner: onnx.reference on the body graph."""

    def run(attr_name: str, inputs):
        body: onnx.GraphProto = attrs[attr_name]
        ev = ReferenceEvaluator(body, opsets=opsets)
        feeds = {i.name: v for i, v in zip(body.input, inputs)}
        return ev.run(None, feeds)

    return run


def _nn_cases():
    out = []
    for case in node_cases():
        g = case.model.graph
        if len(g.node) == 1 and case.tensor_only and g.node[0].op_type in NN_OPS:
            out.append(pytest.param(case, id=case.name))
    return out


@pytest.mark.parametrize("case", _nn_cases())
def test_node_suite(case):
    attrs = {a.name: decode_attribute(a) for a in case.model.graph.node[0].attribute}
    check_kernel_on_case(case, _reference_runner(attrs, {o.domain: o.version for o in case.model.opset_import}))


# --------------------------------------------------------------------------- helpers


def run_kernel(op: str, *inputs, opset: int = 21, domain: str = "", n_out: int = 1, outs=None, runner=None,
               **attrs):
    spec = KERNELS.lookup(domain, op, opset)
    assert spec is not None, f"no kernel for {domain}::{op} at opset {opset}"
    ctx = OpContext(op.lower(), op, attrs, opset, domain, outs=outs if outs is not None else [None] * n_out,
                    subgraph_runner=runner)
    res = spec.fn(ctx, *inputs)
    return list(res) if isinstance(res, tuple) else [res]


def run_ort(op: str, inputs, opset: int = 21, domain: str = "", n_out: int = 1, **attrs):
    """Run one node in onnxruntime (single thread); omitted inputs are None."""
    names = [f"i{k}" if x is not None else "" for k, x in enumerate(inputs)]
    outs = [f"o{k}" for k in range(n_out)]
    node = helper.make_node(op, names, outs, domain=domain or None, **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)
                    for n, x in zip(names, inputs) if x is not None]
    graph = helper.make_graph([node], "g", graph_inputs, [helper.make_empty_tensor_value_info(o) for o in outs])
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=imports, ir_version=9 if opset < 21 else 10)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {n: x for n, x in zip(names, inputs) if x is not None})


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def assert_close(got, want, rtol=1e-4, atol=1e-4):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- conv


def test_conv_same_lower_with_groups_and_dilation_matches_onnxruntime_explicit_pads():
    # onnxruntime refuses auto_pad SAME_* with dilations; the spec's pads are
    # total = (ceil(in / s) - 1) * s + (k - 1) * d + 1 - in, the odd one at the beginning.
    x, w, b = rand(2, 4, 11, 9, seed=1), rand(6, 2, 3, 3, seed=2), rand(6, seed=3)
    attrs = dict(group=2, dilations=[2, 2], strides=[2, 2])
    totals = [(-(-n // 2) - 1) * 2 + 5 - n for n in (11, 9)]
    pads = [t - t // 2 for t in totals] + [t // 2 for t in totals]
    got = run_kernel("Conv", x, w, b, opset=13, auto_pad="SAME_LOWER", **attrs)
    assert got[0].shape == (2, 6, 6, 5)
    assert_close(got, run_ort("Conv", [x, w, b], opset=13, pads=pads, **attrs))


@pytest.mark.parametrize("attrs,xshape,wshape", [
    (dict(group=2, dilations=[2, 2], pads=[2, 1, 2, 2], strides=[2, 2]), (2, 4, 11, 9), (6, 2, 3, 3)),
    (dict(group=1, auto_pad="SAME_UPPER", strides=[2, 1]), (1, 3, 10, 7), (5, 3, 4, 2)),
    (dict(pads=[1, 0, 2, 1], strides=[1, 2]), (1, 3, 8, 8), (4, 3, 3, 3)),
    (dict(strides=[2, 2]), (2, 16, 9, 9), (8, 16, 1, 1)),                       # 1x1 strided
    (dict(group=8, pads=[1, 1, 1, 1]), (2, 8, 7, 7), (8, 1, 3, 3)),             # depthwise
    (dict(group=4, pads=[1, 1, 1, 1], dilations=[2, 1]), (1, 4, 7, 7), (8, 1, 3, 3)),  # channel multiplier
    (dict(pads=[1, 2], dilations=[3], strides=[2]), (2, 3, 20), (4, 3, 3)),     # 1-D
    (dict(pads=[1, 1, 1, 0, 1, 1], group=2), (1, 4, 5, 6, 5), (4, 2, 3, 2, 3)),  # 3-D
    (dict(auto_pad="VALID"), (1, 2, 5, 5), (3, 2, 5, 5)),
])
def test_conv_matches_onnxruntime(attrs, xshape, wshape):
    x, w, b = rand(*xshape, seed=1), rand(*wshape, seed=2), rand(wshape[0], seed=3)
    assert_close(run_kernel("Conv", x, w, b, opset=13, **attrs), run_ort("Conv", [x, w, b], opset=13, **attrs))
    assert_close(run_kernel("Conv", x, w, opset=13, **attrs), run_ort("Conv", [x, w], opset=13, **attrs))


def test_conv_resnet_block_shape_matches_onnxruntime_and_uses_buffer():
    x, w, b = rand(1, 64, 56, 56, seed=4), rand(64, 64, 3, 3, seed=5) * 0.05, rand(64, seed=6)
    buf = np.empty((1, 64, 56, 56), np.float32)
    got = run_kernel("Conv", x, w, b, opset=13, outs=[buf], pads=[1, 1, 1, 1])
    assert got[0] is buf
    # against float64 sums: each output adds n = 577 float32 products, so its error is about
    # sqrt(n) * 2**-24 * sum|x*w| (the statistical bound; n * 2**-24 * sum|x*w| = 8e-4 is the worst
    # case). Observed: 2.6 * 2**-24 * sum|x*w| (onnxruntime: 1.6). At the old rtol=atol=1e-3 a bias
    # scaled by 1.0002 or weights by 1.0001 passed; here they fail (issue 21 Low).
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
    want = np.einsum("ncijkl,mckl->nmij", win, w.astype(np.float64)) + b[:, None, None]
    size = np.einsum("ncijkl,mckl->nmij", np.abs(win), np.abs(w.astype(np.float64))) + np.abs(b)[:, None, None]
    bound = np.sqrt(577) * 2.0 ** -24 * size
    for name, y in (("graphc", got[0]), ("onnxruntime", run_ort("Conv", [x, w, b], opset=13, pads=[1, 1, 1, 1])[0])):
        assert np.all(np.abs(y - want) <= bound), f"{name}: {(np.abs(y - want) / bound).max():.2f} x the bound"


@pytest.mark.parametrize("attrs", [
    dict(strides=[2, 2], output_padding=[1, 0], pads=[0, 1, 1, 0]),
    dict(group=2, dilations=[2, 1], strides=[3, 2]),
    dict(strides=[2, 2], output_shape=[10, 9]),
    dict(strides=[2, 2], auto_pad="SAME_UPPER"),
    dict(strides=[2, 2], auto_pad="SAME_LOWER"),
])
def test_conv_transpose_matches_onnxruntime(attrs):
    x, w, b = rand(2, 4, 4, 4, seed=7), rand(4, 3, 3, 3, seed=8), rand(3 * attrs.get("group", 1), seed=9)
    assert_close(run_kernel("ConvTranspose", x, w, b, opset=11, **attrs),
                 run_ort("ConvTranspose", [x, w, b], opset=11, **attrs))


@pytest.mark.parametrize("act,params", [
    ("Relu", []), ("Tanh", []), ("Sigmoid", []), ("LeakyRelu", [0.2]), ("Clip", [-0.5, 0.7]),
    ("HardSigmoid", [0.3, 0.4]),
])
def test_fused_conv_and_gemm_match_onnxruntime(act, params):
    x, w, b = rand(1, 3, 8, 8, seed=10), rand(4, 3, 3, 3, seed=11), rand(4, seed=12)
    attrs = dict(activation=act, pads=[1, 1, 1, 1])
    if params:
        attrs["activation_params"] = params
    assert_close(run_kernel("FusedConv", x, w, b, domain="com.microsoft", opset=1, **attrs),
                 run_ort("FusedConv", [x, w, b], opset=13, domain="com.microsoft", **attrs))
    a, bm, c = rand(5, 6, seed=13), rand(7, 6, seed=14), rand(7, seed=15)
    gattrs = dict(activation=act, transB=1, alpha=0.5)
    if act == "Clip":
        return  # FusedGemm in onnxruntime takes Clip bounds differently; the pass never fuses Clip into Gemm
    for key, val in zip(("activation_alpha", "activation_beta"), params):
        gattrs[key] = val
    assert_close(run_kernel("FusedGemm", a, bm, c, domain="com.microsoft", opset=1, **gattrs),
                 run_ort("FusedGemm", [a, bm, c], opset=13, domain="com.microsoft", **gattrs))


def test_conv_integer_and_qlinear_conv_match_onnxruntime():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 255, (1, 3, 7, 7), dtype=np.uint8)
    w = rng.integers(0, 255, (4, 3, 3, 3), dtype=np.uint8)
    xz, wz = np.array(120, np.uint8), np.array(130, np.uint8)
    assert_close(run_kernel("ConvInteger", x, w, xz, wz, opset=10, pads=[1, 1, 1, 1]),
                 run_ort("ConvInteger", [x, w, xz, wz], opset=10, pads=[1, 1, 1, 1]), atol=0)
    ws = np.array([0.01, 0.02, 0.015, 0.03], np.float32)
    wzs = np.array([128, 127, 129, 128], np.uint8)
    args = [x, np.array(0.05, np.float32), xz, w, ws, wzs, np.array(0.4, np.float32), np.array(100, np.uint8),
            rng.integers(-500, 500, 4).astype(np.int32)]
    got = run_kernel("QLinearConv", *args, opset=10, pads=[1, 1, 1, 1])
    want = run_ort("QLinearConv", args, opset=10, pads=[1, 1, 1, 1])
    assert got[0].dtype == np.uint8 and np.abs(got[0].astype(int) - want[0].astype(int)).max() <= 1


# --------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[3, 2], strides=[2, 2], ceil_mode=1),
    dict(kernel_shape=[2, 2], dilations=[2, 2], strides=[1, 2], pads=[1, 0, 0, 1]),
    dict(kernel_shape=[3, 3], auto_pad="SAME_LOWER", strides=[2, 2]),
    dict(kernel_shape=[2, 3], storage_order=1, strides=[1, 1]),
])
def test_max_pool_with_indices_matches_onnxruntime(attrs):
    x = rand(2, 3, 9, 8, seed=16)
    assert_close(run_kernel("MaxPool", x, opset=12, n_out=2, **attrs),
                 run_ort("MaxPool", [x], opset=12, n_out=2, **attrs), atol=0)
    assert_close(run_kernel("MaxPool", x, opset=12, **attrs), run_ort("MaxPool", [x], opset=12, **attrs), atol=0)


@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0, ceil_mode=1),
    dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1, count_include_pad=1),
    dict(kernel_shape=[3, 2], auto_pad="SAME_UPPER"),
])
def test_average_and_lp_pool_match_onnxruntime(attrs):
    x = rand(1, 2, 9, 7, seed=17)
    assert_close(run_kernel("AveragePool", x, opset=19, **attrs), run_ort("AveragePool", [x], opset=19, **attrs))
    lp = {k: v for k, v in attrs.items() if k not in ("count_include_pad",)}
    if "ceil_mode" not in lp:
        assert_close(run_kernel("LpPool", x, opset=18, p=3, **lp), run_ort("LpPool", [x], opset=18, p=3, **lp))


def test_global_pools_match_onnxruntime():
    x = rand(2, 3, 5, 4, seed=18)
    for op in ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"):
        assert_close(run_kernel(op, x, opset=13), run_ort(op, [x], opset=13))


# --------------------------------------------------------------------------- normalization / linalg


def test_batchnorm_training_outputs_match_reference():
    x, s, b = rand(4, 3, 5, seed=19), rand(3, seed=20), rand(3, seed=21)
    mean, var = rand(3, seed=22), np.abs(rand(3, seed=23))
    node = helper.make_node("BatchNormalization", list("xsbmv"), ["y", "rm", "rv"], training_mode=1, momentum=0.8)
    ref = ReferenceEvaluator(node).run(None, dict(zip("xsbmv", [x, s, b, mean, var])))
    got = run_kernel("BatchNormalization", x, s, b, mean, var, opset=15, n_out=3, training_mode=1, momentum=0.8)
    assert_close(got, ref)


def test_layer_norm_float16_and_group_norm_opset18():
    x = rand(2, 4, 6, seed=24).astype(np.float16)
    s, b = (rand(6, seed=40) * 2).astype(np.float16), rand(6, seed=41).astype(np.float16)
    got = run_kernel("LayerNormalization", x, s, b, opset=17, n_out=3)
    want = run_ort("LayerNormalization", [x, s, b], opset=17, n_out=3)
    assert [a.dtype for a in got] == [a.dtype for a in want] == [np.float16, np.float32, np.float32]
    np.testing.assert_array_equal(got[0], want[0])  # equal today
    # float64 on the float16 values: Y within one float16 step of it (0.496 today: correctly rounded),
    # Mean and InvStdDev (float32, the stash type) within a few float32 steps. Under the old 1e-2
    # an epsilon of 1e-2 passed; now epsilon 1e-4 for 1e-5 fails on InvStdDev (issue 21 Low).
    x64 = x.astype(np.float64)
    mean = x64.mean(-1, keepdims=True)
    inv = 1 / np.sqrt(((x64 - mean) ** 2).mean(-1, keepdims=True) + 1e-5)
    y = (x64 - mean) * inv * s + b.astype(np.float64)
    step16 = np.spacing(np.abs(y).astype(np.float16)).astype(np.float64)
    assert np.all(np.abs(got[0] - y) <= step16), (np.abs(got[0] - y) / step16).max()
    np.testing.assert_allclose(got[1], mean, rtol=2 ** -21, atol=2 ** -24)
    np.testing.assert_allclose(got[2], inv, rtol=2 ** -21)
    x = rand(2, 4, 3, 3, seed=25)
    s, b = rand(2, seed=26), rand(2, seed=27)
    expected = ((x.reshape(2, 2, -1) - x.reshape(2, 2, -1).mean(-1, keepdims=True))
                / np.sqrt(x.reshape(2, 2, -1).var(-1, keepdims=True) + 1e-5))
    expected = expected.reshape(2, 2, 2, 3, 3) * s.reshape(1, 2, 1, 1, 1) + b.reshape(1, 2, 1, 1, 1)
    got = run_kernel("GroupNormalization", x, s, b, opset=18, num_groups=2)
    np.testing.assert_allclose(got[0], expected.reshape(x.shape), rtol=1e-4, atol=1e-5)


def test_gemm_matmul_variants_match_onnxruntime():
    a, b, c = rand(4, 3, seed=28), rand(5, 4, seed=29), rand(1, 5, seed=30)
    attrs = dict(transA=1, transB=1, alpha=0.7, beta=-1.5)
    assert_close(run_kernel("Gemm", a, b, c, opset=13, **attrs), run_ort("Gemm", [a, b, c], opset=13, **attrs))
    x, y = rand(2, 1, 3, 4, seed=31), rand(5, 4, 2, seed=32)
    assert_close(run_kernel("MatMul", x, y, opset=13), run_ort("MatMul", [x, y], opset=13))
    v = rand(4, seed=33)
    assert_close(run_kernel("MatMul", v, y, opset=13), run_ort("MatMul", [v, y], opset=13))
    rng = np.random.default_rng(0)
    ai, bi = rng.integers(0, 255, (3, 4), dtype=np.uint8), rng.integers(-128, 127, (4, 2), dtype=np.int8)
    azp, bzp = np.array(3, np.uint8), np.array([1, -2], np.int8)
    assert_close(run_kernel("MatMulInteger", ai, bi, azp, bzp, opset=10),
                 run_ort("MatMulInteger", [ai, bi, azp, bzp], opset=10), atol=0)


# --------------------------------------------------------------------------- resize


@pytest.mark.parametrize("opset,attrs,scales,sizes", [
    (10, dict(mode="nearest"), [1, 1, 2.5, 1.7], None),
    (10, dict(mode="linear"), [1, 1, 0.6, 1.5], None),
    (11, dict(mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn"), [1, 1, 1.6, 2], None),
    (11, dict(mode="cubic", coordinate_transformation_mode="asymmetric"), None, [1, 2, 9, 5]),
    (13, dict(mode="linear", coordinate_transformation_mode="pytorch_half_pixel"), None, [1, 2, 1, 12]),
    (13, dict(mode="nearest", nearest_mode="ceil", coordinate_transformation_mode="align_corners"), [1, 1, 0.5, 3], None),
    (13, dict(mode="cubic", exclude_outside=1, cubic_coeff_a=-0.5), [1, 1, 1.5, 0.75], None),
    (18, dict(mode="linear", antialias=1), [1, 1, 0.4, 0.6], None),
])
def test_resize_matches_onnxruntime(opset, attrs, scales, sizes):
    x = rand(1, 2, 6, 7, seed=34)
    if opset == 10:
        inputs = [x, np.array(scales, np.float32)]
    else:
        inputs = [x, np.array([], np.float32),
                  np.array(scales, np.float32) if scales else np.array([], np.float32) if opset < 13 else None,
                  None if sizes is None else np.array(sizes, np.int64)]
        if sizes is None:
            inputs = inputs[:3]
    assert_close(run_kernel("Resize", *inputs, opset=opset, **attrs), run_ort("Resize", inputs, opset=opset, **attrs),
                 rtol=1e-4, atol=1e-5)


def test_resize_tf_crop_and_resize_matches_onnxruntime():
    x = rand(1, 1, 5, 6, seed=35)
    roi = np.array([0, 0, 0.2, -0.1, 1, 1, 0.9, 0.8], np.float32)
    attrs = dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=7.0)
    inputs = [x, roi, None, np.array([1, 1, 4, 7], np.int64)]
    assert_close(run_kernel("Resize", *inputs, opset=13, **attrs), run_ort("Resize", inputs, opset=13, **attrs))


# --------------------------------------------------------------------------- quantize


def test_quantize_per_axis_and_blocked_match_onnxruntime():
    x = rand(2, 3, 4, seed=36) * 10
    s, z = np.array([0.1, 0.2, 0.05], np.float32), np.array([-3, 0, 5], np.int8)
    assert_close(run_kernel("QuantizeLinear", x, s, z, opset=13, axis=1),
                 run_ort("QuantizeLinear", [x, s, z], opset=13, axis=1), atol=0)
    q = run_kernel("QuantizeLinear", x, s, z, opset=13, axis=1)[0]
    assert_close(run_kernel("DequantizeLinear", q, s, z, opset=13, axis=1),
                 run_ort("DequantizeLinear", [q, s, z], opset=13, axis=1))
    sb = np.abs(rand(2, 3, 2, seed=37)) + 0.05
    zb = np.full((2, 3, 2), 7, np.uint16)
    assert_close(run_kernel("QuantizeLinear", x, sb, zb, opset=21, axis=2, block_size=2),
                 run_ort("QuantizeLinear", [x, sb, zb], opset=21, axis=2, block_size=2), atol=0)


def test_quantize_float8_matches_reference():
    x = rand(3, 4, seed=38) * 300
    s = np.array(0.5, np.float32)
    zp = helper.make_tensor("zp", TensorProto.FLOAT8E4M3FN, [], [0])
    node = helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["y"])
    zval = numpy_helper.to_array(zp)
    want = ReferenceEvaluator(node).run(None, {"x": x, "s": s, "zp": zval})[0]
    got = run_kernel("QuantizeLinear", x, s, zval, opset=21)[0]
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


# --------------------------------------------------------------------------- recurrent


@pytest.mark.parametrize("op,gates,attrs", [
    ("LSTM", 4, dict(direction="bidirectional")),
    ("LSTM", 4, dict(direction="reverse", clip=0.6, input_forget=1)),
    ("GRU", 3, dict(direction="bidirectional", linear_before_reset=0)),
    ("GRU", 3, dict(direction="reverse", linear_before_reset=1, layout=1)),
    ("RNN", 1, dict(direction="bidirectional", activations=["Relu", "Tanh"])),
])
def test_recurrent_with_sequence_lens_matches_onnxruntime(op, gates, attrs):
    seq, batch, inp, hid = 5, 3, 4, 6
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    layout = attrs.get("layout", 0)
    x = rand(*((batch, seq, inp) if layout else (seq, batch, inp)), seed=39)
    w, r = rand(dirs, gates * hid, inp, seed=40) * 0.5, rand(dirs, gates * hid, hid, seed=41) * 0.5
    b = rand(dirs, 2 * gates * hid, seed=42) * 0.3
    lens = np.array([5, 2, 4], np.int32)
    h0 = rand(*((batch, dirs, hid) if layout else (dirs, batch, hid)), seed=43)
    inputs = [x, w, r, b, lens, h0]
    if op == "LSTM":
        inputs += [rand(*h0.shape, seed=44), rand(dirs, 3 * hid, seed=45)]
    n_out = 3 if op == "LSTM" else 2
    got = run_kernel(op, *inputs, opset=14, n_out=n_out, hidden_size=hid, **attrs)
    if layout:  # onnxruntime runs layout 0 only: compare against it on transposed data
        attrs = {k: v for k, v in attrs.items() if k != "layout"}
        inputs = [np.swapaxes(v, 0, 1) if k in (0, 5, 6) else v for k, v in enumerate(inputs)]
        want = run_ort(op, inputs, opset=14, n_out=n_out, hidden_size=hid, **attrs)
        want = [want[0].transpose(2, 0, 1, 3)] + [np.swapaxes(v, 0, 1) for v in want[1:]]
    else:
        want = run_ort(op, inputs, opset=14, n_out=n_out, hidden_size=hid, **attrs)
    assert_close(got, want, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- control flow


def _fake_runner(bodies):
    """A subgraph runner calling plain Python bodies by attribute name."""
    return lambda name, inputs: bodies[name](*inputs)


def test_if_runs_the_chosen_branch():
    runner = _fake_runner({"then_branch": lambda: [np.array([1.0], np.float32)],
                           "else_branch": lambda: [np.array([2.0], np.float32)]})
    assert run_kernel("If", np.array(True), runner=runner)[0][0] == 1.0
    assert run_kernel("If", np.array([False]), runner=runner)[0][0] == 2.0


def test_loop_carries_state_and_stacks_scan_outputs():
    def body(i, cond, acc):
        acc = acc + i
        return [np.array(acc < 10), acc, acc * 2]

    runner = _fake_runner({"body": body})
    final, scanned = run_kernel("Loop", np.array(100, np.int64), np.array(True), np.array(0, np.int64),
                                n_out=2, runner=runner)
    assert final == 10
    np.testing.assert_array_equal(scanned, np.array([0, 2, 6, 12, 20]))
    final, scanned = run_kernel("Loop", np.array(3, np.int64), None, np.array(0, np.int64), n_out=2, runner=runner)
    assert final == 3 and scanned.shape == (3,)


def test_loop_trip_count_limit(monkeypatch):
    runner = _fake_runner({"body": lambda i, c, x: [np.array(True), x]})
    monkeypatch.setenv("GRAPHC_MAX_LOOP_ITERATIONS", "50")
    with pytest.raises(PlanError, match="loop"):
        run_kernel("Loop", np.array(51, np.int64), None, np.array(0.0), runner=runner)
    with pytest.raises(PlanError, match="50 iterations"):
        run_kernel("Loop", None, np.array(True), np.array(0.0), runner=runner)
    assert run_kernel("Loop", np.array(50, np.int64), None, np.array(1.5), runner=runner)[0] == 1.5


def test_scan_directions_and_axes():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)

    def body(state, row):
        s = state + row
        return [s, s.copy()]

    runner = _fake_runner({"body": body})
    final, ys = run_kernel("Scan", np.zeros(3, np.float32), x, opset=11, n_out=2, runner=runner,
                           num_scan_inputs=1, scan_input_axes=[1], scan_input_directions=[1],
                           scan_output_axes=[1], scan_output_directions=[0])
    np.testing.assert_array_equal(final, x.sum(axis=1))
    np.testing.assert_array_equal(ys, np.cumsum(x[:, ::-1], axis=1))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_integer_linear_resize_truncates_like_onnxruntime(dtype):
    """Quantized (QOperator) graphs upsample int8/uint8 tensors: onnxruntime truncates the blend toward zero.
    (At non-integer scales its fixed-point weights differ from exact ones by one step at a few percent of the
    positions; not matched.)"""
    info = np.iinfo(dtype)
    x = np.random.default_rng(35).integers(info.min, info.max, (1, 2, 5, 6), endpoint=True).astype(dtype)
    inputs = [x, np.array([], np.float32), np.array([1, 1, 2, 2], np.float32)]
    np.testing.assert_array_equal(run_kernel("Resize", *inputs, opset=13, mode="linear"),
                                  run_ort("Resize", inputs, opset=13, mode="linear"))
