"""TensorFlow's GraphDef schema, declared in Python (no TensorFlow, no protoc).

Field names and numbers are those of tensorflow/core/framework/{graph,node_def,
attr_value,tensor,tensor_shape,types,versions}.proto (proto3), so binary ``.pb`` files
and text ``.pbtxt`` files written by TensorFlow parse as they are. Messages graphc does
not read (function libraries, debug info, resource handles, variants) are left out:
binary parsing keeps them as unknown fields and text parsing skips them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .proto_schema import FileSchema, field, map_field

__all__ = ["tf_messages", "DT_TO_NUMPY"]

#: tensorflow DataType enum (types.proto)
DATA_TYPES = [
    ("DT_INVALID", 0), ("DT_FLOAT", 1), ("DT_DOUBLE", 2), ("DT_INT32", 3), ("DT_UINT8", 4),
    ("DT_INT16", 5), ("DT_INT8", 6), ("DT_STRING", 7), ("DT_COMPLEX64", 8), ("DT_INT64", 9),
    ("DT_BOOL", 10), ("DT_QINT8", 11), ("DT_QUINT8", 12), ("DT_QINT32", 13), ("DT_BFLOAT16", 14),
    ("DT_QINT16", 15), ("DT_QUINT16", 16), ("DT_UINT16", 17), ("DT_COMPLEX128", 18), ("DT_HALF", 19),
    ("DT_RESOURCE", 20), ("DT_VARIANT", 21), ("DT_UINT32", 22), ("DT_UINT64", 23),
]

#: DataType number -> numpy dtype (types graphc can hold)
DT_TO_NUMPY: dict[int, np.dtype] = {
    1: np.dtype(np.float32), 2: np.dtype(np.float64), 3: np.dtype(np.int32), 4: np.dtype(np.uint8),
    5: np.dtype(np.int16), 6: np.dtype(np.int8), 7: np.dtype(object), 8: np.dtype(np.complex64),
    9: np.dtype(np.int64), 10: np.dtype(np.bool_), 11: np.dtype(np.int8), 12: np.dtype(np.uint8),
    13: np.dtype(np.int32), 15: np.dtype(np.int16), 16: np.dtype(np.uint16), 17: np.dtype(np.uint16),
    18: np.dtype(np.complex128), 19: np.dtype(np.float16), 22: np.dtype(np.uint32), 23: np.dtype(np.uint64),
}


def _schema() -> FileSchema:
    f = FileSchema("graphc/tensorflow_graph.proto", "tensorflow", syntax="proto3")
    f.enum("DataType", DATA_TYPES)
    f.message("TensorShapeProto", [
        field("dim", 2, "msg:TensorShapeProto.Dim", repeated=True),
        field("unknown_rank", 3, "bool"),
    ])
    f.message("TensorShapeProto.Dim", [field("size", 1, "int64"), field("name", 2, "string")])
    f.message("TensorProto", [
        field("dtype", 1, "enum:DataType"),
        field("tensor_shape", 2, "msg:TensorShapeProto"),
        field("version_number", 3, "int32"),
        field("tensor_content", 4, "bytes"),
        field("half_val", 13, "int32", repeated=True, packed=True),
        field("float_val", 5, "float", repeated=True, packed=True),
        field("double_val", 6, "double", repeated=True, packed=True),
        field("int_val", 7, "int32", repeated=True, packed=True),
        field("string_val", 8, "bytes", repeated=True),
        field("scomplex_val", 9, "float", repeated=True, packed=True),
        field("int64_val", 10, "int64", repeated=True, packed=True),
        field("bool_val", 11, "bool", repeated=True, packed=True),
        field("dcomplex_val", 12, "double", repeated=True, packed=True),
        field("uint32_val", 16, "uint32", repeated=True, packed=True),
        field("uint64_val", 17, "uint64", repeated=True, packed=True),
    ])
    f.message("AttrValue.ListValue", [
        field("s", 2, "bytes", repeated=True),
        field("i", 3, "int64", repeated=True, packed=True),
        field("f", 4, "float", repeated=True, packed=True),
        field("b", 5, "bool", repeated=True, packed=True),
        field("type", 6, "enum:DataType", repeated=True, packed=True),
        field("shape", 7, "msg:TensorShapeProto", repeated=True),
        field("tensor", 8, "msg:TensorProto", repeated=True),
        field("func", 9, "msg:NameAttrList", repeated=True),
    ])
    f.message("AttrValue", [
        field("s", 2, "bytes", oneof=0),
        field("i", 3, "int64", oneof=0),
        field("f", 4, "float", oneof=0),
        field("b", 5, "bool", oneof=0),
        field("type", 6, "enum:DataType", oneof=0),
        field("shape", 7, "msg:TensorShapeProto", oneof=0),
        field("tensor", 8, "msg:TensorProto", oneof=0),
        field("list", 1, "msg:AttrValue.ListValue", oneof=0),
        field("func", 10, "msg:NameAttrList", oneof=0),
        field("placeholder", 9, "string", oneof=0),
    ], oneofs=["value"])
    f.message("NameAttrList", [field("name", 1, "string"), map_field("attr", 2, "string", "msg:AttrValue")])
    f.message("NodeDef", [
        field("name", 1, "string"),
        field("op", 2, "string"),
        field("input", 3, "string", repeated=True),
        field("device", 4, "string"),
        map_field("attr", 5, "string", "msg:AttrValue"),
    ])
    f.message("VersionDef", [
        field("producer", 1, "int32"),
        field("min_consumer", 2, "int32"),
        field("bad_consumers", 3, "int32", repeated=True, packed=True),
    ])
    f.message("GraphDef", [
        field("node", 1, "msg:NodeDef", repeated=True),
        field("versions", 4, "msg:VersionDef"),
        field("version", 3, "int32"),
    ])
    return f


@lru_cache(maxsize=1)
def tf_messages() -> dict[str, type]:
    """Message classes by name: ``tf_messages()["GraphDef"]`` etc. (built once)."""
    return _schema().build()
