"""TensorFlow image and NN ops that OpenCV's TF importer runs -> ONNX, with TensorFlow's semantics.

* ``ResizeBilinear`` / ``ResizeNearestNeighbor`` (NHWC, ``size`` Const or computed) -> ``Resize`` in NCHW
  with the output sizes ``[N, C, *size]``. ``coordinate_transformation_mode``: ``align_corners`` for
  ``align_corners=True``, ``half_pixel`` for ``half_pixel_centers=True``, else ``asymmetric``
  (TF's legacy ``out * in / out_size``). Bilinear: ``linear`` (TF clamps the source coordinate to the
  image as ONNX does); its output is float32 whatever the input, as in TF. Nearest: ``floor`` for the
  legacy mapping, ``round_prefer_ceil`` otherwise (TF's ``roundf`` for align_corners; for half-pixel
  centres TF takes ``floor((out + 0.5) * scale)``, which is ONNX's ``(out + 0.5) * scale - 0.5``
  rounded half up).
* ``LRN`` -> ``LRN`` in NCHW, ``size = 2 * depth_radius + 1`` and ``alpha * size`` (ONNX divides
  alpha by the window size, TF does not).
* ``MirrorPad``: ``REFLECT`` -> ``Pad(mode=reflect)``; ``SYMMETRIC`` -> reversed ``Slice``s + ``Concat``.
* ``FusedResizeAndPadConv2D`` / ``FusedPadConv2D`` -> the resize, mirror pad and ``Conv2D`` they fuse.
* ``ClipByValue`` -> ``Min(Max(x, lo), hi)`` (bounds may be tensors that broadcast).
* ``ArgMax`` / ``ArgMin`` (axis Const) -> ``ArgMax``/``ArgMin(keepdims=0)`` (first index on ties, as
  TF), cast to ``output_type``.
* ``Conv2DBackpropInput`` (``tf.nn.conv2d_transpose``; filter Const, the spatial ``input_sizes`` known:
  a Const, or a ``Pack`` with a computed batch as Keras writes it) ->
  ``ConvTranspose`` with the pads of the forward convolution (SAME: its total split with the odd
  pixel at the end) and the ``output_padding`` that gives ``input_sizes``.
* ``SpaceToBatchND`` / ``BatchToSpaceND`` (4-D NHWC, Const block and paddings/crops) ->
  ``Pad`` / ``Reshape`` / ``Transpose`` / ``Slice``; the atrous-convolution triple is folded into one
  dilated convolution before (:mod:`.tf_atrous`).
* ``Concat`` (TF1: the axis first) -> ``Concat``.
* ``Conv3D``, ``MaxPool3D``, ``AvgPool3D`` (NDHWC) -> ``Conv`` / ``MaxPool`` / ``AveragePool`` in NCDHW.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from onnx import helper

from ..ir import Value
from .builder import GraphBuilder

__all__ = ["NN_OPS", "NN_MIN_INPUTS", "fused_resize_pad_conv"]


def _cast(b: GraphBuilder, v: Value, dtype: Any, name: str) -> Value:
    return b.op1("Cast", [v], {"to": int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))}, name=name)


def _nchw_sizes(b: GraphBuilder, x_nchw: Value, size: Value, name: str) -> Value:
    """``[N, C, h, w]`` int64 for an NCHW tensor and TF's ``size`` (h, w)."""
    if size.const is not None:
        hw = b.const(np.asarray(size.const, np.int64).reshape(-1), f"{name}_hw")
    else:
        hw = b.op1("Reshape", [_cast(b, size, np.int64, f"{name}_size64"), b.ints([-1], f"{name}_flat")],
                   name=f"{name}_hw")
    nc = b.op1("Slice", [b.op1("Shape", [x_nchw], name=f"{name}_shape"), b.ints([0], f"{name}_zero"),
                         b.ints([2], f"{name}_two")], name=f"{name}_nc")
    return b.op1("Concat", [nc, hw], {"axis": 0}, name=f"{name}_sizes")


def _resize(b: GraphBuilder, node: Any) -> list[Value] | None:
    align, half = bool(node.attr("align_corners", False)), bool(node.attr("half_pixel_centers", False))
    if align and half:
        return None  # TF refuses the pair
    x = node.inputs[0]
    ctm = "align_corners" if align else "half_pixel" if half else "asymmetric"
    if node.op == "ResizeBilinear":
        if str(node.attr("T", "float32")) != "float32":
            x = _cast(b, x, np.float32, f"{node.name}_float")  # TF interpolates and returns float32
        attrs = {"mode": "linear", "coordinate_transformation_mode": ctm}
    else:
        attrs = {"mode": "nearest", "coordinate_transformation_mode": ctm,
                 "nearest_mode": "round_prefer_ceil" if (align or half) else "floor"}
    x = b.to_nchw(x)
    sizes = _nchw_sizes(b, x, node.inputs[1], node.name)
    y = b.op1("Resize", [x, None, None, sizes], attrs, name=f"{node.name}_nchw")
    return [b.to_nhwc(y)]


def _lrn(b: GraphBuilder, node: Any) -> list[Value]:
    size = 2 * int(node.attr("depth_radius", 5)) + 1
    attrs = {"size": size, "alpha": float(np.float32(node.attr("alpha", 1.0)) * size),
             "beta": float(node.attr("beta", 0.5)), "bias": float(node.attr("bias", 1.0))}
    return [b.to_nhwc(b.op1("LRN", [b.to_nchw(node.inputs[0])], attrs, name=f"{node.name}_nchw"))]


def _mirror_pad(b: GraphBuilder, node: Any) -> list[Value] | None:
    """``REFLECT`` -> ``Pad(mode=reflect)``; ``SYMMETRIC`` (the edge pixel repeated) -> per padded axis,
    the reversed slices ``x[lo-1::-1]`` and ``x[:-hi-1:-1]`` concatenated around ``x``."""
    p = np.asarray(node.const_input(1), dtype=np.int64).reshape(-1, 2)
    return [_mirror(b, node.inputs[0], p, str(node.attr("mode", "REFLECT")).upper(), node.name)]


def _mirror(b: GraphBuilder, x: Value, p: np.ndarray, mode: str, name: str) -> Value:
    if mode == "REFLECT":
        pads = b.ints(list(p[:, 0]) + list(p[:, 1]), f"{name}_pads")
        return b.op1("Pad", [x, pads], {"mode": "reflect"}, name=name)
    if mode != "SYMMETRIC":
        raise ValueError(f"MirrorPad mode {mode!r} is not REFLECT or SYMMETRIC")
    first = np.iinfo(np.int64).min
    for axis, (lo, hi) in enumerate(p.tolist()):
        parts = []
        n = f"{name}_axis{axis}"
        if lo:
            parts.append(b.op1("Slice", [x, b.ints([lo - 1], f"{n}_lo_start"), b.ints([first], f"{n}_lo_end"),
                                         b.ints([axis], f"{n}_lo_axis"), b.ints([-1], f"{n}_lo_step")], name=f"{n}_lo"))
        parts.append(x)
        if hi:
            parts.append(b.op1("Slice", [x, b.ints([-1], f"{n}_hi_start"), b.ints([-hi - 1], f"{n}_hi_end"),
                                         b.ints([axis], f"{n}_hi_axis"), b.ints([-1], f"{n}_hi_step")], name=f"{n}_hi"))
        if len(parts) > 1:
            x = b.op1("Concat", parts, {"axis": axis}, name=n)
    return b.op1("Identity", [x], name=name)


def fused_resize_pad_conv(b: GraphBuilder, node: Any,
                          conv2d: Callable[[GraphBuilder, Any], list[Value]]) -> list[Value] | None:
    """``FusedResizeAndPadConv2D(input, size, paddings, filter)`` (bilinear, legacy or align_corners
    coordinates) and ``FusedPadConv2D(input, paddings, filter)``: the resize, the mirror pad and the VALID
    or SAME ``Conv2D`` of the same attributes, each mapped as the op alone (``conv2d``: the frontend's
    Conv2D converter, passed in because the frontend imports this module)."""
    n = node.name
    x, rest = node.inputs[0], node.inputs[1:]
    if node.op == "FusedResizeAndPadConv2D":
        align = {"align_corners": node.attr("resize_align_corners", False)}
        resize = type(node)(f"{n}_resize", "ResizeBilinear", align, [x, rest[0]], 1)
        resized = _resize(b, resize)
        if resized is None:
            return None
        x = resized[0]
        rest = rest[1:]
    x = _mirror(b, x, np.asarray(node.const_input(len(node.inputs) - 2), np.int64).reshape(-1, 2),
                str(node.attr("mode", "REFLECT")).upper(), f"{n}_pad")
    conv = type(node)(n, "Conv2D", {k: v for k, v in node.attrs.items() if k in ("strides", "padding")},
                      [x, rest[-1]], 1)
    return conv2d(b, conv)


def _clip_by_value(b: GraphBuilder, node: Any) -> list[Value]:
    lower = b.op1("Max", node.inputs[:2], name=f"{node.name}_lower")
    return [b.op1("Min", [lower, node.inputs[2]], name=node.name)]


def _arg(onnx_type: str) -> Callable[[GraphBuilder, Any], list[Value]]:
    def convert(b: GraphBuilder, node: Any) -> list[Value]:
        axis = int(np.asarray(node.const_input(1)).reshape(()))
        idx = b.op1(onnx_type, node.inputs[:1], {"axis": axis, "keepdims": 0}, name=f"{node.name}_i64")
        out = str(node.attr("output_type", "int64"))
        return [idx if out == "int64" else _cast(b, idx, out, node.name)]
    return convert


def _known_entries(v: Value) -> list[int | None]:
    """The entries of a 1-D int tensor known at import: a constant, or a ``Pack`` of scalars (imported as
    ``Concat`` of ``Unsqueeze``s) with None where a scalar is computed; [] when not even its length is known."""
    if v.const is not None:
        return [int(x) for x in np.asarray(v.const).reshape(-1)]
    op = v.producer()
    if op is None or op.op_type != "Concat":
        return []
    out: list[int | None] = []
    for part in op.inputs:
        inner = part.producer() if part is not None and part.const is None else None
        if part is not None and part.const is not None:
            out.extend(int(x) for x in np.asarray(part.const).reshape(-1))
        elif inner is not None and inner.op_type == "Unsqueeze":
            src = inner.inputs[0]
            out.append(int(np.asarray(src.const).reshape(())) if src is not None and src.const is not None else None)
        else:
            return []
    return out


def _conv_transpose(b: GraphBuilder, node: Any) -> list[Value] | None:
    fmt = str(node.attr("data_format", "NHWC"))
    sizes = _known_entries(node.inputs[0])  # Keras writes Pack(batch, h, w, c): the batch is computed
    filt = node.const_input(1)  # [kh, kw, out_channels, in_channels] of the transposed conv
    spatial = [1, 2] if fmt == "NHWC" else [2, 3]
    if len(sizes) != 4 or any(sizes[i] is None for i in spatial):
        return None
    strides = [int(node.attr("strides", [1, 1, 1, 1])[i]) for i in spatial]
    dilations = [int((node.attr("dilations") or [1, 1, 1, 1])[i]) for i in spatial]
    padding = str(node.attr("padding", "VALID"))
    if padding not in ("SAME", "VALID"):
        return None
    pads_begin, pads_end, out_pad = [], [], []
    for i, ax in enumerate(spatial):
        size, s, k = int(sizes[ax] or 0), strides[i], dilations[i] * (int(filt.shape[i]) - 1) + 1
        fwd = -(-size // s) if padding == "SAME" else (size - k) // s + 1  # the forward conv's output
        total = max((fwd - 1) * s + k - size, 0) if padding == "SAME" else 0
        pads_begin.append(total // 2)
        pads_end.append(total - total // 2)
        out_pad.append(size - ((fwd - 1) * s + k - total))
    w = b.const(np.ascontiguousarray(np.transpose(filt, (3, 2, 0, 1))), f"{node.name}_filter")
    x = b.to_nchw(node.inputs[2]) if fmt == "NHWC" else node.inputs[2]
    attrs = {"strides": strides, "dilations": dilations, "pads": pads_begin + pads_end, "output_padding": out_pad}
    y = b.op1("ConvTranspose", [x, w], attrs, name=f"{node.name}_nchw")
    return [b.to_nhwc(y) if fmt == "NHWC" else y]


def _dims(b: GraphBuilder, shape: Value, start: int, end: int, name: str) -> Value:
    return b.op1("Slice", [shape, b.ints([start], f"{name}_start"), b.ints([end], f"{name}_end")], name=name)


def _space_to_batch(b: GraphBuilder, node: Any) -> list[Value] | None:
    """4-D NHWC ``SpaceToBatchND`` (block and paddings Const): Pad, then ``[N, H/bh, bh, W/bw, bw, C]`` ->
    ``[bh, bw, N, H/bh, W/bw, C]`` -> ``[bh*bw*N, H/bh, W/bw, C]`` (shapes from the run time ``Shape``,
    folded when known)."""
    block = np.asarray(node.const_input(1), np.int64).reshape(-1)
    pads = np.asarray(node.const_input(2), np.int64).reshape(-1, 2)
    if block.size != 2 or pads.shape != (2, 2):
        return None
    n = node.name
    padded = b.op1("Pad", [node.inputs[0], b.ints([0, *pads[:, 0].tolist(), 0, 0, *pads[:, 1].tolist(), 0],
                                                  f"{n}_pads")], {"mode": "constant"}, name=f"{n}_padded")
    shape = b.op1("Shape", [padded], name=f"{n}_shape")
    cells = b.op1("Div", [_dims(b, shape, 1, 3, f"{n}_hw"), b.ints(block.tolist(), f"{n}_block")], name=f"{n}_cells")
    cell_h, cell_w = _dims(b, cells, 0, 1, f"{n}_cell_h"), _dims(b, cells, 1, 2, f"{n}_cell_w")
    channels = _dims(b, shape, 3, 4, f"{n}_c")
    split_shape = b.op1("Concat", [_dims(b, shape, 0, 1, f"{n}_n"), cell_h, b.ints([int(block[0])], f"{n}_bh"),
                                   cell_w, b.ints([int(block[1])], f"{n}_bw"), channels], {"axis": 0},
                        name=f"{n}_split_shape")
    split = b.op1("Reshape", [padded, split_shape], name=f"{n}_split")
    moved = b.op1("Transpose", [split], {"perm": [2, 4, 0, 1, 3, 5]}, name=f"{n}_moved")
    out_shape = b.op1("Concat", [b.ints([-1], f"{n}_batch"), cells, channels], {"axis": 0}, name=f"{n}_out_shape")
    return [b.op1("Reshape", [moved, out_shape], name=n)]


def _batch_to_space(b: GraphBuilder, node: Any) -> list[Value] | None:
    """4-D NHWC ``BatchToSpaceND`` (block and crops Const): the inverse moves, then the crops."""
    block = np.asarray(node.const_input(1), np.int64).reshape(-1)
    crops = np.asarray(node.const_input(2), np.int64).reshape(-1, 2)
    if block.size != 2 or crops.shape != (2, 2):
        return None
    n = node.name
    shape = b.op1("Shape", [node.inputs[0]], name=f"{n}_shape")
    hwc = _dims(b, shape, 1, 4, f"{n}_hwc")
    split_shape = b.op1("Concat", [b.ints([*block.tolist(), -1], f"{n}_blocks"), hwc], {"axis": 0},
                        name=f"{n}_split_shape")
    split = b.op1("Reshape", [node.inputs[0], split_shape], name=f"{n}_split")
    moved = b.op1("Transpose", [split], {"perm": [2, 3, 0, 4, 1, 5]}, name=f"{n}_moved")
    spread = b.op1("Mul", [_dims(b, hwc, 0, 2, f"{n}_hw"), b.ints(block.tolist(), f"{n}_block")], name=f"{n}_spread")
    full_shape = b.op1("Concat", [b.ints([-1], f"{n}_batch"), spread, _dims(b, hwc, 2, 3, f"{n}_c")], {"axis": 0},
                       name=f"{n}_full_shape")
    full = b.op1("Reshape", [moved, full_shape], name=f"{n}_full")
    ends = [-int(c) if c > 0 else np.iinfo(np.int64).max for c in crops[:, 1]]
    return [b.op1("Slice", [full, b.ints(crops[:, 0].tolist(), f"{n}_starts"), b.ints(ends, f"{n}_ends"),
                            b.ints([1, 2], f"{n}_axes")], name=n)]


def _conv_pool_3d(b: GraphBuilder, node: Any) -> list[Value] | None:
    """``Conv3D`` (filter Const ``[kd, kh, kw, I, O]``), ``MaxPool3D``, ``AvgPool3D`` (valid pixels only)
    in NDHWC -> the ONNX op in NCDHW between Transposes; SAME -> ``SAME_UPPER``, or explicit pads
    ``d * (k - 1)`` with a dilation at stride 1 (onnxruntime refuses auto_pad with dilations)."""
    if str(node.attr("data_format", "NDHWC")) != "NDHWC":
        return None
    strides = [int(v) for v in node.attr("strides", [1] * 5)[1:4]]
    padding = str(node.attr("padding", "VALID"))
    if padding not in ("SAME", "VALID"):
        return None
    attrs: dict[str, Any] = {"strides": strides}
    x = b.transpose(node.inputs[0], (0, 4, 1, 2, 3))
    if node.op == "Conv3D":
        filt = node.const_input(1)
        kernel, dil = list(filt.shape[:3]), [int(v) for v in (node.attr("dilations") or [1] * 5)[1:4]]
        w = b.const(np.ascontiguousarray(np.transpose(filt, (4, 3, 0, 1, 2))), f"{node.name}_filter")
        inputs, op_type = [x, w], "Conv"
        attrs["dilations"] = dil
    else:
        kernel, dil = [int(v) for v in node.attr("ksize", [1] * 5)[1:4]], [1, 1, 1]
        inputs, op_type = [x], "MaxPool" if node.op == "MaxPool3D" else "AveragePool"
        attrs["kernel_shape"] = kernel
        if op_type == "AveragePool":
            attrs["count_include_pad"] = 0
    if padding == "SAME" and max(dil) > 1 and strides == [1, 1, 1]:
        total = [d * (int(k) - 1) for d, k in zip(dil, kernel)]
        attrs["pads"] = [t // 2 for t in total] + [t - t // 2 for t in total]
    elif padding == "SAME":
        attrs["auto_pad"] = "SAME_UPPER"
    y = b.op1(op_type, inputs, attrs, name=f"{node.name}_ncdhw")
    return [b.transpose(y, (0, 2, 3, 4, 1))]


def _concat_v1(b: GraphBuilder, node: Any) -> list[Value]:
    """TF1 ``Concat(concat_dim, values...)``: the axis first."""
    axis = int(np.asarray(node.const_input(0)).reshape(()))
    return [b.op1("Concat", node.inputs[1:], {"axis": axis}, name=node.name)]


#: TensorFlow op -> converter (merged into the frontend's MAPPED_OPS)
NN_OPS: dict[str, Callable[[GraphBuilder, Any], "list[Value] | None"]] = {
    "ResizeBilinear": _resize, "ResizeNearestNeighbor": _resize, "LRN": _lrn, "MirrorPad": _mirror_pad,
    "ClipByValue": _clip_by_value, "ArgMax": _arg("ArgMax"), "ArgMin": _arg("ArgMin"),
    "Conv2DBackpropInput": _conv_transpose, "SpaceToBatchND": _space_to_batch, "BatchToSpaceND": _batch_to_space,
    "Concat": _concat_v1, "Conv3D": _conv_pool_3d, "MaxPool3D": _conv_pool_3d, "AvgPool3D": _conv_pool_3d,
}

#: data inputs each takes at least (TensorFlow's op registry)
NN_MIN_INPUTS = {"ResizeBilinear": 2, "ResizeNearestNeighbor": 2, "MirrorPad": 2, "ClipByValue": 3, "ArgMax": 2,
                 "ArgMin": 2, "Conv2DBackpropInput": 3, "SpaceToBatchND": 3, "BatchToSpaceND": 3, "Concat": 2,
                 "Conv3D": 2, "FusedResizeAndPadConv2D": 4, "FusedPadConv2D": 3}
