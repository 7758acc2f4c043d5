"""More of keras.layers a trained CNN uses, mapped to ONNX and held to numpy: SeparableConv2D,
UpSampling2D (nearest / bilinear), the merge layers, GlobalMaxPooling2D, LeakyReLU, Rescaling,
Cropping2D, Permute."""

from __future__ import annotations

import numpy as np
import pytest

import graphc
from tests.frontends.frontend_refs import conv_nhwc, depthwise_nhwc
from tests.frontends.test_keras import functional, input_layer, layer, write_keras

pytest.importorskip("h5py")


def _run(tmp_path, layers, weights, feeds, outputs):
    cfg = functional(layers, list(feeds), outputs)
    art = graphc.compile(write_keras(tmp_path / "m.keras", cfg, weights), "numpy")
    out = art.run(feeds)
    return [out[o] for o in outputs]


def test_separable_conv_and_upsampling(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 5, 6, 3)).astype(np.float32)
    dk, pk, bias = (rng.standard_normal(s).astype(np.float32) for s in ((3, 3, 3, 2), (1, 1, 6, 4), (4,)))
    layers = [input_layer("x", [None, 5, 6, 3]),
              layer("SeparableConv2D", "sep", ["x"], filters=4, kernel_size=[3, 3], strides=[1, 1], padding="same",
                    depth_multiplier=2, data_format="channels_last", dilation_rate=[1, 1], activation="relu",
                    use_bias=True),
              layer("UpSampling2D", "up", ["sep"], size=[2, 3], interpolation="nearest", data_format="channels_last"),
              layer("UpSampling2D", "bil", ["sep"], size=[2, 2], interpolation="bilinear",
                    data_format="channels_last")]
    up, bil = _run(tmp_path, layers, {"separable_conv2d": [dk, pk, bias]}, {"x": x}, ["up", "bil"])
    sep = np.maximum(conv_nhwc(depthwise_nhwc(x, dk, padding="SAME"), pk) + bias, 0)
    np.testing.assert_allclose(up, sep.repeat(2, axis=1).repeat(3, axis=2), rtol=1e-4, atol=1e-5)
    # tf.image.resize bilinear (half-pixel centres, edges clamped), separable in H and W
    def axis_weights(n):
        src = np.clip((np.arange(2 * n) + 0.5) / 2 - 0.5, 0, n - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        m = np.zeros((2 * n, n))
        m[np.arange(2 * n), lo] += 1 - (src - lo)
        m[np.arange(2 * n), hi] += src - lo
        return m
    want = np.einsum("ih,jw,nhwc->nijc", axis_weights(5), axis_weights(6), sep)
    np.testing.assert_allclose(bil, want, rtol=1e-4, atol=1e-5)


def test_merges_pooling_and_simple_layers(tmp_path):
    rng = np.random.default_rng(1)
    a, c = (rng.standard_normal((2, 4, 5, 3)).astype(np.float32) for _ in range(2))
    layers = [input_layer("a", [None, 4, 5, 3]), input_layer("c", [None, 4, 5, 3]),
              layer("Multiply", "mul", ["a", "c"]), layer("Subtract", "sub", ["a", "c"]),
              layer("Maximum", "mx", ["a", "c"]), layer("Minimum", "mn", ["a", "c"]),
              layer("Average", "avg", ["a", "c"]),
              layer("GlobalMaxPooling2D", "gmp", ["a"], data_format="channels_last", keepdims=False),
              layer("LeakyReLU", "lrelu", ["a"], negative_slope=0.1),
              layer("Rescaling", "resc", ["a"], scale=1 / 127.5, offset=-1.0),
              layer("Cropping2D", "crop", ["a"], cropping=[[1, 0], [1, 2]], data_format="channels_last"),
              layer("Permute", "perm", ["a"], dims=[3, 1, 2])]
    names = ["mul", "sub", "mx", "mn", "avg", "gmp", "lrelu", "resc", "crop", "perm"]
    got = dict(zip(names, _run(tmp_path, layers, {}, {"a": a, "c": c}, names)))
    want = {"mul": a * c, "sub": a - c, "mx": np.maximum(a, c), "mn": np.minimum(a, c), "avg": (a + c) / 2,
            "gmp": a.max(axis=(1, 2)), "lrelu": np.where(a > 0, a, 0.1 * a), "resc": a / 127.5 - 1,
            "crop": a[:, 1:, 1:-2, :], "perm": a.transpose(0, 3, 1, 2)}
    for k in names:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_keras2_leaky_relu_alpha(tmp_path):
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(1, 12)
    (y,) = _run(tmp_path, [input_layer("x", [None, 12]), layer("LeakyReLU", "l", ["x"], alpha=0.25)], {}, {"x": x},
                ["l"])
    np.testing.assert_allclose(y, np.where(x > 0, x, 0.25 * x))
