"""Write tests/frontends/data/: tiny models saved by the REAL frameworks' serializers.

Run by a developer, never by the tests (the tests only read what this wrote). Each step runs
under the interpreter that has the framework; see tests/frontends/data/README.md for the exact
commands, versions and what produced every expected output::

    /tmp/vtf/bin/python   tools/make_frontend_fixtures.py tf         # TensorFlow frozen GraphDefs
    /tmp/vtf/bin/python   tools/make_frontend_fixtures.py tf-wide
    /tmp/vtf/bin/python   tools/make_frontend_fixtures.py tf-schema  # TF's own descriptors
    /tmp/vtf/bin/python   tools/make_frontend_fixtures.py tf-image   # resizes, CropAndResize, LRN, ...
    /tmp/vtf/bin/python   tools/make_frontend_fixtures.py tf-atrous  # dilated convs as SpaceToBatchND triples
    /tmp/vtf/bin/python   tools/make_frontend_fixtures.py tf-3d      # Conv3D, MaxPool3D, AvgPool3D
    /tmp/vtf/bin/python   tools/make_frontend_fixtures.py keras2     # tf.keras 2.15 .h5/.keras/json
    /tmp/vtf/bin/python   tools/make_frontend_fixtures.py keras2-layers  # more core layers, .h5
    KERAS_BACKEND=jax /tmp/vk3/bin/python tools/make_frontend_fixtures.py keras3
    /tmp/vproto/bin/python tools/make_frontend_fixtures.py caffe --proto bvlc/caffe.proto
    /tmp/vproto/bin/python tools/make_frontend_fixtures.py caffe-ssd --proto ssd/caffe.proto
    /tmp/vproto/bin/python tools/make_frontend_fixtures.py caffe-schema --proto ssd/caffe.proto --messages ...
    /tmp/cv4/bin/python   tools/make_frontend_fixtures.py caffe-oracle   # OpenCV dnn outputs (after caffe*)

Every step seeds its weights and inputs, so a rerun with the same versions rewrites the same
numbers (a .keras archive's metadata.json also records the save time). Outputs are stored as the
framework (or OpenCV) computed them: graphc is never run here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "tests" / "frontends" / "data"


def _save_npz(name: str, **arrays: np.ndarray) -> None:
    """Arrays by graph input/output name in DATA/name."""
    np.savez(DATA / name, **{k: np.asarray(v) for k, v in arrays.items()})


# ---------------------------------------------------------------- TensorFlow

def make_tf() -> None:
    """A frozen NHWC conv net: tf_conv_frozen.pb (binary), .pbtxt (text), tf_conv_frozen.npz."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    rng = np.random.default_rng(21)

    def var(*shape: int, scale: float = 0.5, shift: float = 0.0) -> tf.Variable:
        return tf.Variable((rng.standard_normal(shape) * scale + shift).astype(np.float32))

    w_conv, b_conv = var(3, 3, 3, 4), var(4)
    gamma, beta, mean = var(4, shift=1.0), var(4), var(4, scale=0.1)
    variance = tf.Variable(rng.uniform(0.5, 1.5, 4).astype(np.float32))
    w_dw = var(3, 3, 4, 2)
    w_fc, b_fc = var(3 * 3 * 8, 5, scale=0.2), var(5)
    w_emb = var(8, 6)

    @tf.function(input_signature=[tf.TensorSpec([None, 7, 7, 3], tf.float32, name="input")])
    def net(x):
        h = tf.nn.conv2d(x, w_conv, strides=1, padding="SAME")
        h = tf.nn.bias_add(h, b_conv)
        h, _, _ = tf.compat.v1.nn.fused_batch_norm(h, gamma, beta, mean, variance, epsilon=1e-3,
                                                   is_training=False)
        h = tf.nn.relu6(h)
        h = tf.nn.depthwise_conv2d(h, w_dw, strides=[1, 2, 2, 1], padding="SAME")  # [N,4,4,8]
        p = tf.nn.max_pool2d(h, ksize=2, strides=1, padding="VALID")  # [N,3,3,8]
        flat = tf.reshape(p, tf.stack([tf.shape(p)[0], -1]))  # Shape -> StridedSlice -> Pack
        logits = tf.identity(tf.matmul(flat, w_fc) + b_fc, name="logits")
        m = tf.reduce_mean(p, axis=[1, 2])
        emb = tf.identity(tf.nn.l2_normalize(tf.matmul(m, w_emb), axis=1), name="embedding")
        return logits, emb

    frozen = convert_variables_to_constants_v2(net.get_concrete_function())
    graph_def = frozen.graph.as_graph_def()
    tf.io.write_graph(graph_def, str(DATA), "tf_conv_frozen.pb", as_text=False)
    tf.io.write_graph(graph_def, str(DATA), "tf_conv_frozen.pbtxt", as_text=True)

    x = rng.standard_normal((2, 7, 7, 3)).astype(np.float32)
    logits, emb = (t.numpy() for t in net(tf.constant(x)))
    outputs = [n.name for n in graph_def.node if n.op == "Identity" and n.name.startswith("Identity")]
    ops = sorted({n.op for n in graph_def.node})
    print("tf ops:", ops, "outputs:", outputs)
    _save_npz("tf_conv_frozen.npz", input=x, Identity=logits, Identity_1=emb)


def make_tf_wide() -> None:
    """A frozen graph of the other TensorFlow ops graphc maps: tf_wide_frozen.pb and .npz."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    rng = np.random.default_rng(27)

    def var(*shape: int, scale: float = 0.5, shift: float = 0.0) -> tf.Variable:
        return tf.Variable((rng.standard_normal(shape) * scale + shift).astype(np.float32))

    w1, w2, w_fc = var(3, 3, 3, 4), var(3, 3, 3, 4), var(5, 8 * 4, scale=0.1)
    scale, offset, mean = var(4, shift=1.0), var(4), var(4, scale=0.2)
    variance = tf.Variable(rng.uniform(0.5, 1.5, 4).astype(np.float32))
    w3 = var(2, 3, 3, 4)

    @tf.function(input_signature=[tf.TensorSpec([None, 9, 9, 3], tf.float32, name="input")])
    def net(x):
        c1 = tf.nn.conv2d(x, w1, strides=2, padding="SAME")  # odd size: TF pads the extra pixel at the end
        c2 = tf.nn.conv2d(x, w2, strides=1, dilations=2, padding=[[0, 0], [2, 1], [1, 2], [0, 0]])  # 8x8
        c2 = tf.raw_ops.FusedBatchNorm(x=c2, scale=scale, offset=offset, mean=mean, variance=variance,
                                       epsilon=1e-3, is_training=False)[0]
        a = tf.nn.avg_pool2d(tf.nn.leaky_relu(c2, alpha=0.2), 3, 2, "SAME")  # [N,4,4,4], pads not counted
        z = (tf.math.erf(a) * 0.3 + tf.nn.softplus(a) - tf.nn.elu(a) / (1.0 + tf.abs(tf.nn.selu(a)))
             + tf.sqrt(tf.square(tf.tanh(a)) + 1.0) + tf.exp(-tf.abs(tf.sigmoid(a)))
             - tf.math.log(1.0 + tf.square(a)) + tf.floor(a * 2.0) * 0.1
             + tf.cast(tf.greater(a, 0.1), tf.float32) * tf.minimum(tf.maximum(a, -0.5), 0.5)
             + tf.pow(tf.abs(a) + 1.0, 1.5) * tf.math.rsqrt(tf.abs(a) + 1.0))
        cat = tf.transpose(tf.concat([z, a], axis=3), [0, 3, 1, 2])  # [N,8,4,4]
        red = (tf.reduce_max(cat, axis=2) - tf.reduce_min(cat, axis=2)
               + tf.math.squared_difference(tf.reduce_sum(cat, axis=2), tf.reduce_prod(cat * 0.5, axis=2)) * 0.01)
        flat = tf.reshape(tf.squeeze(tf.expand_dims(red, 1), [1]), [-1, 8 * 4])
        logits = tf.identity(tf.nn.softmax(tf.matmul(flat, w_fc, transpose_b=True)), name="probs")
        p = tf.pad(c1, [[0, 0], [1, 0], [0, 1], [0, 0]], constant_values=0.5)  # PadV2, [N,6,6,4]
        m = tf.identity(tf.nn.max_pool2d(p, 3, 2, "VALID") - tf.reduce_mean(p, axis=[1, 2], keepdims=True),
                        name="pooled")
        # SAME with dilations: pads d*(k-1) = (3, 4), the odd one at the end
        dilated = tf.identity(tf.nn.conv2d(x, w3, strides=1, dilations=[3, 2], padding="SAME"), name="dilated")
        return logits, m, dilated

    graph_def = convert_variables_to_constants_v2(net.get_concrete_function()).graph.as_graph_def()
    tf.io.write_graph(graph_def, str(DATA), "tf_wide_frozen.pb", as_text=False)
    x = rng.standard_normal((2, 9, 9, 3)).astype(np.float32)
    probs, pooled, dilated = (t.numpy() for t in net(tf.constant(x)))
    print("tf ops:", sorted({n.op for n in graph_def.node}))
    _save_npz("tf_wide_frozen.npz", input=x, Identity=probs, Identity_1=pooled, Identity_2=dilated)


def make_tf_image() -> None:
    """The image and NN ops OpenCV's TF importer runs: tf_image_ops.pb and .npz (one output per case)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    rng = np.random.default_rng(31)
    w_t = tf.Variable((rng.standard_normal((3, 3, 4, 3)) * 0.5).astype(np.float32))  # [kh, kw, out, in]
    # (y1, x1, y2, x2): inside, flipped, partly outside (extrapolated), a point, the whole image
    boxes = tf.constant([[0.1, 0.2, 0.7, 0.9], [0.8, 0.6, 0.2, 0.1], [-0.3, 0.5, 0.6, 1.4],
                         [0.5, 0.5, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0]], tf.float32)
    box_ind = tf.constant([0, 1, 1, 0, 1], tf.int32)
    raw = tf.raw_ops

    @tf.function(input_signature=[tf.TensorSpec([2, 7, 9, 3], tf.float32, name="input")])
    def net(x):
        outs = {}
        for name, kw in [("legacy", {}), ("align", {"align_corners": True}), ("half", {"half_pixel_centers": True})]:
            for size in ([5, 13], [11, 4]):  # one down-and-up, one up-and-down per axis
                tag = f"{name}_{size[0]}x{size[1]}"
                outs[f"bilinear_{tag}"] = raw.ResizeBilinear(images=x, size=size, **kw)
                outs[f"nearest_{tag}"] = raw.ResizeNearestNeighbor(images=x, size=size, **kw)
        computed = tf.shape(x)[1:3] * 2 - 1  # a size TF computes: Shape -> StridedSlice -> Mul -> Sub
        outs["bilinear_computed"] = raw.ResizeBilinear(images=x, size=computed, half_pixel_centers=True)
        outs["crop_bilinear"] = tf.image.crop_and_resize(x, boxes, box_ind, [4, 6], extrapolation_value=-2.5)
        outs["crop_nearest"] = tf.image.crop_and_resize(x, boxes, box_ind, [5, 3], method="nearest")
        outs["crop_single"] = tf.image.crop_and_resize(x, boxes, box_ind, [1, 1])
        outs["lrn"] = tf.nn.local_response_normalization(x, depth_radius=1, bias=0.7, alpha=0.3, beta=0.75)
        outs["mirror_pad"] = tf.pad(x, [[0, 0], [2, 1], [0, 3], [0, 0]], mode="REFLECT")
        outs["clip"] = raw.ClipByValue(t=x, clip_value_min=-0.4, clip_value_max=tf.abs(x[::-1]) * 0.5)
        outs["argmax"] = tf.math.argmax(x, axis=2, output_type=tf.int32)
        outs["argmin"] = tf.math.argmin(x, axis=3)
        h = tf.nn.relu(x)
        outs["deconv_same"] = tf.nn.conv2d_transpose(h, w_t, [2, 14, 17, 4], 2, "SAME")  # 17: odd, pads split
        outs["deconv_valid"] = tf.nn.conv2d_transpose(h, w_t, [2, 16, 20, 4], 2, "VALID")  # 20: output_padding 1
        stacked = tf.stack([tf.shape(h)[0], 13, 18, 4])  # a computed batch, as Keras writes output_shape
        outs["deconv_stacked"] = tf.nn.conv2d_transpose(h, w_t, stacked, 2, "SAME")
        pixels = tf.cast(tf.clip_by_value(x * 60.0 + 120.0, 0.0, 255.0), tf.uint8)  # resizes of a uint8 image
        outs["bilinear_uint8"] = raw.ResizeBilinear(images=pixels, size=[5, 12], half_pixel_centers=True)  # float32
        outs["nearest_uint8"] = raw.ResizeNearestNeighbor(images=pixels, size=[13, 4])  # uint8
        outs["mirror_symmetric"] = tf.pad(x, [[0, 0], [3, 1], [0, 2], [1, 0]], mode="SYMMETRIC")
        w_fused = tf.constant(np.linspace(-1, 1, 3 * 2 * 3 * 4).reshape(3, 2, 3, 4).astype(np.float32))
        outs["fused_resize_pad_conv"] = raw.FusedResizeAndPadConv2D(
            input=x, size=[9, 11], paddings=[[0, 0], [1, 2], [2, 1], [0, 0]], filter=w_fused, mode="SYMMETRIC",
            strides=[1, 2, 1, 1], padding="VALID", resize_align_corners=True)
        outs["fused_pad_conv"] = raw.FusedPadConv2D(input=x, paddings=[[0, 0], [2, 1], [1, 1], [0, 0]],
                                                    filter=w_fused, mode="REFLECT", strides=[1, 1, 2, 1],
                                                    padding="SAME")
        return {k: tf.identity(v, name=f"out_{k}") for k, v in outs.items()}

    frozen = convert_variables_to_constants_v2(net.get_concrete_function())
    graph_def = frozen.graph.as_graph_def()
    tf.io.write_graph(graph_def, str(DATA), "tf_image_ops.pb", as_text=False)
    x = rng.standard_normal((2, 7, 9, 3)).astype(np.float32)
    results = {k: v.numpy() for k, v in net(tf.constant(x)).items()}
    print("tf ops:", sorted({n.op for n in graph_def.node}))
    _save_npz("tf_image_ops.npz", input=x, **{f"out_{k}": v for k, v in results.items()})


def make_tf_atrous() -> None:
    """Dilated convolutions as TF writes them (SpaceToBatchND -> conv -> BatchToSpaceND), the two ops
    alone, and TF1's Concat: tf_atrous.pb and .npz (one output per case)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    rng = np.random.default_rng(37)
    w = tf.Variable((rng.standard_normal((3, 3, 3, 4)) * 0.5).astype(np.float32))
    w_dw = tf.Variable((rng.standard_normal((3, 2, 3, 2)) * 0.5).astype(np.float32))
    w_pw = tf.Variable((rng.standard_normal((1, 1, 6, 5)) * 0.5).astype(np.float32))
    raw = tf.raw_ops

    @tf.function(input_signature=[tf.TensorSpec([None, 11, 13, 3], tf.float32, name="input")])
    def net(x):
        outs = {
            "atrous_same": tf.nn.atrous_conv2d(x, w, rate=2, padding="SAME"),
            "atrous_valid": tf.nn.atrous_conv2d(x, w, rate=3, padding="VALID"),
            "depthwise_dilated": tf.nn.depthwise_conv2d(x, w_dw, [1, 1, 1, 1], "SAME", dilations=[2, 3]),
            "separable_dilated": tf.nn.separable_conv2d(x, w_dw, w_pw, [1, 1, 1, 1], "SAME", dilations=[3, 2]),
        }
        s2b = raw.SpaceToBatchND(input=x, block_shape=[2, 3], paddings=[[1, 0], [2, 0]])  # [6N, 6, 5, 3]
        outs["space_to_batch"] = s2b
        outs["batch_to_space"] = raw.BatchToSpaceND(input=tf.nn.relu(s2b) - 0.5, block_shape=[2, 3],
                                                    crops=[[1, 1], [0, 2]])  # [N, 10, 13, 3]
        outs["concat_v1"] = raw.Concat(concat_dim=3, values=[x, x * 2.0])
        return {k: tf.identity(v, name=f"out_{k}") for k, v in outs.items()}

    graph_def = convert_variables_to_constants_v2(net.get_concrete_function()).graph.as_graph_def()
    tf.io.write_graph(graph_def, str(DATA), "tf_atrous.pb", as_text=False)
    x = rng.standard_normal((2, 11, 13, 3)).astype(np.float32)
    results = {k: v.numpy() for k, v in net(tf.constant(x)).items()}
    print("tf ops:", sorted({n.op for n in graph_def.node}))
    _save_npz("tf_atrous.npz", input=x, **{f"out_{k}": v for k, v in results.items()})


def make_tf_3d() -> None:
    """Conv3D (SAME strided, dilated SAME, VALID), MaxPool3D, AvgPool3D SAME: tf_conv3d.pb and .npz."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    rng = np.random.default_rng(43)
    w1 = tf.Variable((rng.standard_normal((3, 2, 3, 2, 4)) * 0.5).astype(np.float32))
    w2 = tf.Variable((rng.standard_normal((2, 3, 2, 2, 3)) * 0.5).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 5, 6, 7, 2], tf.float32, name="input")])
    def net(x):
        outs = {"conv_same_s2": tf.nn.conv3d(x, w1, [1, 2, 1, 2, 1], "SAME"),
                "conv_dilated": tf.nn.conv3d(x, w2, [1, 1, 1, 1, 1], "SAME", dilations=[1, 2, 1, 2, 1]),
                "conv_valid": tf.nn.conv3d(x, w2, [1, 1, 2, 1, 1], "VALID"),
                "maxpool": tf.nn.max_pool3d(x, [2, 3, 2], [2, 2, 1], "VALID"),
                "avgpool": tf.nn.avg_pool3d(x, [2, 3, 3], [2, 2, 2], "SAME")}
        return {k: tf.identity(v, name=f"out_{k}") for k, v in outs.items()}

    graph_def = convert_variables_to_constants_v2(net.get_concrete_function()).graph.as_graph_def()
    tf.io.write_graph(graph_def, str(DATA), "tf_conv3d.pb", as_text=False)
    x = rng.standard_normal((2, 5, 6, 7, 2)).astype(np.float32)
    results = {k: v.numpy() for k, v in net(tf.constant(x)).items()}
    print("tf ops:", sorted({n.op for n in graph_def.node}))
    _save_npz("tf_conv3d.npz", input=x, **{f"out_{k}": v for k, v in results.items()})


def make_tf_schema() -> None:
    """TensorFlow's own descriptors of the GraphDef messages graphc declares: tf_descriptors.json."""
    from tensorflow.core.framework import graph_pb2

    _dump_descriptors(graph_pb2.GraphDef.DESCRIPTOR.file.pool, "tensorflow.", [
        "GraphDef", "NodeDef", "AttrValue", "AttrValue.ListValue", "NameAttrList", "TensorProto",
        "TensorShapeProto", "TensorShapeProto.Dim", "VersionDef"], ["DataType"], "tf_descriptors.json")


# ---------------------------------------------------------------- Keras

def _keras_model(keras, seed: int):
    """Conv2D, BatchNormalization, SeparableConv2D, DepthwiseConv2D, pooling, Dense; seeded weights
    (BatchNormalization's moving statistics too, so inference differs from an identity)."""
    L = keras.layers
    x = L.Input((8, 8, 3), name="image")
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
    h = L.BatchNormalization(name="bn")(h)
    h = L.SeparableConv2D(6, 3, padding="same", depth_multiplier=2, activation="relu", name="sep")(h)
    h = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=1, name="dw")(h)
    h = L.MaxPooling2D(2, name="maxpool")(h)
    h = L.AveragePooling2D(2, strides=1, padding="same", name="avgpool")(h)
    features = L.GlobalAveragePooling2D(name="gap")(h)
    y = L.Dense(5, activation="softmax", name="fc")(features)
    model = keras.Model(x, [features, y], name="tiny")
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.weights:
        shape = tuple(w.shape)
        if "moving_variance" in w.name:
            weights.append(rng.uniform(0.5, 1.5, shape).astype(np.float32))
        else:
            weights.append((rng.standard_normal(shape) * 0.5).astype(np.float32))
    model.set_weights(weights)
    return model, rng.standard_normal((2, 8, 8, 3)).astype(np.float32)


def _keras_wide_model(keras, seed: int):
    """The other layers graphc maps: padding/cropping/upsampling, merges, activations, Permute, Reshape."""
    L = keras.layers
    x = L.Input((9, 9, 3), name="image")
    h = L.ZeroPadding2D(((1, 2), (2, 1)), name="pad")(x)  # 12x12
    h = L.Conv2D(6, 3, strides=2, use_bias=False, activation="relu6", name="conv_s2")(h)  # 5x5
    h = L.LeakyReLU(0.2, name="leaky")(h)
    h = L.Cropping2D(((1, 0), (0, 1)), name="crop")(h)  # 4x4
    h = L.UpSampling2D(2, name="up")(h)  # 8x8
    a = L.Conv2D(4, 1, activation="swish", name="conv_swish")(h)
    # SAME with a dilation: pads d*(k-1), an odd total's extra pixel at the end
    b = L.Conv2D(4, (2, 3), padding="same", dilation_rate=(3, 2), activation="elu", name="conv_dil")(h)
    c = L.Conv2D(4, 3, padding="same", activation="softplus", name="conv_softplus")(h)
    s = L.DepthwiseConv2D(3, padding="same", dilation_rate=2, name="dw_dil")(h)
    s = L.SeparableConv2D(4, 3, padding="same", dilation_rate=(2, 1), name="sep_dil")(s)
    merged = L.Concatenate(name="cat")([L.Add(name="add")([a, b]), L.Multiply(name="mul")([a, c]),
                                        L.Subtract(name="sub")([b, c]), L.Maximum(name="max")([a, b]),
                                        L.Average(name="avg")([a, b, c, s])])  # 8x8x20
    m = L.Rescaling(0.5, offset=0.1, name="rescale")(merged)
    m = L.ReLU(negative_slope=0.1, name="relu_leaky")(L.ReLU(max_value=3.0, name="relu_clip")(m))
    m = L.MaxPooling2D(2, name="pool")(m)  # 4x4x20
    g = L.GlobalMaxPooling2D(name="gmp")(m)
    p = L.Permute((3, 1, 2), name="permute")(m)  # 20x4x4
    p = L.Reshape((20, 16), name="reshape")(p)
    p = L.Flatten(name="flat")(L.Dropout(0.4, name="drop")(p))
    d = L.Dense(8, activation="tanh", name="fc_tanh")(p)
    d = L.Dense(6, activation="selu", name="fc_selu")(L.Concatenate(name="cat2")([d, g]))
    y = L.Softmax(name="probs")(L.Activation("sigmoid", name="act")(d))
    model = keras.Model(x, [g, y], name="wide")
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.standard_normal(tuple(w.shape)) * 0.4).astype(np.float32) for w in model.weights])
    return model, rng.standard_normal((2, 9, 9, 3)).astype(np.float32)


def make_keras2() -> None:
    """tf.keras 2.15: keras2_full.h5 (model.save), keras2_tf215.keras, keras2_weights.h5 + .json, and
    keras2_wide.h5 (the other layers)."""
    import tensorflow as tf
    keras = tf.keras
    model, x = _keras_model(keras, seed=22)
    model.save(DATA / "keras2_full.h5")
    model.save(DATA / "keras2_tf215.keras")
    model.save_weights(DATA / "keras2_weights.h5")
    (DATA / "keras2_weights.json").write_text(model.to_json())
    gap, fc = model.predict(x, verbose=0)
    _save_npz("keras2.npz", image=x, gap=gap, fc=fc)
    wide, x = _keras_wide_model(keras, seed=28)
    wide.save(DATA / "keras2_wide.h5")
    gmp, probs = wide.predict(x, verbose=0)
    _save_npz("keras2_wide.npz", image=x, gmp=gmp, probs=probs)
    print("tensorflow", tf.__version__, "tf.keras", importlib.metadata.version("keras"))


def make_keras2_layers() -> None:
    """tf.keras 2.15 core layers beyond the CNN basics: keras2_layers.h5 (model.save) and .npz, outputs by
    layer name. PReLU, ELU, ReLU with threshold / slope + max_value, Conv2DTranspose (SAME, VALID with
    stride > kernel, dilated), LayerNormalization, Normalization (adapted), Conv1D (causal dilated, strided
    SAME), 1-D pools, ZeroPadding1D, Cropping1D, global 1-D/3-D pools, RepeatVector, Embedding, Conv3D,
    3-D pools, UpSampling1D, Dot (batch matrix product; 2-D normalized), Attention (scaled, with keys)."""
    import tensorflow as tf
    keras = tf.keras
    L = keras.layers
    rng = np.random.default_rng(41)
    image = L.Input((6, 7, 3), name="image")
    seq = L.Input((10, 4), name="seq")
    ids = L.Input((5,), dtype="int32", name="ids")
    volume = L.Input((4, 3, 5, 2), name="volume")
    norm = L.Normalization(name="norm")
    norm.adapt(rng.standard_normal((64, 6, 7, 3)).astype(np.float32) * 2.0 + 0.5)
    h = norm(image)
    r1 = L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.3, name="relu_threshold")(h)
    r2 = L.ReLU(max_value=2.0, negative_slope=0.2, name="relu_slope_max")(h)
    r3 = L.ELU(alpha=0.7, name="elu")(L.PReLU(shared_axes=[1, 2], name="prelu")(h))
    cat = L.Concatenate(name="cat")([r1, r2, r3])
    up_same = L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu", name="deconv_same")(cat)
    up_valid = L.Conv2DTranspose(2, 2, strides=3, padding="valid", name="deconv_valid")(cat)
    dil = L.Conv2DTranspose(3, 3, padding="same", dilation_rate=2, use_bias=False, name="deconv_dilated")(cat)
    dil = L.Conv2DTranspose(3, (3, 4), strides=2, padding="same", output_padding=(0, 1), name="deconv_outpad")(dil)
    dil = L.Conv2DTranspose(3, 3, strides=(2, 3), output_padding=1, name="deconv_outpad_valid")(dil)
    dil = L.GroupNormalization(groups=3, epsilon=1e-4, name="group_norm")(L.Conv2D(6, 1, name="conv_6")(dil))
    ln = L.LayerNormalization(epsilon=1e-4, name="layer_norm")(dil)
    c = L.Conv1D(5, 3, padding="causal", dilation_rate=2, activation="tanh", name="conv1d_causal")(seq)
    c = L.Conv1D(6, 2, strides=2, padding="same", name="conv1d_s2")(L.ZeroPadding1D((1, 2), name="pad1d")(c))  # 7
    c = L.MaxPooling1D(2, name="maxpool1d")(L.Cropping1D((0, 1), name="crop1d")(c))  # 3
    a = L.AveragePooling1D(3, strides=2, padding="same", name="avgpool1d")(L.Conv1D(4, 1, name="conv1d_1x1")(seq))
    g1 = L.Concatenate(name="cat1d")([L.GlobalAveragePooling1D(name="gap1d")(c),
                                      L.GlobalMaxPooling1D(name="gmp1d")(a)])  # [N, 10]
    rep = L.RepeatVector(3, name="repeat")(L.Dense(4, name="fc")(g1))
    emb = L.Embedding(20, 3, name="embedding")(ids)
    g3 = L.Concatenate(name="cat3d")([L.GlobalAveragePooling3D(name="gap3d")(volume),
                                      L.GlobalMaxPooling3D(name="gmp3d")(volume)])
    v = L.Conv3D(3, (2, 3, 2), padding="same", activation="relu", name="conv3d")(volume)  # 4x3x5
    v = L.MaxPooling3D((2, 1, 2), padding="same", name="maxpool3d")(v)  # 2x3x3
    v = L.UpSampling3D((1, 2, 1), name="up3d")(L.ZeroPadding3D(((1, 0), 1, (0, 2)), name="pad3d")(v))  # 3x10x5
    v = L.Cropping3D((1, (2, 3), (0, 1)), name="crop3d")(v)  # 1x5x4
    v = L.Activation("gelu", name="gelu")(v)
    v = L.AveragePooling3D((1, 2, 2), strides=1, name="avgpool3d")(v)  # 1x4x3
    up = L.UpSampling1D(2, name="up1d")(seq)  # [N, 20, 4]
    dot3 = L.Dot(axes=2, name="dot3")([up, L.Conv1D(4, 1, name="conv1d_keys")(c)])  # [N, 20, 3]
    dot2 = L.Dot(axes=1, normalize=True, name="dot2")([g1, L.Dense(10, name="fc2")(g1)])  # [N, 1]
    keys = L.Conv1D(4, 1, name="conv1d_att_keys")(seq)
    c = L.Activation("mish", name="mish")(L.Activation("exponential", name="exp")(L.Activation("tanh", name="t")(c)))
    att = L.Attention(use_scale=True, name="attention")([L.Conv1D(4, 1, name="conv1d_query")(c), seq, keys])
    model = keras.Model([image, seq, ids, volume], [up_same, up_valid, ln, rep, emb, g3, v, dot3, dot2, att],
                        name="layers")
    for layer in model.layers:
        if layer.name == "norm":
            continue
        layer.set_weights([(rng.standard_normal(w.shape) * 0.5).astype(np.float32) for w in layer.get_weights()])
    model.save(DATA / "keras2_layers.h5")
    feeds = {"image": rng.standard_normal((2, 6, 7, 3)).astype(np.float32),
             "seq": rng.standard_normal((2, 10, 4)).astype(np.float32),
             "ids": rng.integers(0, 20, (2, 5)).astype(np.int32),
             "volume": rng.standard_normal((2, 4, 3, 5, 2)).astype(np.float32)}
    outs = model.predict([feeds[k] for k in ("image", "seq", "ids", "volume")], verbose=0)
    names = ["deconv_same", "deconv_valid", "layer_norm", "repeat", "embedding", "cat3d", "avgpool3d", "dot3", "dot2",
             "attention"]
    _save_npz("keras2_layers.npz", **feeds, **dict(zip(names, outs)))
    print("tensorflow", tf.__version__, {n: o.shape for n, o in zip(names, outs)})


def make_keras3() -> None:
    """Keras 3: keras3.keras (model.save), keras3.weights.h5 + keras3.json, keras3.npz; keras3_wide.keras."""
    import keras
    model, x = _keras_model(keras, seed=23)
    model.save(DATA / "keras3.keras")
    model.save_weights(DATA / "keras3.weights.h5")
    (DATA / "keras3.json").write_text(model.to_json())
    gap, fc = model.predict(x, verbose=0)
    _save_npz("keras3.npz", image=x, gap=np.asarray(gap), fc=np.asarray(fc))
    wide, x = _keras_wide_model(keras, seed=29)
    wide.save(DATA / "keras3_wide.keras")
    gmp, probs = wide.predict(x, verbose=0)
    _save_npz("keras3_wide.npz", image=x, gmp=np.asarray(gmp), probs=np.asarray(probs))
    print("keras", keras.__version__, "backend", keras.backend.backend())


# ---------------------------------------------------------------- Caffe

CAFFE_NETS = ("caffe_tiny", "caffe_wide", "caffe_ssd")


def _compile_proto(proto: Path):
    """``caffe_pb2`` compiled from ``proto`` with grpcio-tools' protoc into a temporary folder."""
    from grpc_tools import protoc

    out = Path(tempfile.mkdtemp(prefix="caffe_pb2_"))
    (out / "caffe.proto").write_bytes(proto.read_bytes())
    rc = protoc.main(["protoc", f"-I{out}", f"--python_out={out}", str(out / "caffe.proto")])
    if rc != 0:
        raise SystemExit(f"protoc failed on {proto} ({rc})")
    sys.path.insert(0, str(out))
    return importlib.import_module("caffe_pb2")


class _NetWriter:
    """A NetParameter built layer by layer with seeded blobs, written as .caffemodel + .prototxt."""

    def __init__(self, pb, name: str, seed: int) -> None:
        self.pb, self.rng = pb, np.random.default_rng(seed)
        self.net = pb.NetParameter(name=name)

    def layer(self, name: str, type_: str, bottom: list[str], top: list[str], blobs=(), **params):
        lp = self.net.layer.add(name=name, type=type_, bottom=bottom, top=top)
        for key, value in params.items():
            getattr(lp, key).CopyFrom(value)
        for arr in blobs:
            blob = lp.blobs.add()
            blob.shape.dim.extend(arr.shape)
            blob.data.extend(np.asarray(arr, np.float32).reshape(-1).tolist())
        return lp

    def randn(self, *shape: int, scale: float = 0.5) -> np.ndarray:
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def save(self, **inputs: tuple[int, ...]) -> None:
        """The binary net with blobs, the text net without, and seeded inputs in <name>.npz."""
        from google.protobuf import text_format

        name = self.net.name
        (DATA / f"{name}.caffemodel").write_bytes(self.net.SerializeToString())
        deploy = self.pb.NetParameter()
        deploy.CopyFrom(self.net)
        for lp in deploy.layer:
            del lp.blobs[:]
        (DATA / f"{name}.prototxt").write_text(text_format.MessageToString(deploy))
        _save_npz(f"{name}.npz", **{k: self.rng.standard_normal(s).astype(np.float32) for k, s in inputs.items()})


def make_caffe(proto: Path) -> None:
    """caffe_tiny and caffe_wide (.caffemodel: binary NetParameter; .prototxt: text_format) from upstream
    caffe.proto, their inputs in <net>.npz (outputs: the caffe-oracle step), caffe_descriptors.json."""
    pb = _compile_proto(proto)
    _caffe_tiny(_NetWriter(pb, "caffe_tiny", 24))
    _caffe_wide(_NetWriter(pb, "caffe_wide", 25))
    _dump_file_descriptors(pb.DESCRIPTOR, "caffe_descriptors.json")


def _caffe_tiny(w: _NetWriter) -> None:
    pb, randn = w.pb, w.randn
    w.layer("data", "Input", [], ["data"], input_param=pb.InputParameter(shape=[pb.BlobShape(dim=[1, 3, 8, 8])]))
    w.layer("conv1", "Convolution", ["data"], ["conv1"], [randn(4, 3, 3, 3), randn(4)],
            convolution_param=pb.ConvolutionParameter(num_output=4, kernel_size=[3], pad=[1]))
    # Caffe's BatchNorm stores sums scaled by blobs[2] (the moving-average factor): mean = blobs[0] / blobs[2]
    w.layer("bn1", "BatchNorm", ["conv1"], ["conv1"],
            [randn(4) * 2.5, w.rng.uniform(0.5, 1.5, 4).astype(np.float32) * 2.5, np.array([2.5], np.float32)],
            batch_norm_param=pb.BatchNormParameter(use_global_stats=True, eps=1e-4))
    w.layer("scale1", "Scale", ["conv1"], ["conv1"], [randn(4) + 1.0, randn(4)],
            scale_param=pb.ScaleParameter(bias_term=True))
    w.layer("relu1", "ReLU", ["conv1"], ["conv1"], relu_param=pb.ReLUParameter(negative_slope=0.1))
    w.layer("split1", "Split", ["conv1"], ["split1_a", "split1_b"])
    w.layer("pool1", "Pooling", ["split1_a"], ["pool1"],
            pooling_param=pb.PoolingParameter(pool=pb.PoolingParameter.MAX, kernel_size=3, stride=2))
    w.layer("fc", "InnerProduct", ["pool1"], ["fc"], [randn(5, 4 * 4 * 4, scale=0.05), randn(5)],
            inner_product_param=pb.InnerProductParameter(num_output=5))
    w.layer("prob", "Softmax", ["fc"], ["prob"])
    w.layer("pool2", "Pooling", ["split1_b"], ["pool2"],
            pooling_param=pb.PoolingParameter(pool=pb.PoolingParameter.AVE, global_pooling=True))
    w.save(data=(1, 3, 8, 8))


def _caffe_wide(w: _NetWriter) -> None:
    """The rest of BVLC's inference layers graphc maps, with the fields that change their meaning set."""
    pb, randn = w.pb, w.randn
    w.layer("data", "Input", [], ["data"], input_param=pb.InputParameter(shape=[pb.BlobShape(dim=[1, 4, 9, 9])]))
    w.layer("conv_g", "Convolution", ["data"], ["conv_g"], [randn(6, 2, 3, 2), randn(6)],  # -> 1x6x5x8
            convolution_param=pb.ConvolutionParameter(num_output=6, group=2, kernel_h=3, kernel_w=2, stride_h=2,
                                                      stride_w=1, pad_h=1, pad_w=0))
    w.layer("prelu", "PReLU", ["conv_g"], ["conv_g"], [randn(6)])
    # k left at 1: OpenCV 4.14 reads Caffe's k as "bias" and ignores it (Caffe: k + alpha/n * sum);
    # graphc's k is checked against a hand reference in test_caffe.py
    w.layer("lrn", "LRN", ["conv_g"], ["lrn"], lrn_param=pb.LRNParameter(local_size=3, alpha=0.5, beta=0.75))
    # AVE pooling with padding: Caffe divides by the window clipped to the padded input (pads counted)
    w.layer("pool_ave", "Pooling", ["lrn"], ["pool_ave"],  # -> 1x6x3x5 (ceil rounding)
            pooling_param=pb.PoolingParameter(pool=pb.PoolingParameter.AVE, kernel_size=3, stride=2, pad=1))
    w.layer("conv_d", "Convolution", ["pool_ave"], ["conv_d"], [randn(5, 6, 3, 3)],  # dilated, no bias
            convolution_param=pb.ConvolutionParameter(num_output=5, kernel_size=[3], dilation=[2], pad=[2],
                                                      bias_term=False))
    w.layer("deconv", "Deconvolution", ["conv_d"], ["deconv"], [randn(5, 4, 3, 3), randn(4)],  # -> 1x4x5x9
            convolution_param=pb.ConvolutionParameter(num_output=4, kernel_size=[3], stride=[2], pad=[1]))
    w.layer("slice", "Slice", ["deconv"], ["s0", "s1", "s2"],
            slice_param=pb.SliceParameter(axis=1, slice_point=[1, 3]))
    w.layer("sum", "Eltwise", ["s0", "s2"], ["sum"],
            eltwise_param=pb.EltwiseParameter(operation=pb.EltwiseParameter.SUM, coeff=[0.5, -2.0]))
    w.layer("prod", "Eltwise", ["s0", "s2"], ["prod"],
            eltwise_param=pb.EltwiseParameter(operation=pb.EltwiseParameter.PROD))
    w.layer("max", "Eltwise", ["sum", "prod"], ["max"],
            eltwise_param=pb.EltwiseParameter(operation=pb.EltwiseParameter.MAX))
    w.layer("concat", "Concat", ["max", "s1", "prod"], ["concat"], concat_param=pb.ConcatParameter(axis=1))
    w.layer("crop", "Crop", ["concat", "pool_ave"], ["crop"],  # -> 1x4x3x5 at (1, 2)
            crop_param=pb.CropParameter(axis=2, offset=[1, 2]))
    w.layer("power", "Power", ["crop"], ["power"], power_param=pb.PowerParameter(power=2.0, scale=0.5, shift=1.0))
    w.layer("tanh", "TanH", ["power"], ["tanh"])
    w.layer("drop", "Dropout", ["tanh"], ["tanh"], dropout_param=pb.DropoutParameter(dropout_ratio=0.3))
    w.layer("flatten", "Flatten", ["tanh"], ["flatten"])
    w.layer("ip", "InnerProduct", ["flatten"], ["ip"], [randn(14, 60, scale=0.2), randn(14)],
            inner_product_param=pb.InnerProductParameter(num_output=14))
    w.layer("reshape", "Reshape", ["ip"], ["reshape"],
            reshape_param=pb.ReshapeParameter(shape=pb.BlobShape(dim=[0, 2, -1])))
    w.layer("sig", "Sigmoid", ["reshape"], ["sig"])
    w.layer("softmax", "Softmax", ["reshape"], ["softmax"], softmax_param=pb.SoftmaxParameter(axis=2))
    w.save(data=(1, 4, 9, 9))


def make_caffe_ssd(proto: Path) -> None:
    """caffe_ssd (.caffemodel, .prototxt, inputs .npz) from the SSD fork's caffe.proto (weiliu89/caffe,
    branch ssd): Normalize, Permute, PriorBox and DetectionOutput at the fork's field numbers."""
    pb = _compile_proto(proto)
    w = _NetWriter(pb, "caffe_ssd", 26)
    randn, priors, classes = w.randn, 4, 3  # per cell: min, sqrt(min*max), ratio 2 and 1/2
    w.layer("data", "Input", [], ["data"], input_param=pb.InputParameter(shape=[pb.BlobShape(dim=[1, 3, 16, 16])]))
    w.layer("conv", "Convolution", ["data"], ["conv"], [randn(4, 3, 3, 3), randn(4)],  # -> 1x4x8x8
            convolution_param=pb.ConvolutionParameter(num_output=4, kernel_size=[3], pad=[1], stride=[2]))
    w.layer("relu", "ReLU", ["conv"], ["conv"])
    w.layer("norm", "Normalize", ["conv"], ["norm"], [w.rng.uniform(1, 3, 4).astype(np.float32)],
            norm_param=pb.NormalizeParameter(across_spatial=False, channel_shared=False, eps=1e-10))
    for head, channels in (("loc", priors * 4), ("conf", priors * classes)):
        w.layer(head, "Convolution", ["norm"], [head], [randn(channels, 4, 3, 3, scale=0.2), randn(channels)],
                convolution_param=pb.ConvolutionParameter(num_output=channels, kernel_size=[3], pad=[1]))
        w.layer(f"{head}_perm", "Permute", [head], [f"{head}_perm"], permute_param=pb.PermuteParameter(order=[0, 2, 3, 1]))
        w.layer(f"{head}_flat", "Flatten", [f"{head}_perm"], [f"{head}_flat"])
    w.layer("conf_reshape", "Reshape", ["conf_flat"], ["conf_reshape"],
            reshape_param=pb.ReshapeParameter(shape=pb.BlobShape(dim=[0, -1, classes])))
    w.layer("conf_softmax", "Softmax", ["conf_reshape"], ["conf_softmax"], softmax_param=pb.SoftmaxParameter(axis=2))
    w.layer("conf_out", "Flatten", ["conf_softmax"], ["conf_out"])
    w.layer("priorbox", "PriorBox", ["norm", "data"], ["priorbox"],
            prior_box_param=pb.PriorBoxParameter(min_size=[4.0], max_size=[9.0], aspect_ratio=[2.0], flip=True,
                                                 clip=True, variance=[0.1, 0.1, 0.2, 0.2], step=2.0, offset=0.5))
    w.layer("detection_out", "DetectionOutput", ["loc_flat", "conf_out", "priorbox"], ["detection_out"],
            detection_output_param=pb.DetectionOutputParameter(
                num_classes=classes, share_location=True, background_label_id=0,
                nms_param=pb.NonMaximumSuppressionParameter(nms_threshold=0.45, top_k=50),
                code_type=pb.PriorBoxParameter.CENTER_SIZE, keep_top_k=12, confidence_threshold=0.3))
    w.save(data=(1, 3, 16, 16))


def make_caffe_schema(proto: Path, out: str, only: list[str] | None) -> None:
    """The descriptors of a fork's caffe.proto (weiliu89's SSD branch) as JSON, nothing else;
    ``only``: these top-level messages (and what they nest)."""
    _dump_file_descriptors(_compile_proto(proto).DESCRIPTOR, out, only)


def make_caffe_oracle() -> None:
    """OpenCV dnn (which reads real Caffe files) runs each Caffe net on its stored inputs; every output
    (a blob no layer reads) goes into the net's .npz beside the inputs."""
    import cv2

    for name in CAFFE_NETS:
        net = cv2.dnn.readNetFromCaffe(str(DATA / f"{name}.prototxt"), str(DATA / f"{name}.caffemodel"))
        inputs = dict(np.load(DATA / f"{name}.npz"))
        for key, value in inputs.items():
            if key == "data":
                net.setInput(value, key)
        outs = list(net.getUnconnectedOutLayersNames())
        _save_npz(f"{name}.npz", data=inputs["data"], **dict(zip(outs, net.forward(outs))))
        print(name, "outputs", outs)
    print("opencv", cv2.__version__)


# ---------------------------------------------------------------- descriptors

def _dump_file_descriptors(file_desc, name: str, only: list[str] | None = None) -> None:
    """Every message (nested ones as ``Outer.Inner``) and enum of a .proto file, as JSON."""
    package = file_desc.package + "."
    messages, enums = [], []

    def walk(desc) -> None:
        messages.append(desc.full_name[len(package):])
        enums.extend(e.full_name[len(package):] for e in desc.enum_types)
        for nested in desc.nested_types:
            if not nested.GetOptions().map_entry:
                walk(nested)

    for desc in file_desc.message_types_by_name.values():
        if only is None or desc.name in only:
            walk(desc)
    if only is None:
        enums.extend(file_desc.enum_types_by_name)
    _dump_descriptors(file_desc.pool, package, messages, enums, name)



def _dump_descriptors(pool, package: str, messages: list[str], enums: list[str], name: str) -> None:
    """Each message's fields as ``name: [number, type, repeated, default, message/enum type]`` (JSON)."""
    out: dict[str, dict] = {"messages": {}, "enums": {}}
    for msg in messages:
        desc = pool.FindMessageTypeByName(package + msg)
        out["messages"][msg] = {f.name: [f.number, f.type, _repeated(f), _default_text(f), _type_name(f, package)]
                                for f in desc.fields}
    for enum in enums:
        desc = pool.FindEnumTypeByName(package + enum)
        out["enums"][enum] = {v.name: v.number for v in desc.values}
    blocks = []
    for kind in ("messages", "enums"):  # one message a line: reviewable diffs
        body = ",\n".join(f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(out[kind].items()))
        blocks.append(f"{json.dumps(kind)}: {{\n{body}\n}}")
    (DATA / name).write_text("{\n" + ",\n".join(blocks) + "\n}\n")

def _repeated(f) -> bool:
    return f.is_repeated if hasattr(f, "is_repeated") else f.label == f.LABEL_REPEATED  # protobuf >= 6 / older


def _type_name(f, package: str) -> str | None:
    desc = f.message_type or f.enum_type
    return None if desc is None else desc.full_name[len(package):]


def _default_text(f) -> str | None:
    if not f.has_default_value:
        return None
    v = f.default_value
    if f.enum_type is not None:
        return f.enum_type.values_by_number[v].name
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(float(np.float32(v))) if f.type == f.TYPE_FLOAT else repr(v)
    return str(v)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["tf", "tf-wide", "tf-image", "tf-atrous", "tf-3d", "tf-schema", "keras2",
                                     "keras2-layers", "keras3", "caffe", "caffe-ssd", "caffe-schema",
                                     "caffe-oracle"])
    ap.add_argument("--proto", type=Path, help="upstream caffe.proto (the caffe, caffe-ssd and caffe-schema steps)")
    ap.add_argument("--out", default="caffe_ssd_descriptors.json", help="JSON file name (caffe-schema)")
    ap.add_argument("--messages", help="comma-separated top-level messages to keep (caffe-schema)")
    args = ap.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    if args.step in ("caffe", "caffe-ssd", "caffe-schema") and args.proto is None:
        ap.error(f"{args.step} needs --proto caffe.proto")
    steps = {"tf": make_tf, "tf-wide": make_tf_wide, "tf-image": make_tf_image, "tf-atrous": make_tf_atrous,
             "tf-3d": make_tf_3d, "tf-schema": make_tf_schema, "keras2": make_keras2,
             "keras2-layers": make_keras2_layers, "keras3": make_keras3,
             "caffe": lambda: make_caffe(args.proto), "caffe-ssd": lambda: make_caffe_ssd(args.proto),
             "caffe-schema": lambda: make_caffe_schema(
                 args.proto, args.out, args.messages.split(",") if args.messages else None),
             "caffe-oracle": make_caffe_oracle}
    steps[args.step]()

if __name__ == "__main__":
    main()
