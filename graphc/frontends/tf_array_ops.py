"""TensorFlow array, indexing and detection ops -> ONNX, with TensorFlow's semantics.

The ops a TF Object Detection API graph holds besides its CNN (its ``Preprocessor`` and
``Postprocessor`` ``map`` loops: ``Fill``, ``Tile``, ``Slice``, ``GatherV2``, ``Unpack``, ``Select``,
``Where``, ``TopKV2``, ``NonMaxSuppressionV3``, ...). Operands that TF computes at run time stay
ONNX ops (fold-constants folds them when shapes are known). Each converter takes the frontend's
node (``name``, ``op``, ``inputs``, ``attr()``, ``const_input()``, ``n_outputs``) and returns its
output values, or None for a configuration it does not map (the node then stays a ``tf`` node).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from onnx import TensorProto, helper

from ..ir import Value
from .builder import GraphBuilder

__all__ = ["ARRAY_OPS", "ARRAY_MIN_INPUTS", "reverse_transpose"]

_INT64_MAX = np.iinfo(np.int64).max


def _int64(b: GraphBuilder, v: Value, name: str) -> Value:
    if v.const is not None:
        return b.const(np.asarray(v.const, np.int64), name)
    return b.op1("Cast", [v], {"to": int(TensorProto.INT64)}, name=name)


def _cast(b: GraphBuilder, v: Value, dtype: str, name: str) -> Value:
    return b.op1("Cast", [v], {"to": int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))}, name=name)


def _axis(node: Any, i: int) -> int:
    return int(np.asarray(node.const_input(i)).reshape(()))


def _fill(b: GraphBuilder, node: Any) -> list[Value]:
    return [b.op1("Expand", [node.inputs[1], _int64(b, node.inputs[0], f"{node.name}_dims")], name=node.name)]


def _tile(b: GraphBuilder, node: Any) -> list[Value]:
    return [b.op1("Tile", [node.inputs[0], _int64(b, node.inputs[1], f"{node.name}_multiples")], name=node.name)]


def _slice(b: GraphBuilder, node: Any) -> list[Value]:
    """``Slice(x, begin, size)``: ends = begin + size, or the end of the axis where size is -1."""
    x, begin, size = node.inputs[:3]
    if begin.const is not None and size.const is not None:
        bg, sz = (np.asarray(v.const, np.int64).reshape(-1) for v in (begin, size))
        ends = b.const(np.where(sz == -1, _INT64_MAX, bg + sz), f"{node.name}_ends")
    else:
        bg64, sz64 = _int64(b, begin, f"{node.name}_begin"), _int64(b, size, f"{node.name}_size")
        to_end = b.op1("Equal", [sz64, b.ints([-1], f"{node.name}_minus1")], name=f"{node.name}_to_end")
        ends = b.op1("Where", [to_end, b.ints([_INT64_MAX], f"{node.name}_max"),
                               b.op1("Add", [bg64, sz64], name=f"{node.name}_stop")], name=f"{node.name}_ends")
    return [b.op1("Slice", [x, _int64(b, begin, f"{node.name}_starts"), ends], name=node.name)]


def _gather(b: GraphBuilder, node: Any) -> list[Value] | None:
    if int(node.attr("batch_dims", 0)) != 0:
        return None
    axis = _axis(node, 2) if node.op == "GatherV2" else 0
    return [b.op1("Gather", node.inputs[:2], {"axis": axis}, name=node.name)]


def _unpack(b: GraphBuilder, node: Any) -> list[Value]:
    axis, n = int(node.attr("axis", 0)), int(node.attr("num"))
    parts = b.op("Split", [node.inputs[0]], {"axis": axis}, name=f"{node.name}_split", outputs=n)
    return [b.op1("Squeeze", [p, b.ints([axis], f"{node.name}_axis{i}")], name=f"{node.name}_{i}")
            for i, p in enumerate(parts)]


def _split(b: GraphBuilder, node: Any) -> list[Value]:
    """``Split(axis, value)`` into ``num_split`` equal parts."""
    n = int(node.attr("num_split"))
    return b.op("Split", [node.inputs[1]], {"axis": _axis(node, 0)}, name=node.name, outputs=n)


def _select(b: GraphBuilder, node: Any) -> list[Value]:
    """``Select``: a vector condition picks rows of higher-rank operands (trailing 1s appended to its
    shape); ``SelectV2`` broadcasts as ``Where`` does."""
    cond, t, e = node.inputs[:3]
    if node.op == "Select":
        n = node.name
        cond_shape = b.op1("Shape", [cond], name=f"{n}_cond_shape")
        extra = b.op1("Sub", [b.op1("Size", [b.op1("Shape", [t], name=f"{n}_t_shape")], name=f"{n}_t_rank"),
                              b.op1("Size", [cond_shape], name=f"{n}_cond_rank")], name=f"{n}_extra")
        ones = b.op1("Expand", [b.ints([1], f"{n}_one"), b.op1("Reshape", [extra, b.ints([1], f"{n}_vec")],
                                                                name=f"{n}_extra_vec")], name=f"{n}_ones")
        shape = b.op1("Concat", [cond_shape, ones], {"axis": 0}, name=f"{n}_shape")
        cond = b.op1("Reshape", [cond, shape], name=f"{n}_cond")
    return [b.op1("Where", [cond, t, e], name=node.name)]


def _rank(b: GraphBuilder, node: Any) -> list[Value]:
    size = b.op1("Size", [b.op1("Shape", node.inputs[:1], name=f"{node.name}_shape")], name=f"{node.name}_int64")
    return [_cast(b, size, "int32", node.name)]


def _size(b: GraphBuilder, node: Any) -> list[Value]:
    return [_cast(b, b.op1("Size", node.inputs[:1], name=f"{node.name}_int64"), node.attr("out_type", "int32"),
                  node.name)]


def _zeros_like(b: GraphBuilder, node: Any) -> list[Value]:
    zero = b.const(np.zeros((), np.dtype(node.attr("T", "float32"))), f"{node.name}_zero")
    return [b.op1("Expand", [zero, b.op1("Shape", node.inputs[:1], name=f"{node.name}_shape")], name=node.name)]


def _where(b: GraphBuilder, node: Any) -> list[Value]:
    """``Where(cond)``: the coordinates of the true (non-zero) elements, ``[n, rank]`` int64."""
    nz = b.op1("NonZero", node.inputs[:1], name=f"{node.name}_nonzero")
    return [b.op1("Transpose", [nz], {"perm": [1, 0]}, name=node.name)]


def _top_k(b: GraphBuilder, node: Any) -> list[Value]:
    k = b.op1("Reshape", [_int64(b, node.inputs[1], f"{node.name}_k64"), b.ints([1], f"{node.name}_k_shape")],
              name=f"{node.name}_k")
    names = [b.graph.unique_name(f"{node.name}_values"), b.graph.unique_name(f"{node.name}_i64")]
    values, indices = b.op("TopK", [node.inputs[0], k], {"axis": -1, "largest": 1, "sorted": 1}, name=node.name,
                           outputs=names)
    return [values, _cast(b, indices, node.attr("index_type", "int32"), f"{node.name}:1")]


def _bool_reduce(onnx_type: str) -> Callable[[GraphBuilder, Any], list[Value]]:
    """``All``/``Any`` as ReduceMin/ReduceMax of the 0/1 ints (opset 17 reduces no bools)."""
    def convert(b: GraphBuilder, node: Any) -> list[Value]:
        axes = [int(a) for a in np.asarray(node.const_input(1)).reshape(-1)]
        if not axes:  # TF reduces over no axis
            return [b.op1("Identity", node.inputs[:1], name=node.name)]
        ints = _cast(b, node.inputs[0], "int32", f"{node.name}_int")
        red = b.op1(onnx_type, [ints], {"axes": axes, "keepdims": int(bool(node.attr("keep_dims", False)))},
                    name=f"{node.name}_reduce")
        return [_cast(b, red, "bool", node.name)]
    return convert


def _nms(b: GraphBuilder, node: Any) -> list[Value]:
    """``NonMaxSuppressionV3(boxes [n,4], scores [n], max_out, iou, score)`` (V2: no score threshold, V1:
    ``iou_threshold`` an attribute) -> the kept box indices, by
    descending score: ONNX NonMaxSuppression on one batch and class, its third column. Both drop a
    box whose IoU with a kept one is above ``iou`` and keep boxes scoring above ``score``; corners
    may come in either order in both (``center_point_box=0``)."""
    boxes, scores, max_out = node.inputs[:3]
    n = node.name
    iou = node.inputs[3] if node.op != "NonMaxSuppression" else \
        b.const(np.array(node.attr("iou_threshold", 0.5), np.float32), f"{n}_iou_threshold")  # V1: an attribute
    score = node.inputs[4] if node.op == "NonMaxSuppressionV3" and len(node.inputs) > 4 else \
        b.const(np.array(-np.inf, np.float32), f"{n}_no_score_threshold")
    inputs = [b.op1("Unsqueeze", [boxes, b.ints([0], f"{n}_batch")], name=f"{n}_boxes"),
              b.op1("Unsqueeze", [scores, b.ints([0, 1], f"{n}_batch_class")], name=f"{n}_scores"),
              b.op1("Reshape", [_int64(b, max_out, f"{n}_max64"), b.ints([1], f"{n}_one")], name=f"{n}_max"),
              b.op1("Reshape", [_cast(b, iou, "float32", f"{n}_iou32"), b.ints([1], f"{n}_one_iou")], name=f"{n}_iou"),
              b.op1("Reshape", [_cast(b, score, "float32", f"{n}_score32"), b.ints([1], f"{n}_one_score")],
                    name=f"{n}_score")]
    selected = b.op1("NonMaxSuppression", inputs, {"center_point_box": 0}, name=f"{n}_selected")
    column = b.op1("Gather", [selected, b.const(np.array(2, np.int64), f"{n}_box_column")], {"axis": 1},
                   name=f"{n}_i64")
    return [_cast(b, column, "int32", n)]


def reverse_transpose(b: GraphBuilder, node: Any) -> list[Value] | None:
    """``tf.transpose(x)`` without perm: perm = (Rank(x) - 1) - Range(0, Rank(x), 1), i.e. reversed axes,
    which is ONNX Transpose without ``perm``; recognised on the imported ops."""
    def producer(v: Any, op_type: str) -> Any:
        p = v.producer() if v is not None else None
        return p if p is not None and p.op_type == op_type else None

    def rank_of(v: Any) -> Any:
        cast = producer(v, "Cast")
        size = producer(cast.inputs[0], "Size") if cast else None
        shape = producer(size.inputs[0], "Shape") if size else None
        return shape.inputs[0] if shape else None

    def is_const(v: Any, value: int) -> bool:
        return v is not None and v.const is not None and np.asarray(v.const).reshape(-1).tolist() == [value]

    sub = producer(node.inputs[1], "Sub")
    minus_one = producer(sub.inputs[0], "Sub") if sub else None
    rng = producer(sub.inputs[1], "Range") if sub else None
    x = node.inputs[0]
    if not (minus_one and rng and rank_of(minus_one.inputs[0]) is x and is_const(minus_one.inputs[1], 1)
            and is_const(rng.inputs[0], 0) and rank_of(rng.inputs[1]) is x and is_const(rng.inputs[2], 1)):
        return None
    return [b.op1("Transpose", [x], name=node.name)]


#: TensorFlow op -> converter (merged into the frontend's MAPPED_OPS)
ARRAY_OPS: dict[str, Callable[[GraphBuilder, Any], "list[Value] | None"]] = {
    "Fill": _fill, "Tile": _tile, "Slice": _slice, "GatherV2": _gather, "Gather": _gather,
    "Unpack": _unpack, "Split": _split, "Select": _select, "SelectV2": _select, "Rank": _rank, "Size": _size,
    "ZerosLike": _zeros_like, "Where": _where, "TopKV2": _top_k, "All": _bool_reduce("ReduceMin"),
    "Any": _bool_reduce("ReduceMax"), "NonMaxSuppression": _nms, "NonMaxSuppressionV2": _nms,
    "NonMaxSuppressionV3": _nms, "AddN": lambda b, node: [b.op1("Sum", node.inputs, name=node.name)],
}

#: data inputs each takes at least (TensorFlow's op registry)
ARRAY_MIN_INPUTS = {"Fill": 2, "Tile": 2, "Slice": 3, "GatherV2": 3, "Gather": 2, "Split": 2, "Select": 3,
                    "SelectV2": 3, "TopKV2": 2, "All": 2, "Any": 2, "NonMaxSuppression": 3, "NonMaxSuppressionV2": 4,
                    "NonMaxSuppressionV3": 5}
