"""Decode ONNX AttributeProto values to Python values and encode them back."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import onnx
from onnx import AttributeProto, helper, numpy_helper

__all__ = ["ENUM_ATTRIBUTES", "allowed_attribute_values", "decode_attribute", "encode_attribute", "SparseTensor"]


class SparseTensor:
    """A decoded SparseTensorProto: dense shape, values and indices kept apart."""

    def __init__(self, values: np.ndarray, indices: np.ndarray, dims: tuple[int, ...]):
        self.values = values
        self.indices = indices
        self.dims = tuple(dims)

    def to_dense(self) -> np.ndarray:
        """The dense array this sparse tensor stands for."""
        dense = np.zeros(int(np.prod(self.dims)), dtype=self.values.dtype)
        flat = self.indices
        if flat.ndim == 2:  # [nnz, rank] coordinates
            flat = np.ravel_multi_index(tuple(flat.T), self.dims)
        dense[flat.astype(np.int64)] = self.values
        return dense.reshape(self.dims)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SparseTensor)
            and self.dims == other.dims
            and np.array_equal(self.values, other.values)
            and np.array_equal(self.indices, other.indices)
        )


def _tensor(t: onnx.TensorProto) -> np.ndarray:
    return numpy_helper.to_array(t)


def _sparse(s: onnx.SparseTensorProto) -> SparseTensor:
    return SparseTensor(_tensor(s.values), _tensor(s.indices), tuple(s.dims))


def _str(b: bytes) -> str:
    return b.decode("utf-8", errors="surrogateescape")


def decode_attribute(
    attr: AttributeProto, decode_graph: Callable[[onnx.GraphProto], Any] | None = None
) -> Any:
    """Return the Python value of ``attr``.

    ints/floats stay Python numbers, strings become ``str``, tensors become numpy
    arrays, sparse tensors :class:`SparseTensor`, type protos stay ``TypeProto``;
    graphs go through ``decode_graph`` when given (the frontend passes its own).
    """
    kind = attr.type
    if kind == AttributeProto.FLOAT:
        return float(attr.f)
    if kind == AttributeProto.INT:
        return int(attr.i)
    if kind == AttributeProto.STRING:
        return _str(attr.s)
    if kind == AttributeProto.TENSOR:
        return _tensor(attr.t)
    if kind == AttributeProto.SPARSE_TENSOR:
        return _sparse(attr.sparse_tensor)
    if kind == AttributeProto.GRAPH:
        return decode_graph(attr.g) if decode_graph else attr.g
    if kind == AttributeProto.TYPE_PROTO:
        return attr.tp
    if kind == AttributeProto.FLOATS:
        return [float(v) for v in attr.floats]
    if kind == AttributeProto.INTS:
        return [int(v) for v in attr.ints]
    if kind == AttributeProto.STRINGS:
        return [_str(v) for v in attr.strings]
    if kind == AttributeProto.TENSORS:
        return [_tensor(t) for t in attr.tensors]
    if kind == AttributeProto.SPARSE_TENSORS:
        return [_sparse(s) for s in attr.sparse_tensors]
    if kind == AttributeProto.GRAPHS:
        return [decode_graph(g) if decode_graph else g for g in attr.graphs]
    if kind == AttributeProto.TYPE_PROTOS:
        return list(attr.type_protos)
    raise ValueError(f"attribute {attr.name!r} has unknown type {kind}")


def encode_attribute(
    name: str,
    value: Any,
    kind: int | None = None,
    encode_graph: Callable[[Any], onnx.GraphProto] | None = None,
) -> AttributeProto:
    """Build an AttributeProto from a decoded value; ``kind`` keeps the original type."""
    if kind in (AttributeProto.GRAPH, AttributeProto.GRAPHS) and encode_graph is not None:
        value = encode_graph(value) if kind == AttributeProto.GRAPH else [encode_graph(g) for g in value]
    if isinstance(value, SparseTensor):
        value = _encode_sparse(value)
    elif kind == AttributeProto.SPARSE_TENSORS:
        value = [_encode_sparse(v) for v in value]
    if isinstance(value, np.ndarray):
        value = numpy_helper.from_array(value)
    elif kind == AttributeProto.TENSORS:
        value = [numpy_helper.from_array(v) if isinstance(v, np.ndarray) else v for v in value]
    if kind is not None and kind != AttributeProto.UNDEFINED:
        attr = helper.make_attribute(name, value, attr_type=kind)
    else:
        attr = helper.make_attribute(name, value)
    return attr


def _encode_sparse(s: SparseTensor) -> onnx.SparseTensorProto:
    return helper.make_sparse_tensor(
        numpy_helper.from_array(s.values), numpy_helper.from_array(s.indices), list(s.dims)
    )


#: (op type, attribute) -> ((first opset, the values the spec allows from it), ...), newest last: string
#: attributes whose values the ONNX schema states only in prose, so `onnx.checker` lets any string through.
ENUM_ATTRIBUTES: dict[tuple[str, str], tuple[tuple[int, tuple[str, ...]], ...]] = {
    # "wrap" is in the spec from opset 19; onnxruntime 1.32 runs it at any opset, so graphc does too.
    ("Pad", "mode"): ((1, ("constant", "reflect", "edge", "wrap")),),
}


def allowed_attribute_values(op_type: str, name: str, opset: int) -> tuple[str, ...] | None:
    """The values the ONNX spec allows for attribute ``name`` of ``op_type`` at ``opset`` (None: not enumerated)."""
    allowed = None
    for since, values in ENUM_ATTRIBUTES.get((op_type, name), ()):
        if opset >= since:
            allowed = values
    return allowed
