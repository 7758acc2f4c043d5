"""TensorFlow frontend: a GraphDef (text ``.pbtxt`` or binary ``.pb``) -> graphc Graph.

No TensorFlow import: the GraphDef schema is declared in :mod:`.tf_schema`.

* ``Placeholder`` becomes a graph input, ``Const`` a constant (``tensor_content`` bytes
  or typed value lists; a short list is filled with its last value, as TensorFlow does).
* The common CNN op set maps to ONNX with TensorFlow's exact semantics (see
  ``docs/frontends.md``). Tensors keep TensorFlow's layout: an NHWC op that ONNX only
  has in NCHW (Conv, pooling, BatchNormalization) is wrapped in Transposes, and
  constant weights are transposed at import.
* Every other op — and any op a registered layer claims for domain ``tf`` — becomes a
  node in domain ``tf`` with all of its attributes decoded to Python values and its
  inputs unchanged (NHWC, as TensorFlow defines the op), e.g. ``tf::ResizeBicubic(images,
  size)`` with ``align_corners``/``half_pixel_centers``; ``tf::CropAndResize`` is a built-in layer
  (:mod:`graphc.layers.builtin.tf_image`).
* TF1 control flow (``while`` frames, ``tf.map_fn``'s TensorArrays, ``tf.cond``) becomes ONNX
  ``Loop``/``If`` (:mod:`.tf_control_flow`).
* Graph outputs: the data outputs no node reads, unless ``outputs`` names them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from google.protobuf import text_format
from google.protobuf.message import DecodeError
from onnx import TensorProto, helper

from ..errors import ModelFormatError
from ..ir import Graph, Value
from .builder import GraphBuilder, mark_overridden
from .tf_array_ops import ARRAY_MIN_INPUTS, ARRAY_OPS, reverse_transpose
from .tf_atrous import fold_atrous_convolutions
from .tf_control_flow import ControlFlowImporter, has_control_flow
from .tf_nn_ops import NN_MIN_INPUTS, NN_OPS, fused_resize_pad_conv
from .tf_schema import DT_TO_NUMPY, tf_messages

__all__ = ["load_tensorflow", "parse_graphdef", "graphdef_to_graph", "tensor_to_array", "MAPPED_OPS"]

DOMAIN = "tf"


# ------------------------------------------------------------------ parsing
def parse_graphdef(source: str | os.PathLike | bytes, text: bool | None = None) -> Any:
    """Parse a GraphDef from a path (``.pbtxt`` text, else binary) or bytes."""
    GraphDef = tf_messages()["GraphDef"]
    where = "<bytes>"
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ModelFormatError(f"TensorFlow graph {str(path)!r} does not exist or is not a file")
        data, where = path.read_bytes(), str(path)
        if text is None:
            text = path.suffix.lower() in (".pbtxt", ".txt")
    gd = GraphDef()
    try:
        if text:
            text_format.Parse(data.decode("utf-8"), gd, allow_unknown_field=True)
        else:
            gd.ParseFromString(data)
    except (text_format.ParseError, DecodeError, UnicodeDecodeError, RuntimeError, ValueError) as e:
        kind = "text" if text else "binary"
        raise ModelFormatError(f"{where} is not a valid {kind} TensorFlow GraphDef: {e}") from e
    return gd


def tensor_to_array(t: Any, node: str = "?") -> np.ndarray:
    """A TensorProto as a numpy array (tensor_content or typed values, filled to shape)."""
    dtype = DT_TO_NUMPY.get(t.dtype)
    if dtype is None:
        raise ModelFormatError(f"node {node!r}: tensor dtype {t.dtype} is not supported by graphc")
    shape = tuple(int(d.size) for d in t.tensor_shape.dim)
    count = int(np.prod(shape, dtype=np.int64))
    if t.tensor_content:
        if dtype == object:
            raise ModelFormatError(f"node {node!r}: string tensors in tensor_content are not supported")
        arr = np.frombuffer(t.tensor_content, dtype=dtype.newbyteorder("<"))
        if arr.size != count:
            raise ModelFormatError(f"node {node!r}: tensor_content holds {arr.size} values for shape {list(shape)}")
        return arr.astype(dtype).reshape(shape)
    if t.dtype == 19:  # DT_HALF: bit patterns in half_val
        vals: np.ndarray | list[Any] = np.asarray(list(t.half_val), dtype=np.uint16).view(np.float16)
    elif t.dtype in (8, 18):
        flat = list(t.scomplex_val if t.dtype == 8 else t.dcomplex_val)
        vals = np.asarray(flat[0::2], dtype=np.float64) + 1j * np.asarray(flat[1::2], dtype=np.float64)
    else:
        src = {1: t.float_val, 2: t.double_val, 9: t.int64_val, 10: t.bool_val, 7: t.string_val,
               22: t.uint32_val, 23: t.uint64_val}.get(t.dtype, t.int_val)
        vals = list(src)
        if t.dtype == 7:
            vals = [s.decode("utf-8", errors="replace") for s in vals]
    vals = np.asarray(vals, dtype=dtype).reshape(-1)
    if vals.size == count:
        return vals.reshape(shape)
    if vals.size > count:
        raise ModelFormatError(f"node {node!r}: tensor holds {vals.size} values for shape {list(shape)}")
    fill = vals[-1] if vals.size else np.zeros((), dtype)
    out = np.full(count, fill, dtype=dtype)
    out[: vals.size] = vals
    return out.reshape(shape)


def _decode_shape(s: Any) -> list[int] | None:
    return None if s.unknown_rank else [int(d.size) for d in s.dim]


def _dtype_name(dt: int) -> str:
    np_dt = DT_TO_NUMPY.get(dt)
    return np_dt.name if np_dt is not None and np_dt != object else ("string" if dt == 7 else f"DT_{dt}")


def decode_attr(a: Any, node: str = "?") -> Any:
    """An AttrValue as a Python value (str, int, float, bool, dtype name, shape list, array, list)."""
    kind = a.WhichOneof("value")
    if kind == "s":
        return a.s.decode("utf-8", errors="replace")
    if kind in ("i", "f", "b"):
        return getattr(a, kind)
    if kind == "type":
        return _dtype_name(a.type)
    if kind == "shape":
        return _decode_shape(a.shape)
    if kind == "tensor":
        return tensor_to_array(a.tensor, node)
    if kind == "func":
        return a.func.name
    if kind == "placeholder":
        return a.placeholder
    if kind == "list":
        lv = a.list
        for name in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
            items = list(getattr(lv, name))
            if not items:
                continue
            if name == "s":
                return [x.decode("utf-8", errors="replace") for x in items]
            if name == "type":
                return [_dtype_name(x) for x in items]
            if name == "shape":
                return [_decode_shape(x) for x in items]
            if name == "tensor":
                return [tensor_to_array(x, node) for x in items]
            if name == "func":
                return [x.name for x in items]
            return items
        return []
    return None


# --------------------------------------------------------------- conversion
@dataclass
class _Node:
    """A NodeDef being converted: its name, op, decoded attrs and resolved inputs."""

    name: str
    op: str
    attrs: dict[str, Any]
    inputs: list[Value]
    n_outputs: int

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def const_input(self, i: int) -> np.ndarray:
        v = self.inputs[i]
        if v.const is None:
            raise ModelFormatError(
                f"node {self.name!r} ({self.op}): input {i} ({v.name!r}) must be a Const for graphc to map "
                f"this op; fold it in TensorFlow (freeze the graph) first")
        return v.const


Converter = Callable[[GraphBuilder, _Node], "list[Value] | None"]


def _hw(values: Sequence[int], data_format: str) -> list[int]:
    """The spatial entries of a 4-element NHWC/NCHW attribute (strides, ksize, dilations)."""
    v = list(values) if values else [1, 1, 1, 1]
    return [int(v[1]), int(v[2])] if data_format == "NHWC" else [int(v[2]), int(v[3])]


def _padding_attrs(node: _Node, kernel: Sequence[int] | None = None) -> dict[str, Any]:
    """ONNX padding for the node's ``padding``; ``kernel`` (kh, kw) for a convolution, whose SAME padding
    with a dilation at stride 1 becomes explicit pads (onnxruntime refuses auto_pad with dilations)."""
    pad = node.attr("padding", "VALID")
    fmt = node.attr("data_format", "NHWC")
    dilations = _hw(node.attr("dilations"), fmt)
    if pad == "SAME" and kernel is not None and max(dilations) > 1 and _hw(node.attr("strides"), fmt) == [1, 1]:
        total = [d * (int(k) - 1) for d, k in zip(dilations, kernel)]  # whatever the size, the odd one at the end
        return {"pads": [t // 2 for t in total] + [t - t // 2 for t in total]}
    if pad == "SAME":
        return {"auto_pad": "SAME_UPPER"}  # TF's SAME: the odd extra pixel goes at the end
    if pad == "VALID":
        return {}
    if pad == "EXPLICIT":
        p = [int(x) for x in node.attr("explicit_paddings", [])]
        pairs = [p[2:4], p[4:6]] if node.attr("data_format", "NHWC") == "NHWC" else [p[4:6], p[6:8]]
        return {"pads": [pairs[0][0], pairs[1][0], pairs[0][1], pairs[1][1]]}
    raise ModelFormatError(f"node {node.name!r} ({node.op}): unknown padding {pad!r}")


def _in_nchw(b: GraphBuilder, node: _Node, v: Value) -> Value:
    return b.to_nchw(v) if node.attr("data_format", "NHWC") == "NHWC" else v


def _out_layout(b: GraphBuilder, node: _Node, v: Value) -> Value:
    return b.to_nhwc(v) if node.attr("data_format", "NHWC") == "NHWC" else v


def _conv2d(b: GraphBuilder, node: _Node) -> list[Value]:
    fmt = node.attr("data_format", "NHWC")
    x = _in_nchw(b, node, node.inputs[0])
    w = b.transpose(node.inputs[1], (3, 2, 0, 1))  # HWIO -> OIHW
    kernel = node.inputs[1].const.shape[:2] if node.inputs[1].const is not None else None  # HWIO
    attrs = {"strides": _hw(node.attr("strides"), fmt), "dilations": _hw(node.attr("dilations"), fmt),
             **_padding_attrs(node, kernel)}
    y = b.op1("Conv", [x, w], attrs, name=node.name)
    return [_out_layout(b, node, y)]


def _depthwise(b: GraphBuilder, node: _Node) -> list[Value]:
    fmt = node.attr("data_format", "NHWC")
    x = _in_nchw(b, node, node.inputs[0])
    w = node.inputs[1]
    if w.const is not None:
        kh, kw, cin, mult = w.const.shape
        w = b.const(w.const.reshape(kh, kw, 1, cin * mult), f"{w.name}_grouped")
        group = cin
    else:
        raise ModelFormatError(f"node {node.name!r} ({node.op}): the filter must be a Const")
    w = b.transpose(w, (3, 2, 0, 1))
    attrs = {"strides": _hw(node.attr("strides"), fmt), "dilations": _hw(node.attr("dilations"), fmt),
             "group": int(group), **_padding_attrs(node, (kh, kw))}
    return [_out_layout(b, node, b.op1("Conv", [x, w], attrs, name=node.name))]


def _bias_add(b: GraphBuilder, node: _Node) -> list[Value]:
    x, bias = node.inputs[:2]
    if node.attr("data_format", "NHWC") == "NCHW":
        if bias.const is not None:
            bias = b.const(bias.const.reshape(-1, 1, 1), f"{bias.name}_chw")
        else:
            bias = b.op1("Reshape", [bias, b.ints([-1, 1, 1], "chw_shape")])
    return [b.op1("Add", [x, bias], name=node.name)]


def _matmul(b: GraphBuilder, node: _Node) -> list[Value]:
    a, c = node.inputs[:2]
    if node.attr("transpose_a", False) or node.attr("adj_x", False):
        a = b.transpose(a, (1, 0))
    if node.attr("transpose_b", False) or node.attr("adj_y", False):
        c = b.transpose(c, (1, 0))
    return [b.op1("MatMul", [a, c], name=node.name)]


def _binary(onnx_type: str) -> Converter:
    def convert(b: GraphBuilder, node: _Node) -> list[Value]:
        return [b.op1(onnx_type, node.inputs[:2], name=node.name)]
    return convert


def _ternary(onnx_type: str) -> Converter:
    def convert(b: GraphBuilder, node: _Node) -> list[Value]:
        return [b.op1(onnx_type, node.inputs[:3], name=node.name)]
    return convert


def _unary(onnx_type: str) -> Converter:
    def convert(b: GraphBuilder, node: _Node) -> list[Value]:
        return [b.op1(onnx_type, node.inputs[:1], name=node.name)]
    return convert


def _relu6(b: GraphBuilder, node: _Node) -> list[Value]:
    dt = np.dtype(node.inputs[0].dtype or np.float32)
    lo, hi = b.const(np.array(0, dt), f"{node.name}_min"), b.const(np.array(6, dt), f"{node.name}_max")
    return [b.op1("Clip", [node.inputs[0], lo, hi], name=node.name)]


def _pool(onnx_type: str) -> Converter:
    def convert(b: GraphBuilder, node: _Node) -> list[Value]:
        fmt = node.attr("data_format", "NHWC")
        attrs = {"kernel_shape": _hw(node.attr("ksize"), fmt), "strides": _hw(node.attr("strides"), fmt),
                 **_padding_attrs(node)}
        if onnx_type == "AveragePool":
            attrs["count_include_pad"] = 0  # TF's AvgPool averages over the valid pixels only
        y = b.op1(onnx_type, [_in_nchw(b, node, node.inputs[0])], attrs, name=node.name)
        return [_out_layout(b, node, y)]
    return convert


def _fused_batch_norm(b: GraphBuilder, node: _Node) -> list[Value]:
    x, scale, offset, mean, var = node.inputs[:5]
    y = b.op1("BatchNormalization", [_in_nchw(b, node, x), scale, offset, mean, var],
              {"epsilon": float(node.attr("epsilon", 1e-4))}, name=node.name)
    # inference: batch_mean/batch_variance (and the reserve spaces) are the moving statistics
    return [_out_layout(b, node, y), mean, var, mean, var, mean][: node.n_outputs]


def _mean(b: GraphBuilder, node: _Node) -> list[Value]:
    axes = [int(a) for a in np.asarray(node.const_input(1)).reshape(-1)]
    if not axes:  # TF reduces over no axis; ONNX's empty axes would reduce over all
        return [b.op1("Identity", node.inputs[:1], name=node.name)]
    keep = bool(node.attr("keep_dims", False))
    return [b.op1("ReduceMean", [node.inputs[0]], {"axes": axes, "keepdims": int(keep)}, name=node.name)]


def _pad(b: GraphBuilder, node: _Node) -> list[Value]:
    """TF paddings ``[rank, 2]`` -> ONNX pads (all begins, then all ends); computed ones become ops."""
    if node.inputs[1].const is None:
        as_int64 = _cast_to(b, node.inputs[1], "int64", f"{node.name}_paddings")
        per_side = b.op1("Transpose", [as_int64], {"perm": [1, 0]}, name=f"{node.name}_per_side")
        pads = b.op1("Reshape", [per_side, b.ints([-1], f"{node.name}_flat")], name=f"{node.name}_pads")
    else:
        p = np.asarray(node.const_input(1), dtype=np.int64).reshape(-1, 2)
        pads = b.ints(list(p[:, 0]) + list(p[:, 1]), f"{node.name}_pads")
    inputs = [node.inputs[0], pads]
    if node.op == "PadV2":
        inputs.append(node.inputs[2])
    return [b.op1("Pad", inputs, {"mode": "constant"}, name=node.name)]


def _concat(b: GraphBuilder, node: _Node) -> list[Value]:
    axis = int(np.asarray(node.const_input(len(node.inputs) - 1)).reshape(()))
    return [b.op1("Concat", node.inputs[:-1], {"axis": axis}, name=node.name)]


def _reshape(b: GraphBuilder, node: _Node) -> list[Value]:
    """A Const shape maps directly; a computed one (Shape -> StridedSlice -> Pack, as Keras/TF emit for
    a batch-preserving reshape) stays graph ops, which fold-constants folds when the shapes are known."""
    if node.inputs[1].const is None:
        shape = b.op1("Cast", [node.inputs[1]], {"to": int(TensorProto.INT64)}, name=f"{node.name}_shape")
        return [b.op1("Reshape", [node.inputs[0], shape], {"allowzero": 1}, name=node.name)]
    dims = np.asarray(node.const_input(1), dtype=np.int64).reshape(-1)
    attrs = {"allowzero": 1} if (dims == 0).any() else {}  # TF's 0 is a zero-sized dim, not "copy"
    return [b.op1("Reshape", [node.inputs[0], b.ints(dims, f"{node.name}_shape")], attrs, name=node.name)]


def _shape(b: GraphBuilder, node: _Node) -> list[Value]:
    y = b.op1("Shape", node.inputs[:1], name=f"{node.name}_int64")
    return [_cast_to(b, y, node.attr("out_type", "int32"), node.name)]


def _cast_to(b: GraphBuilder, v: Value, dtype_name: str, name: str) -> Value:
    to = helper.np_dtype_to_tensor_dtype(np.dtype(dtype_name))
    return b.op1("Cast", [v], {"to": int(to)}, name=name)


def _cast(b: GraphBuilder, node: _Node) -> list[Value]:
    return [_cast_to(b, node.inputs[0], node.attr("DstT"), node.name)]


def _pack(b: GraphBuilder, node: _Node) -> list[Value]:
    axis = int(node.attr("axis", 0))
    if all(v.const is not None for v in node.inputs):  # e.g. a slice's strides: later converters read them
        return [b.const(np.stack([np.asarray(v.const) for v in node.inputs], axis), node.name)]
    parts = [b.op1("Unsqueeze", [v, b.ints([axis], f"{node.name}_axis{i}")], name=f"{node.name}_{i}")
             for i, v in enumerate(node.inputs)]
    return [b.op1("Concat", parts, {"axis": axis}, name=node.name)]


_INT64_MAX = np.iinfo(np.int64).max


def _strided_slice(b: GraphBuilder, node: _Node) -> list[Value] | None:
    """Begin/end/shrink-axis masks over Const strides (what shape arithmetic and ``x[i]`` in a loop use);
    begin and end Const or computed. Ellipsis and new-axis masks or computed strides stay a ``tf`` node (None)."""
    if node.attr("ellipsis_mask", 0) or node.attr("new_axis_mask", 0) or node.inputs[3].const is None:
        return None
    if node.inputs[1].const is None or node.inputs[2].const is None:
        return _strided_slice_computed(b, node)
    begin, end, strides = (np.asarray(node.const_input(i), np.int64).reshape(-1) for i in (1, 2, 3))
    bmask, emask, shrink = (int(node.attr(k, 0)) for k in ("begin_mask", "end_mask", "shrink_axis_mask"))
    starts, ends = [], []
    for i, (lo, hi, step) in enumerate(zip(begin.tolist(), end.tolist(), strides.tolist())):
        forward = step > 0
        lo = (0 if forward else -1) if bmask >> i & 1 else int(lo)
        hi = (_INT64_MAX if forward else -_INT64_MAX) if emask >> i & 1 else int(hi)
        if shrink >> i & 1:
            hi = lo + 1 if lo != -1 else _INT64_MAX
        starts.append(lo)
        ends.append(hi)
    axes = list(range(len(begin)))
    y = b.op1("Slice", [node.inputs[0], b.ints(starts, f"{node.name}_starts"), b.ints(ends, f"{node.name}_ends"),
                        b.ints(axes, f"{node.name}_axes"), b.ints([int(s) for s in strides], f"{node.name}_steps")],
              name=f"{node.name}_slice" if shrink else node.name)
    squeezed = [i for i in axes if shrink >> i & 1]
    if squeezed:
        y = b.op1("Squeeze", [y, b.ints(squeezed, f"{node.name}_squeeze")], name=node.name)
    return [y]


def _strided_slice_computed(b: GraphBuilder, node: _Node) -> list[Value]:
    """The masks applied with Where over run-time begin/end: a masked bound takes its open value, a
    shrunk axis ends at begin + 1 (at the end of the axis for begin -1)."""
    strides = np.asarray(node.const_input(3), np.int64).reshape(-1)
    bmask, emask, shrink = (int(node.attr(k, 0)) for k in ("begin_mask", "end_mask", "shrink_axis_mask"))
    n, name = len(strides), node.name
    bits = [[m >> i & 1 == 1 for i in range(n)] for m in (bmask, emask, shrink)]
    fwd = strides > 0

    def as_int64(i: int, label: str) -> Value:
        v = node.inputs[i]
        if v.const is not None:
            return b.ints(np.asarray(v.const, np.int64).reshape(-1), f"{name}_{label}")
        return b.op1("Cast", [v], {"to": int(TensorProto.INT64)}, name=f"{name}_{label}")

    def masked(bit: list[bool], open_value: np.ndarray, v: Value, label: str) -> Value:
        if not any(bit):
            return v
        mask, opened = b.const(np.array(bit), f"{name}_{label}_mask"), b.ints(open_value, f"{name}_{label}_open")
        return b.op1("Where", [mask, opened, v], name=f"{name}_{label}")

    starts = masked(bits[0], np.where(fwd, 0, -1), as_int64(1, "begin"), "starts")
    ends = masked(bits[1], np.where(fwd, _INT64_MAX, -_INT64_MAX), as_int64(2, "end"), "ends_open")
    if any(bits[2]):
        last = b.op1("Equal", [starts, b.ints([-1], f"{name}_minus1")], name=f"{name}_from_last")
        one_past = b.op1("Where", [last, b.ints([_INT64_MAX], f"{name}_max"),
                                   b.op1("Add", [starts, b.ints([1], f"{name}_one")], name=f"{name}_next")],
                         name=f"{name}_one_past")
        ends = b.op1("Where", [b.const(np.array(bits[2]), f"{name}_shrink_mask"), one_past, ends], name=f"{name}_ends")
    y = b.op1("Slice", [node.inputs[0], starts, ends, b.ints(list(range(n)), f"{name}_axes"),
                        b.ints([int(x) for x in strides], f"{name}_steps")],
              name=f"{name}_slice" if any(bits[2]) else name)
    squeezed = [i for i in range(n) if bits[2][i]]
    if squeezed:
        y = b.op1("Squeeze", [y, b.ints(squeezed, f"{name}_squeeze")], name=name)
    return [y]


def _squeeze(b: GraphBuilder, node: _Node) -> list[Value]:
    axes = node.attr("squeeze_dims", None) or node.attr("axis", None) or []
    inputs = [node.inputs[0]] + ([b.ints(axes, f"{node.name}_axes")] if axes else [])
    return [b.op1("Squeeze", inputs, name=node.name)]


def _transpose(b: GraphBuilder, node: _Node) -> list[Value] | None:
    """A Const perm maps, and so does tf.transpose's default (reversed axes, computed from Rank); another
    computed perm stays a ``tf`` node (None)."""
    if node.inputs[1].const is None:
        return reverse_transpose(b, node)
    perm = [int(p) for p in np.asarray(node.const_input(1)).reshape(-1)]
    x = node.inputs[0]
    if x.const is not None:
        return [b.transpose(x, perm)]
    return [b.op1("Transpose", [x], {"perm": perm}, name=node.name)]


def _softmax(b: GraphBuilder, node: _Node) -> list[Value]:
    return [b.op1("Softmax", node.inputs[:1], {"axis": -1}, name=node.name)]


def _square(b: GraphBuilder, node: _Node) -> list[Value]:
    x = node.inputs[0]
    return [b.op1("Mul", [x, x], name=node.name)]


def _rsqrt(b: GraphBuilder, node: _Node) -> list[Value]:
    return [b.op1("Reciprocal", [b.op1("Sqrt", node.inputs[:1], name=f"{node.name}_sqrt")], name=node.name)]


def _squared_difference(b: GraphBuilder, node: _Node) -> list[Value]:
    d = b.op1("Sub", node.inputs[:2], name=f"{node.name}_sub")
    return [b.op1("Mul", [d, d], name=node.name)]


def _leaky_relu(b: GraphBuilder, node: _Node) -> list[Value]:
    return [b.op1("LeakyRelu", node.inputs[:1], {"alpha": float(node.attr("alpha", 0.2))}, name=node.name)]


def _reduce(onnx_type: str) -> Converter:
    """Sum/Max/Min/Prod over the constant ``reduction_indices`` (opset 17: ReduceSum takes axes
    as an input, the others as an attribute)."""
    def convert(b: GraphBuilder, node: _Node) -> list[Value]:
        axes = [int(a) for a in np.asarray(node.const_input(1)).reshape(-1)]
        if not axes:  # TF reduces over no axis; ONNX's empty axes would reduce over all
            return [b.op1("Identity", node.inputs[:1], name=node.name)]
        keep = int(bool(node.attr("keep_dims", False)))
        if onnx_type == "ReduceSum":
            return [b.op1(onnx_type, [node.inputs[0], b.ints(axes, f"{node.name}_axes")], {"keepdims": keep},
                          name=node.name)]
        return [b.op1(onnx_type, [node.inputs[0]], {"axes": axes, "keepdims": keep}, name=node.name)]
    return convert


def _expand_dims(b: GraphBuilder, node: _Node) -> list[Value]:
    axis = [int(np.asarray(node.const_input(1)).reshape(()))]
    return [b.op1("Unsqueeze", [node.inputs[0], b.ints(axis, f"{node.name}_axes")], name=node.name)]


def _identity(b: GraphBuilder, node: _Node) -> list[Value]:
    x = node.inputs[0]
    if x.const is not None:  # weights read through Identity (frozen graphs): stay constant
        return [x]
    return [b.op1("Identity", [x], name=node.name)]


#: TensorFlow op -> converter producing ONNX ops with the same semantics
MAPPED_OPS: dict[str, Converter] = {
    "Identity": _identity,
    "Conv2D": _conv2d,
    "DepthwiseConv2dNative": _depthwise,
    "BiasAdd": _bias_add,
    "MatMul": _matmul,
    "Add": _binary("Add"), "AddV2": _binary("Add"), "Mul": _binary("Mul"),
    "Sub": _binary("Sub"), "RealDiv": _binary("Div"),
    "Relu": _unary("Relu"), "Relu6": _relu6, "Sigmoid": _unary("Sigmoid"), "Tanh": _unary("Tanh"),
    "MaxPool": _pool("MaxPool"), "AvgPool": _pool("AveragePool"),
    "FusedBatchNorm": _fused_batch_norm, "FusedBatchNormV3": _fused_batch_norm,
    "Mean": _mean,
    "Pad": _pad, "PadV2": _pad,
    "ConcatV2": _concat,
    "Reshape": _reshape,
    "Squeeze": _squeeze,
    "Transpose": _transpose,
    "Softmax": _softmax,
    # element-wise math (tf.nn.l2_normalize is Square, Sum, Maximum, Rsqrt, Mul)
    "Square": _square, "Rsqrt": _rsqrt, "SquaredDifference": _squared_difference, "LeakyRelu": _leaky_relu,
    "Sqrt": _unary("Sqrt"), "Exp": _unary("Exp"), "Log": _unary("Log"), "Abs": _unary("Abs"), "Neg": _unary("Neg"),
    "Floor": _unary("Floor"), "Ceil": _unary("Ceil"), "Round": _unary("Round"), "Reciprocal": _unary("Reciprocal"),
    "Inv": _unary("Reciprocal"), "Sign": _unary("Sign"), "Erf": _unary("Erf"), "Softplus": _unary("Softplus"),
    "Softsign": _unary("Softsign"), "Elu": _unary("Elu"), "Selu": _unary("Selu"), "Sin": _unary("Sin"),
    "Cos": _unary("Cos"), "StopGradient": _identity,
    "Maximum": _binary("Max"), "Minimum": _binary("Min"), "Pow": _binary("Pow"),
    "Greater": _binary("Greater"), "GreaterEqual": _binary("GreaterOrEqual"), "Less": _binary("Less"),
    "LessEqual": _binary("LessOrEqual"), "Equal": _binary("Equal"), "LogicalAnd": _binary("And"),
    "LogicalOr": _binary("Or"), "LogicalNot": _unary("Not"),
    "Sum": _reduce("ReduceSum"), "Max": _reduce("ReduceMax"), "Min": _reduce("ReduceMin"),
    "Prod": _reduce("ReduceProd"),
    "ExpandDims": _expand_dims,
    # shape arithmetic (a computed Reshape): kept as ops, folded when the shapes are known
    "Shape": _shape, "Cast": _cast, "Pack": _pack, "StridedSlice": _strided_slice,
    "Range": _ternary("Range"),  # scalar start, limit, delta of one type in both
    # array, indexing and detection ops (an Object Detection API graph's pre/post-processing)
    **ARRAY_OPS,
    # image and NN ops OpenCV's TF importer runs (resizes, LRN, MirrorPad, conv2d_transpose, ...)
    **NN_OPS,
    "FusedResizeAndPadConv2D": lambda b, node: fused_resize_pad_conv(b, node, _conv2d),
    "FusedPadConv2D": lambda b, node: fused_resize_pad_conv(b, node, _conv2d),
}

#: data inputs a mapped op needs at least, where more than one (TensorFlow's op registry)
_MIN_INPUTS: dict[str, int] = {
    **dict.fromkeys(["Conv2D", "DepthwiseConv2dNative", "BiasAdd", "MatMul", "Add", "AddV2", "Mul", "Sub",
                     "RealDiv", "SquaredDifference", "Maximum", "Minimum", "Pow", "Greater", "GreaterEqual",
                     "Less", "LessEqual", "Equal", "LogicalAnd", "LogicalOr", "Mean", "Pad", "ConcatV2",
                     "Reshape", "Transpose", "Sum", "Max", "Min", "Prod", "ExpandDims"], 2),
    "PadV2": 3, "Range": 3, "StridedSlice": 4, "FusedBatchNorm": 5, "FusedBatchNormV3": 5,
    **ARRAY_MIN_INPUTS, **NN_MIN_INPUTS,
}

_NO_OUTPUT_OPS = {"NoOp", "Assert", "SaveV2", "RestoreV2"}


def _mapped(conv: Converter, b: GraphBuilder, node: _Node) -> list[Value] | None:
    """``conv`` applied to ``node``, after checking it has the data inputs its op needs; a converter
    that fails on a malformed node (an index, a value or a type it cannot read) is a ModelFormatError
    naming the node (a BiasAdd with one input escaped as ValueError)."""
    need = _MIN_INPUTS.get(node.op, 1)
    if len(node.inputs) < need:
        raise ModelFormatError(f"node {node.name!r} ({node.op}) has {len(node.inputs)} data input(s); {node.op} "
                               f"takes at least {need}: the GraphDef is damaged or was not written by TensorFlow")
    try:
        return conv(b, node)
    except (IndexError, ValueError, TypeError, KeyError) as e:
        raise ModelFormatError(f"node {node.name!r} ({node.op}) cannot be imported: {type(e).__name__}: {e}") from e


def _split_input(ref: str) -> tuple[str, int] | None:
    """'name:1' -> ('name', 1); '^ctrl' (control dependency) -> None."""
    if ref.startswith("^"):
        return None
    name, _, port = ref.partition(":")
    return name, int(port) if port.isdigit() else 0


def _topological(nodes: list[Any]) -> list[Any]:
    by_name = {n.name: n for n in nodes}
    state: dict[str, int] = {}
    order: list[Any] = []
    for root in nodes:
        stack = [(root, False)]
        while stack:
            n, done = stack.pop()
            if done:
                state[n.name] = 2
                order.append(n)
                continue
            if state.get(n.name):  # already visited (or on the stack: handled below)
                continue
            state[n.name] = 1
            stack.append((n, True))
            for ref in reversed(list(n.input)):
                src = _split_input(ref)
                if src is None or src[0] not in by_name:
                    continue
                s = state.get(src[0], 0)
                if s == 1:
                    raise ModelFormatError(f"node {n.name!r} ({n.op}): the graph has a cycle through {src[0]!r}; "
                                           f"graphc imports acyclic (frozen, inference) graphs only")
                if s == 0:
                    stack.append((by_name[src[0]], False))
    return order


def _is_fused_bn_training(nd: Any, attrs: dict[str, Any]) -> bool:
    return nd.op.startswith("FusedBatchNorm") and bool(attrs.get("is_training", False))


def graphdef_to_graph(gd: Any, name: str = "tf_graph", outputs: Sequence[str] | None = None,
                      layers: Any = None, input_shapes: dict[str, Any] | None = None,
                      inputs: Sequence[str] | None = None) -> Graph:
    """Convert a parsed GraphDef. ``layers`` (a LayerRegistry) claims ops for domain ``tf``;
    ``input_shapes`` overrides Placeholder shapes (None for a free dim). ``inputs`` cuts the graph at
    internal tensors ("node" or "node:1"), which become graph inputs: only what the outputs need
    downstream of the cuts is imported (a detector's pre-processing ``while`` loop is left out)."""
    b = GraphBuilder(name, DOMAIN, "graphc-tensorflow", input_shapes)
    nodes = list(gd.node)
    names: set[str] = set()
    for n in nodes:
        if n.name in names:
            raise ModelFormatError(f"node {n.name!r} ({n.op}): two nodes of the GraphDef share this name")
        names.add(n.name)
    consts = {n.name: n for n in nodes if n.op == "Const"}

    def const_value(ref: str) -> np.ndarray | None:
        nd = consts.get(ref.partition(":")[0])
        return decode_attr(nd.attr["value"], nd.name) if nd is not None and "value" in nd.attr else None

    nodes = fold_atrous_convolutions(nodes, const_value)  # SpaceToBatchND -> conv -> BatchToSpaceND
    ports: dict[str, int] = {n.name: 1 for n in nodes}
    read: set[tuple[str, int]] = set()
    for n in nodes:
        for ref in n.input:
            src = _split_input(ref)
            if src is None:
                continue
            if src[0] not in names:
                raise ModelFormatError(f"node {n.name!r} ({n.op}) reads {ref!r}, which no node of the graph produces")
            ports[src[0]] = max(ports[src[0]], src[1] + 1)
            read.add(src)
    produced: dict[tuple[str, int], Value] = {}
    if inputs:
        nodes = _cut(b, nodes, inputs, outputs, produced)

    def convert(builder: GraphBuilder, nd: Any, values: list[Value], label: str) -> list[Value]:
        if nd.op in ("NoOp", "Assert"):  # control-only (TF2 freezing leaves a NoOp ordering the variable
            return []  # reads); an Assert's check is not run: it has no data output to import
        attrs = {k: decode_attr(v, nd.name) for k, v in sorted(nd.attr.items())}
        return _convert_node(builder, _Node(label, nd.op, attrs, values, ports[nd.name]), layers)

    if has_control_flow(nodes):  # while frames -> Loop, tf.cond -> If (tf_control_flow)
        ControlFlowImporter(nodes, ports, convert, decode_attr).import_root(b, produced, [n.name for n in nodes])
    else:
        for nd in _topological(nodes):
            values = [produced[src] for src in map(_split_input, nd.input) if src is not None]
            for i, v in enumerate(convert(b, nd, values, nd.name)):
                produced[(nd.name, i)] = v
    if outputs:
        result = []
        for ref in outputs:
            src = _split_input(ref)
            if src is None or not isinstance(produced.get(src), Value):
                raise ModelFormatError(f"requested output {ref!r} is not produced by the graph (a tensor inside a "
                                       f"while loop or tf.cond branch is not a graph output: ask for its Exit/Merge)")
            result.append(produced[src])
    else:
        result = [produced[(n.name, 0)] for n in nodes
                  if n.op not in ("Const", "Placeholder") and n.op not in _NO_OUTPUT_OPS
                  and isinstance(produced.get((n.name, 0)), Value)
                  and not any((n.name, p) in read for p in range(ports[n.name]))]
    return b.finish(result)


def _cut(b: GraphBuilder, nodes: list[Any], inputs: Sequence[str], outputs: Sequence[str] | None,
         produced: dict[tuple[str, int], Value]) -> list[Any]:
    """Make the ``inputs`` tensors graph inputs (in ``produced``) and return the nodes still needed: those
    the outputs (default: every sink downstream of the cuts) read without passing through a cut."""
    by_name = {n.name: n for n in nodes}
    cuts: list[tuple[str, int]] = []
    for ref in inputs:
        src = _split_input(ref)
        if src is None or src[0] not in by_name:
            raise ModelFormatError(f"cut input {ref!r} names no node of the graph")
        cuts.append(src)
        nd = by_name[src[0]]
        attrs = {k: decode_attr(v, nd.name) for k, v in nd.attr.items()}
        dtype = attrs.get("T") or attrs.get("dtype") or attrs.get("out_type") or "float32"
        shapes = attrs.get("_output_shapes")
        shape = shapes[src[1]] if isinstance(shapes, list) and src[1] < len(shapes) else None
        label = src[0] if src[1] == 0 else f"{src[0]}:{src[1]}"
        produced[src] = b.input(label, np.dtype(dtype) if dtype != "string" else object,
                                None if not isinstance(shape, list) else [None if d < 0 else d for d in shape])
    if outputs:
        targets = [s[0] for s in map(_split_input, outputs) if s is not None]
    else:  # the sinks downstream of the cuts
        readers: dict[str, list[str]] = {}
        for n in nodes:
            for ref in n.input:
                if (src := _split_input(ref)) is not None:
                    readers.setdefault(src[0], []).append(n.name)
        seen, stack = set(), [c[0] for c in cuts]
        while stack:
            for r in readers.get(stack.pop(), []):
                if r not in seen:
                    seen.add(r)
                    stack.append(r)
        targets = [n for n in seen if not readers.get(n) and by_name[n].op not in _NO_OUTPUT_OPS]
    needed: set[str] = set()
    stack = [t for t in targets if t in by_name]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        for ref in by_name[name].input:
            src = _split_input(ref)
            if src is not None and src not in produced and src[0] in by_name:
                stack.append(src[0])
    return [n for n in nodes if n.name in needed and not any(c[0] == n.name for c in cuts)]


def _convert_node(b: GraphBuilder, node: _Node, layers: Any) -> list[Value]:
    if node.op == "Placeholder":
        shape = node.attr("shape")
        dtype = np.dtype(node.attr("dtype", "float32")) if node.attr("dtype", "float32") != "string" else object
        return [b.input(node.name, dtype, None if shape is None else [None if d < 0 else d for d in shape])]
    if node.op == "Const":
        value = node.attr("value")
        if not isinstance(value, np.ndarray):
            raise ModelFormatError(f"node {node.name!r} (Const) has no tensor value")
        return [b.const(value, node.name)]
    claimed = layers is not None and layers.lookup(DOMAIN, node.op, 1) is not None
    conv = MAPPED_OPS.get(node.op)
    use = conv is not None and not claimed and not _is_fused_bn_training(node, node.attrs)
    outs = _mapped(conv, b, node) if use else None  # type: ignore[arg-type]
    if outs is not None:  # a converter returns None for a configuration it does not map
        b.name_output(outs[0], node.name)
        return outs
    outs = b.custom(node.op, node.inputs, node.attrs, name=node.name,
                    outputs=[node.name] + [f"{node.name}:{i}" for i in range(1, node.n_outputs)])
    if conv is not None and claimed:
        mark_overridden(outs, f"TensorFlow {node.op}")
    return outs


def load_tensorflow(source: str | os.PathLike | bytes, *, text: bool | None = None,
                    outputs: Sequence[str] | None = None, layers: Any = None,
                    input_shapes: dict[str, Any] | None = None, inputs: Sequence[str] | None = None) -> Graph:
    """Load a TensorFlow GraphDef (``.pbtxt`` text or ``.pb`` binary) into a Graph.

    ``outputs`` names the tensors to expose ("node" or "node:1"); by default every data
    output no other node reads. ``layers`` (a LayerRegistry) makes a registered
    ``tf`` layer take its op even where graphc has a built-in mapping.
    """
    gd = parse_graphdef(source, text)
    name = Path(source).stem if isinstance(source, (str, os.PathLike)) else "tf_graph"
    return graphdef_to_graph(gd, name, outputs, layers, input_shapes, inputs)
