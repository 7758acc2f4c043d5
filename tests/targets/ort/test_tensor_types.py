"""bfloat16, float8 and sub-byte tensors cross into and out of onnxruntime bit for bit."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import graphc
from targets.ort import OrtTarget
from targets.ort.deviation_check import DeviationCheck
from targets.ort.tensors import exotic, from_ort_value, to_ort_value

ALL_CODES = {  # every bit pattern of each type (NaN codes included), in an odd-length array
    "bfloat16": np.arange(0, 65536, 97, dtype=np.uint16),
    "float8_e4m3fn": np.arange(256, dtype=np.uint8)[:255],
    "float8_e4m3fnuz": np.arange(256, dtype=np.uint8)[:255],
    "float8_e5m2": np.arange(256, dtype=np.uint8)[:255],
    "float8_e5m2fnuz": np.arange(256, dtype=np.uint8)[:255],
    "float8_e8m0fnu": np.arange(256, dtype=np.uint8)[:255],
    "int4": np.arange(16, dtype=np.uint8)[:15],
    "uint4": np.arange(16, dtype=np.uint8)[:15],
    "int2": np.arange(4, dtype=np.uint8)[:3],
    "uint2": np.arange(4, dtype=np.uint8)[:3],
    "float4_e2m1fn": np.arange(16, dtype=np.uint8)[:15],
}


@pytest.mark.parametrize("name", sorted(ALL_CODES))
def test_ort_value_round_trip_keeps_every_bit(name):
    dtype = np.dtype(getattr(ml_dtypes, name))
    codes = ALL_CODES[name]
    arr = codes.view(dtype)
    assert exotic(dtype)
    back = from_ort_value(to_ort_value(arr), dtype)
    assert back.dtype == dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back.view(codes.dtype), codes)
    scalar = arr[1:2].reshape(())
    assert from_ort_value(to_ort_value(scalar), dtype).shape == ()


def test_sub_byte_values_are_packed_low_bits_first():
    value = to_ort_value(np.array([1, -1, 2], ml_dtypes.int4))
    assert value.tensor_size_in_bytes() == 2
    import ctypes

    raw = bytes((ctypes.c_uint8 * 2).from_address(value.data_ptr()))
    assert raw == bytes([0xF1, 0x02])


def _cast_model(src: int, dst: int, shape=(5,), opset=25):
    node = helper.make_node("Cast", ["x"], ["y"], to=dst, name="cast")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", src, list(shape))],
                              [helper.make_tensor_value_info("y", dst, list(shape))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("dst", [TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2,
                                 TensorProto.INT4, TensorProto.UINT2])
def test_graph_inputs_and_outputs_of_types_onnxruntime_cannot_return(dst):
    x = np.array([-3.5, -1.0, 0.0, 0.75, 2.0], np.float32)
    if dst in (TensorProto.INT4, TensorProto.UINT2):  # integral values in range: no rounding rule involved
        x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0] if dst == TensorProto.INT4 else [0.0, 1.0, 2.0, 3.0, 1.0], np.float32)
    # onnxruntime casts natively; only the way out is special. (Float to int4/uint2 is a declared deviation
    # for out-of-range values, routed to graphc's kernel: held off here, these values are in range.)
    target = OrtTarget(deviations=DeviationCheck(forced={"cast-float-to-sub-byte-integer": False}))
    to = graphc.compile(_cast_model(TensorProto.FLOAT, dst), target=target)
    assert not to.python_ops
    y = to.run({"x": x})["y"]
    want = ReferenceEvaluator(_cast_model(TensorProto.FLOAT, dst)).run(None, {"x": x})[0]
    assert y.dtype == want.dtype
    np.testing.assert_array_equal(y.astype(np.float32), want.astype(np.float32))
    back = graphc.compile(_cast_model(dst, TensorProto.FLOAT), target="ort").run({"x": y})["y"]
    np.testing.assert_array_equal(back, want.astype(np.float32))


def test_float4_values_travel_as_uint8_codes():
    """onnxruntime has no float4e2m1 kernel at all: graphc's Cast runs it, and the graph's float4
    input/output is carried as uint8 codes the artifact views back."""
    x = np.array([-6.0, -0.5, 0.0, 1.5, 3.0, 5.0], np.float32)
    to = graphc.compile(_cast_model(TensorProto.FLOAT, TensorProto.FLOAT4E2M1, (6,)), target="ort")
    y = to.run({"x": x})["y"]
    assert y.dtype == np.dtype(ml_dtypes.float4_e2m1fn)
    np.testing.assert_array_equal(y.astype(np.float32), x.astype(ml_dtypes.float4_e2m1fn).astype(np.float32))
    back = graphc.compile(_cast_model(TensorProto.FLOAT4E2M1, TensorProto.FLOAT, (6,)), target="ort")
    np.testing.assert_array_equal(back.run({"x": y})["y"], y.astype(np.float32))


def test_a_python_op_sees_float8_and_int4_values_exactly():
    """QuantizeLinear at opset 28 is refused by onnxruntime 1.32 and re-lowered; its int4 / float8
    outputs cross the Python-op boundary through Cast carriers."""
    for elem, zp in ((TensorProto.INT4, np.array(1, ml_dtypes.int4)),
                     (TensorProto.FLOAT8E4M3FN, np.array(0, ml_dtypes.float8_e4m3fn))):
        node = helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["y"], name="q")
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6])],
            [helper.make_tensor_value_info("y", elem, [6])],
            initializer=[helper.make_tensor("s", TensorProto.FLOAT, [], [0.5]),
                         helper.make_tensor("zp", elem, [], [float(zp.astype(np.float32))])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 28)])
        x = np.array([-3.0, -1.2, 0.0, 0.7, 2.2, 9.0], np.float32)
        y = graphc.compile(model, target="ort").run({"x": x})["y"]
        want = ReferenceEvaluator(model).run(None, {"x": x})[0]
        assert y.dtype == want.dtype
        np.testing.assert_array_equal(y.astype(np.float32), want.astype(np.float32))
