"""Legacy Keras HDF5 files (``model.save("m.h5")`` in Keras 2 / tf.keras) -> graphc Graph.

A full-model file holds the architecture as JSON in the root attribute ``model_config``
and the weights under ``model_weights/<layer name>``, whose attribute ``weight_names``
lists the layer's arrays in order (``<layer>/kernel:0``, ``<layer>/bias:0``...). Keras 2
layer configs are the Keras 3 ones with a few old spellings, which
:func:`upgrade_config` maps (the InputLayer's ``batch_input_shape``, a Sequential whose
config is a bare list, initializer/regularizer entries that carry ``dtype``); the graph
is then built by the Keras frontend's :func:`~graphc.frontends.keras.config_to_graph`
(:func:`~graphc.frontends.keras.load_keras_h5`).

A *weights-only* file (``model.save_weights("w.h5")``, or Keras 3's ``.weights.h5``) has no
architecture: it is refused with what to do (load the model's ``.json`` config with
``weights=`` that file). :func:`read_keras2_weights` reads a Keras 2 weights file (full or
weights-only) into the table ``config_to_graph`` takes.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..errors import ModelFormatError

__all__ = ["read_keras_h5_model", "read_keras2_weights", "upgrade_config", "is_keras2_weights"]

_MAX_CONFIG_BYTES = 64 << 20


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:
        raise ModelFormatError("reading Keras HDF5 files needs h5py: pip install 'graphc[keras]' (or h5py)") from e
    return h5py


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def read_keras_h5_model(source: str | os.PathLike) -> tuple[Any, dict[str, list[np.ndarray]] | None]:
    """A Keras 2 full-model HDF5 file's config (upgraded to Keras 3 spellings) and weights table.

    :func:`graphc.frontends.keras.load_keras_h5` builds the graph from them.
    """
    h5py = _h5py()
    try:
        with h5py.File(source, "r") as f:
            if "model_config" not in f.attrs:
                raise ModelFormatError(_weights_only_message(source, f))
            text = _text(f.attrs["model_config"])
            if len(text) > _MAX_CONFIG_BYTES:
                raise ModelFormatError(f"{source}: the model_config attribute is {len(text)} bytes, over the limit")
            group = f["model_weights"] if "model_weights" in f else None
            table = _weights_table(group) if group is not None else None
    except OSError as e:
        raise ModelFormatError(f"{source} is not a readable HDF5 file: {e}") from e
    except (RuntimeError, KeyError, OverflowError, ValueError, TypeError, IndexError) as e:  # a damaged file
        raise ModelFormatError(f"{source} is a damaged HDF5 file (h5py: {type(e).__name__}: {e})") from e
    try:
        config = json.loads(text)
    except ValueError as e:
        raise ModelFormatError(f"{source}: model_config is not valid JSON: {e}") from e
    return upgrade_config(config), table


def _weights_only_message(source: Any, f: Any) -> str:
    kind = "a Keras 2 weights-only file (model.save_weights)" if "layer_names" in f.attrs else (
        "a Keras 3 weights file (.weights.h5)" if "layers" in f else "an HDF5 file without a Keras model_config")
    return (f"{source} is {kind}: it holds weights but no architecture. Load the model's architecture "
            f"(its .json config, or the .keras / full .h5 file) and give this file as its weights: "
            f"graphc.load_model('model.json', weights='{source}') or `graphc compile model.json --weights {source}`")


def is_keras2_weights(f: Any) -> bool:
    """``f`` (an open h5py File) holds Keras 2 weights: full-model or weights-only layout."""
    return "model_weights" in f or "layer_names" in f.attrs


def read_keras2_weights(source: str | os.PathLike | bytes) -> dict[str, list[np.ndarray]]:
    """The weights of a Keras 2 HDF5 file (full model or ``save_weights``): ``layers/<name>`` -> arrays."""
    import io

    h5py = _h5py()
    src = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        with h5py.File(src, "r") as f:
            return _weights_table(f["model_weights"] if "model_weights" in f else f)
    except (OSError, KeyError, ValueError) as e:
        raise ModelFormatError(f"Keras HDF5 weights are not readable: {e}") from e


def _weights_table(group: Any) -> dict[str, list[np.ndarray]]:
    """``layers/<layer name>`` -> the layer's arrays in ``weight_names`` order."""
    table: dict[str, list[np.ndarray]] = {}
    for raw in group.attrs.get("layer_names", []):
        name = _text(raw)
        layer = group[name]
        arrays = []
        for wraw in layer.attrs.get("weight_names", []):
            wname = _text(wraw)
            if wname not in layer:
                raise ModelFormatError(f"Keras weights: layer {name!r} lists {wname!r}, which the file does not hold")
            arrays.append(np.asarray(layer[wname]))
        table[f"layers/{name}"] = arrays
    return table


def upgrade_config(config: dict) -> dict:
    """A Keras 2 model config in the shape the Keras frontend reads (a new dict)."""
    config = json.loads(json.dumps(config))  # a deep copy of plain JSON data
    mcfg = config.get("config")
    if isinstance(mcfg, list):  # Keras <= 2.2 Sequential: the config is the layer list
        config["config"] = mcfg = {"name": "sequential", "layers": mcfg}
    for layer in (mcfg or {}).get("layers", []):
        lcfg = layer.get("config") or {}
        for key in list(lcfg):
            if key.endswith(("_initializer", "_regularizer", "_constraint")):
                del lcfg[key]  # training-time settings (old spellings carry dtype Keras 3 refuses)
        if layer.get("class_name") == "InputLayer" and "batch_input_shape" in lcfg and "batch_shape" not in lcfg:
            lcfg["batch_shape"] = lcfg["batch_input_shape"]
        if "name" not in layer and "name" in lcfg:
            layer["name"] = lcfg["name"]
    return config
