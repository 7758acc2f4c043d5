"""Legacy Keras 2 HDF5 models, written here with h5py in the layout Keras 2 / tf.keras saves
(``model_config`` JSON attribute, ``model_weights/<layer>/<layer>/kernel:0`` with ``weight_names``),
held to numpy references of the layers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc.errors import ModelFormatError
from tests.frontends.frontend_refs import conv_nhwc

h5py = pytest.importorskip("h5py")

GLOROT = {"class_name": "GlorotUniform", "config": {"seed": None, "dtype": "float32"}}  # Keras 2.0's spelling


def _layer(cls: str, name: str, inbound: list[str] | None, **config) -> dict:
    entry = {"class_name": cls, "name": name, "config": {"name": name, "trainable": True, "dtype": "float32", **config}}
    if inbound is not None:
        entry["inbound_nodes"] = [[[src, 0, 0, {}] for src in inbound]] if inbound else []
    return entry


def write_keras2_h5(path: Path, config: dict, weights: dict[str, list[tuple[str, np.ndarray]]],
                    full: bool = True) -> Path:
    """A Keras 2 ``model.save`` (``full``) or ``model.save_weights`` file."""
    with h5py.File(path, "w") as f:
        if full:
            f.attrs["model_config"] = json.dumps(config).encode()
            f.attrs["keras_version"] = b"2.4.0"
            f.attrs["backend"] = b"tensorflow"
        group = f.create_group("model_weights") if full else f
        names = [layer["config"]["name"] for layer in (config["config"]["layers"] if isinstance(config["config"], dict)
                                                        else config["config"])]
        group.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name in names:
            g = group.create_group(name)
            arrays = weights.get(name, [])
            g.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w, _ in arrays])
            for w, arr in arrays:
                g.create_dataset(f"{name}/{w}:0", data=arr)
    return path


def _functional(rng: np.random.Generator) -> tuple[dict, dict]:
    layers = [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 5, 5, 3], "dtype": "float32", "sparse": False, "name": "input_1"}},
        _layer("Conv2D", "block1_conv", ["input_1"], filters=4, kernel_size=[3, 3], strides=[1, 1], padding="same",
               data_format="channels_last", dilation_rate=[1, 1], activation="relu", use_bias=True,
               kernel_initializer=GLOROT, bias_initializer={"class_name": "Zeros", "config": {"dtype": "float32"}},
               kernel_regularizer={"class_name": "L1L2", "config": {"l1": 0.0, "l2": 1e-4}}),
        _layer("BatchNormalization", "bn", ["block1_conv"], axis=-1, momentum=0.99, epsilon=1e-3, center=True,
               scale=True),
        _layer("GlobalAveragePooling2D", "gap", ["bn"], data_format="channels_last"),
        _layer("Dense", "conv2d_1", ["gap"], units=3, activation="softmax", use_bias=True, kernel_initializer=GLOROT),
    ]
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                     "input_layers": [["input_1", 0, 0]],
                                                     "output_layers": [["conv2d_1", 0, 0]]},
              "keras_version": "2.4.0", "backend": "tensorflow"}
    weights = {
        "block1_conv": [("kernel", rng.standard_normal((3, 3, 3, 4)).astype(np.float32)),
                        ("bias", rng.standard_normal(4).astype(np.float32))],
        "bn": [("gamma", rng.uniform(0.5, 1.5, 4).astype(np.float32)), ("beta", rng.standard_normal(4).astype(np.float32)),
               ("moving_mean", rng.standard_normal(4).astype(np.float32)),
               ("moving_variance", rng.uniform(0.5, 1.5, 4).astype(np.float32))],
        "conv2d_1": [("kernel", rng.standard_normal((4, 3)).astype(np.float32)),
                     ("bias", rng.standard_normal(3).astype(np.float32))],
    }
    return config, weights


def _reference(x: np.ndarray, w: dict) -> np.ndarray:
    k, b = (a for _, a in w["block1_conv"])
    h = np.maximum(conv_nhwc(x, k, padding="SAME") + b, 0)
    gamma, beta, mean, var = (a for _, a in w["bn"])
    h = (h - mean) / np.sqrt(var + 1e-3) * gamma + beta
    z = h.mean(axis=(1, 2)) @ w["conv2d_1"][0][1] + w["conv2d_1"][1][1]
    return np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_a_keras2_full_model_h5_compiles_and_matches(tmp_path, target):
    rng = np.random.default_rng(3)
    config, weights = _functional(rng)
    path = write_keras2_h5(tmp_path / "model.hdf5", config, weights)
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    (y,) = graphc.compile(path, target).run({"input_1": x}).values()
    np.testing.assert_allclose(y, _reference(x, weights), rtol=1e-4, atol=1e-6)


def test_layer_names_not_paths_pick_the_weights(tmp_path):
    """A Dense named like another class's Keras 3 path ('conv2d_1') still gets its own weights."""
    rng = np.random.default_rng(4)
    config, weights = _functional(rng)
    g = graphc.load_model(write_keras2_h5(tmp_path / "m.h5", config, weights))
    consts = [v.const for v in g.values.values() if v.const is not None]
    assert any(c.shape == (4, 3) and np.array_equal(c, weights["conv2d_1"][0][1]) for c in consts)


def test_an_old_sequential_with_a_list_config(tmp_path):
    rng = np.random.default_rng(5)
    dense = _layer("Dense", "dense_1", None, units=2, activation="relu", use_bias=True, batch_input_shape=[None, 3])
    config = {"class_name": "Sequential", "config": [dense], "keras_version": "2.1.6"}
    k, b = rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(2).astype(np.float32)
    path = write_keras2_h5(tmp_path / "seq.h5", config, {"dense_1": [("kernel", k), ("bias", b)]})
    x = rng.standard_normal((4, 3)).astype(np.float32)
    (y,) = graphc.compile(path, "numpy").run({next(iter(graphc.load_model(path).inputs)).name: x}).values()
    np.testing.assert_allclose(y, np.maximum(x @ k + b, 0), rtol=1e-5, atol=1e-6)


def test_weights_only_files_say_what_to_do(tmp_path):
    rng = np.random.default_rng(6)
    config, weights = _functional(rng)
    only = write_keras2_h5(tmp_path / "weights.h5", config, weights, full=False)
    with pytest.raises(ModelFormatError, match="weights-only.*no architecture.*--weights"):
        graphc.load_model(only)
    arch = tmp_path / "model.json"
    arch.write_text(json.dumps(config))
    x = rng.standard_normal((1, 5, 5, 3)).astype(np.float32)
    (y,) = graphc.compile(graphc.load_model(arch, weights=only), "numpy").run({"input_1": x}).values()
    np.testing.assert_allclose(y, _reference(x, weights), rtol=1e-4, atol=1e-6)
