"""Keras frontend: an SSD-style head with a PriorBox custom layer (case 3) and the mapped
layers checked numerically against numpy references (case 4)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc.errors import ModelFormatError

from tests.frontends.frontend_refs import conv_nhwc, depthwise_nhwc, pool_nhwc, run_ort

h5py = pytest.importorskip("h5py")


def _tensor(layer: str, idx: int = 0) -> dict:
    return {"class_name": "__keras_tensor__", "config": {"shape": None, "dtype": "float32",
                                                         "keras_history": [layer, 0, idx]}}


def layer(cls: str, name: str, inputs: list[str], **config) -> dict:
    """A Keras 3 functional layer entry."""
    args = [_tensor(i) for i in inputs]
    return {"module": "keras.layers", "class_name": cls, "name": name,
            "config": {"name": name, "trainable": True, "dtype": "float32", **config},
            "inbound_nodes": [{"args": args if len(args) == 1 else [args], "kwargs": {}}] if inputs else []}


def input_layer(name: str, shape: list) -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer", "name": name,
            "config": {"name": name, "batch_shape": shape, "dtype": "float32"}, "inbound_nodes": []}


def functional(layers: list[dict], inputs: list[str], outputs: list[str]) -> dict:
    return {"module": "keras", "class_name": "Functional",
            "config": {"name": "model", "layers": layers, "input_layers": [[i, 0, 0] for i in inputs],
                       "output_layers": [[o, 0, 0] for o in outputs]}}


def write_keras(path: Path, config: dict, weights: dict[str, list[np.ndarray]]) -> Path:
    """A .keras archive: config.json + model.weights.h5 in the Keras 3 layout."""
    wpath = path.with_suffix(".weights.h5")
    with h5py.File(wpath, "w") as f:
        for key, arrays in weights.items():
            grp = f.create_group(f"layers/{key}/vars")
            for i, a in enumerate(arrays):
                grp.create_dataset(str(i), data=a)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
        z.write(wpath, "model.weights.h5")
    return path


# ------------------------------------------------------------------------ case 3
class PriorBox(graphc.Layer):
    """SSD prior boxes for an NHWC feature map: (1, H*W*len(priors), 4) boxes, normalized."""

    min_size = graphc.Param(float)
    max_size = graphc.Param(float)
    aspect_ratios = graphc.Param(list)
    img_size = graphc.Param(int)

    def _sizes(self):
        sizes = [(self.min_size, self.min_size), ((self.min_size * self.max_size) ** 0.5,) * 2]
        for ar in self.aspect_ratios:
            sizes += [(self.min_size * ar ** 0.5, self.min_size / ar ** 0.5)]
        return sizes

    def output_shapes(self, input_shapes):
        _, h, w, _ = input_shapes[0]
        return [(1, h * w * len(self._sizes()), 4)]

    def forward(self, inputs, outputs, internals):
        _, h, w, _ = inputs[0].shape
        boxes = []
        for i in range(h):
            for j in range(w):
                cy, cx = (i + 0.5) / h, (j + 0.5) / w
                for bw, bh in self._sizes():
                    bw, bh = bw / self.img_size, bh / self.img_size
                    boxes.append([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
        outputs[0][...] = np.asarray(boxes, np.float32)[None]


PRIOR_CONFIG = {"min_size": 30.0, "max_size": 60.0, "aspect_ratios": [2.0, 0.5], "img_size": 8}


def ssd_head(tmp_path: Path, with_params: bool = True, batch: int | None = None) -> tuple[Path, dict]:
    rng = np.random.default_rng(8)
    w = {"conv2d": [rng.standard_normal((3, 3, 3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)],
         "conv2d_1": [rng.standard_normal((1, 1, 4, 8)).astype(np.float32), np.zeros(8, np.float32)]}
    prior_cfg = PRIOR_CONFIG if with_params else {}
    cfg = functional([
        input_layer("image", [batch, 4, 4, 3]),
        layer("Conv2D", "features", ["image"], filters=4, kernel_size=[3, 3], strides=[1, 1], padding="same",
              data_format="channels_last", dilation_rate=[1, 1], groups=1, activation="relu", use_bias=True),
        layer("Conv2D", "loc", ["features"], filters=8, kernel_size=[1, 1], strides=[1, 1], padding="valid",
              data_format="channels_last", dilation_rate=[1, 1], groups=1, activation="linear", use_bias=True),
        layer("Reshape", "loc_flat", ["loc"], target_shape=[-1, 4]),
        {**layer("PriorBox", "priors", ["features"], **prior_cfg), "module": None, "registered_name": "PriorBox"},
    ], ["image"], ["loc_flat", "priors"])
    name = ("ssd" if with_params else "ssd_noparams") + ("" if batch is None else f"_b{batch}")
    return write_keras(tmp_path / f"{name}.keras", cfg, w), w


def test_priorbox_imports_as_keras_node_with_saved_config(tmp_path):
    path, w = ssd_head(tmp_path)
    g = graphc.load_model(path)
    op = g.ops["priors"]
    assert op.qualified_type == "keras::PriorBox"
    assert op.attrs == PRIOR_CONFIG
    assert op.inputs[0].name == "features" and op.inputs[0].producer().op_type == "Relu"
    assert g.model.opset_imports["keras"] == 1


def test_priorbox_without_saved_params_is_reported(tmp_path):
    path, _ = ssd_head(tmp_path, with_params=False)
    reg = graphc.LayerRegistry()
    reg.register("PriorBox", domain="keras")(PriorBox)
    with pytest.raises(ModelFormatError) as e:
        graphc.load_model(path, layers=reg)
    msg = str(e.value)
    assert "'priors'" in msg and "keras::PriorBox" in msg and "get_config" in msg
    for p in PRIOR_CONFIG:
        assert p in msg
    graphc.load_model(path)  # without a registry there is nothing to check against


def _head_reference(x, w):
    f = np.maximum(conv_nhwc(x, w["conv2d"][0], (1, 1), "SAME") + w["conv2d"][1], 0)
    loc = conv_nhwc(f, w["conv2d_1"][0]) + w["conv2d_1"][1]
    return loc.reshape(1, -1, 4)


@pytest.mark.parametrize("target,batch", [
    ("numpy", None), ("numpy", 1), ("ort", 1),
    ("ort", None),
])
def test_ssd_head_compiles_and_params_survive_save_load(tmp_path, target, batch):
    path, w = ssd_head(tmp_path, batch=batch)
    reg = graphc.LayerRegistry()
    reg.register("PriorBox", domain="keras")(PriorBox)
    x = np.random.default_rng(9).standard_normal((1, 4, 4, 3)).astype(np.float32)
    art = graphc.compile(path, target, layers=reg)
    out = art.run({"image": x})
    expected_priors = np.zeros((1, 4 * 4 * 4, 4), np.float32)
    PriorBox(PRIOR_CONFIG).forward([np.zeros((1, 4, 4, 4))], [expected_priors], [])
    np.testing.assert_allclose(out["loc_flat"], _head_reference(x, w), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["priors"], expected_priors, atol=1e-6)
    art.save(tmp_path / f"ssd.{target}.{batch}.graphc")
    again = graphc.load(tmp_path / f"ssd.{target}.{batch}.graphc", layers=reg).run({"image": x})
    np.testing.assert_allclose(again["priors"], expected_priors, atol=1e-6)
    np.testing.assert_allclose(again["loc_flat"], out["loc_flat"], rtol=1e-6)


def test_params_survive_onnx_save_load(tmp_path):
    path, _ = ssd_head(tmp_path)
    graphc.save_model(graphc.load_model(path), tmp_path / "ssd.onnx")
    op = graphc.load_model(tmp_path / "ssd.onnx").ops["priors"]
    assert op.qualified_type == "keras::PriorBox"
    assert op.attrs["aspect_ratios"] == [2.0, 0.5] and op.attrs["img_size"] == 8 and op.attrs["min_size"] == 30.0


def test_config_only_json_imports_until_weights_are_needed(tmp_path):
    cfg = functional([input_layer("x", [None, 4, 4, 3]),
                      {**layer("PriorBox", "priors", ["x"], **PRIOR_CONFIG), "module": None}], ["x"], ["priors"])
    (tmp_path / "m.json").write_text(json.dumps(cfg))
    g = graphc.load_model(tmp_path / "m.json")
    assert [op.qualified_type for op in g] == ["keras::PriorBox"]
    path, _ = ssd_head(tmp_path)
    with zipfile.ZipFile(path) as z:
        (tmp_path / "ssd.json").write_bytes(z.read("config.json"))
    with pytest.raises(ModelFormatError, match="layer 'features' \\(Conv2D\\) needs its weights"):
        graphc.load_model(tmp_path / "ssd.json")
    g = graphc.load_model(tmp_path / "ssd.json", weights=tmp_path / "ssd.weights.h5")
    assert g.ops["priors"].attrs == PRIOR_CONFIG


# ------------------------------------------------------------------------ case 4
def test_mapped_layers_match_numpy(tmp_path):
    rng = np.random.default_rng(10)
    r = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    w = {"zero_padding2d": [], "conv2d": [r(3, 3, 3, 4), r(4)], "depthwise_conv2d": [r(3, 3, 4, 2), r(8)],
         "batch_normalization": [r(8), r(8), r(8), np.abs(r(8)) + 0.5], "dense": [r(8, 5), r(5)],
         "dense_1": [r(5 * 2 * 2 * 1, 3), r(3)]}
    cfg = functional([
        input_layer("x", [None, 6, 7, 3]),
        layer("ZeroPadding2D", "zp", ["x"], padding=[[1, 0], [0, 2]], data_format="channels_last"),
        layer("Conv2D", "conv", ["zp"], filters=4, kernel_size=[3, 3], strides=[2, 2], padding="same",
              data_format="channels_last", dilation_rate=[1, 1], groups=1, activation="relu6", use_bias=True),
        layer("DepthwiseConv2D", "dw", ["conv"], kernel_size=[3, 3], strides=[1, 1], padding="same",
              depth_multiplier=2, data_format="channels_last", dilation_rate=[1, 1], activation="linear",
              use_bias=True),
        layer("BatchNormalization", "bn", ["dw"], axis=-1, epsilon=0.001, center=True, scale=True),
        layer("ReLU", "relu", ["bn"], max_value=None, negative_slope=0.0, threshold=0.0),
        layer("MaxPooling2D", "mp", ["relu"], pool_size=[2, 2], strides=[2, 2], padding="same"),
        layer("AveragePooling2D", "ap", ["relu"], pool_size=[3, 3], strides=[2, 2], padding="same"),
        layer("Add", "add", ["mp", "ap"]),
        layer("Concatenate", "cat", ["add", "mp"], axis=-1),
        layer("GlobalAveragePooling2D", "gap", ["cat"], data_format="channels_last", keepdims=False),
        layer("Dense", "fc", ["ap"], units=5, activation="tanh", use_bias=True),
        layer("Dropout", "drop", ["fc"], rate=0.5),
        layer("Reshape", "rs", ["drop"], target_shape=[3, 2, 5]),
        layer("Activation", "sig", ["rs"], activation="sigmoid"),
        layer("Flatten", "flat", ["sig"], data_format="channels_last"),
        layer("Softmax", "sm", ["flat"], axis=-1),
    ], ["x"], ["gap", "sm"])
    del w["dense_1"]
    path = write_keras(tmp_path / "m.keras", cfg, {k: v for k, v in w.items() if v})
    g = graphc.load_model(path)
    assert not [op for op in g.ops.values() if op.domain]
    x = r(2, 6, 7, 3)
    gap, sm = run_ort(g, {"x": x})
    y = np.pad(x, ((0, 0), (1, 0), (0, 2), (0, 0)))
    y = np.clip(conv_nhwc(y, w["conv2d"][0], (2, 2), "SAME") + w["conv2d"][1], 0, 6)
    y = depthwise_nhwc(y, w["depthwise_conv2d"][0], (1, 1), "SAME") + w["depthwise_conv2d"][1]
    ga, be, mu, var = w["batch_normalization"]
    y = np.maximum((y - mu) / np.sqrt(var + 1e-3) * ga + be, 0)  # 2x4x5x8
    mp = pool_nhwc(y, (2, 2), (2, 2), "SAME", "max")
    ap = pool_nhwc(y, (3, 3), (2, 2), "SAME", "avg")
    assert mp.shape == ap.shape == (2, 2, 3, 8)
    cat = np.concatenate([mp + ap, mp], -1)
    np.testing.assert_allclose(gap, cat.mean((1, 2)), rtol=1e-4, atol=1e-5)
    fc = np.tanh(ap @ w["dense"][0] + w["dense"][1])  # Dense on the last axis
    flat = (1 / (1 + np.exp(-fc.reshape(2, 3, 2, 5)))).reshape(2, -1)
    np.testing.assert_allclose(sm, np.exp(flat) / np.exp(flat).sum(-1, keepdims=True), rtol=1e-4, atol=1e-6)


def test_sequential_config(tmp_path):
    rng = np.random.default_rng(11)
    k, b = rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(2).astype(np.float32)
    cfg = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "InputLayer", "config": {"name": "inp", "batch_shape": [None, 3], "dtype": "float32"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "softmax", "use_bias": True}},
    ]}}
    g = graphc.load_model(write_keras(tmp_path / "s.keras", cfg, {"dense": [k, b]}))
    x = rng.standard_normal((4, 3)).astype(np.float32)
    (y,) = run_ort(g, {"inp": x})
    z = x @ k + b
    np.testing.assert_allclose(y, np.exp(z) / np.exp(z).sum(1, keepdims=True), rtol=1e-5)
