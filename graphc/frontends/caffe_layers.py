"""OpenCV's other native Caffe layers as ONNX ops (issue 17): activations, MVN, Bias, Exp/Log,
Threshold, ArgMax, Reduction, Tile, ShuffleChannel, DeepLab's Interp, FlowNet's Resample, LRN
WITHIN_CHANNEL and test-time STOCHASTIC pooling; Faster R-CNN's Proposal as a node graphc's
built-in layer runs.

Semantics are Caffe's (BVLC ``src/caffe/layers``, DeepLab's ``interp_layer``), with OpenCV dnn's
where OpenCV runs the layer and differs (MVN puts ``eps`` inside the root, as OpenCV does).
Where OpenCV ignores a field (Log's ``base``/``scale``/``shift``, Interp's pads and a
``shrink_factor`` beside a ``zoom_factor``) the field is honoured, as the Caffe the model was
trained with does; ``docs/frontends.md`` lists these differences.

Each converter takes ``(net, L)`` as those of :mod:`.caffe` do and returns the layer's tops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import ModelFormatError
from .static_shapes import static_shape

if TYPE_CHECKING:
    from ..ir import Value
    from .caffe_net import CaffeLayer as _Layer, CaffeNet as _Net

__all__ = ["OPENCV_LAYERS", "proposal", "resample", "interp_mode", "interp_size", "lrn_within_channel",
           "stochastic_pooling"]

_F32 = np.float32
_INT64_MAX = int(np.iinfo(np.int64).max)


def _scalar(net: _Net, L: _Layer, value: float, tag: str) -> Value:
    return net.b.const(np.array(value, _F32), f"{L.name}_{tag}")


def _steps(net: _Net, L: _Layer, x: Value, steps: list[tuple[str, float | None, str]],
           last: str | None = None) -> Value:
    """Apply ``(op, constant or None, tag)`` in turn; the last step's node is named ``last``
    (default: the layer's name)."""
    for i, (op_type, value, tag) in enumerate(steps):
        inputs = [x] if value is None else [x, _scalar(net, L, value, tag)]
        x = net.b.op1(op_type, inputs, name=(last or L.name) if i == len(steps) - 1 else f"{L.name}_{tag}")
    return x


# ------------------------------------------------------------- activations
def _unary(onnx_type: str, attrs: Callable[[Any], dict[str, Any]] | None = None) -> Callable[[_Net, _Layer], list]:
    def convert(net: _Net, L: _Layer) -> list[Value]:
        return [net.b.op1(onnx_type, L.bottoms[:1], attrs(L.proto) if attrs else None, name=L.name)]
    return convert


def prelu(net: _Net, L: _Layer) -> list[Value]:
    """``PRelu`` with the slope blob (one value with ``channel_shared``, else one per channel)."""
    x = L.bottoms[0]
    rank = net.rank(x)
    if not net.has_blobs(L, 1):
        return [net.b.op1("PRelu", [x, net.placeholder(L, "slope", max(rank - 1, 1))], name=L.name)]
    slope = L.blobs[0].reshape(-1).astype(_F32)
    shape = [1] if slope.size == 1 else [slope.size] + [1] * (rank - 2)
    return [net.b.op1("PRelu", [x, net.b.const(slope.reshape(shape), f"{L.name}_slope")], name=L.name)]


def relu6(net: _Net, L: _Layer) -> list[Value]:
    """OpenCV's ReLU6: ``Clip(x, 0, 6)``."""
    b = net.b
    return [b.op1("Clip", [L.bottoms[0], _scalar(net, L, 0.0, "min"), _scalar(net, L, 6.0, "max")], name=L.name)]


def threshold(net: _Net, L: _Layer) -> list[Value]:
    """``1`` where ``x > threshold``, else ``0`` (float)."""
    t = float(L.proto.threshold_param.threshold)
    above = net.b.op1("Greater", [L.bottoms[0], _scalar(net, L, t, "threshold")], name=f"{L.name}_greater")
    return [net.b.op1("Cast", [above], {"to": 1}, name=L.name)]


def exp(net: _Net, L: _Layer) -> list[Value]:
    """``base ^ (shift + scale * x)`` (``base: -1``, the default, is e), as Caffe computes it:
    ``base^shift * exp(scale * ln(base) * x)``."""
    p = L.proto.exp_param
    base, scale, shift = float(p.base), float(p.scale), float(p.shift)
    _check_base(L, base)
    log_base = 1.0 if base == -1 else float(np.log(base))
    inner, outer = log_base * scale, (1.0 if shift == 0 else (np.e if base == -1 else base) ** shift)
    steps: list[tuple[str, float | None, str]] = ([("Mul", inner, "inner_scale")] if inner != 1 else []) + [("Exp", None, "exp")]
    steps += [("Mul", outer, "outer_scale")] if outer != 1 else []
    return [_steps(net, L, L.bottoms[0], steps)]


def log(net: _Net, L: _Layer) -> list[Value]:
    """``log_base(shift + scale * x)`` (``base: -1``, the default, is e)."""
    p = L.proto.log_param
    base, scale, shift = float(p.base), float(p.scale), float(p.shift)
    _check_base(L, base)
    steps: list[tuple[str, float | None, str]] = [("Mul", scale, "scale")] if scale != 1 else []
    steps += ([("Add", shift, "shift")] if shift != 0 else []) + [("Log", None, "log")]
    steps += [("Mul", 1.0 / float(np.log(base)), "base_scale")] if base != -1 else []
    return [_steps(net, L, L.bottoms[0], steps)]


def _check_base(L: _Layer, base: float) -> None:
    if base != -1 and not base > 0:
        raise ModelFormatError(f"layer {L.name!r} ({L.type}): base {base} must be positive or -1 (e), as Caffe "
                               "requires; fix the prototxt")


# ------------------------------------------------------- normalizations
def mvn(net: _Net, L: _Layer) -> list[Value]:
    """``x - mean`` over H, W (or C, H, W with ``across_channels``), divided by
    ``sqrt(variance + eps)`` with ``normalize_variance`` (OpenCV's eps placement)."""
    p = L.proto.mvn_param
    b = net.b
    x = L.bottoms[0]
    axes = list(range(1 if p.across_channels else 2, net.rank(x)))
    mean = b.op1("ReduceMean", [x], {"axes": axes, "keepdims": 1}, name=f"{L.name}_mean")
    if not p.normalize_variance:
        return [b.op1("Sub", [x, mean], name=L.name)]
    centered = b.op1("Sub", [x, mean], name=f"{L.name}_centered")
    sq = b.op1("Mul", [centered, centered], name=f"{L.name}_square")
    var = b.op1("ReduceMean", [sq], {"axes": axes, "keepdims": 1}, name=f"{L.name}_variance")
    std = b.op1("Sqrt", [b.op1("Add", [var, _scalar(net, L, float(p.eps), "eps")], name=f"{L.name}_add_eps")],
                name=f"{L.name}_std")
    return [b.op1("Div", [centered, std], name=L.name)]


def lrn_within_channel(net: _Net, L: _Layer) -> list[Value]:
    """Caffe's LRN WITHIN_CHANNEL: ``x * (1 + alpha * AveragePool(x^2))^-beta`` over a
    ``local_size`` square zero-padded to keep the size (Caffe's ``k`` is not used, nor by OpenCV)."""
    p = L.proto.lrn_param
    size = int(p.local_size)
    if size % 2 != 1:
        raise ModelFormatError(f"layer {L.name!r} (LRN): local_size {size} must be odd, as Caffe requires")
    b = net.b
    x = L.bottoms[0]
    pad = (size - 1) // 2
    sq = b.op1("Mul", [x, x], name=f"{L.name}_square")
    avg = b.op1("AveragePool", [sq], {"kernel_shape": [size, size], "pads": [pad] * 4, "strides": [1, 1],
                                      "count_include_pad": 1}, name=f"{L.name}_avg")
    scale = _steps(net, L, avg, [("Mul", float(p.alpha), "alpha"), ("Add", 1.0, "one"),
                                 ("Pow", -float(p.beta), "neg_beta")], last=f"{L.name}_scale")
    return [b.op1("Mul", [x, scale], name=L.name)]


def stochastic_pooling(net: _Net, L: _Layer, kernel: list[int], strides: list[int]) -> list[Value]:
    """Caffe's test-time STOCHASTIC pooling: each window's values weighted by themselves,
    ``sum(x^2) / sum(x)`` (0 for an all-zero window), windows clipped at the border, output sizes
    rounded up. Caffe meant it for non-negative inputs (its weights are probabilities)."""
    b = net.b
    x = L.bottoms[0]
    attrs = {"kernel_shape": kernel, "strides": strides, "ceil_mode": 1, "count_include_pad": 0}
    sq = b.op1("Mul", [x, x], name=f"{L.name}_square")
    num = b.op1("AveragePool", [sq], attrs, name=f"{L.name}_mean_square")
    den = b.op1("AveragePool", [x], attrs, name=f"{L.name}_mean")
    tiny = b.op1("Max", [den, _scalar(net, L, float(np.finfo(_F32).tiny), "tiny")], name=f"{L.name}_nonzero")
    return [b.op1("Div", [num, tiny], name=L.name)]


# ------------------------------------------------------------ arithmetic
def bias(net: _Net, L: _Layer) -> list[Value]:
    """``x + bias``, the bias (the second bottom, else the blob) broadcast from ``axis``."""
    b = net.b
    x = L.bottoms[0]
    rank = net.rank(x)
    axis = _axis(L, int(L.proto.bias_param.axis), rank)
    if len(L.bottoms) > 1:
        other = L.bottoms[1]
        own = net.rank(other)
        trailing = rank - axis - own
        if trailing > 0:
            other = b.op1("Unsqueeze", [other, b.ints(list(range(own, own + trailing)), f"{L.name}_axes")],
                          name=f"{L.name}_unsqueeze")
        return [b.op1("Add", [x, other], name=L.name)]
    if not net.has_blobs(L, 1):
        return [b.op1("Add", [x, net.placeholder(L, "bias", rank - axis)], name=L.name)]
    blob = L.blobs[0].astype(_F32)
    if blob.ndim == 1 and blob.size == 1 and L.proto.bias_param.num_axes == 0:
        blob = blob.reshape(())
    shape = list(blob.shape) + [1] * (rank - axis - blob.ndim) if blob.ndim else []
    return [b.op1("Add", [x, b.const(blob.reshape(shape), f"{L.name}_bias")], name=L.name)]


def _axis(L: _Layer, axis: int, rank: int) -> int:
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise ModelFormatError(f"layer {L.name!r} ({L.type}): axis {axis} is out of range for a rank-{rank} blob; "
                               "fix the prototxt")
    return a


_REDUCTIONS = {"SUM": "ReduceSum", "ASUM": "ReduceL1", "SUMSQ": "ReduceSumSquare", "MEAN": "ReduceMean"}


def reduction(net: _Net, L: _Layer) -> list[Value]:
    """Caffe's Reduction: SUM, ASUM, SUMSQ or MEAN over the axes ``axis``..end (which are
    dropped: the output's shape is the input's up to ``axis``), times ``coeff``."""
    p = L.proto.reduction_param
    b = net.b
    x = L.bottoms[0]
    rank = net.rank(x)
    axis = _axis(L, int(p.axis), rank)
    op_name = p.DESCRIPTOR.fields_by_name["operation"].enum_type.values_by_number[p.operation].name
    op_type, axes = _REDUCTIONS[op_name], list(range(axis, rank))
    coeff = float(p.coeff)
    name = L.name if coeff == 1 else f"{L.name}_{op_name.lower()}"
    if op_type == "ReduceSum":  # opset 13+: axes as an input
        y = b.op1(op_type, [x, b.ints(axes, f"{L.name}_axes")], {"keepdims": 0}, name=name)
    else:
        y = b.op1(op_type, [x], {"axes": axes, "keepdims": 0}, name=name)
    if coeff != 1:
        y = b.op1("Mul", [y, _scalar(net, L, coeff, "coeff")], name=L.name)
    return [net.set_rank(y, axis)]


def argmax(net: _Net, L: _Layer) -> list[Value]:
    """Caffe's ArgMax: the ``top_k`` largest along ``axis`` (indices, or the values with
    ``out_max_val``, shape ``top_k`` on that axis); without ``axis``, over each image's values
    flattened: ``[N, 1, top_k, 1...]`` indices, ``[N, 2, top_k, 1...]`` indices then values with
    ``out_max_val`` (the input's rank, at least 3, as Caffe shapes it). Outputs are float, as in Caffe."""
    p = L.proto.argmax_param
    b = net.b
    x = L.bottoms[0]
    k = int(p.top_k)
    if k < 1:
        raise ModelFormatError(f"layer {L.name!r} (ArgMax): top_k {k} must be at least 1")
    if p.HasField("axis"):
        axis = _axis(L, int(p.axis), net.rank(x))
        values, indices = b.op("TopK", [x, b.ints([k], f"{L.name}_k")], {"axis": axis}, name=f"{L.name}_topk",
                               outputs=2)
        if p.out_max_val:
            return [b.op1("Identity", [values], name=L.name)]
        return [b.op1("Cast", [indices], {"to": 1}, name=L.name)]
    flat = b.op1("Flatten", [x], {"axis": 1}, name=f"{L.name}_flatten")
    values, indices = b.op("TopK", [flat, b.ints([k], f"{L.name}_k")], {"axis": 1}, name=f"{L.name}_topk", outputs=2)
    rank = max(net.rank(x), 3)
    parts = [b.op1("Cast", [indices], {"to": 1}, name=f"{L.name}_float")] + ([values] if p.out_max_val else [])
    axes = b.ints([1] + list(range(3, rank)), f"{L.name}_axes")  # [N, top_k] -> [N, 1, top_k, 1...]
    parts = [b.op1("Unsqueeze", [v, axes], name=f"{L.name}_{tag}") for v, tag in zip(parts, ("indices", "values"))]
    y = b.op1("Concat", parts, {"axis": 1}, name=L.name) if len(parts) == 2 else \
        b.op1("Identity", parts, name=L.name)
    return [net.set_rank(y, rank)]


# ---------------------------------------------------------------- shapes
def tile(net: _Net, L: _Layer) -> list[Value]:
    """``Tile`` with ``tiles`` copies along ``axis``."""
    p = L.proto.tile_param
    if not p.HasField("tiles") or p.tiles < 1:
        raise ModelFormatError(f"layer {L.name!r} (Tile): tile_param needs tiles >= 1; fix the prototxt")
    x = L.bottoms[0]
    rank = net.rank(x)
    reps = [1] * rank
    reps[_axis(L, int(p.axis), rank)] = int(p.tiles)
    return [net.b.op1("Tile", [x, net.b.ints(reps, f"{L.name}_repeats")], name=L.name)]


def shuffle_channel(net: _Net, L: _Layer) -> list[Value]:
    """ShuffleNet's channel shuffle: ``[N, g, C/g, rest] -> [N, C/g, g, rest]`` back to the input's shape."""
    group = int(L.proto.shuffle_channel_param.group)
    b = net.b
    x = L.bottoms[0]
    if group < 1:
        raise ModelFormatError(f"layer {L.name!r} (ShuffleChannel): group {group} must be at least 1")
    if group == 1:
        return [b.op1("Identity", [x], name=L.name)]
    shape = b.op1("Shape", [x], name=f"{L.name}_shape")
    n = b.op1("Shape", [x], {"start": 0, "end": 1}, name=f"{L.name}_n")
    c = b.op1("Shape", [x], {"start": 1, "end": 2}, name=f"{L.name}_c")
    per_group = b.op1("Div", [c, b.ints([group], f"{L.name}_group")], name=f"{L.name}_per_group")
    grouped = b.op1("Concat", [n, b.ints([group], f"{L.name}_g"), per_group, b.ints([-1], f"{L.name}_rest")],
                    {"axis": 0}, name=f"{L.name}_grouped_shape")
    y = b.op1("Reshape", [x, grouped], name=f"{L.name}_grouped")
    y = b.op1("Transpose", [y], {"perm": [0, 2, 1, 3]}, name=f"{L.name}_transpose")
    return [b.op1("Reshape", [y, shape], name=L.name)]


def interp_mode(p: Any) -> str:
    """Which of DeepLab's rules sizes an Interp, in its order of precedence: ``shrink``
    (shrink_factor alone), ``zoom`` (zoom_factor alone), ``explicit`` (height and width),
    ``both`` (shrink then zoom); ``""`` when none applies."""
    shrink, zoom = p.HasField("shrink_factor"), p.HasField("zoom_factor")
    if shrink != zoom:
        return "shrink" if shrink else "zoom"
    if p.HasField("height") and p.HasField("width"):
        return "explicit"
    return "both" if shrink else ""


def interp_size(size: int, p: Any, mode: str, explicit: int) -> int:
    """DeepLab's Interp output size along one axis of ``size`` (pads already applied)."""
    if mode == "explicit":
        return explicit
    if mode in ("shrink", "both"):
        size = (size - 1) // int(p.shrink_factor) + 1
    if mode in ("zoom", "both"):
        size = size + (size - 1) * (int(p.zoom_factor) - 1)
    return size


def interp(net: _Net, L: _Layer) -> list[Value]:
    """DeepLab's Interp: bilinear with aligned corners (``Resize`` ``align_corners``) to
    ``height``/``width``, the size ``zoom_factor`` / ``shrink_factor`` give, or (a fork's second
    bottom) that bottom's H, W; negative ``pad_beg``/``pad_end`` crop the input first."""
    p = L.proto.interp_param
    b = net.b
    where = f"layer {L.name!r} (Interp)"
    mode = interp_mode(p) if len(L.bottoms) == 1 else "like"
    if not mode:
        raise ModelFormatError(f"{where}: interp_param needs height and width, zoom_factor or shrink_factor")
    if min(p.shrink_factor, p.zoom_factor) < 1 or (mode == "explicit" and min(p.height, p.width) < 1):
        raise ModelFormatError(f"{where}: factors and sizes must be at least 1")
    if p.pad_beg > 0 or p.pad_end > 0:
        raise ModelFormatError(f"{where}: pad_beg {p.pad_beg} / pad_end {p.pad_end} must be <= 0 (a crop), as "
                               "DeepLab's Interp requires")
    x = L.bottoms[0]
    if p.pad_beg or p.pad_end:
        x = b.op1("Slice", [x, b.ints([-int(p.pad_beg)] * 2, f"{L.name}_crop_starts"),
                            b.ints([int(p.pad_end) or _INT64_MAX] * 2, f"{L.name}_crop_ends"),
                            b.ints([2, 3], f"{L.name}_crop_axes")], name=f"{L.name}_crop")
    fixed = [int(p.height), int(p.width)]
    shape = static_shape(L.bottoms[0])
    if len(L.bottoms) > 1:  # a fork's resize-to-this-blob's-size
        nc = b.op1("Shape", [x], {"start": 0, "end": 2}, name=f"{L.name}_nc")
        hw = b.op1("Shape", [L.bottoms[1]], {"start": 2, "end": 4}, name=f"{L.name}_hw")
        sizes = b.op1("Concat", [nc, hw], {"axis": 0}, name=f"{L.name}_sizes")
    elif shape is not None and len(shape) == 4:
        eff = [shape[2] + p.pad_beg + p.pad_end, shape[3] + p.pad_beg + p.pad_end]
        sizes = b.ints(list(shape[:2]) + [interp_size(s, p, mode, e) for s, e in zip(eff, fixed)], f"{L.name}_sizes")
    else:
        sizes = _interp_size_ops(net, L, x, p, mode, fixed)
    attrs = {"mode": "linear", "coordinate_transformation_mode": "align_corners"}
    return [net.set_rank(b.op1("Resize", [x, None, None, sizes], attrs, name=L.name), 4)]


def _interp_size_ops(net: _Net, L: _Layer, x: Value, p: Any, mode: str, fixed: list[int]) -> Value:
    """:func:`interp_size` on the (cropped) input's ``[H, W]`` at run time."""
    b = net.b
    nc = b.op1("Shape", [x], {"start": 0, "end": 2}, name=f"{L.name}_nc")
    if mode == "explicit":
        return b.op1("Concat", [nc, b.ints(fixed, f"{L.name}_hw")], {"axis": 0}, name=f"{L.name}_sizes")
    hw = b.op1("Shape", [x], {"start": 2, "end": 4}, name=f"{L.name}_hw")
    one = b.ints([1], f"{L.name}_one")
    if mode in ("shrink", "both"):
        less = b.op1("Sub", [hw, one], name=f"{L.name}_hw_minus_1")
        hw = b.op1("Add", [b.op1("Div", [less, b.ints([int(p.shrink_factor)], f"{L.name}_shrink")],
                                 name=f"{L.name}_shrunk"), one], name=f"{L.name}_hw_shrunk")
    if mode in ("zoom", "both"):
        less = b.op1("Sub", [hw, one], name=f"{L.name}_hw_minus_1_z")
        extra = b.op1("Mul", [less, b.ints([int(p.zoom_factor) - 1], f"{L.name}_zoom")], name=f"{L.name}_extra")
        hw = b.op1("Add", [hw, extra], name=f"{L.name}_hw_zoomed")
    return b.op1("Concat", [nc, hw], {"axis": 0}, name=f"{L.name}_sizes")


def resample(net: _Net, L: _Layer) -> list[Value]:
    """FlowNet's Resample as OpenCV runs it: ``Resize`` with ``asymmetric`` coordinates, LINEAR
    (bilinear) or NEAREST (``floor``), to ``width``/``height``, a second bottom's H, W, or (NEAREST)
    ``factor`` times the input's. ``resample_param`` is read from the prototxt text, or typed when
    registered (graphc does not declare its field number); ``antialias`` is not applied, as in OpenCV."""
    block = _block(L, "resample_param")
    where = f"layer {L.name!r} (Resample)"
    kind = str(block.get("type", ["LINEAR"])[-1]).upper()  # FlowNet's default
    if kind not in ("LINEAR", "NEAREST"):
        raise ModelFormatError(f"{where}: type {kind} is not supported (LINEAR and NEAREST are, as in OpenCV)")
    factor = float(block.get("factor", [1.0])[-1])
    b = net.b
    x = L.bottoms[0]
    attrs = {"mode": "linear" if kind == "LINEAR" else "nearest", "coordinate_transformation_mode": "asymmetric",
             "nearest_mode": "floor"}
    if len(L.bottoms) > 1:
        nc = b.op1("Shape", [x], {"start": 0, "end": 2}, name=f"{L.name}_nc")
        hw = b.op1("Shape", [L.bottoms[1]], {"start": 2, "end": 4}, name=f"{L.name}_hw")
        sizes = b.op1("Concat", [nc, hw], {"axis": 0}, name=f"{L.name}_sizes")
        return [net.set_rank(b.op1("Resize", [x, None, None, sizes], attrs, name=L.name), 4)]
    if "width" in block and "height" in block:
        nc = b.op1("Shape", [x], {"start": 0, "end": 2}, name=f"{L.name}_nc")
        hw = b.ints([int(block["height"][-1]), int(block["width"][-1])], f"{L.name}_hw")
        sizes = b.op1("Concat", [nc, hw], {"axis": 0}, name=f"{L.name}_sizes")
        return [net.set_rank(b.op1("Resize", [x, None, None, sizes], attrs, name=L.name), 4)]
    if factor == 1:
        return [b.op1("Identity", [x], name=L.name)]
    if kind == "LINEAR" or factor < 1:
        raise ModelFormatError(f"{where}: {kind} with factor {factor} is not supported (OpenCV: only NEAREST "
                               "upsamples by a factor); give width and height")
    scales = b.const(np.array([1, 1, factor, factor], _F32), f"{L.name}_scales")
    return [net.set_rank(b.op1("Resize", [x, None, scales], attrs, name=L.name), 4)]


def _block(L: _Layer, param: str) -> dict[str, list[Any]]:
    """A ``*_param`` block the schema may not declare: its fields (each a list of values, enums as
    names) from the prototxt text, else from the parsed message when a fork registered it."""
    block: dict[str, list[Any]] = {}
    for part in L.text.get(param, []):
        for key, vals in (part.items() if isinstance(part, dict) else ()):
            block.setdefault(key, []).extend(vals)
    if block or param not in L.proto.DESCRIPTOR.fields_by_name or not L.proto.HasField(param):
        return block
    for f, val in getattr(L.proto, param).ListFields():
        vals = list(val) if f.is_repeated else [val]
        block[f.name] = [f.enum_type.values_by_number[v].name for v in vals] if f.enum_type else vals
    return block


# ------------------------------------------------------------- Proposal
def proposal(net: _Net, L: _Layer) -> list[Value]:
    """A ``caffe::Proposal`` node graphc's built-in layer runs (:mod:`graphc.layers.builtin.caffe_rcnn`),
    with every ``proposal_param`` field; it always has OpenCV's two outputs (rois, scores)."""
    p = L.proto.proposal_param
    if len(L.bottoms) != 3 or not 1 <= len(L.tops) <= 2:
        raise ModelFormatError(f"layer {L.name!r} (Proposal) takes three bottoms (scores, box deltas, im_info) and "
                               f"gives one or two tops (rois, scores); has {len(L.bottoms)} and {len(L.tops)}")
    if not len(p.ratio) or not len(p.scale):
        raise ModelFormatError(f"layer {L.name!r} (Proposal): proposal_param needs ratio and scale values, as OpenCV "
                               "requires (py-faster-rcnn's are ratio: 0.5 ratio: 1 ratio: 2 scale: 8 scale: 16 "
                               "scale: 32)")
    params = {"feat_stride": int(p.feat_stride), "base_size": int(p.base_size), "min_size": int(p.min_size),
              "ratio": [float(str(np.float32(v))) for v in p.ratio],
              "scale": [float(str(np.float32(v))) for v in p.scale],
              "pre_nms_topn": int(p.pre_nms_topn), "post_nms_topn": int(p.post_nms_topn),
              "nms_thresh": float(str(np.float32(p.nms_thresh)))}
    tops = list(L.tops) if len(L.tops) == 2 else [L.tops[0], net.b.graph.unique_name(f"{L.name}_scores")]
    outs = net.b.custom("Proposal", L.bottoms, params, name=L.name, outputs=tops)
    return [net.set_rank(v, 2) for v in outs[: len(L.tops)]]


#: Caffe type -> converter, for the layers of this module (STOCHASTIC pooling and LRN
#: WITHIN_CHANNEL are reached from :mod:`.caffe`'s Pooling and LRN)
OPENCV_LAYERS: dict[str, Callable[[Any, Any], list]] = {
    "PReLU": prelu,
    "ELU": _unary("Elu", lambda proto: {"alpha": float(proto.elu_param.alpha)}),
    "AbsVal": _unary("Abs"),
    "BNLL": _unary("Softplus"),
    "ReLU6": relu6,
    "MVN": mvn,
    "Bias": bias,
    "Exp": exp,
    "Log": log,
    "Threshold": threshold,
    "ArgMax": argmax,
    "Reduction": reduction,
    "Tile": tile,
    "ShuffleChannel": shuffle_channel,
    "Interp": interp,
    "Resample": resample,
    "Proposal": proposal,
}
