"""Native numpy kernels of onnxruntime's quantized com.microsoft ops (QOperator format), held to onnxruntime.

(a) Single-node models (opsets: default 17, com.microsoft 1) over random uint8 / int8 data,
scales and zero points as initializers, compiled with ``fallback=False`` so the native kernel
runs. onnxruntime evaluates several ops through lookup tables or MLAS fixed formulas, so a
quantized output may differ by one quantization step: every element is within 1 and at
least 99% are exact. Float outputs (QGemm without y_scale, MatMulIntegerToFloat,
DynamicQuantizeMatMul) are compared at a tolerance of a fraction of the output scale.

(b) A real quantized model: a small float conv net quantized by
``onnxruntime.quantization.quantize_static`` in the QOperator format, checked to contain the
com.microsoft QLinear* nodes, compiled natively and compared with onnxruntime.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import graphc
from graphc.errors import GraphcError
from tests.oracle import ort_run

MS = "com.microsoft"
U8, I8 = np.uint8, np.int8


def _q(rng: np.random.Generator, dtype, *shape: int) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)


def _zp(dtype, value: int) -> np.ndarray:
    return np.array(value if dtype == U8 else value - 128, dtype)


def _s(value: float) -> np.ndarray:
    return np.array(value, np.float32)


def _single(op: str, inputs: list[tuple[str, np.ndarray | None, bool]], **attrs
            ) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """One ``op`` node with output ``y``; inputs are (name, value, runtime?) with None for an omitted one."""
    feeds = {n: v for n, v, rt in inputs if v is not None and rt}
    inits = [numpy_helper.from_array(v, n) for n, v, rt in inputs if v is not None and not rt]
    node = helper.make_node(op, [n if v is not None else "" for n, v, _ in inputs], ["y"], domain=MS, **attrs)
    graph = helper.make_graph(
        [node], "qcontrib",
        [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in feeds.items()],
        [onnx.ValueInfoProto(name="y")], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)]), feeds


def _native(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return graphc.compile(model, "numpy", fallback=False).run(feeds)


def _check_quantized(model: onnx.ModelProto, feeds: dict[str, np.ndarray], min_exact: float = 0.99) -> float:
    """Native output vs onnxruntime: same shape/dtype, within 1 step, ``min_exact`` exact. Returns the exact rate."""
    want = ort_run(model, feeds)["y"]
    got = _native(model, feeds)["y"]
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
    exact = float((diff == 0).mean()) if diff.size else 1.0
    assert diff.max(initial=0) <= 1, f"max diff {diff.max()} steps"
    assert exact >= min_exact, f"only {exact:.2%} exact"
    return exact


def _check_float(model: onnx.ModelProto, feeds: dict[str, np.ndarray], atol: float) -> None:
    want = ort_run(model, feeds)["y"]
    got = _native(model, feeds)["y"]
    assert got.shape == want.shape and got.dtype == want.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol)


# --------------------------------------------------------------------------- (a) single nodes

BINARY_SHAPES = [((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), (1, 3, 1, 5)), ((4, 5), (5,)), ((3, 1), (1, 6))]


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("dtype", [U8, I8], ids=["u8", "i8"])
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_binary(op, dtype, shapes):
    rng = np.random.default_rng(len(shapes[1]) + (dtype == I8))
    c_scale = 0.05 if op == "QLinearAdd" else 0.4
    model, feeds = _single(op, [
        ("a", _q(rng, dtype, *shapes[0]), True), ("a_s", _s(0.02), False), ("a_z", _zp(dtype, 120), False),
        ("b", _q(rng, dtype, *shapes[1]), True), ("b_s", _s(0.03), False), ("b_z", _zp(dtype, 131), False),
        ("c_s", _s(c_scale), False), ("c_z", _zp(dtype, 128), False)])
    _check_quantized(model, feeds)


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
def test_binary_omitted_zero_points(op):
    """Omitted zero points mean 0 (onnxruntime's type inference rejects the omission: compare with explicit 0)."""
    rng = np.random.default_rng(7)
    a, b = _q(rng, U8, 3, 8), _q(rng, U8, 3, 8)
    c_s = _s(0.2 if op == "QLinearAdd" else 8.0)

    def model(zero: np.ndarray | None) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
        return _single(op, [("a", a, True), ("a_s", _s(0.1), False), ("a_z", zero, False),
                            ("b", b, True), ("b_s", _s(0.07), False), ("b_z", zero, False),
                            ("c_s", c_s, False), ("c_z", zero, False)])

    omitted, feeds = model(None)
    explicit, _ = model(np.array(0, U8))
    want = ort_run(explicit, feeds)["y"]
    got = _native(omitted, feeds)["y"]
    assert got.dtype == want.dtype == U8
    assert np.abs(got.astype(np.int64) - want.astype(np.int64)).max() <= 1


@pytest.mark.parametrize("dtype", [U8, I8], ids=["u8", "i8"])
@pytest.mark.parametrize("channels_last", [0, 1])
def test_global_average_pool(dtype, channels_last):
    rng = np.random.default_rng(channels_last)
    shape = (2, 5, 6, 16) if channels_last else (2, 16, 5, 6)
    model, feeds = _single("QLinearGlobalAveragePool", [
        ("x", _q(rng, dtype, *shape), True), ("x_s", _s(0.05), False), ("x_z", _zp(dtype, 100), False),
        ("y_s", _s(0.01), False), ("y_z", _zp(dtype, 140), False)], channels_last=channels_last)
    _check_quantized(model, feeds)


POOLS = [
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1),
    dict(kernel_shape=[2, 3], strides=[1, 2], ceil_mode=1),
    dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
]


@pytest.mark.parametrize("dtype", [U8, I8], ids=["u8", "i8"])
@pytest.mark.parametrize("channels_last", [0, 1])
@pytest.mark.parametrize("attrs", POOLS, ids=range(len(POOLS)))
def test_average_pool(dtype, channels_last, attrs):
    rng = np.random.default_rng(3)
    shape = (2, 9, 8, 4) if channels_last else (2, 4, 9, 8)
    model, feeds = _single("QLinearAveragePool", [
        ("x", _q(rng, dtype, *shape), True), ("x_s", _s(0.05), False), ("x_z", _zp(dtype, 110), False),
        ("y_s", _s(0.03), False), ("y_z", _zp(dtype, 128), False)], channels_last=channels_last, **attrs)
    _check_quantized(model, feeds)


@pytest.mark.parametrize("dtype", [U8, I8], ids=["u8", "i8"])
@pytest.mark.parametrize("axis", [1, -1])
def test_concat(dtype, axis):
    rng = np.random.default_rng(axis + 5)
    shapes = [(2, 3, 4), (2, 5, 4), (2, 2, 4)] if axis == 1 else [(2, 3, 4), (2, 3, 1), (2, 3, 6)]
    params = [(0.02, 128), (0.05, 100), (0.03, 140)]  # the first matches the output: copied as is
    inputs = [("y_s", _s(0.02), False), ("y_z", _zp(dtype, 128), False)]
    for i, (shape, (s, z)) in enumerate(zip(shapes, params)):
        inputs += [(f"x{i}", _q(rng, dtype, *shape), True), (f"s{i}", _s(s), False), (f"z{i}", _zp(dtype, z), False)]
    model, feeds = _single("QLinearConcat", inputs, axis=axis)
    _check_quantized(model, feeds)


def test_concat_missing_x_is_refused():
    """An omitted X (empty input name) is a shape error naming the node, not an AttributeError from the kernel."""
    inputs = [("y_s", _s(0.02), False), ("y_z", _zp(np.uint8, 128), False), ("x0", None, True),
              ("s0", _s(0.02), False), ("z0", _zp(np.uint8, 128), False),
              ("x1", np.ones((2, 3), np.uint8), True), ("s1", _s(0.02), False), ("z1", _zp(np.uint8, 128), False)]
    model, feeds = _single("QLinearConcat", inputs, axis=0)
    with pytest.raises(GraphcError, match="QLinearConcat.*X and X_scale .* required"):
        _native(model, feeds)


@pytest.mark.parametrize("op,attrs", [("QLinearSigmoid", {}), ("QLinearLeakyRelu", {"alpha": 0.1}),
                                      ("QLinearLeakyRelu", {})])
@pytest.mark.parametrize("dtype", [U8, I8], ids=["u8", "i8"])
def test_activation(op, attrs, dtype):
    rng = np.random.default_rng(11)
    y_s = 1.0 / 256 if op == "QLinearSigmoid" else 0.04
    y_z = _zp(dtype, 0) if op == "QLinearSigmoid" else _zp(dtype, 128)
    model, feeds = _single(op, [
        ("x", _q(rng, dtype, 4, 7, 9), True), ("x_s", _s(0.05), False), ("x_z", _zp(dtype, 128), False),
        ("y_s", _s(y_s), False), ("y_z", y_z, False)], **attrs)
    _check_quantized(model, feeds)


@pytest.mark.parametrize("dtype", [U8, I8], ids=["u8", "i8"])
@pytest.mark.parametrize("opset,axis", [(13, -1), (13, 1), (12, 1), (12, 2)])
def test_softmax(dtype, opset, axis):
    rng = np.random.default_rng(opset + axis)
    model, feeds = _single("QLinearSoftmax", [
        ("x", _q(rng, dtype, 2, 5, 6), True), ("x_s", _s(0.04), False), ("x_z", _zp(dtype, 128), False),
        ("y_s", _s(1.0 / 256), False), ("y_z", _zp(dtype, 0), False)], axis=axis, opset=opset)
    _check_quantized(model, feeds)


QGEMMS = [  # a dtype, per-column b params, bias C, y_scale given, transA, transB, alpha
    (U8, False, True, True, 0, 0, 1.0),
    (U8, True, True, True, 0, 1, 1.0),
    (I8, False, False, True, 1, 0, 0.5),
    (I8, True, True, False, 0, 1, 1.0),
    (U8, False, True, False, 0, 0, 2.0),
]


@pytest.mark.parametrize("case", QGEMMS, ids=range(len(QGEMMS)))
def test_qgemm(case):
    dtype, per_col, with_c, with_y, trans_a, trans_b, alpha = case
    rng = np.random.default_rng(17)
    m, k, n = 5, 24, 7
    a = _q(rng, dtype, *((k, m) if trans_a else (m, k)))
    b = _q(rng, I8, *((n, k) if trans_b else (k, n)))
    b_s = (rng.uniform(0.01, 0.03, n) if per_col else np.array(0.02)).astype(np.float32)
    b_z = np.zeros(b_s.shape, I8)
    c = rng.integers(-3000, 3000, size=(n,)).astype(np.int32) if with_c else None
    inputs = [("a", a, True), ("a_s", _s(0.03), False), ("a_z", _zp(dtype, 125), False),
              ("b", b, False), ("b_s", b_s, False), ("b_z", b_z, False), ("c", c, False)]
    if with_y:
        inputs += [("y_s", _s(0.4), False), ("y_z", _zp(dtype, 128), False)]
    model, feeds = _single("QGemm", inputs, transA=trans_a, transB=trans_b, alpha=alpha)
    if with_y:
        _check_quantized(model, feeds)
    else:
        _check_float(model, feeds, atol=1e-4)


@pytest.mark.parametrize("a_dtype", [U8, I8], ids=["u8", "i8"])
@pytest.mark.parametrize("per_col", [False, True])
def test_matmul_integer_to_float(a_dtype, per_col):
    rng = np.random.default_rng(19)
    k, n = 16, 6
    b_s = (rng.uniform(0.01, 0.03, n) if per_col else np.array(0.02)).astype(np.float32)
    b_z = (rng.integers(-3, 3, n) if per_col else np.array(1)).astype(I8)
    model, feeds = _single("MatMulIntegerToFloat", [
        ("a", _q(rng, a_dtype, 2, 3, k), True), ("b", _q(rng, I8, k, n), False),
        ("a_s", _s(0.05), False), ("b_s", b_s, False), ("a_z", _zp(a_dtype, 120), False), ("b_z", b_z, False),
        ("bias", rng.standard_normal(n).astype(np.float32), False)])
    _check_float(model, feeds, atol=1e-4)


@pytest.mark.parametrize("b_dtype", [U8, I8], ids=["u8", "i8"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_dynamic_quantize_matmul(b_dtype, with_bias):
    rng = np.random.default_rng(23)
    k, n = 16, 6
    b_s = rng.uniform(0.01, 0.03, n).astype(np.float32)
    model, feeds = _single("DynamicQuantizeMatMul", [
        ("a", rng.standard_normal((4, k)).astype(np.float32), True), ("b", _q(rng, b_dtype, k, n), False),
        ("b_s", b_s, False), ("b_z", _zp(b_dtype, 128) + np.zeros(n, b_dtype), False),
        ("bias", rng.standard_normal(n).astype(np.float32) if with_bias else None, False)])
    _check_float(model, feeds, atol=1e-4)


def test_unimplemented_quantized_op_is_named():
    rng = np.random.default_rng(0)
    model, feeds = _single("QLinearWhere", [
        ("c", rng.integers(0, 2, (3, 4)).astype(bool), True),
        ("x", _q(rng, U8, 3, 4), True), ("x_s", _s(0.1), False), ("x_z", _zp(U8, 128), False),
        ("y", _q(rng, U8, 3, 4), True), ("y_s", _s(0.1), False), ("y_z", _zp(U8, 128), False),
        ("z_s", _s(0.1), False), ("z_z", _zp(U8, 128), False)])
    with pytest.raises(GraphcError, match="QLinearWhere"):
        graphc.compile(model, "numpy", fallback=False).run(feeds)


def test_kernels_are_registered():
    from targets.numpy.kernels import KERNELS

    for op in ("QLinearAdd", "QLinearMul", "QLinearGlobalAveragePool", "QLinearAveragePool", "QLinearConcat",
               "QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", "QGemm", "DynamicQuantizeMatMul",
               "MatMulIntegerToFloat"):
        assert KERNELS.lookup(MS, op, 1) is not None, op


# --------------------------------------------------------------------------- (b) a real quantized model


def _float_net(rng: np.random.Generator) -> onnx.ModelProto:
    """Conv-Relu-Conv + residual Add, two pooled branches concatenated, then Gemm, MatMul and Softmax."""
    def w(name: str, *shape: int, scale: float = 0.3) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [w("w1", 8, 3, 3, 3), w("b1", 8, scale=0.1), w("w2", 8, 8, 3, 3, scale=0.15), w("b2", 8, scale=0.1),
             w("w3", 8, 8, 1, 1), w("b3", 8, scale=0.1), w("gw", 16, 10), w("gb", 10, scale=0.1),
             w("mw", 10, 4), w("mul_c", 1, 8, 1, 1, scale=1.0)]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["res"]),
        helper.make_node("Relu", ["res"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g1"]),
        helper.make_node("AveragePool", ["r2"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w3", "b3"], ["c3"]),
        helper.make_node("LeakyRelu", ["c3"], ["l3"], alpha=0.1),
        helper.make_node("Mul", ["l3", "mul_c"], ["m3"]),
        helper.make_node("Sigmoid", ["m3"], ["s3"]),
        helper.make_node("GlobalAveragePool", ["s3"], ["g2"]),
        helper.make_node("Concat", ["g1", "g2"], ["cat"], axis=1),
        helper.make_node("Flatten", ["cat"], ["flat"]),
        helper.make_node("Gemm", ["flat", "gw", "gb"], ["fc"]),
        helper.make_node("MatMul", ["fc", "mw"], ["mm"]),
        helper.make_node("Softmax", ["mm"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(nodes, "small_net", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT,
                                                                                 [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4]),
                               helper.make_tensor_value_info("mm", onnx.TensorProto.FLOAT, [1, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model)


@pytest.mark.parametrize("activation_type", ["QUInt8", "QInt8"])
def test_real_quantize_static_model(tmp_path, activation_type):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(42)
    float_path, q_path = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    onnx.save(_float_net(rng), float_path)
    samples = [rng.standard_normal((1, 3, 16, 16)).astype(np.float32) for _ in range(8)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(samples)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {"x": x}

    quantize_static(str(float_path), str(q_path), Reader(), quant_format=QuantFormat.QOperator,
                    activation_type=getattr(QuantType, activation_type), weight_type=QuantType.QInt8)
    qmodel = onnx.load(q_path)
    ms_ops = {n.op_type for n in qmodel.graph.node if n.domain == MS}
    assert {"QLinearAdd", "QLinearMul", "QLinearGlobalAveragePool", "QLinearAveragePool", "QLinearConcat",
            "QLinearLeakyRelu", "QLinearSigmoid", "QLinearSoftmax", "QGemm"} <= ms_ops, ms_ops
    assert "QLinearConv" in {n.op_type for n in qmodel.graph.node}

    inits = {t.name: numpy_helper.to_array(t) for t in qmodel.graph.initializer}
    out_scale = {n.output[0]: float(inits[n.input[1]]) for n in qmodel.graph.node if n.op_type == "DequantizeLinear"}
    assert set(out_scale) == {"y", "mm"}
    art = graphc.compile(qmodel, "numpy", fallback=False)
    for x in [rng.standard_normal((1, 3, 16, 16)).astype(np.float32) for _ in range(3)]:
        want = ort_run(qmodel, {"x": x})
        got = art.run({"x": x})
        for name, scale in out_scale.items():
            assert got[name].shape == want[name].shape and got[name].dtype == want[name].dtype
            # within 2 output quantization steps (in practice the outputs are identical)
            assert np.abs(got[name] - want[name]).max() <= 2 * scale + 1e-6, (name, got[name], want[name], scale)
