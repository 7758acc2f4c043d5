"""Caffe frontend: ``.prototxt`` (+ optional ``.caffemodel`` weights) -> graphc Graph.

No Caffe import: the schema is declared in :mod:`.caffe_schema`; the prototxt is read
with ``text_format``, the caffemodel (a binary NetParameter) with the same schema and
its blobs matched to layers by name. A ``.caffemodel`` alone carries the structure too.

* Caffe's standard layers map to ONNX with Caffe's semantics (see ``docs/frontends.md``):
  pooling rounds output sizes up (``ceil_mode``), Crop starts at ``offset`` from the
  top-left and takes the reference blob's size, BatchNorm divides its statistics by the
  scale-factor blob, Eltwise SUM applies its coefficients.
* SSD's Permute, Normalize and PriorBox map to ONNX ops and DetectionOutput to a ``caffe``
  node graphc's built-in layer runs (:mod:`.caffe_ssd`); Split fans a blob out; training-only
  layers (losses, Accuracy, data layers) are dropped with a warning (:mod:`.caffe_training`).
* OpenCV's other native layers (PReLU, ELU, MVN, Interp, Resample, ...; LRN WITHIN_CHANNEL, STOCHASTIC
  pooling) map to ONNX ops (:mod:`.caffe_layers`); Proposal, ROIPooling and PSROIPooling are
  ``caffe`` nodes graphc's built-in layers run (:mod:`graphc.layers.builtin.caffe_rcnn`).
* Any other type (Python, ...) — and any type a registered layer claims for
  domain ``caffe`` (e.g. a center-crop ``Crop``, HED) — becomes a ``caffe`` node: its
  bottoms, then its blobs, as inputs; every field set in its ``*_param`` blocks flattened
  into attributes (``Python`` gets ``module``, ``layer``, ...), typed by the schema where
  :mod:`.caffe_schema` declares the block (repeated fields are lists, float fields floats,
  enums names, however the prototxt spells them) and as written otherwise; unset fields
  are left to the registered layer's ``Param`` defaults.
* In-place layers (``top == bottom``) are followed: the latest value carries the blob
  name. Graph outputs are the blobs no later layer reads.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from google.protobuf import text_format
from google.protobuf.message import DecodeError

from ..atomic import atomic_write_bytes
from ..errors import ModelFormatError
from ..ir import Graph, Value
from ..layers.registry import user_layer
from .builder import GraphBuilder, mark_overridden
from .caffe_layers import OPENCV_LAYERS, lrn_within_channel, stochastic_pooling
from .caffe_net import CaffeLayer as _Layer, CaffeNet as _Net
from .caffe_schema import caffe_messages
from .caffe_ssd import SSD_LAYERS
from .caffe_training import drop_training_layer, report_dropped
from .prototext import parse_prototext

__all__ = ["load_caffe", "parse_net", "net_to_graph", "blob_to_array", "save_caffemodel", "MAPPED_LAYERS",
           "MISSING_WEIGHTS_KEY"]
logger = logging.getLogger("graphc.frontends")

DOMAIN = "caffe"
#: Graph.metadata key a structure-only import sets: the layers whose weight blobs are missing
MISSING_WEIGHTS_KEY = "graphc.caffe.missing_weights"


# ------------------------------------------------------------------ parsing
def _read(source: str | os.PathLike | bytes, what: str) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), "<bytes>"
    path = Path(source)
    if not path.is_file():
        raise ModelFormatError(f"Caffe {what} {str(path)!r} does not exist or is not a file")
    return path.read_bytes(), str(path)


def parse_net(source: str | os.PathLike | bytes, binary: bool | None = None) -> tuple[Any, dict | None]:
    """Parse a NetParameter; returns (message, schema-free dict of the text or None)."""
    data, where = _read(source, "net")
    if binary is None:
        binary = where.lower().endswith((".caffemodel", ".binaryproto", ".pb"))
    net = caffe_messages()["NetParameter"]()
    try:
        if binary:
            net.ParseFromString(data)
            return net, None
        text = data.decode("utf-8")
        text_format.Parse(text, net, allow_unknown_field=True)
    except (text_format.ParseError, DecodeError, UnicodeDecodeError, RuntimeError, ValueError) as e:
        kind = "binary caffemodel" if binary else "prototxt"
        raise ModelFormatError(f"{where} is not a valid Caffe {kind}: {e}") from e
    return net, parse_prototext(text)


_RAW_DTYPES = {"FLOAT16": "<f2", "FLOAT": "<f4", "DOUBLE": "<f8"}


def blob_to_array(blob: Any, layer: str = "?") -> np.ndarray:
    """A BlobProto as a float32 array (``shape`` or the legacy num/channels/height/width). The values
    are ``data``, ``double_data`` or, as OpenCV's fp16 models store them, ``raw_data`` of ``raw_data_type``."""
    if len(blob.data) or len(blob.double_data) or not blob.raw_data:
        data = np.asarray(blob.data if len(blob.data) else blob.double_data, dtype=np.float32)
    else:
        kind = blob.DESCRIPTOR.fields_by_name["raw_data_type"].enum_type.values_by_number[blob.raw_data_type].name
        if kind not in _RAW_DTYPES:
            raise ModelFormatError(f"layer {layer!r}: a blob's raw_data is of type {kind}; graphc reads "
                                   f"{', '.join(_RAW_DTYPES)} raw data: convert the weights to float")
        data = np.frombuffer(blob.raw_data, dtype=_RAW_DTYPES[kind]).astype(np.float32)
    if blob.HasField("shape"):
        shape = tuple(int(d) for d in blob.shape.dim)
    else:
        shape = tuple(int(x) for x in (blob.num, blob.channels, blob.height, blob.width))
        if not any(shape):  # no shape recorded at all: a flat vector
            shape = (data.size,)
    if data.size != int(np.prod(shape, dtype=np.int64)):
        raise ModelFormatError(f"layer {layer!r}: a blob holds {data.size} values for shape {list(shape)}")
    return data.reshape(shape)


def save_caffemodel(path: str | os.PathLike, blobs: dict[str, Sequence[np.ndarray]]) -> None:
    """Write a binary ``.caffemodel`` holding ``blobs`` (layer name -> its arrays, in Caffe's
    blob order, e.g. ``{"conv1": [weight, bias]}``): the weights file a prototxt pairs with."""
    net = caffe_messages()["NetParameter"]()
    for name, arrays in blobs.items():
        layer = net.layer.add(name=name)
        for arr in arrays:
            arr = np.asarray(arr, dtype=np.float32)
            blob = layer.blobs.add()
            blob.shape.dim.extend(arr.shape)
            blob.data.extend(arr.reshape(-1).tolist())
    atomic_write_bytes(Path(path), net.SerializeToString())


# ---------------------------------------------------------------- conversion
Converter = Callable[[_Net, _Layer], list[Value]]


def _pair(rep: Sequence[int], has_hw: bool, h: int, w: int, default: int) -> list[int]:
    if has_hw:
        return [int(h), int(w)]
    rep = list(rep)
    if not rep:
        return [default, default]
    return [int(rep[0]), int(rep[0])] if len(rep) == 1 else [int(rep[0]), int(rep[1])]


def _conv_attrs(cp: Any) -> dict[str, Any]:
    k = _pair(cp.kernel_size, cp.HasField("kernel_h"), cp.kernel_h, cp.kernel_w, 1)
    p = _pair(cp.pad, cp.HasField("pad_h") or cp.HasField("pad_w"), cp.pad_h, cp.pad_w, 0)
    s = _pair(cp.stride, cp.HasField("stride_h"), cp.stride_h, cp.stride_w, 1)
    d = _pair(cp.dilation, False, 0, 0, 1)
    return {"kernel_shape": k, "pads": [p[0], p[1], p[0], p[1]], "strides": s, "dilations": d, "group": int(cp.group)}


def _convolution(onnx_type: str) -> Converter:
    def convert(net: _Net, L: _Layer) -> list[Value]:
        cp = L.proto.convolution_param
        if net.has_blobs(L, 2 if cp.bias_term else 1):
            inputs = [L.bottoms[0], net.b.const(L.blobs[0], f"{L.name}_weight")]
            if cp.bias_term:
                inputs.append(net.b.const(L.blobs[1].reshape(-1), f"{L.name}_bias"))
        else:
            inputs = [L.bottoms[0], net.placeholder(L, "weight", net.rank(L.bottoms[0]))]
            inputs += [net.placeholder(L, "bias", 1)] if cp.bias_term else []
        return [net.b.op1(onnx_type, inputs, _conv_attrs(cp), name=L.name)]
    return convert


def _pooling(net: _Net, L: _Layer) -> list[Value]:
    pp = L.proto.pooling_param
    pool = pp.pool  # MAX=0, AVE=1, STOCHASTIC=2
    if pool == 2 and (pp.global_pooling or pp.pad or pp.pad_h or pp.pad_w):
        return _custom(net, L)  # Caffe's test-time STOCHASTIC ignores the padding: no ONNX pooling window matches
    if pp.global_pooling:
        return [net.b.op1("GlobalMaxPool" if pool == 0 else "GlobalAveragePool", L.bottoms[:1], name=L.name)]
    k = _pair([pp.kernel_size] if pp.HasField("kernel_size") else [], pp.HasField("kernel_h"), pp.kernel_h,
              pp.kernel_w, 1)
    p = _pair([pp.pad], pp.HasField("pad_h") or pp.HasField("pad_w"), pp.pad_h, pp.pad_w, 0)
    s = _pair([pp.stride], pp.HasField("stride_h"), pp.stride_h, pp.stride_w, 1)
    if pool == 2:
        return stochastic_pooling(net, L, k, s)
    attrs: dict[str, Any] = {"kernel_shape": k, "pads": [p[0], p[1], p[0], p[1]], "strides": s,
                             "ceil_mode": int(pp.round_mode == 0)}  # Caffe rounds output sizes up
    if pool == 1:
        attrs["count_include_pad"] = 1  # Caffe averages over the padded window
    return [net.b.op1("MaxPool" if pool == 0 else "AveragePool", L.bottoms[:1], attrs, name=L.name)]


def _inner_product(net: _Net, L: _Layer) -> list[Value]:
    ip = L.proto.inner_product_param
    x = L.bottoms[0]
    axis = ip.axis if ip.axis >= 0 else ip.axis + net.rank(x)
    if net.rank(x) != axis + 1 or axis != 1:
        x = net.b.op1("Flatten", [x], {"axis": axis}, name=f"{L.name}_flatten")
    if net.has_blobs(L, 2 if ip.bias_term else 1):
        w = L.blobs[0]
        w = w.reshape(-1, w.shape[-1]) if ip.transpose else w.reshape(int(ip.num_output) or w.shape[0], -1)
        inputs = [x, net.b.const(w, f"{L.name}_weight")]
        if ip.bias_term:
            inputs.append(net.b.const(L.blobs[1].reshape(-1), f"{L.name}_bias"))
    else:
        inputs = [x, net.placeholder(L, "weight", 2)] + ([net.placeholder(L, "bias", 1)] if ip.bias_term else [])
    y = net.b.op1("Gemm", inputs, {"transB": 0 if ip.transpose else 1}, name=L.name)
    return [net.set_rank(y, 2)]


def _relu(net: _Net, L: _Layer) -> list[Value]:
    slope = float(L.proto.relu_param.negative_slope)
    if slope:
        return [net.b.op1("LeakyRelu", L.bottoms[:1], {"alpha": slope}, name=L.name)]
    return [net.b.op1("Relu", L.bottoms[:1], name=L.name)]


def _unary(onnx_type: str) -> Converter:
    def convert(net: _Net, L: _Layer) -> list[Value]:
        return [net.b.op1(onnx_type, L.bottoms[:1], name=L.name)]
    return convert


def _softmax(net: _Net, L: _Layer) -> list[Value]:
    return [net.b.op1("Softmax", L.bottoms[:1], {"axis": int(L.proto.softmax_param.axis)}, name=L.name)]


def _concat(net: _Net, L: _Layer) -> list[Value]:
    cp = L.proto.concat_param
    axis = cp.axis if cp.HasField("axis") or not cp.HasField("concat_dim") else cp.concat_dim
    return [net.b.op1("Concat", L.bottoms, {"axis": int(axis)}, name=L.name)]


def _eltwise(net: _Net, L: _Layer) -> list[Value]:
    ep = L.proto.eltwise_param
    b = net.b
    if ep.operation == 0:
        return [b.op1("Mul", L.bottoms, name=L.name) if len(L.bottoms) == 2 else _chain(b, "Mul", L)]
    if ep.operation == 2:
        return [b.op1("Max", L.bottoms, name=L.name)]
    coeffs = list(ep.coeff)
    if coeffs and len(coeffs) != len(L.bottoms):
        raise ModelFormatError(f"layer {L.name!r} (Eltwise): {len(coeffs)} coeffs for {len(L.bottoms)} bottoms")
    terms = []
    for i, x in enumerate(L.bottoms):
        if coeffs and coeffs[i] != 1.0:
            x = b.op1("Mul", [x, b.const(np.array(coeffs[i], np.float32), f"{L.name}_coeff{i}")],
                      name=f"{L.name}_scale{i}")
        terms.append(x)
    return [b.op1("Sum", terms, name=L.name)]


def _chain(b: GraphBuilder, op_type: str, L: _Layer) -> Value:
    acc = L.bottoms[0]
    for i, x in enumerate(L.bottoms[1:]):
        acc = b.op1(op_type, [acc, x], name=L.name if i == len(L.bottoms) - 2 else f"{L.name}_{i}")
    return acc


def _batch_norm(net: _Net, L: _Layer) -> list[Value]:
    eps = float(L.proto.batch_norm_param.eps)
    if not net.has_blobs(L, 3):
        stats = [net.placeholder(L, what, 1) for what in ("scale", "bias", "mean", "var")]
        return [net.b.op1("BatchNormalization", [L.bottoms[0], *stats], {"epsilon": eps}, name=L.name)]
    factor = float(L.blobs[2].reshape(-1)[0])
    inv = 0.0 if factor == 0 else 1.0 / factor
    mean, var = L.blobs[0].reshape(-1) * inv, L.blobs[1].reshape(-1) * inv
    b = net.b
    c = mean.shape[0]
    inputs = [L.bottoms[0], b.const(np.ones(c, np.float32), f"{L.name}_scale"),
              b.const(np.zeros(c, np.float32), f"{L.name}_bias"),
              b.const(mean.astype(np.float32), f"{L.name}_mean"), b.const(var.astype(np.float32), f"{L.name}_var")]
    return [b.op1("BatchNormalization", inputs, {"epsilon": eps}, name=L.name)]


def _broadcastable(net: _Net, L: _Layer, arr: np.ndarray, x: Value, axis: int, name: str) -> Value:
    rank = net.rank(x)
    axis = axis if axis >= 0 else axis + rank
    shape = list(arr.shape) + [1] * (rank - axis - arr.ndim)
    return net.b.const(arr.reshape(shape).astype(np.float32), name)


def _scale(net: _Net, L: _Layer) -> list[Value]:
    sp = L.proto.scale_param
    b = net.b
    x = L.bottoms[0]
    axis = int(sp.axis)
    if len(L.bottoms) > 1:
        rank = net.rank(x)
        ax = axis if axis >= 0 else axis + rank
        gamma = b.op1("Reshape", [L.bottoms[1], b.ints([-1] + [1] * (rank - ax - 1), f"{L.name}_shape")],
                      name=f"{L.name}_reshape")
        bias_blob = L.blobs[0] if sp.bias_term and L.blobs else None
    elif not net.has_blobs(L, 2 if sp.bias_term else 1):
        rank = net.rank(x) - (axis if axis >= 0 else axis + net.rank(x))
        gamma = net.placeholder(L, "gamma", rank)
        beta = net.placeholder(L, "beta", rank) if sp.bias_term else None
        if beta is None:
            return [b.op1("Mul", [x, gamma], name=L.name)]
        return [b.op1("Add", [b.op1("Mul", [x, gamma], name=f"{L.name}_mul"), beta], name=L.name)]
    else:
        gamma = _broadcastable(net, L, L.blobs[0], x, axis, f"{L.name}_gamma")
        bias_blob = L.blobs[1] if sp.bias_term else None
    if bias_blob is None:
        return [b.op1("Mul", [x, gamma], name=L.name)]
    y = b.op1("Mul", [x, gamma], name=f"{L.name}_mul")
    beta = _broadcastable(net, L, bias_blob, x, axis, f"{L.name}_beta")
    return [b.op1("Add", [y, beta], name=L.name)]


def _dropout(net: _Net, L: _Layer) -> list[Value]:
    return [net.b.op1("Identity", L.bottoms[:1], name=L.name)]  # inference: Caffe's Dropout passes through


def _lrn(net: _Net, L: _Layer) -> list[Value]:
    lp = L.proto.lrn_param
    if lp.norm_region != 0:
        return lrn_within_channel(net, L)
    attrs = {"size": int(lp.local_size), "alpha": float(lp.alpha), "beta": float(lp.beta), "bias": float(lp.k)}
    return [net.b.op1("LRN", L.bottoms[:1], attrs, name=L.name)]


def _flatten(net: _Net, L: _Layer) -> list[Value]:
    fp = L.proto.flatten_param
    x = L.bottoms[0]
    rank = net.rank(x)
    end = fp.end_axis if fp.end_axis >= 0 else fp.end_axis + rank
    if end != rank - 1:
        return _custom(net, L)
    axis = fp.axis if fp.axis >= 0 else fp.axis + rank
    return [net.set_rank(net.b.op1("Flatten", [x], {"axis": int(axis)}, name=L.name), axis + 1)]


def _reshape(net: _Net, L: _Layer) -> list[Value]:
    rp = L.proto.reshape_param
    if rp.axis != 0 or rp.num_axes != -1:
        return _custom(net, L)
    dims = [int(d) for d in rp.shape.dim]  # Caffe's 0 copies a dim and -1 infers one, as in ONNX
    y = net.b.op1("Reshape", [L.bottoms[0], net.b.ints(dims, f"{L.name}_shape")], name=L.name)
    return [net.set_rank(y, len(dims))]


def _crop(net: _Net, L: _Layer) -> list[Value]:
    """Caffe Crop: bottom[0] cut to bottom[1]'s size on axes >= axis, from ``offset`` (top-left)."""
    cp = L.proto.crop_param
    b = net.b
    x, ref = L.bottoms[:2]
    rank = net.rank(x)
    axis = cp.axis if cp.axis >= 0 else cp.axis + rank
    n = rank - axis
    offs = list(cp.offset)
    if len(offs) not in (0, 1, n):
        raise ModelFormatError(f"layer {L.name!r} (Crop): {len(offs)} offsets for {n} cropped axes")
    offsets = [int(offs[0])] * n if len(offs) == 1 else ([int(o) for o in offs] or [0] * n)
    starts = b.ints(offsets, f"{L.name}_starts")
    size = b.op1("Shape", [ref], {"start": axis}, name=f"{L.name}_refshape")
    ends = b.op1("Add", [size, starts], name=f"{L.name}_ends")
    axes = b.ints(list(range(axis, rank)), f"{L.name}_axes")
    return [b.op1("Slice", [x, starts, ends, axes], name=L.name)]


def _slice(net: _Net, L: _Layer) -> list[Value]:
    sp = L.proto.slice_param
    b = net.b
    axis = sp.axis if sp.HasField("axis") or not sp.HasField("slice_dim") else sp.slice_dim
    points = [int(p) for p in sp.slice_point]
    if not points:
        return b.op("Split", L.bottoms[:1], {"axis": int(axis)}, name=L.name, outputs=len(L.tops))
    if len(points) != len(L.tops) - 1:
        raise ModelFormatError(f"layer {L.name!r} (Slice): {len(points)} slice points for {len(L.tops)} tops")
    bounds = [0] + points + [np.iinfo(np.int64).max]
    outs = []
    for i in range(len(L.tops)):
        outs.append(b.op1("Slice", [L.bottoms[0], b.ints([bounds[i]], f"{L.name}_start{i}"),
                                    b.ints([bounds[i + 1]], f"{L.name}_end{i}"),
                                    b.ints([axis], f"{L.name}_axis")], name=f"{L.name}_{i}"))
    return outs


def _power(net: _Net, L: _Layer) -> list[Value]:
    """y = (shift + scale * x) ^ power."""
    pp = L.proto.power_param
    b = net.b
    y = L.bottoms[0]
    steps = [("Mul", pp.scale, 1.0, "scale"), ("Add", pp.shift, 0.0, "shift"), ("Pow", pp.power, 1.0, "power")]
    todo = [s for s in steps if float(s[1]) != s[2]]
    if not todo:
        return [b.op1("Identity", [y], name=L.name)]
    for i, (op_type, val, _, tag) in enumerate(todo):
        y = b.op1(op_type, [y, b.const(np.array(val, np.float32), f"{L.name}_{tag}")],
                  name=L.name if i == len(todo) - 1 else f"{L.name}_{tag}")
    return [y]


def _split(net: _Net, L: _Layer) -> list[Value]:
    """Caffe's Split fans one blob out under several top names: one value carrying them all."""
    return [net.b.op1("Identity", L.bottoms[:1], name=L.name)] * len(L.tops)


def _typed_block(msg: Any, text: dict[str, list[Any]] | None) -> dict[str, Any]:
    """The fields a declared ``*_param`` message sets, typed by its schema: a repeated field is a
    list, a float field a float, an enum its name, a nested message a dict. Fields the schema
    does not declare (a fork's additions) come from the block's ``text``, untyped."""
    text = text or {}
    out: dict[str, Any] = {}
    for f, val in msg.ListFields():
        sub = [t for t in text.get(f.name, []) if isinstance(t, dict)]
        if f.message_type is not None:
            if f.is_repeated:
                out[f.name] = [_typed_block(m, sub[i] if i < len(sub) else None) for i, m in enumerate(val)]
            else:
                out[f.name] = _typed_block(val, _merged(sub))
            continue
        if f.enum_type is not None:
            names = f.enum_type.values_by_number
            val = [names[v].name for v in val] if f.is_repeated else names[val].name
        elif f.type == f.TYPE_FLOAT:
            val = [_short_float(v) for v in val] if f.is_repeated else _short_float(val)
        elif f.is_repeated:
            val = list(val)
        out[f.name] = val
    declared = msg.DESCRIPTOR.fields_by_name
    for key, vals in text.items():
        if key not in declared:
            out[key] = _untyped(vals)
    return out


def _short_float(value: float) -> float:
    """A float32 field as the shortest decimal that is the same float32 (0.1, not 0.10000000149011612)."""
    return float(str(np.float32(value)))


def _merged(blocks: list[dict[str, list[Any]]]) -> dict[str, list[Any]] | None:
    """Text blocks of one field merged as protobuf merges a repeated optional message."""
    if not blocks:
        return None
    out: dict[str, list[Any]] = {}
    for block in blocks:
        for key, vals in block.items():
            out.setdefault(key, []).extend(vals)
    return out


def _untyped(vals: list[Any]) -> Any:
    """A field of a block no schema declares, as written: one value unwrapped, several a list,
    nested blocks as dicts (so ``k: 2`` is an int and ``k: 2 k: 3`` a list)."""
    vals = [_plain(v) if isinstance(v, dict) else v for v in vals]
    return vals[0] if len(vals) == 1 else vals


def _plain(d: dict[str, list[Any]]) -> dict[str, Any]:
    """A schema-free text block as params (see :func:`_untyped`)."""
    return {k: _untyped(vals) for k, vals in d.items()}


def layer_params(L: _Layer) -> dict[str, Any]:
    """The fields set in a layer's ``*_param`` blocks, flattened into one dict.

    Blocks the schema declares (BVLC's, SSD's, DeepLab's and those registered with
    :func:`~graphc.frontends.caffe_schema.register_caffe_param`) are typed by it; other
    ``*_param`` blocks of the prototxt are read untyped.
    """
    params: dict[str, Any] = {}
    for fd, val in L.proto.ListFields():
        if fd.name.endswith("_param"):
            params.update(_typed_block(val, _merged([t for t in L.text.get(fd.name, []) if isinstance(t, dict)])))
    declared = L.proto.DESCRIPTOR.fields_by_name
    for key, blocks in L.text.items():
        block = _merged([t for t in blocks if isinstance(t, dict)])
        if key.endswith("_param") and key not in declared and block is not None:
            params.update(_plain(block))
    return params


def _custom(net: _Net, L: _Layer) -> list[Value]:
    inputs = list(L.bottoms) + [net.b.const(blob, f"{L.name}_blob{i}") for i, blob in enumerate(L.blobs)]
    return net.b.custom(L.type, inputs, layer_params(L), name=L.name, outputs=list(L.tops))


#: Caffe layer type -> converter producing ONNX ops with Caffe's semantics
MAPPED_LAYERS: dict[str, Converter] = {
    "Convolution": _convolution("Conv"),
    "Deconvolution": _convolution("ConvTranspose"),
    "Pooling": _pooling,
    "InnerProduct": _inner_product,
    "ReLU": _relu, "Sigmoid": _unary("Sigmoid"), "TanH": _unary("Tanh"),
    "Softmax": _softmax,
    "Concat": _concat,
    "Eltwise": _eltwise,
    "BatchNorm": _batch_norm,
    "Scale": _scale,
    "Dropout": _dropout,
    "LRN": _lrn,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Crop": _crop,
    "Slice": _slice,
    "Power": _power,
    "Split": _split,
    **SSD_LAYERS,  # Permute, Normalize, PriorBox, DetectionOutput
    **OPENCV_LAYERS,  # PReLU, ELU, AbsVal, BNLL, ReLU6, MVN, Bias, Exp, Log, Threshold, ArgMax, Reduction, ...
}


def _blob_shape(shape: Any) -> list[int]:
    return [int(d) for d in shape.dim]


def net_to_graph(net_proto: Any, text_tree: dict | None = None, weights: Any = None, layers: Any = None,
                 structure_only: bool = False, input_shapes: dict[str, Any] | None = None) -> Graph:
    """Convert a parsed NetParameter (+ weights NetParameter) to a Graph.

    Layers lacking weight blobs are a ModelFormatError listing every one of them; with
    ``structure_only`` their blobs become graph inputs named ``<layer>_weight`` etc. of
    unknown dims (enough for ``scaffold`` and ``inspect``, not for running), with a warning.
    ``input_shapes`` overrides the declared input shapes (None for a free dim).
    """
    b = GraphBuilder(net_proto.name or "caffe_net", DOMAIN, "graphc-caffe", input_shapes)
    net = _Net(b)
    blobs_by_layer: dict[str, list[np.ndarray]] = {}
    if weights is not None:
        for lp in weights.layer:
            if len(lp.blobs):
                blobs_by_layer[lp.name] = [blob_to_array(x, lp.name) for x in lp.blobs]
    cur: dict[str, Value] = {}
    read: set[int] = set()
    order: list[str] = []
    # legacy net-level inputs
    dims = list(net_proto.input_dim)
    for i, name in enumerate(net_proto.input):
        if i < len(net_proto.input_shape):
            shape = _blob_shape(net_proto.input_shape[i])
        elif dims:
            shape = dims[4 * i: 4 * i + 4]
        else:
            shape = None
        cur[name] = b.input(name, np.float32, shape)
    text_layers = (text_tree or {}).get("layer", [])
    pending: dict[str, list[int | None] | None] = {}  # tops of dropped data layers: graph inputs once read
    dropped: list[str] = []
    for idx, lp in enumerate(net_proto.layer):
        if lp.type == "Input":
            for i, top in enumerate(lp.top):
                shapes = lp.input_param.shape
                shape = _blob_shape(shapes[i if i < len(shapes) else 0]) if len(shapes) else None
                cur[top] = b.input(top, np.float32, shape)
            continue
        text = text_layers[idx] if idx < len(text_layers) and isinstance(text_layers[idx], dict) else {}
        if drop_training_layer(lp, text, pending, dropped):
            continue
        bottoms = []
        for name in lp.bottom:
            if name not in cur and name in pending:
                cur[name] = b.input(name, np.float32, pending.pop(name))
            if name not in cur:
                raise ModelFormatError(f"layer {lp.name!r} ({lp.type}) reads blob {name!r}, which no earlier layer "
                                       f"or input produces")
            bottoms.append(cur[name])
            read.add(id(cur[name]))
        blobs = blobs_by_layer.get(lp.name) or [blob_to_array(x, lp.name) for x in lp.blobs]
        L = _Layer(lp.name, lp.type, lp, bottoms, blobs, list(lp.top), text)
        claimed = user_layer(layers, DOMAIN, lp.type) is not None  # graphc's built-in layers claim nothing
        conv = MAPPED_LAYERS.get(lp.type)
        outs = conv(net, L) if conv is not None and not claimed else _custom(net, L)
        if conv is not None and claimed:
            mark_overridden(outs, f"Caffe {lp.type}")
        if len(outs) != len(L.tops):
            raise ModelFormatError(f"layer {lp.name!r} ({lp.type}) has {len(L.tops)} tops; graphc produced {len(outs)}")
        for top, v in zip(L.tops, outs):
            _bind_top(b, cur, top, v, lp.name)
            if top not in order:
                order.append(top)
            else:
                order.remove(top)
                order.append(top)
    report_dropped(dropped)
    _report_missing(net.missing, structure_only)
    if net.missing:
        b.graph.metadata[MISSING_WEIGHTS_KEY] = "; ".join(net.missing)
    outputs = [cur[t] for t in order if id(cur[t]) not in read and not b.graph.is_input(cur[t])]
    return b.finish(outputs)


def _report_missing(missing: list[str], structure_only: bool) -> None:
    if not missing:
        return
    listing = "; ".join(missing)
    if structure_only:
        logger.warning("the model carries no weights for %d layer(s) (%s): their blobs are graph inputs of "
                       "unknown shape; enough to scaffold or inspect, not to run (pass --weights FILE.caffemodel)",
                       len(missing), listing)
        return
    raise ModelFormatError(
        f"the model carries no weights for {len(missing)} layer(s): {listing}. Pass the .caffemodel "
        "(--weights FILE.caffemodel; load_model(prototxt, weights=...)), put <stem>.caffemodel beside the "
        "prototxt, or put blobs in the prototxt; `graphc scaffold` and `graphc inspect` read the structure alone")


def _bind_top(b: GraphBuilder, cur: dict[str, Value], top: str, v: Value, layer: str) -> None:
    """Make ``v`` the current value of blob ``top``; it takes the blob's name."""
    old = cur.get(top)
    if old is not None and old is not v and old.name == top and not b.graph.is_input(old):
        b.graph.rename_value(old, b.graph.unique_name(f"{top}/before_{layer}"))
    b.name_output(v, top)
    cur[top] = v


def load_caffe(source: str | os.PathLike | bytes, weights: str | os.PathLike | bytes | None = None, *,
               layers: Any = None, structure_only: bool = False, binary: bool | None = None,
               input_shapes: dict[str, Any] | None = None) -> Graph:
    """Load a Caffe net: a ``.prototxt`` (with ``weights``, a ``.caffemodel`` of any name, or
    the ``<stem>.caffemodel`` beside it when there is one) or a ``.caffemodel`` alone.

    ``layers`` (a LayerRegistry) makes a registered ``caffe`` layer take its type even
    where graphc has a built-in mapping (e.g. a center-crop ``Crop``). Layers without
    their weight blobs are an error naming all of them, unless ``structure_only`` (see
    :func:`net_to_graph`). ``binary`` says whether ``source`` is a binary net (default: by its
    suffix, ``.caffemodel``).
    """
    net, tree = parse_net(source, binary)
    if weights is None and isinstance(source, (str, os.PathLike)) and tree is not None:
        sibling = Path(source).with_suffix(".caffemodel")
        if sibling.is_file():
            weights = sibling
    wnet = parse_net(weights, binary=True)[0] if weights is not None else None
    if tree is None and wnet is None:
        wnet = net
    return net_to_graph(net, tree, wnet, layers, structure_only, input_shapes)
