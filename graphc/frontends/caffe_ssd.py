"""SSD's Caffe layers (weiliu89/caffe) with OpenCV dnn's semantics: Permute, Normalize, PriorBox
as ONNX ops, DetectionOutput as a ``caffe`` node the built-in layer
(:mod:`graphc.layers.builtin.caffe_ssd`) runs.

* ``Permute``: ``Transpose`` by ``order`` (axes it leaves out follow in their order).
* ``Normalize``: ``x * 1 / sqrt(sum(x^2) + eps)`` (eps inside the root, as OpenCV's
  NormalizeBBox and Caffe add it), the sum over C, H, W (``across_spatial``, the default) or
  over C at each pixel; then ``Mul`` by the scale blob (one value, or one per channel; a layer
  without it is reported with the other layers lacking weights).
* ``PriorBox``: one constant when the shapes of the feature map and the image are static at
  import (:func:`~.static_shapes.static_shape`); otherwise ONNX ops computing OpenCV's priors
  from those shapes at run time (``Shape`` -> ``Range`` ...), on any target. Output
  ``[1, 2, H*W*num_priors*4]``: boxes ``(xmin, ymin, xmax, ymax)`` normalized by the image
  size, per cell row, cell, prior; then the variances.
* ``DetectionOutput``: a ``caffe::DetectionOutput`` node with ``nms_param`` flattened
  (``nms_threshold``, ``top_k``), as OpenCV reads it.

Each converter takes ``(net, L)`` as those of :mod:`.caffe` do.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelFormatError
from .static_shapes import static_shape

if TYPE_CHECKING:
    from ..ir import Value
    from .caffe_net import CaffeLayer as _Layer, CaffeNet as _Net

__all__ = ["SSD_LAYERS", "prior_box_sizes", "aspect_ratios", "prior_boxes"]
logger = logging.getLogger("graphc.frontends")

_F32 = np.float32


# ------------------------------------------------------------------ Permute
def permute(net: _Net, L: _Layer) -> list[Value]:
    """Transpose by ``permute_param.order``, completed with the axes it leaves out."""
    x = L.bottoms[0]
    rank = net.rank(x)
    order = [int(a) for a in L.proto.permute_param.order]
    if len(set(order)) != len(order) or any(not 0 <= a < rank for a in order):
        raise ModelFormatError(f"layer {L.name!r} (Permute): order {order} is not a permutation of axes of a "
                               f"rank-{rank} blob; fix permute_param in the prototxt")
    perm = order + [a for a in range(rank) if a not in order]
    if perm == list(range(rank)):
        return [net.b.op1("Identity", [x], name=L.name)]
    return [net.set_rank(net.b.op1("Transpose", [x], {"perm": perm}, name=L.name), rank)]


# ---------------------------------------------------------------- Normalize
def normalize(net: _Net, L: _Layer) -> list[Value]:
    """L2 normalization: ``x * (1 / sqrt(sum(x^2) + eps))`` then the scale blob."""
    b = net.b
    p = L.proto.norm_param
    x = L.bottoms[0]
    rank = net.rank(x)
    axes = list(range(1, rank)) if p.across_spatial else [1]
    sq = b.op1("ReduceSumSquare", [x], {"axes": axes, "keepdims": 1}, name=f"{L.name}_sumsq")
    eps = b.const(np.array(float(p.eps), _F32), f"{L.name}_eps")
    norm = b.op1("Sqrt", [b.op1("Add", [sq, eps], name=f"{L.name}_add_eps")], name=f"{L.name}_norm")
    inv = b.op1("Reciprocal", [norm], name=f"{L.name}_inv_norm")  # OpenCV multiplies by 1 / norm
    y = b.op1("Mul", [x, inv], name=f"{L.name}_normalized")
    if not net.has_blobs(L, 1):  # Caffe's Normalize always carries its scale: a missing one is missing weights
        return [b.op1("Mul", [y, net.placeholder(L, "scale", 1)], name=L.name)]
    scale: np.ndarray = L.blobs[0].reshape(-1).astype(_F32)
    if scale.size == 1:
        scale = scale.reshape(())
    else:
        scale = scale.reshape([scale.size] + [1] * (rank - 2))  # one per channel
    return [b.op1("Mul", [y, b.const(scale, f"{L.name}_scale")], name=L.name)]


# ----------------------------------------------------------------- PriorBox
def aspect_ratios(ratios: list[float], flip: bool) -> list[float]:
    """OpenCV's aspect ratios: 1 and repeats (within 1e-6) left out, each followed by its
    inverse with ``flip``."""
    out: list[float] = []
    for ar in ratios:
        ar = _F32(ar)
        if abs(ar - _F32(1)) < 1e-6 or any(abs(ar - have) < 1e-6 for have in out):
            continue
        out.append(ar)
        if flip:
            out.append(_F32(1.0 / float(ar)))
    return out


def prior_box_sizes(min_sizes: list[float], max_sizes: list[float], ratios: list[float]) -> tuple[np.ndarray,
                                                                                                    np.ndarray]:
    """Box widths and heights per prior, in OpenCV's order: for each min_size, the min_size
    square, the sqrt(min_size * max_size) square (with max_size), then one box per aspect ratio."""
    widths: list[Any] = []
    heights: list[Any] = []
    for i, m in enumerate(_F32(v) for v in min_sizes):
        widths.append(m)
        heights.append(m)
        if max_sizes:
            side = np.sqrt(m * _F32(max_sizes[i]))
            widths.append(side)
            heights.append(side)
        for ar in ratios:
            r = np.sqrt(_F32(ar))
            widths.append(m * r)
            heights.append(m / r)
    return np.array(widths, _F32), np.array(heights, _F32)


def _prior_params(L: _Layer) -> tuple[np.ndarray, np.ndarray, list[float], bool, list[float] | None, float]:
    """(widths, heights, variances, clip, (step_y, step_x) or None, offset), checked as OpenCV does."""
    p = L.proto.prior_box_param
    where = f"layer {L.name!r} (PriorBox)"
    _refuse_extras(L, "prior_box_param", where, set())
    mins, maxs = [float(v) for v in p.min_size], [float(v) for v in p.max_size]
    if not mins or any(m <= 0 for m in mins):
        raise ModelFormatError(f"{where}: prior_box_param needs positive min_size values (has {mins})")
    if maxs and (len(maxs) != len(mins) or any(lo >= hi for lo, hi in zip(mins, maxs))):
        raise ModelFormatError(f"{where}: max_size {maxs} must pair with min_size {mins}, each larger")
    widths, heights = prior_box_sizes(mins, maxs, aspect_ratios(list(p.aspect_ratio), p.flip))
    variances = [float(v) for v in p.variance] or [0.1]
    if len(variances) not in (1, 4) or any(v <= 0 for v in variances):
        raise ModelFormatError(f"{where}: variance needs 1 or 4 positive values (has {variances})")
    if p.HasField("step_h") or p.HasField("step_w"):
        if p.HasField("step") or not (p.step_h > 0 and p.step_w > 0):
            raise ModelFormatError(f"{where}: give step, or both step_h and step_w (> 0)")
        step: list[float] | None = [float(p.step_h), float(p.step_w)]
    elif p.HasField("step"):
        step = [float(p.step)] * 2
    else:
        step = None
    if p.HasField("img_size") or p.HasField("img_h") or p.HasField("img_w"):
        logger.info("%s: img_size/img_h/img_w are ignored, as OpenCV does: the priors are normalized by the "
                    "image input's own size", where)
    clip = p.clip if p.HasField("clip") else True  # OpenCV's default, where Caffe's is false
    return widths, heights, variances, clip, step, float(p.offset)


def prior_boxes(widths: np.ndarray, heights: np.ndarray, variances: list[float], clip: bool,
                step: list[float] | None, offset: float, fmap_hw: tuple[int, int],
                image_hw: tuple[int, int]) -> np.ndarray:
    """OpenCV's priors ``[1, 2, H*W*K*4]`` for a feature map and an image of the given sizes, with
    the float32 operations of the graph :func:`prior_box` builds for dynamic sizes."""
    image = np.array(image_hw, _F32)
    steps = np.array(step, _F32) if step is not None else image / np.array(fmap_hw, _F32)
    cy = ((np.arange(fmap_hw[0]).astype(_F32) + _F32(offset)) * steps[0]).reshape(-1, 1, 1)
    cx = ((np.arange(fmap_hw[1]).astype(_F32) + _F32(offset)) * steps[1]).reshape(1, -1, 1)
    half_w, half_h = (widths * _F32(0.5)).reshape(1, 1, -1), (heights * _F32(0.5)).reshape(1, 1, -1)
    grid = (fmap_hw[0], fmap_hw[1], widths.size)
    corners = [(cx - half_w) / image[1], (cy - half_h) / image[0], (cx + half_w) / image[1], (cy + half_h) / image[0]]
    boxes = np.stack([np.broadcast_to(c, grid) for c in corners], axis=-1)
    if clip:
        boxes = np.clip(boxes, _F32(0), _F32(1))
    var = np.broadcast_to(np.array(variances, _F32), boxes.shape)
    return np.concatenate([boxes.reshape(1, 1, -1), var.reshape(1, 1, -1)], axis=1).astype(_F32)


def prior_box(net: _Net, L: _Layer) -> list[Value]:
    """OpenCV's PriorBox from the shapes of bottom 0 (feature map) and bottom 1 (image): a
    constant when both are static at import, else ONNX ops computing it at run time."""
    if len(L.bottoms) < 2:
        raise ModelFormatError(f"layer {L.name!r} (PriorBox) needs two bottoms (the feature map and the image)")
    widths, heights, variances, clip, step, offset = _prior_params(L)
    b = net.b
    fmap, image = static_shape(L.bottoms[0]), static_shape(L.bottoms[1])
    if fmap is not None and image is not None and len(fmap) == 4 and len(image) == 4:
        priors = prior_boxes(widths, heights, variances, clip, step, offset, fmap[2:], image[2:])
        return [net.set_rank(b.const(priors, L.name), 3)]
    return [net.set_rank(_prior_box_ops(net, L, widths, heights, variances, clip, step, offset), 3)]


class _Ops:
    """Constants and ops of one layer's ONNX expansion, named ``<layer>_<tag>``."""

    def __init__(self, b: Any, layer: str):
        self.b = b
        self.layer = layer

    def const(self, array: Any, tag: str, dtype: Any = _F32) -> Value:
        return self.b.const(np.asarray(array, dtype), f"{self.layer}_{tag}")

    def op(self, op_type: str, inputs: list[Value], tag: str, **attrs: Any) -> Value:
        return self.b.op1(op_type, inputs, attrs, name=f"{self.layer}_{tag}")

    def pick(self, v: Value, index: int, tag: str) -> Value:
        """Element ``index`` of the 1-D ``v``, as a scalar."""
        return self.op("Gather", [v, self.const(index, f"{tag}_index", np.int64)], tag, axis=0)


def _prior_box_ops(net: _Net, L: _Layer, widths: np.ndarray, heights: np.ndarray, variances: list[float],
                   clip: bool, step: list[float] | None, offset: float) -> Value:
    """The ONNX ops of :func:`prior_boxes`, on the shapes of L's bottoms at run time."""
    g = _Ops(net.b, L.name)
    fmap = g.op("Shape", [L.bottoms[0]], "fmap_hw", start=2, end=4)  # [H, W] int64
    image = g.op("Cast", [g.op("Shape", [L.bottoms[1]], "image_hw", start=2, end=4)], "image_hw_f", to=1)
    steps = g.const(step, "step") if step is not None else \
        g.op("Div", [image, g.op("Cast", [fmap], "fmap_hw_f", to=1)], "step")
    cy, cx = (_cell_centers(g, fmap, steps, offset, axis) for axis in (0, 1))
    grid = g.op("Concat", [fmap, g.const([widths.size], "num_priors", np.int64)], "grid_shape", axis=0)  # [H, W, K]
    half_w = g.const((widths * _F32(0.5)).reshape(1, 1, -1), "half_w")
    half_h = g.const((heights * _F32(0.5)).reshape(1, 1, -1), "half_h")
    img_h, img_w = g.pick(image, 0, "img_h"), g.pick(image, 1, "img_w")
    corners = []
    for tag, center, half, size, kind in (("xmin", cx, half_w, img_w, "Sub"), ("ymin", cy, half_h, img_h, "Sub"),
                                          ("xmax", cx, half_w, img_w, "Add"), ("ymax", cy, half_h, img_h, "Add")):
        edge = g.op("Expand", [g.op("Div", [g.op(kind, [center, half], f"{tag}_px"), size], tag), grid], f"{tag}_grid")
        corners.append(g.op("Unsqueeze", [edge, g.const([3], f"{tag}_axis", np.int64)], f"{tag}_4d"))
    boxes = g.op("Concat", corners, "boxes", axis=3)  # [H, W, K, 4]
    if clip:
        boxes = g.op("Clip", [boxes, g.const(0.0, "clip_lo"), g.const(1.0, "clip_hi")], "clip")
    var = g.op("Expand", [g.const(variances, "variance"), g.op("Shape", [boxes], "boxes_shape")], "variances")
    flat = g.const([1, 1, -1], "flat", np.int64)
    return net.b.op1("Concat", [g.op("Reshape", [boxes, flat], "boxes_flat"),
                                g.op("Reshape", [var, flat], "variances_flat")], {"axis": 1}, name=L.name)


def _cell_centers(g: _Ops, fmap: Value, steps: Value, offset: float, axis: int) -> Value:
    """``(cell + offset) * step`` along ``axis`` (0: rows, as [H, 1, 1]; 1: columns, as [1, W, 1])."""
    tag = "yx"[axis]
    cells = g.op("Range", [g.const(0, f"zero_{tag}", np.int64), g.pick(fmap, axis, f"size_{tag}"),
                           g.const(1, f"one_{tag}", np.int64)], f"range_{tag}")
    shifted = g.op("Add", [g.op("Cast", [cells], f"cells_{tag}", to=1), g.const(offset, f"offset_{tag}")],
                   f"shift_{tag}")
    center = g.op("Mul", [shifted, g.pick(steps, axis, f"step_{tag}")], f"center_{tag}")
    return g.op("Reshape", [center, g.const([-1, 1, 1] if axis == 0 else [1, -1, 1], f"grid_{tag}", np.int64)],
                f"center_{tag}_grid")


# ---------------------------------------------------------- DetectionOutput
def detection_output(net: _Net, L: _Layer) -> list[Value]:
    """A ``caffe::DetectionOutput`` node with the parameters OpenCV reads, ``nms_param`` flattened."""
    p = L.proto.detection_output_param
    where = f"layer {L.name!r} (DetectionOutput)"
    if not p.HasField("num_classes"):
        raise ModelFormatError(f"{where}: detection_output_param has no num_classes")
    if len(L.bottoms) < 3:
        raise ModelFormatError(f"{where} needs three bottoms (locations, confidences, priors); has {len(L.bottoms)}")
    code = p.DESCRIPTOR.fields_by_name["code_type"].enum_type.values_by_number[p.code_type].name
    if code not in ("CORNER", "CENTER_SIZE"):
        raise ModelFormatError(f"{where}: code_type {code} is not supported (CORNER and CENTER_SIZE are; OpenCV "
                               "would decode it as CORNER)")
    extras = _refuse_extras(L, "detection_output_param", where, {"normalized_bbox", "clip", "save_output_param"})
    nms = p.nms_param
    params: dict[str, Any] = {
        "num_classes": int(p.num_classes), "share_location": bool(p.share_location),
        "background_label_id": int(p.background_label_id), "code_type": code, "keep_top_k": int(p.keep_top_k),
        "variance_encoded_in_target": bool(p.variance_encoded_in_target),
        "confidence_threshold": _short(p.confidence_threshold) if p.HasField("confidence_threshold") else 0.0,
        "nms_threshold": _short(nms.nms_threshold), "top_k": int(nms.top_k) if nms.HasField("top_k") else -1,
    }
    params.update({k: bool(v) for k, v in extras.items() if k in ("normalized_bbox", "clip")})  # OpenCV's own
    if nms.HasField("eta") and nms.eta != 1.0:
        logger.warning("%s: nms_param eta %s is not used, as in OpenCV (plain NMS)", where, nms.eta)
    out = net.b.custom("DetectionOutput", L.bottoms, params, name=L.name, outputs=list(L.tops))
    return [net.set_rank(v, 4) for v in out]


def _refuse_extras(L: _Layer, block: str, where: str, allowed: set[str]) -> dict[str, Any]:
    """The fields of ``block`` the schema does not declare (a fork's or OpenCV's additions, read from
    the prototxt text): those in ``allowed``; any other is refused rather than silently ignored."""
    extras: dict[str, Any] = {}
    declared = L.proto.DESCRIPTOR.fields_by_name[block].message_type.fields_by_name
    for text in L.text.get(block, []):
        if isinstance(text, dict):
            extras.update({k: v[-1] for k, v in text.items() if k not in declared})
    unknown = sorted(set(extras) - allowed)
    if unknown:
        raise ModelFormatError(f"{where}: {block} field(s) {', '.join(unknown)} are not supported by graphc's "
                               f"import (SSD's fields are); register a caffe::{L.type} layer to run this layer")
    return extras


def _short(value: float) -> float:
    """A float32 field as the shortest decimal of that float32 (0.45, not 0.44999998807907104)."""
    return float(str(_F32(value)))


#: Caffe layer type -> converter, merged into :data:`graphc.frontends.caffe.MAPPED_LAYERS`
SSD_LAYERS = {
    "Permute": permute,
    "Normalize": normalize,
    "PriorBox": prior_box,
    "DetectionOutput": detection_output,
}
