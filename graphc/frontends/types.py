"""Conversions between ONNX TypeProto and graphc TensorType."""

from __future__ import annotations

import re

import numpy as np
import onnx
from onnx import helper

from ..ir import TensorType

__all__ = ["type_from_proto", "type_to_proto", "np_dtype", "onnx_dtype"]


def np_dtype(elem_type: int) -> np.dtype | None:
    """numpy dtype of an ONNX element type (None for UNDEFINED or unknown)."""
    if elem_type == onnx.TensorProto.UNDEFINED:
        return None
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, ValueError, TypeError):
        return None


def onnx_dtype(dtype: np.dtype | None) -> int:
    """ONNX element type of a numpy dtype (UNDEFINED for None)."""
    if dtype is None:
        return onnx.TensorProto.UNDEFINED
    dtype = np.dtype(dtype)
    if dtype == object or dtype.kind in "SU":
        return onnx.TensorProto.STRING
    return helper.np_dtype_to_tensor_dtype(dtype)


def type_from_proto(tp: onnx.TypeProto) -> TensorType:
    """An ONNX TypeProto as a TensorType (non-tensor kinds keep the proto)."""
    kind = tp.WhichOneof("value")
    if kind != "tensor_type":
        names = {"sequence_type": "sequence", "optional_type": "optional", "map_type": "map",
                 "sparse_tensor_type": "sparse_tensor", "opaque_type": "opaque"}
        return TensorType(None, None, names.get(kind or "", "unknown"), tp)
    tt = tp.tensor_type
    shape = None
    if tt.HasField("shape"):
        shape = tuple(_dim(d) for d in tt.shape.dim)
    return TensorType(np_dtype(tt.elem_type), shape)


#: dim_param spellings exporters use for "unknown", not for a named size shared between dims:
#: Paddle's "?", tf2onnx's "unk__N", "-1", "None", "*" and the empty string
_ANONYMOUS_DIM = re.compile(r"\?|unk__\d+|-1|None|none|\*|")


def _dim(d: onnx.TensorShapeProto.Dimension) -> int | str | None:
    """A dimension: its value, its symbol, or None when unknown. A negative dim_value (some
    exporters write -1) and a conventional "unknown" dim_param are each an anonymous unknown
    dim: two "?" of one input are not required to be equal."""
    if d.HasField("dim_value"):
        return d.dim_value if d.dim_value >= 0 else None
    if d.HasField("dim_param") and not _ANONYMOUS_DIM.fullmatch(d.dim_param.strip()):
        return d.dim_param
    return None


def type_to_proto(t: TensorType) -> onnx.TypeProto:
    """A TensorType as an ONNX TypeProto."""
    if t.kind != "tensor":
        return t.proto if t.proto is not None else onnx.TypeProto()
    return helper.make_tensor_type_proto(onnx_dtype(t.dtype), list(t.shape) if t.shape is not None else None)
