"""Keras frontend: ``.keras`` archives and ``model.to_json()`` configs -> graphc Graph.

No Keras import. A ``.keras`` file is a zip of ``config.json`` and ``model.weights.h5``
(read with h5py, the optional ``keras`` extra); a ``.json`` file is the config alone and
may be given ``weights=`` (a Keras 3 ``.weights.h5``). Without weights (or without
h5py) the config still imports; only a layer that needs its weights is an error.

* Functional and Sequential models; the common layers map to ONNX keeping Keras's
  channels_last (NHWC) layout: Conv/pooling are wrapped in Transposes and kernels are
  transposed at import (see ``docs/frontends.md``).
* Any other class becomes a ``keras`` node whose attributes are its saved config minus
  ``name``/``trainable``/``dtype``, inputs in NHWC as Keras defines the layer, its
  weights (if any) after its inputs. Given a layer registry, a custom class whose
  registered layer declares params the saved config lacks is refused at import.
* Weights follow the Keras 3 layout: ``layers/<path>/vars/0, 1, ...`` where ``<path>``
  is the snake_case class name numbered per class in model order (``conv2d``,
  ``conv2d_1``), as Keras saves it; ``layers/<layer name>/vars`` is read when that path
  is absent.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..archive import read_member
from ..errors import ModelFormatError, PlanError
from ..limits import memory_budget
from ..ir import Graph, Value
from .builder import GraphBuilder, check_param_coverage, mark_overridden
from .keras_layers import more_layers, relu_threshold

__all__ = ["load_keras", "load_keras_h5", "config_to_graph", "read_keras_weights", "MAPPED_LAYERS"]

DOMAIN = "keras"
_DROPPED_CONFIG = ("name", "trainable", "dtype")
_MAX_CONFIG_BYTES = 64 << 20


# ------------------------------------------------------------------ reading
def _read_archive(path: Path) -> tuple[dict, bytes | None]:
    """The config and the weights' bytes of a ``.keras`` zip. Members are inflated 1 MiB at a time
    and never past their declared size (``graphc.archive.read_member``); the weights member's
    declared size is checked against the memory budget before a byte is inflated."""
    try:
        with zipfile.ZipFile(path) as zf:
            sizes = {info.filename: info.file_size for info in zf.infolist()}
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelFormatError(f"{path} is not a valid .keras archive (zip): {e}") from e
    if "config.json" not in sizes:
        raise ModelFormatError(f"{path}: not a Keras archive (no config.json inside)")
    if sizes["config.json"] > _MAX_CONFIG_BYTES:
        raise ModelFormatError(f"{path}: config.json is {sizes['config.json']} bytes; refusing to read it")
    config = _json(read_member(path, "config.json", _MAX_CONFIG_BYTES) or b"", f"{path}:config.json")
    if "model.weights.h5" not in sizes:
        return config, None
    _check_weights_size(path, sizes["model.weights.h5"])
    return config, read_member(path, "model.weights.h5", sizes["model.weights.h5"])


def _check_weights_size(path: Path, declared: int) -> None:
    """PlanError when reading a weights member of ``declared`` bytes would pass the memory budget:
    its bytes and the arrays h5py reads from them are held at once, about twice the member (a
    783 KB archive whose 805 MB member is zeros peaked at 1.6 GB)."""
    budget = memory_budget(None)
    if 2 * declared > budget:
        raise PlanError(f"{path}: model.weights.h5 is {declared} bytes; reading it needs about {2 * declared} "
                        f"bytes, over the memory budget of {budget} bytes; raise GRAPHC_MEMORY_BUDGET if "
                        "the archive is trusted")


def _json(data: bytes | str, where: str) -> dict:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelFormatError(f"{where} is not valid JSON: {e}") from e
    if not isinstance(obj, dict) or "class_name" not in obj:
        raise ModelFormatError(f"{where} is not a Keras model config (no class_name)")
    return obj


def read_keras_weights(data: bytes | str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """Every ``.../vars`` group of a Keras 3 weights file: path -> arrays in index order."""
    try:
        import h5py
    except ImportError as e:
        raise ModelFormatError(
            "reading Keras weights needs h5py: pip install 'graphc[keras]' (or h5py)") from e
    src = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    out: dict[str, list[np.ndarray]] = {}
    try:
        with h5py.File(src, "r") as f:
            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Group) and name.endswith("vars"):
                    keys = sorted(obj.keys(), key=lambda k: int(k) if k.isdigit() else 1 << 30)
                    out[name[: -len("/vars")] if name.endswith("/vars") else ""] = [np.asarray(obj[k]) for k in keys]
            f.visititems(visit)
    except OSError as e:
        raise ModelFormatError(f"Keras weights are not a valid HDF5 file: {e}") from e
    return out


def _has_h5py() -> bool:
    try:
        import h5py  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------- conversion
@dataclass
class _Layer:
    name: str
    class_name: str
    config: dict[str, Any]
    inputs: list[Value]
    weights: list[np.ndarray] | None  # None: no weights file given

    def cfg(self, key: str, default: Any = None) -> Any:
        val = self.config.get(key, default)
        return default if val is None else val

    def need_weights(self, n: int) -> list[np.ndarray]:
        if self.weights is None:
            raise ModelFormatError(
                f"layer {self.name!r} ({self.class_name}) needs its weights: load the .keras archive (with h5py "
                f"installed: pip install 'graphc[keras]') or pass weights=<model>.weights.h5")
        if len(self.weights) < n:
            raise ModelFormatError(f"layer {self.name!r} ({self.class_name}): the weights file holds "
                                   f"{len(self.weights)} arrays, expected {n}")
        return self.weights


class _Ctx:
    def __init__(self, b: GraphBuilder):
        self.b = b
        self.ranks: dict[int, int] = {}

    def rank(self, v: Value) -> int:
        return len(v.shape) if v.shape is not None else self.ranks.get(id(v), 4)

    def set_rank(self, v: Value, r: int) -> Value:
        self.ranks[id(v)] = r
        return v


Converter = Callable[[_Ctx, _Layer], Value]


def _activation(ctx: _Ctx, x: Value, act: Any, name: str, final: bool = True) -> Value:
    """Apply a Keras activation (name or serialized object) to ``x``."""
    if isinstance(act, dict):
        act = act.get("config", {}).get("name") or act.get("class_name")
    act = (act or "linear").lower()
    b = ctx.b
    if act == "linear":
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "elu": "Elu", "selu": "Selu",
              "softplus": "Softplus", "softsign": "Softsign"}
    if act in simple:
        return b.op1(simple[act], [x], name=name)
    if act == "softmax":
        return b.op1("Softmax", [x], {"axis": -1}, name=name)
    if act == "relu6":
        return _clip(ctx, x, 0.0, 6.0, name)
    if act in ("swish", "silu"):
        s = b.op1("Sigmoid", [x], name=f"{name}_sigmoid")
        return b.op1("Mul", [x, s], name=name)
    if act == "exponential":
        return b.op1("Exp", [x], name=name)
    if act == "mish":  # x * tanh(softplus(x))
        return b.op1("Mul", [x, b.op1("Tanh", [b.op1("Softplus", [x], name=f"{name}_softplus")], name=f"{name}_tanh")],
                     name=name)
    if act == "gelu":  # Keras's default, approximate=False: x/2 * (1 + erf(x / sqrt(2)))
        erf = b.op1("Erf", [b.op1("Mul", [x, b.const(np.array(1 / np.sqrt(2), np.float32), f"{name}_rsqrt2")],
                                  name=f"{name}_scaled")], name=f"{name}_erf")
        half = b.op1("Mul", [x, b.const(np.array(0.5, np.float32), f"{name}_half")], name=f"{name}_half_x")
        return b.op1("Mul", [half, b.op1("Add", [erf, b.const(np.array(1, np.float32), f"{name}_one")],
                                         name=f"{name}_one_plus")], name=name)
    return b.custom("Activation", [x], {"activation": act}, name=name)[0]


def _clip(ctx: _Ctx, x: Value, lo: float, hi: float | None, name: str) -> Value:
    b = ctx.b
    inputs = [x, b.const(np.array(lo, np.float32), f"{name}_min")]
    if hi is not None:
        inputs.append(b.const(np.array(hi, np.float32), f"{name}_max"))
    return b.op1("Clip", inputs, name=name)


def _channels_last(L: _Layer) -> bool:
    return L.cfg("data_format", "channels_last") == "channels_last"


def _pair(v: Any) -> list[int]:
    return [int(v), int(v)] if isinstance(v, (int, float)) else [int(x) for x in v]


def _pad_attrs(L: _Layer, kernel: Sequence[int] | None = None) -> dict[str, Any]:
    """ONNX padding for the layer's ``padding``; ``kernel`` (kh, kw) for a convolution, whose SAME
    padding with a dilation becomes explicit pads (onnxruntime refuses auto_pad with dilations)."""
    pad = str(L.cfg("padding", "valid")).lower()
    if pad == "same":
        dilations = _pair(L.cfg("dilation_rate", 1))
        if kernel is not None and max(dilations) > 1 and _pair(L.cfg("strides", 1)) == [1, 1]:
            # at stride 1 SAME pads d*(k-1) whatever the size, the odd one at the end (Keras refuses
            # a dilation with a stride)
            total = [d * (int(k) - 1) for d, k in zip(dilations, kernel)]
            return {"pads": [t // 2 for t in total] + [t - t // 2 for t in total]}
        return {"auto_pad": "SAME_UPPER"}  # TF/Keras SAME: the odd extra pixel at the end
    if pad == "valid":
        return {}
    raise ModelFormatError(f"layer {L.name!r} ({L.class_name}): padding {pad!r} is not supported")


def _spatial(ctx: _Ctx, L: _Layer, onnx_type: str, inputs: Sequence[Value | None], attrs: dict[str, Any],
             name: str | None = None) -> Value:
    b = ctx.b
    assert inputs[0] is not None  # the layer's input
    cl = _channels_last(L)
    x = b.to_nchw(inputs[0]) if cl else inputs[0]
    y = b.op1(onnx_type, [x, *inputs[1:]], attrs, name=name or L.name)
    return b.to_nhwc(y) if cl else y


def _conv2d(ctx: _Ctx, L: _Layer) -> Value:
    use_bias = bool(L.cfg("use_bias", True))
    w = L.need_weights(2 if use_bias else 1)
    b = ctx.b
    kernel = b.const(np.ascontiguousarray(np.transpose(w[0], (3, 2, 0, 1))), f"{L.name}_kernel")
    inputs = [L.inputs[0], kernel] + ([b.const(w[1], f"{L.name}_bias")] if use_bias else [])
    attrs = {"strides": _pair(L.cfg("strides", 1)), "dilations": _pair(L.cfg("dilation_rate", 1)),
             "group": int(L.cfg("groups", 1)), **_pad_attrs(L, w[0].shape[:2])}
    return _activation(ctx, _spatial(ctx, L, "Conv", inputs, attrs, name=f"{L.name}_conv"),
                       L.cfg("activation"), L.name)


def _depthwise_kernel(b: GraphBuilder, kernel: np.ndarray, name: str) -> tuple[Value, int]:
    """A Keras depthwise kernel [kh, kw, C, M] as an ONNX grouped-conv weight [C*M, 1, kh, kw]; and C."""
    kh, kw, cin, mult = kernel.shape
    onnx_kernel = np.ascontiguousarray(np.transpose(kernel.reshape(kh, kw, 1, cin * mult), (3, 2, 0, 1)))
    return b.const(onnx_kernel, name), int(cin)


def _depthwise(ctx: _Ctx, L: _Layer) -> Value:
    use_bias = bool(L.cfg("use_bias", True))
    w = L.need_weights(2 if use_bias else 1)
    b = ctx.b
    kernel, cin = _depthwise_kernel(b, w[0], f"{L.name}_kernel")
    inputs = [L.inputs[0], kernel] + ([b.const(w[1], f"{L.name}_bias")] if use_bias else [])
    attrs = {"strides": _pair(L.cfg("strides", 1)), "dilations": _pair(L.cfg("dilation_rate", 1)),
             "group": cin, **_pad_attrs(L, w[0].shape[:2])}
    return _activation(ctx, _spatial(ctx, L, "Conv", inputs, attrs, name=f"{L.name}_conv"),
                       L.cfg("activation"), L.name)


def _dense(ctx: _Ctx, L: _Layer) -> Value:
    use_bias = bool(L.cfg("use_bias", True))
    w = L.need_weights(2 if use_bias else 1)
    b = ctx.b
    y = b.op1("MatMul", [L.inputs[0], b.const(w[0], f"{L.name}_kernel")], name=f"{L.name}_matmul")
    if use_bias:
        y = b.op1("Add", [y, b.const(w[1], f"{L.name}_bias")], name=f"{L.name}_bias_add")
    return _activation(ctx, y, L.cfg("activation"), L.name)


def _pool(onnx_type: str) -> Converter:
    def convert(ctx: _Ctx, L: _Layer) -> Value:
        size = _pair(L.cfg("pool_size", 2))
        strides = _pair(L.cfg("strides") or size)
        attrs = {"kernel_shape": size, "strides": strides, **_pad_attrs(L)}
        if onnx_type == "AveragePool":
            attrs["count_include_pad"] = 0  # Keras averages over the valid pixels only
        return _spatial(ctx, L, onnx_type, [L.inputs[0]], attrs)
    return convert


def _global_pool(onnx_type: str) -> Converter:
    """GlobalAverage/MaxPooling2D: a reduction over the spatial axes (``keepdims`` as saved)."""
    def convert(ctx: _Ctx, L: _Layer) -> Value:
        keep = bool(L.cfg("keepdims", False))
        axes = [1, 2] if _channels_last(L) else [2, 3]
        y = ctx.b.op1(onnx_type, [L.inputs[0]], {"axes": axes, "keepdims": int(keep)}, name=L.name)
        return ctx.set_rank(y, 4 if keep else 2)
    return convert


def _batch_norm(ctx: _Ctx, L: _Layer) -> Value:
    scale, center = bool(L.cfg("scale", True)), bool(L.cfg("center", True))
    w = L.need_weights(2 + scale + center)
    i = 0
    gamma = w[i] if scale else None
    i += scale
    beta = w[i] if center else None
    i += center
    mean, var = w[i], w[i + 1]
    c = mean.shape[0]
    gamma = np.ones(c, np.float32) if gamma is None else gamma
    beta = np.zeros(c, np.float32) if beta is None else beta
    eps = float(L.cfg("epsilon", 1e-3))
    axis = L.cfg("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    b = ctx.b
    x = L.inputs[0]
    rank = ctx.rank(x)
    if not isinstance(axis, int):
        raise ModelFormatError(f"layer {L.name!r} (BatchNormalization): axis {axis} is not supported")
    axis = axis if axis >= 0 else axis + rank
    consts = [b.const(a.astype(np.float32), f"{L.name}_{n}")
              for a, n in ((gamma, "gamma"), (beta, "beta"), (mean, "mean"), (var, "variance"))]
    if axis == 1:
        return b.op1("BatchNormalization", [x] + consts, {"epsilon": eps}, name=L.name)
    perm = [0, axis] + [d for d in range(1, rank) if d != axis]
    xt = b.transpose(x, perm)
    y = b.op1("BatchNormalization", [xt] + consts, {"epsilon": eps}, name=f"{L.name}_bn")
    return b.transpose(y, [int(p) for p in np.argsort(perm)])


def _activation_layer(ctx: _Ctx, L: _Layer) -> Value:
    y = _activation(ctx, L.inputs[0], L.cfg("activation"), L.name)
    return y if y is not L.inputs[0] else ctx.b.op1("Identity", [y], name=L.name)


def _relu_layer(ctx: _Ctx, L: _Layer) -> Value:
    max_value = L.config.get("max_value")
    slope = float(L.cfg("negative_slope", 0.0))
    threshold = float(L.cfg("threshold", 0.0))
    x = L.inputs[0]
    if threshold == 0.0 and slope == 0.0:
        return ctx.b.op1("Relu", [x], name=L.name) if max_value is None else _clip(ctx, x, 0.0, float(max_value), L.name)
    if threshold == 0.0 and max_value is None:
        return ctx.b.op1("LeakyRelu", [x], {"alpha": slope}, name=L.name)
    return relu_threshold(ctx, L)  # a threshold, or a slope with a max_value


def _add(ctx: _Ctx, L: _Layer) -> Value:
    if len(L.inputs) == 2:
        return ctx.b.op1("Add", L.inputs, name=L.name)
    return ctx.b.op1("Sum", L.inputs, name=L.name)


def _concat(ctx: _Ctx, L: _Layer) -> Value:
    return ctx.b.op1("Concat", L.inputs, {"axis": int(L.cfg("axis", -1))}, name=L.name)


def _flatten(ctx: _Ctx, L: _Layer) -> Value:
    x = L.inputs[0]
    if not _channels_last(L) and ctx.rank(x) == 4:
        x = ctx.b.to_nhwc(x)  # Keras flattens channels_first inputs in channels_last order
    return ctx.set_rank(ctx.b.op1("Flatten", [x], {"axis": 1}, name=L.name), 2)


def _reshape(ctx: _Ctx, L: _Layer) -> Value:
    target = [int(d) for d in L.cfg("target_shape", [])]
    shape = ctx.b.ints([0] + target, f"{L.name}_shape")  # 0: keep the batch dimension
    return ctx.set_rank(ctx.b.op1("Reshape", [L.inputs[0], shape], name=L.name), len(target) + 1)


def _dropout(ctx: _Ctx, L: _Layer) -> Value:
    return ctx.b.op1("Identity", L.inputs[:1], name=L.name)


def _softmax(ctx: _Ctx, L: _Layer) -> Value:
    axis = L.cfg("axis", -1)
    if isinstance(axis, list):
        if len(axis) != 1:
            return _custom(ctx, L)
        axis = axis[0]
    return ctx.b.op1("Softmax", L.inputs[:1], {"axis": int(axis)}, name=L.name)


def _zero_pad(ctx: _Ctx, L: _Layer) -> Value:
    p = L.cfg("padding", 1)
    if isinstance(p, (int, float)):
        (t, bo), (le, r) = (int(p), int(p)), (int(p), int(p))
    elif all(isinstance(x, (int, float)) for x in p):
        (t, bo), (le, r) = (int(p[0]), int(p[0])), (int(p[1]), int(p[1]))
    else:
        (t, bo), (le, r) = (int(p[0][0]), int(p[0][1])), (int(p[1][0]), int(p[1][1]))
    pads = [0, t, le, 0, 0, bo, r, 0] if _channels_last(L) else [0, 0, t, le, 0, 0, bo, r]
    return ctx.b.op1("Pad", [L.inputs[0], ctx.b.ints(pads, f"{L.name}_pads")], {"mode": "constant"}, name=L.name)


def _separable(ctx: _Ctx, L: _Layer) -> Value:
    """Depthwise (group = input channels, no bias) then the 1x1 pointwise conv with the bias."""
    use_bias = bool(L.cfg("use_bias", True))
    w = L.need_weights(3 if use_bias else 2)
    b = ctx.b
    depth, cin = _depthwise_kernel(b, w[0], f"{L.name}_depthwise_kernel")
    point = b.const(np.ascontiguousarray(np.transpose(w[1], (3, 2, 0, 1))), f"{L.name}_pointwise_kernel")
    cl = _channels_last(L)
    x = b.to_nchw(L.inputs[0]) if cl else L.inputs[0]
    attrs = {"strides": _pair(L.cfg("strides", 1)), "dilations": _pair(L.cfg("dilation_rate", 1)),
             "group": cin, **_pad_attrs(L, w[0].shape[:2])}
    h = b.op1("Conv", [x, depth], attrs, name=f"{L.name}_depthwise")
    y = b.op1("Conv", [h, point] + ([b.const(w[2], f"{L.name}_bias")] if use_bias else []), name=f"{L.name}_pointwise")
    return _activation(ctx, b.to_nhwc(y) if cl else y, L.cfg("activation"), L.name)


def _upsampling(ctx: _Ctx, L: _Layer) -> Value:
    """Keras 'nearest' repeats each pixel; 'bilinear' is tf.image.resize's (half-pixel centres)."""
    mode = str(L.cfg("interpolation", "nearest")).lower()
    if mode not in ("nearest", "bilinear"):
        return _custom(ctx, L)
    sh, sw = _pair(L.cfg("size", 2))
    scales = ctx.b.const(np.array([1, 1, sh, sw], np.float32), f"{L.name}_scales")
    attrs = ({"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
             if mode == "nearest" else {"mode": "linear", "coordinate_transformation_mode": "half_pixel"})
    return _spatial(ctx, L, "Resize", [L.inputs[0], None, scales], attrs)


def _merge(onnx_type: str) -> Converter:
    """Multiply / Maximum / Minimum (any number of inputs, pairwise) and Subtract (two)."""
    def convert(ctx: _Ctx, L: _Layer) -> Value:
        y = L.inputs[0]
        for i, v in enumerate(L.inputs[1:], 1):
            y = ctx.b.op1(onnx_type, [y, v], name=L.name if i == len(L.inputs) - 1 else f"{L.name}_{i}")
        return y
    return convert


def _average(ctx: _Ctx, L: _Layer) -> Value:
    total = ctx.b.op1("Sum", L.inputs, name=f"{L.name}_sum")
    return ctx.b.op1("Div", [total, ctx.b.const(np.array(len(L.inputs), np.float32), f"{L.name}_n")], name=L.name)


def _leaky_relu_layer(ctx: _Ctx, L: _Layer) -> Value:
    slope = L.config.get("negative_slope", L.config.get("alpha", 0.3))  # Keras 3 / Keras 2 spelling
    return ctx.b.op1("LeakyRelu", L.inputs[:1], {"alpha": float(slope)}, name=L.name)


def _rescaling(ctx: _Ctx, L: _Layer) -> Value:
    b = ctx.b
    scale, offset = np.asarray(L.cfg("scale", 1.0), np.float32), np.asarray(L.cfg("offset", 0.0), np.float32)
    y = b.op1("Mul", [L.inputs[0], b.const(scale, f"{L.name}_scale")], name=f"{L.name}_mul")
    return b.op1("Add", [y, b.const(offset, f"{L.name}_offset")], name=L.name)


def _cropping(ctx: _Ctx, L: _Layer) -> Value:
    c = L.cfg("cropping", ((0, 0), (0, 0)))
    if isinstance(c, (int, float)):
        (t, bo), (le, r) = (int(c), int(c)), (int(c), int(c))
    elif all(isinstance(x, (int, float)) for x in c):
        (t, bo), (le, r) = (int(c[0]), int(c[0])), (int(c[1]), int(c[1]))
    else:
        (t, bo), (le, r) = (int(c[0][0]), int(c[0][1])), (int(c[1][0]), int(c[1][1]))
    axes = [1, 2] if _channels_last(L) else [2, 3]
    big = np.iinfo(np.int64).max
    b = ctx.b
    inputs = [L.inputs[0], b.ints([t, le], f"{L.name}_starts"), b.ints([-bo if bo else big, -r if r else big],
                                                                          f"{L.name}_ends"),
              b.ints(axes, f"{L.name}_axes")]
    return b.op1("Slice", inputs, name=L.name)


def _permute(ctx: _Ctx, L: _Layer) -> Value:
    dims = [int(d) for d in L.cfg("dims", [])]
    return ctx.b.op1("Transpose", L.inputs[:1], {"perm": [0] + dims}, name=L.name)


def custom_params(config: dict[str, Any]) -> dict[str, Any]:
    """A custom layer's params: its saved config minus name/trainable/dtype."""
    return {k: v for k, v in config.items() if k not in _DROPPED_CONFIG}


def _custom(ctx: _Ctx, L: _Layer) -> Value:
    inputs = list(L.inputs) + [ctx.b.const(w, f"{L.name}_var{i}") for i, w in enumerate(L.weights or [])]
    return ctx.b.custom(L.class_name, inputs, custom_params(L.config), name=L.name, outputs=[L.name])[0]


#: Keras class name -> converter producing ONNX ops with Keras semantics
MAPPED_LAYERS: dict[str, Converter] = {
    "Dense": _dense,
    "Conv2D": _conv2d,
    "DepthwiseConv2D": _depthwise,
    "MaxPooling2D": _pool("MaxPool"), "MaxPool2D": _pool("MaxPool"),
    "AveragePooling2D": _pool("AveragePool"), "AvgPool2D": _pool("AveragePool"),
    "GlobalAveragePooling2D": _global_pool("ReduceMean"), "GlobalAvgPool2D": _global_pool("ReduceMean"),
    "BatchNormalization": _batch_norm,
    "Activation": _activation_layer,
    "ReLU": _relu_layer,
    "Add": _add,
    "Concatenate": _concat,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Dropout": _dropout,
    "Softmax": _softmax,
    "ZeroPadding2D": _zero_pad,
    "SeparableConv2D": _separable, "SeparableConvolution2D": _separable,
    "UpSampling2D": _upsampling,
    "Multiply": _merge("Mul"), "Subtract": _merge("Sub"), "Maximum": _merge("Max"), "Minimum": _merge("Min"),
    "Average": _average,
    "GlobalMaxPooling2D": _global_pool("ReduceMax"), "GlobalMaxPool2D": _global_pool("ReduceMax"),
    "LeakyReLU": _leaky_relu_layer,
    "Rescaling": _rescaling,
    "Cropping2D": _cropping,
    "Permute": _permute,
    # PReLU, ELU, Conv1D, Conv2DTranspose, 1-D/3-D pools, LayerNormalization, Embedding, ... (keras_layers.py)
    **more_layers(lambda ctx, L: _custom(ctx, L), lambda *a: _activation(*a), lambda *a: _pad_attrs(*a)),
}


def _snake(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _history(obj: Any) -> list[tuple[str, int, int]]:
    """Keras tensors (layer, node index, tensor index) referenced by an inbound node."""
    out: list[tuple[str, int, int]] = []
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            h = obj["config"]["keras_history"]
            return [(str(h[0]), int(h[1]), int(h[2]))]
        for v in obj.values():
            out += _history(v)
    elif isinstance(obj, list):
        if len(obj) >= 3 and isinstance(obj[0], str) and isinstance(obj[1], int) and isinstance(obj[2], int):
            return [(obj[0], obj[1], obj[2])]  # Keras 2: [name, node, tensor, kwargs]
        for v in obj:
            out += _history(v)
    return out


def _inbound(layer: dict) -> list[tuple[str, int, int]]:
    nodes = layer.get("inbound_nodes") or []
    if not nodes:
        return []
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        return _history(node.get("args", []))
    return _history(node)


def _input_shape(cfg: dict) -> list[Any] | None:
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    if shape is None and cfg.get("shape") is not None:
        shape = [None] + list(cfg["shape"])
    return None if shape is None else [None if d is None else int(d) for d in shape]


def config_to_graph(config: dict, weights: dict[str, list[np.ndarray]] | None = None, layers: Any = None, *,
                    weights_by_name: bool = False, input_shapes: dict[str, Any] | None = None) -> Graph:
    """Convert a Keras model config (Functional or Sequential) to a Graph. ``weights`` maps
    ``layers/<path>`` (Keras 3) or ``layers/<layer name>`` to arrays; ``weights_by_name`` (Keras 2
    files) looks layers up by name only."""
    cls = config.get("class_name")
    mcfg = config.get("config", {})
    if cls not in ("Functional", "Model", "Sequential"):
        raise ModelFormatError(f"Keras model class {cls!r} is not supported: save a Functional or Sequential model")
    b = GraphBuilder(mcfg.get("name") or "keras_model", DOMAIN, "graphc-keras", input_shapes)
    ctx = _Ctx(b)
    layer_list = list(mcfg.get("layers", []))
    sequential = cls == "Sequential"
    if sequential and layer_list and layer_list[0].get("class_name") != "InputLayer":
        shape = _input_shape(layer_list[0].get("config", {}))
        if shape is None:
            raise ModelFormatError("Sequential model without an input shape: build it with keras.Input first")
        layer_list.insert(0, {"class_name": "InputLayer", "config": {"name": "input", "batch_shape": shape}})
    produced: dict[str, list[Value]] = {}
    counters: dict[str, int] = {}
    prev: Value | None = None
    for layer in layer_list:
        lcls = layer.get("class_name", "")
        lcfg = dict(layer.get("config") or {})
        name = layer.get("name") or lcfg.get("name") or b.graph.unique_name(_snake(lcls))
        path = _snake(lcls)
        if path in counters:
            counters[path] += 1
            path = f"{path}_{counters[path]}"
        else:
            counters[path] = 0
        if lcls == "InputLayer":
            v = b.input(name, np.dtype(lcfg.get("dtype") or "float32"), _input_shape(lcfg))
            produced[name] = [v]
            prev = v
            continue
        if sequential:
            if prev is None:
                raise ModelFormatError(f"layer {name!r} ({lcls}) has no input")
            inputs = [prev]
        else:
            inputs = []
            for src, _, t in _inbound(layer):
                if src not in produced:
                    raise ModelFormatError(f"layer {name!r} ({lcls}) reads {src!r}, which no earlier layer produces")
                inputs.append(produced[src][t])
        w = None
        if weights is not None:
            by_name = weights.get(f"layers/{name}", [])
            w = by_name if weights_by_name else weights.get(f"layers/{path}", by_name)
        L = _Layer(name, lcls, lcfg, inputs, w)
        conv = MAPPED_LAYERS.get(lcls)
        claimed = layers is not None and layers.lookup(DOMAIN, lcls, 1) is not None
        if conv is not None and not claimed:
            v = conv(ctx, L)
            if inputs and v.shape is None and id(v) not in ctx.ranks:  # a rank-preserving layer (Dense, a merge,
                ctx.set_rank(v, ctx.rank(inputs[0]))  # an activation, ...): the rank Dot and 1-D layers read
        else:
            check_param_coverage(layers, DOMAIN, lcls, name, custom_params(lcfg),
                                 f"save the Keras layer with a get_config() that returns them "
                                 f"(e.g. return {{**super().get_config(), 'param': self.param}})")
            v = _custom(ctx, L)
            if conv is not None:
                mark_overridden([v], f"Keras {lcls}")
        b.name_output(v, name)
        produced[name] = [v]
        prev = v
    if sequential:
        outputs = [prev] if prev is not None else []
    else:
        outputs = [produced[n][t] for n, _, t in _history(mcfg.get("output_layers", []))]
        if not outputs:
            raise ModelFormatError("the Keras model config names no output_layers")
    return b.finish(outputs)


def load_keras(source: str | os.PathLike | dict, *, weights: str | os.PathLike | bytes | None = None,
               layers: Any = None, input_shapes: dict[str, Any] | None = None) -> Graph:
    """Load a ``.keras`` archive or a ``to_json()`` config (``.json`` path or dict).

    ``weights`` (a Keras 3 ``.weights.h5``) supplies weights for a bare config; a
    ``.keras`` archive carries its own. ``layers`` (a LayerRegistry) both claims
    classes for domain ``keras`` and checks that custom classes saved all their params.
    """
    wdata: Any = weights
    if isinstance(source, dict):
        config = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ModelFormatError(f"Keras model {str(path)!r} does not exist or is not a file")
        if zipfile.is_zipfile(path):
            config, archived = _read_archive(path)
            wdata = archived if wdata is None else wdata
        else:
            config = _json(path.read_bytes(), str(path))
    table, by_name = None, False
    if wdata is not None and (weights is not None or _has_h5py()):
        table, by_name = read_any_keras_weights(wdata)  # an archive without h5py imports config-only
    return config_to_graph(config, table, layers, weights_by_name=by_name, input_shapes=input_shapes)


def load_keras_h5(source: str | os.PathLike, *, layers: Any = None, weights: Any = None,
                  input_shapes: dict[str, Any] | None = None) -> Graph:
    """Load a Keras 2 full-model HDF5 file (architecture and weights) into a Graph."""
    from .keras_h5 import read_keras_h5_model

    if weights is not None:
        raise ModelFormatError(f"{source}: a full Keras HDF5 model carries its own weights; drop weights=")
    config, table = read_keras_h5_model(source)
    return config_to_graph(config, table, layers, weights_by_name=True, input_shapes=input_shapes)


def read_any_keras_weights(data: bytes | str | os.PathLike) -> tuple[dict[str, list[np.ndarray]], bool]:
    """Weights in the Keras 3 layout, or a Keras 2 HDF5 file's (then looked up by layer name: True)."""
    from .keras_h5 import is_keras2_weights, read_keras2_weights

    try:
        import h5py

        with h5py.File(io.BytesIO(data) if isinstance(data, bytes) else str(data), "r") as f:
            keras2 = is_keras2_weights(f)
    except (ImportError, OSError):
        keras2 = False  # read_keras_weights says what is wrong
    except H5_DAMAGE as e:
        raise damaged_weights(data, e) from e
    try:
        return (read_keras2_weights(data), True) if keras2 else (read_keras_weights(data), False)
    except H5_DAMAGE as e:
        raise damaged_weights(data, e) from e


#: what h5py raises on a damaged file besides OSError (a flipped byte in a heap, a B-tree or a
#: dataspace: 16 of 200 single-byte flips escaped as RuntimeError or KeyError)
H5_DAMAGE = (RuntimeError, KeyError, OverflowError, ValueError, TypeError, IndexError, OSError)


def damaged_weights(data: bytes | str | os.PathLike, e: BaseException) -> ModelFormatError:
    """The ModelFormatError for a weights file h5py failed to read with ``e``."""
    where = "the archive's model.weights.h5" if isinstance(data, bytes) else repr(str(data))
    return ModelFormatError(f"Keras weights {where} are damaged (h5py: {type(e).__name__}: {e}); "
                            "save the weights again")
