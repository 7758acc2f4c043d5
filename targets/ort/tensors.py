"""Tensors of element types onnxruntime's Python API cannot hand over as numpy arrays.

onnxruntime computes with bfloat16, float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz,
e8m0fnu) and the packed sub-byte types (int4, uint4, int2, uint2), but
``InferenceSession.run`` neither takes them as ``ml_dtypes`` arrays ("Numpy_type 260
can't be converted to MLDataType") nor returns them ("No corresponding Numpy type for
Tensor Type", or float8e4m3fn silently as uint8). This module crosses that boundary bit
for bit, through ``OrtValue``:

* :func:`to_ort_value`: an ``ml_dtypes`` array becomes an OrtValue of the matching ONNX
  type: same-width types by reinterpreting the bytes, sub-byte types packed two (four)
  per byte, low bits first, as ONNX stores them;
* :func:`from_ort_value`: an OrtValue's bytes are copied out and viewed (unpacked) as
  the ``ml_dtypes`` type.

:data:`BIT_CARRIED` lists the types onnxruntime has no kernel for at all (float4e2m1):
the ort target carries such a value as its uint8 codes (one per element) and the
artifact views graph inputs and outputs back (see ``targets/ort/pyops.py``).
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
import onnx
from onnx import helper

__all__ = ["exotic", "to_ort_value", "from_ort_value", "BIT_CARRIED", "SUB_BYTE", "ml_dtype", "session_dtype",
           "BoundaryTypes"]

#: bits per element of the types onnxruntime packs several to a byte
SUB_BYTE = {"int4": 4, "uint4": 4, "int2": 2, "uint2": 2, "float4_e2m1fn": 4}
#: types onnxruntime has no kernel for (not even Identity or Cast): carried as uint8 codes
BIT_CARRIED = ("float4_e2m1fn",)
_PLAIN = {"float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
          "uint64", "bool", "object", "complex64", "complex128"}


def exotic(dtype: Any) -> bool:
    """True for element types ``InferenceSession.run`` cannot take or return as numpy arrays."""
    return np.dtype(dtype).name not in _PLAIN and np.dtype(dtype).kind not in "OSU"


def ml_dtype(name: str) -> np.dtype:
    """The numpy dtype of an ``ml_dtypes`` type name (``bfloat16``, ``int4``, ...)."""
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, name))


def _onnx_type(dtype: np.dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def to_ort_value(array: np.ndarray) -> Any:
    """An OrtValue holding ``array`` (an ``ml_dtypes`` array) with its bits unchanged.

    The OrtValue owns a copy of the data, so ``array`` may be freed afterwards.
    """
    import onnxruntime as ort

    arr = np.asarray(array, order="C")  # keeps 0-d arrays 0-d (numpy 1.26 has no copy=None)
    elem = _onnx_type(arr.dtype)
    value = ort.OrtValue.ortvalue_from_shape_and_type(list(arr.shape), elem)
    raw = _pack(arr) if arr.dtype.name in SUB_BYTE else arr.reshape(-1).view(np.uint8)
    size = value.tensor_size_in_bytes()
    if raw.nbytes != size:
        raise ValueError(f"{arr.dtype.name} tensor of shape {arr.shape}: {raw.nbytes} bytes packed, onnxruntime "
                         f"allocated {size}")
    if size:
        ctypes.memmove(value.data_ptr(), raw.ctypes.data, size)
    return value


def from_ort_value(value: Any, dtype: np.dtype) -> np.ndarray:
    """A numpy array of ``dtype`` (an ``ml_dtypes`` type) with the OrtValue's elements."""
    shape = tuple(value.shape())
    size = value.tensor_size_in_bytes()
    raw = np.empty(size, np.uint8)
    if size:
        ctypes.memmove(raw.ctypes.data, value.data_ptr(), size)
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    if dtype.name in SUB_BYTE:
        return _unpack(raw, count, SUB_BYTE[dtype.name]).view(dtype).reshape(shape)
    return raw.view(dtype).reshape(shape)


def _pack(arr: np.ndarray) -> np.ndarray:
    bits = SUB_BYTE[arr.dtype.name]
    per = 8 // bits
    codes = arr.reshape(-1).view(np.uint8) & np.uint8((1 << bits) - 1)
    padded = np.zeros(-(-codes.size // per) * per, np.uint8)
    padded[:codes.size] = codes
    lanes = padded.reshape(-1, per)
    out = np.zeros(lanes.shape[0], np.uint8)
    for i in range(per):
        out |= lanes[:, i] << np.uint8(i * bits)
    return out


def _unpack(raw: np.ndarray, count: int, bits: int) -> np.ndarray:
    per = 8 // bits
    mask = np.uint8((1 << bits) - 1)
    lanes = np.stack([(raw >> np.uint8(i * bits)) & mask for i in range(per)], axis=1).reshape(-1)[:count]
    return np.ascontiguousarray(lanes)  # ml_dtypes sub-byte types hold one masked code per byte



def session_dtype(type_str: str) -> np.dtype | None:
    """The numpy/ml_dtypes dtype of an onnxruntime type string (``tensor(bfloat16)``), or None."""
    if not type_str.startswith("tensor(") or not type_str.endswith(")"):
        return None
    try:
        elem = onnx.TensorProto.DataType.Value(type_str[7:-1].upper())
        return helper.tensor_dtype_to_np_dtype(elem)
    except (ValueError, KeyError):
        return None


class BoundaryTypes:
    """How one session's graph inputs and outputs cross into and out of onnxruntime.

    ``views`` maps a graph input/output name to the dtype the caller sees when the
    lowered model carries it as uint8 codes (:data:`BIT_CARRIED`). ``bitwise`` is True
    when some input or output needs :func:`to_ort_value` / :func:`from_ort_value` (or a
    view); :meth:`run` then runs through ``run_with_ort_values``.
    """

    def __init__(self, session: Any, views: dict[str, str] | None = None):
        self.views = {name: ml_dtype(d) for name, d in (views or {}).items()}
        self.inputs = {i.name: session_dtype(i.type) for i in session.get_inputs()}
        self.outputs = {o.name: session_dtype(o.type) for o in session.get_outputs()}
        self.bitwise = bool(self.views) or any(
            d is not None and exotic(d) for d in list(self.inputs.values()) + list(self.outputs.values()))

    def run(self, session: Any, feeds: dict[str, Any]) -> list[np.ndarray]:
        """``session.run`` for these feeds, exotic element types passed and returned bit for bit."""
        import onnxruntime as ort

        values = {}
        for name, x in feeds.items():
            arr = np.asarray(x)
            want = self.views.get(name, self.inputs.get(name))
            if want is not None and exotic(want) and arr.dtype != want:
                from graphc.errors import InputError

                raise InputError(f"input {name!r} is {arr.dtype.name}; the model takes {want.name}")
            if name in self.views:
                arr = np.asarray(arr, order="C").view(np.uint8)
            values[name] = to_ort_value(arr) if exotic(arr.dtype) else ort.OrtValue.ortvalue_from_numpy(arr)
        got = session.run_with_ort_values(list(self.outputs), values)
        out = []
        for name, value in zip(self.outputs, got):
            dt = self.outputs[name]
            if name in self.views:
                out.append(value.numpy().view(self.views[name]))
            elif dt is not None and exotic(dt):
                out.append(from_ort_value(value, dt))
            else:
                out.append(value.numpy())
        return out
