"""More Keras core layers -> ONNX, with Keras's semantics (merged into ``keras.MAPPED_LAYERS``).

* ``ReLU`` with a ``threshold`` (or ``negative_slope`` with ``max_value``): Keras's ``x * (x > t)``,
  clipped to ``[0, max_value]`` if set, minus
  ``negative_slope * relu(t - x)``.
* ``PReLU`` -> ``PRelu`` (alpha ``[*input_shape[1:]]``, 1 on the shared axes: broadcasts as saved);
  ``ELU(alpha)`` -> ``Elu``.
* ``Conv1D`` (``causal`` padding: ``d * (k - 1)`` zeros in front), ``MaxPooling1D``,
  ``AveragePooling1D`` -> ``Conv`` / pools on ``[N, C, L]``, transposed from channels_last.
* ``Conv2DTranspose`` -> ``ConvTranspose`` with TF's pads: SAME pads ``max(k_eff - s, 0)`` split with
  the odd one at the end, and the ``output_padding`` that makes the output ``in * s`` (SAME) or
  ``in * s + max(k_eff - s, 0)`` (VALID); with ``output_padding`` given, Keras's length
  ``(in - 1) * s + k_eff - 2 * pad + output_padding`` (pad ``k_eff // 2`` for SAME, else 0).
* ``GlobalAverage/MaxPooling1D/3D`` -> ``ReduceMean/Max`` over the steps / the three spatial axes.
* ``GroupNormalization`` over the last axis -> moments per group of channels (a ``Reshape`` to
  ``[N, -1, groups, C / groups]``), then ``gamma``/``beta``.
* ``LayerNormalization`` over the last axis -> ``LayerNormalization(axis=-1)``; ``Normalization`` (its
  adapted mean and variance, last axis or scalar) -> ``(x - mean) / max(sqrt(var), 1e-7)``.
* ``Embedding`` -> ``Gather`` of the table at the input cast to int64 (float ids truncated, as Keras
  casts them); ``RepeatVector(n)`` -> ``Unsqueeze`` + ``Tile``.
* ``ZeroPadding1D``, ``Cropping1D`` -> ``Pad`` / ``Slice`` on the steps axis; ``UpSampling1D`` -> nearest
  ``Resize`` (each step repeated).
* ``Conv3D``, ``MaxPooling3D``, ``AveragePooling3D`` -> the ONNX op in NCDHW between Transposes;
  ``ZeroPadding3D``, ``Cropping3D``, ``UpSampling3D`` -> ``Pad``, ``Slice``, nearest ``Resize``.
* ``Dot`` (two inputs of rank 2 to 4, batch axis not contracted) -> ``Einsum`` as Keras's ``batch_dot``.
* ``Attention`` (dot scores, no causal mask; dropout is training-only) -> ``softmax(q k^T [* scale]) v``.

Each converter takes the Keras frontend's context and layer and returns the output, or
delegates to the ``keras`` node (``custom``) for a configuration it does not map.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..ir import Value

__all__ = ["more_layers", "relu_threshold"]

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon()


def relu_threshold(ctx: Any, L: Any) -> Value:
    """Keras ``ReLU`` in general (module docstring); keras.py maps the plain cases to Relu/Clip/LeakyRelu."""
    t = float(L.cfg("threshold", 0.0))
    b, x, n = ctx.b, L.inputs[0], L.name
    dt = np.float32
    kept = b.op1("Mul", [x, b.op1("Cast", [b.op1("Greater", [x, b.const(np.array(t, dt), f"{n}_t")],
                                                 name=f"{n}_above")], {"to": 1}, name=f"{n}_mask")],
                 name=f"{n}_kept")
    max_value = L.config.get("max_value")
    if max_value is not None:
        kept = b.op1("Clip", [kept, b.const(np.array(0, dt), f"{n}_lo"), b.const(np.array(max_value, dt), f"{n}_hi")],
                     name=f"{n}_clip")
    slope = float(L.cfg("negative_slope", 0.0))
    if slope == 0.0:
        return b.op1("Identity", [kept], name=n)
    below = b.op1("Relu", [b.op1("Sub", [b.const(np.array(t, dt), f"{n}_t2"), x], name=f"{n}_t_minus_x")],
                  name=f"{n}_below")
    scaled = b.op1("Mul", [below, b.const(np.array(slope, dt), f"{n}_slope")], name=f"{n}_negative")
    return b.op1("Sub", [kept, scaled], name=n)


def _per_axis(v: Any, n: int) -> list[Any]:
    """A Keras padding/cropping config: one int for all ``n`` axes, or one entry (int or pair) per axis."""
    return [v] * n if isinstance(v, (int, float)) else list(v)


def more_layers(custom: Callable[[Any, Any], Value], activation: Callable[..., Value],
                pad_attrs: Callable[..., dict[str, Any]]) -> dict[str, Callable[[Any, Any], Value]]:
    """The converters, given the frontend's ``custom`` (a ``keras`` node), ``activation`` and ``pad_attrs``."""

    def one(v: Any) -> int:
        return int(v[0]) if isinstance(v, (list, tuple)) else int(v)

    def to_ncl(ctx: Any, L: Any, x: Value) -> Value:
        cl = L.cfg("data_format", "channels_last") == "channels_last"
        return ctx.b.op1("Transpose", [x], {"perm": [0, 2, 1]}, name=f"{L.name}_ncl") if cl else x

    def from_ncl(ctx: Any, L: Any, y: Value) -> Value:
        cl = L.cfg("data_format", "channels_last") == "channels_last"
        out = ctx.b.op1("Transpose", [y], {"perm": [0, 2, 1]}, name=f"{L.name}_nlc") if cl else y
        return ctx.set_rank(out, 3)

    def prelu(ctx: Any, L: Any) -> Value:
        (alpha,) = L.need_weights(1)[:1]
        return ctx.b.op1("PRelu", [L.inputs[0], ctx.b.const(alpha, f"{L.name}_alpha")], name=L.name)

    def elu(ctx: Any, L: Any) -> Value:
        return ctx.b.op1("Elu", L.inputs[:1], {"alpha": float(L.cfg("alpha", 1.0))}, name=L.name)

    def conv1d(ctx: Any, L: Any) -> Value:
        use_bias = bool(L.cfg("use_bias", True))
        w = L.need_weights(2 if use_bias else 1)
        b = ctx.b
        k, d, s = int(w[0].shape[0]), one(L.cfg("dilation_rate", 1)), one(L.cfg("strides", 1))
        pad = str(L.cfg("padding", "valid")).lower()
        if pad == "causal":
            pads: dict[str, Any] = {"pads": [d * (k - 1), 0]}
        elif pad == "same" and d > 1 and s == 1:
            total = d * (k - 1)
            pads = {"pads": [total // 2, total - total // 2]}
        elif pad in ("same", "valid"):
            pads = {"auto_pad": "SAME_UPPER"} if pad == "same" else {}
        else:
            return custom(ctx, L)
        kernel = b.const(np.ascontiguousarray(np.transpose(w[0], (2, 1, 0))), f"{L.name}_kernel")  # [k,I,O]->[O,I,k]
        inputs = [to_ncl(ctx, L, L.inputs[0]), kernel] + ([b.const(w[1], f"{L.name}_bias")] if use_bias else [])
        attrs = {"strides": [s], "dilations": [d], "group": int(L.cfg("groups", 1)), **pads}
        y = from_ncl(ctx, L, b.op1("Conv", inputs, attrs, name=f"{L.name}_conv"))
        return activation(ctx, y, L.cfg("activation"), L.name)

    def pool1d(onnx_type: str) -> Callable[[Any, Any], Value]:
        def convert(ctx: Any, L: Any) -> Value:
            size = one(L.cfg("pool_size", 2))
            attrs = {"kernel_shape": [size], "strides": [one(L.cfg("strides") or size)], **pad_attrs(L)}
            if onnx_type == "AveragePool":
                attrs["count_include_pad"] = 0
            y = ctx.b.op1(onnx_type, [to_ncl(ctx, L, L.inputs[0])], attrs, name=f"{L.name}_pool")
            return from_ncl(ctx, L, y)
        return convert

    def conv2d_transpose(ctx: Any, L: Any) -> Value:
        given = L.config.get("output_padding")
        use_bias = bool(L.cfg("use_bias", True))
        w = L.need_weights(2 if use_bias else 1)
        b = ctx.b
        strides = [int(v) for v in (L.cfg("strides", 1) if isinstance(L.cfg("strides", 1), list)
                                    else [L.cfg("strides", 1)] * 2)]
        dil = [int(v) for v in (L.cfg("dilation_rate", 1) if isinstance(L.cfg("dilation_rate", 1), list)
                                else [L.cfg("dilation_rate", 1)] * 2)]
        same = str(L.cfg("padding", "valid")).lower() == "same"
        begin, end, out_pad = [], [], []
        for i in range(2):
            k_eff, s = dil[i] * (int(w[0].shape[i]) - 1) + 1, strides[i]
            if given is None:
                total = max(k_eff - s, 0) if same else 0
                out_pad.append(s - k_eff + total if same else max(0, s - k_eff))
            else:  # Keras's length (in-1)*s + k_eff - 2*pad + output_padding, pad k_eff//2 (SAME) or 0,
                # with the pads TF's forward convolution of that size has
                op = int(given) if isinstance(given, (int, float)) else int(given[i])
                pad = k_eff // 2 if same else 0
                total = max(2 * pad - op, 0)
                out_pad.append(total - 2 * pad + op)
            begin.append(total // 2)
            end.append(total - total // 2)
        kernel = b.const(np.ascontiguousarray(np.transpose(w[0], (3, 2, 0, 1))), f"{L.name}_kernel")  # [kh,kw,O,I]
        cl = L.cfg("data_format", "channels_last") == "channels_last"
        x = b.to_nchw(L.inputs[0]) if cl else L.inputs[0]
        inputs = [x, kernel] + ([b.const(w[1], f"{L.name}_bias")] if use_bias else [])
        attrs = {"strides": strides, "dilations": dil, "pads": begin + end, "output_padding": out_pad}
        y = b.op1("ConvTranspose", inputs, attrs, name=f"{L.name}_deconv")
        return activation(ctx, b.to_nhwc(y) if cl else y, L.cfg("activation"), L.name)

    def global_pool(onnx_type: str, spatial: int) -> Callable[[Any, Any], Value]:
        def convert(ctx: Any, L: Any) -> Value:
            keep = bool(L.cfg("keepdims", False))
            cl = L.cfg("data_format", "channels_last") == "channels_last"
            axes = list(range(1, 1 + spatial)) if cl else list(range(2, 2 + spatial))
            y = ctx.b.op1(onnx_type, L.inputs[:1], {"axes": axes, "keepdims": int(keep)}, name=L.name)
            return ctx.set_rank(y, spatial + 2 if keep else 2)
        return convert

    def layer_norm(ctx: Any, L: Any) -> Value:
        axis = L.cfg("axis", -1)
        axes = axis if isinstance(axis, list) else [axis]
        rank = ctx.rank(L.inputs[0])
        if [a % rank for a in axes] != [rank - 1]:
            return custom(ctx, L)
        scale, center = bool(L.cfg("scale", True)), bool(L.cfg("center", True))
        w = L.need_weights(int(scale) + int(center))
        b = ctx.b
        gamma = w[0] if scale else None
        beta = w[int(scale)] if center else None
        given = gamma if gamma is not None else beta
        if given is None:  # neither scale nor center: the size is not saved
            return custom(ctx, L)
        size = given.shape[-1]
        inputs = [L.inputs[0], b.const(gamma if gamma is not None else np.ones(size, np.float32), f"{L.name}_gamma"),
                  b.const(beta if beta is not None else np.zeros(size, np.float32), f"{L.name}_beta")]
        return b.op1("LayerNormalization", inputs, {"axis": -1, "epsilon": float(L.cfg("epsilon", 1e-3))}, name=L.name)

    def normalization(ctx: Any, L: Any) -> Value:
        if bool(L.cfg("invert", False)) or L.config.get("mean") is not None:
            return custom(ctx, L)
        axis = L.cfg("axis", -1)
        axes = axis if isinstance(axis, list) else [axis]
        w = L.need_weights(2)
        mean, var = np.asarray(w[0], np.float32), np.asarray(w[1], np.float32)
        rank = ctx.rank(L.inputs[0])
        if mean.size > 1 and [a % rank for a in axes] != [rank - 1]:
            return custom(ctx, L)
        b = ctx.b
        std = np.maximum(np.sqrt(var), np.float32(_KERAS_EPSILON)).reshape(-1 if mean.size > 1 else ())
        centred = b.op1("Sub", [L.inputs[0], b.const(mean.reshape(std.shape), f"{L.name}_mean")], name=f"{L.name}_c")
        return b.op1("Div", [centred, b.const(std, f"{L.name}_std")], name=L.name)

    def embedding(ctx: Any, L: Any) -> Value:
        (table,) = L.need_weights(1)[:1]
        b = ctx.b
        ids = b.op1("Cast", L.inputs[:1], {"to": 7}, name=f"{L.name}_ids")  # int64
        y = b.op1("Gather", [b.const(table, f"{L.name}_table"), ids], {"axis": 0}, name=L.name)
        return ctx.set_rank(y, ctx.rank(L.inputs[0]) + 1)

    def repeat_vector(ctx: Any, L: Any) -> Value:
        b, n = ctx.b, int(L.cfg("n", 1))
        x = b.op1("Unsqueeze", [L.inputs[0], b.ints([1], f"{L.name}_axis")], name=f"{L.name}_unsqueeze")
        return ctx.set_rank(b.op1("Tile", [x, b.ints([1, n, 1], f"{L.name}_repeats")], name=L.name), 3)

    def pair_of(v: Any) -> tuple[int, int]:
        return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[1]))

    def zero_pad1d(ctx: Any, L: Any) -> Value:
        lo, hi = pair_of(L.cfg("padding", 1))
        pads = ctx.b.ints([0, lo, 0, 0, hi, 0], f"{L.name}_pads")
        return ctx.set_rank(ctx.b.op1("Pad", [L.inputs[0], pads], {"mode": "constant"}, name=L.name), 3)

    def crop1d(ctx: Any, L: Any) -> Value:
        lo, hi = pair_of(L.cfg("cropping", 1))
        b = ctx.b
        ends = [-hi if hi else np.iinfo(np.int64).max]
        y = b.op1("Slice", [L.inputs[0], b.ints([lo], f"{L.name}_starts"), b.ints(ends, f"{L.name}_ends"),
                            b.ints([1], f"{L.name}_axes")], name=L.name)
        return ctx.set_rank(y, 3)

    def triple(v: Any) -> list[int]:
        return [int(v)] * 3 if isinstance(v, (int, float)) else [int(x) for x in v]

    def conv3d(ctx: Any, L: Any) -> Value:
        use_bias = bool(L.cfg("use_bias", True))
        w = L.need_weights(2 if use_bias else 1)
        b = ctx.b
        dil, strides = triple(L.cfg("dilation_rate", 1)), triple(L.cfg("strides", 1))
        attrs: dict[str, Any] = {"strides": strides, "dilations": dil, "group": int(L.cfg("groups", 1))}
        if str(L.cfg("padding", "valid")).lower() == "same":
            if max(dil) > 1 and strides == [1, 1, 1]:
                total = [d * (int(k) - 1) for d, k in zip(dil, w[0].shape[:3])]
                attrs["pads"] = [t // 2 for t in total] + [t - t // 2 for t in total]
            else:
                attrs["auto_pad"] = "SAME_UPPER"
        kernel = b.const(np.ascontiguousarray(np.transpose(w[0], (4, 3, 0, 1, 2))), f"{L.name}_kernel")
        return activation(ctx, spatial3d(ctx, L, "Conv", [kernel] + ([b.const(w[1], f"{L.name}_bias")] if use_bias
                                                                     else []), attrs), L.cfg("activation"), L.name)

    def spatial3d(ctx: Any, L: Any, op_type: str, extra: list[Value], attrs: dict[str, Any]) -> Value:
        b = ctx.b
        cl = L.cfg("data_format", "channels_last") == "channels_last"
        x = b.transpose(L.inputs[0], (0, 4, 1, 2, 3)) if cl else L.inputs[0]
        y = b.op1(op_type, [x, *extra], attrs, name=f"{L.name}_{op_type.lower()}")
        return ctx.set_rank(b.transpose(y, (0, 2, 3, 4, 1)) if cl else y, 5)

    def pool3d(op_type: str) -> Callable[[Any, Any], Value]:
        def convert(ctx: Any, L: Any) -> Value:
            size = triple(L.cfg("pool_size", 2))
            strides = triple(L.cfg("strides") or size)
            attrs: dict[str, Any] = {"kernel_shape": size, "strides": strides, **pad_attrs(L)}
            if op_type == "AveragePool":
                attrs["count_include_pad"] = 0
            return spatial3d(ctx, L, op_type, [], attrs)
        return convert

    def upsampling1d(ctx: Any, L: Any) -> Value:
        scales = ctx.b.const(np.array([1, int(L.cfg("size", 2)), 1], np.float32), f"{L.name}_scales")
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
        return ctx.set_rank(ctx.b.op1("Resize", [L.inputs[0], None, scales], attrs, name=L.name), 3)

    def dot(ctx: Any, L: Any) -> Value:
        """``Dot``: Keras's batch_dot over ``axes`` as an Einsum (rank-2 inputs give ``[N, 1]``), after
        ``x / sqrt(max(sum(x^2), 1e-12))`` along the axes with ``normalize``."""
        if len(L.inputs) != 2:
            return custom(ctx, L)
        ranks = [ctx.rank(v) for v in L.inputs]
        axes = L.cfg("axes", -1)
        axes = [axes, axes] if isinstance(axes, (int, float)) else list(axes)
        axes = [int(a) % r for a, r in zip(axes, ranks)]
        if min(ranks) < 2 or max(ranks) > 4 or 0 in axes:
            return custom(ctx, L)
        b, n = ctx.b, L.name
        xs = list(L.inputs)
        if bool(L.cfg("normalize", False)):
            for i in range(2):
                squares = b.op1("Mul", [xs[i], xs[i]], name=f"{n}_sq{i}")
                sq = b.op1("ReduceSum", [squares, b.ints([axes[i]], f"{n}_ax{i}")], {"keepdims": 1}, name=f"{n}_sumsq{i}")
                clamped = b.op1("Max", [sq, b.const(np.array(1e-12, np.float32), f"{n}_eps{i}")], name=f"{n}_clamped{i}")
                inv = b.op1("Reciprocal", [b.op1("Sqrt", [clamped], name=f"{n}_norm{i}")], name=f"{n}_inv{i}")
                xs[i] = b.op1("Mul", [xs[i], inv], name=f"{n}_unit{i}")
        left, right = list("bcde"[: ranks[0]]), ["b"] + list("fgh"[: ranks[1] - 1])
        right[axes[1]] = left[axes[0]]
        out = [c for c in left if c != left[axes[0]]] + [c for c in right[1:] if c != left[axes[0]]]
        y = b.op1("Einsum", xs, {"equation": f"{''.join(left)},{''.join(right)}->{''.join(out)}"},
                  name=f"{n}_einsum")
        if len(out) == 1:  # Keras keeps a trailing axis of 1 for rank-2 inputs
            return ctx.set_rank(b.op1("Unsqueeze", [y, b.ints([1], f"{n}_axis")], name=n), 2)
        return ctx.set_rank(b.op1("Identity", [y], name=n), len(out))

    def attention(ctx: Any, L: Any) -> Value:
        """Dot-product ``Attention`` (no causal mask, no scores output): ``softmax(q k^T [* scale]) v``."""
        if (str(L.cfg("score_mode", "dot")) != "dot" or bool(L.cfg("use_causal_mask", False))
                or bool(L.cfg("causal", False)) or len(L.inputs) not in (2, 3)):
            return custom(ctx, L)
        b, n = ctx.b, L.name
        q, v = L.inputs[:2]
        k = L.inputs[2] if len(L.inputs) == 3 else v
        scores = b.op1("MatMul", [q, b.op1("Transpose", [k], {"perm": [0, 2, 1]}, name=f"{n}_keys_t")],
                       name=f"{n}_scores")
        if bool(L.cfg("use_scale", False)):
            (scale,) = L.need_weights(1)[:1]
            scores = b.op1("Mul", [scores, b.const(np.asarray(scale, np.float32), f"{n}_scale")], name=f"{n}_scaled")
        weights = b.op1("Softmax", [scores], {"axis": -1}, name=f"{n}_weights")
        return ctx.set_rank(b.op1("MatMul", [weights, v], name=n), 3)

    def pad3d(ctx: Any, L: Any) -> Value:
        pads = [pair_of(p) for p in _per_axis(L.cfg("padding", 1), 3)]
        axes = [1, 2, 3] if L.cfg("data_format", "channels_last") == "channels_last" else [2, 3, 4]
        begin, end = [0] * 5, [0] * 5
        for a, (lo, hi) in zip(axes, pads):
            begin[a], end[a] = lo, hi
        y = ctx.b.op1("Pad", [L.inputs[0], ctx.b.ints(begin + end, f"{L.name}_pads")], {"mode": "constant"},
                      name=L.name)
        return ctx.set_rank(y, 5)

    def crop3d(ctx: Any, L: Any) -> Value:
        crops = [pair_of(c) for c in _per_axis(L.cfg("cropping", 1), 3)]
        axes = [1, 2, 3] if L.cfg("data_format", "channels_last") == "channels_last" else [2, 3, 4]
        b, big = ctx.b, np.iinfo(np.int64).max
        y = b.op1("Slice", [L.inputs[0], b.ints([lo for lo, _ in crops], f"{L.name}_starts"),
                            b.ints([-hi if hi else big for _, hi in crops], f"{L.name}_ends"),
                            b.ints(axes, f"{L.name}_axes")], name=L.name)
        return ctx.set_rank(y, 5)

    def upsampling3d(ctx: Any, L: Any) -> Value:
        size = triple(L.cfg("size", 2))
        cl = L.cfg("data_format", "channels_last") == "channels_last"
        scales = [1.0, *size, 1.0] if cl else [1.0, 1.0, *size]
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
        y = ctx.b.op1("Resize", [L.inputs[0], None, ctx.b.const(np.array(scales, np.float32), f"{L.name}_scales")],
                      attrs, name=L.name)
        return ctx.set_rank(y, 5)

    def group_norm(ctx: Any, L: Any) -> Value:
        """``GroupNormalization`` on the last axis: moments over all but the batch within each group of
        ``C / groups`` channels, ``(x - mean) / sqrt(var + eps) * gamma + beta``."""
        axis = int(L.cfg("axis", -1))
        x = L.inputs[0]
        rank = ctx.rank(x)
        scale, center = bool(L.cfg("scale", True)), bool(L.cfg("center", True))
        w = L.need_weights(int(scale) + int(center)) if (scale or center) else []
        given = w[0] if w else None
        groups = int(L.cfg("groups", 32))
        if axis % rank != rank - 1 or given is None or given.shape[-1] % groups:
            return custom(ctx, L)
        b, n, c = ctx.b, L.name, int(given.shape[-1])
        grouped = b.op1("Reshape", [x, b.ints([0, -1, groups, c // groups], f"{n}_group_shape")], name=f"{n}_grouped")
        mean = b.op1("ReduceMean", [grouped], {"axes": [1, 3], "keepdims": 1}, name=f"{n}_mean")
        centred = b.op1("Sub", [grouped, mean], name=f"{n}_centred")
        var = b.op1("ReduceMean", [b.op1("Mul", [centred, centred], name=f"{n}_sq")], {"axes": [1, 3], "keepdims": 1},
                    name=f"{n}_var")
        eps = b.const(np.array(float(L.cfg("epsilon", 1e-3)), np.float32), f"{n}_eps")
        std = b.op1("Sqrt", [b.op1("Add", [var, eps], name=f"{n}_var_eps")], name=f"{n}_std")
        normed = b.op1("Div", [centred, std], name=f"{n}_normed")
        y = b.op1("Reshape", [normed, b.op1("Shape", [x], name=f"{n}_shape")], name=f"{n}_ungrouped")
        if scale:
            y = b.op1("Mul", [y, b.const(w[0], f"{n}_gamma")], name=f"{n}_scaled")
        if center:
            y = b.op1("Add", [y, b.const(w[int(scale)], f"{n}_beta")], name=f"{n}_shifted")
        return ctx.set_rank(b.op1("Identity", [y], name=n), rank)

    return {
        "GroupNormalization": group_norm,
        "ZeroPadding3D": pad3d, "Cropping3D": crop3d, "UpSampling3D": upsampling3d,
        "Attention": attention,
        "Conv3D": conv3d, "Convolution3D": conv3d,
        "MaxPooling3D": pool3d("MaxPool"), "MaxPool3D": pool3d("MaxPool"),
        "AveragePooling3D": pool3d("AveragePool"), "AvgPool3D": pool3d("AveragePool"),
        "UpSampling1D": upsampling1d, "Dot": dot,
        "PReLU": prelu, "ELU": elu,
        "Conv1D": conv1d, "Convolution1D": conv1d,
        "MaxPooling1D": pool1d("MaxPool"), "MaxPool1D": pool1d("MaxPool"),
        "AveragePooling1D": pool1d("AveragePool"), "AvgPool1D": pool1d("AveragePool"),
        "Conv2DTranspose": conv2d_transpose, "Convolution2DTranspose": conv2d_transpose,
        "GlobalAveragePooling1D": global_pool("ReduceMean", 1), "GlobalAvgPool1D": global_pool("ReduceMean", 1),
        "GlobalMaxPooling1D": global_pool("ReduceMax", 1), "GlobalMaxPool1D": global_pool("ReduceMax", 1),
        "GlobalAveragePooling3D": global_pool("ReduceMean", 3), "GlobalAvgPool3D": global_pool("ReduceMean", 3),
        "GlobalMaxPooling3D": global_pool("ReduceMax", 3), "GlobalMaxPool3D": global_pool("ReduceMax", 3),
        "LayerNormalization": layer_norm, "Normalization": normalization,
        "Embedding": embedding, "RepeatVector": repeat_vector,
        "ZeroPadding1D": zero_pad1d, "Cropping1D": crop1d,
    }
