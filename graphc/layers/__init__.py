"""Custom layers: the Layer API, registries, parameter serialization, runtime binding."""

from __future__ import annotations

from .base import Layer, Param
from .binding import LayerBinding, bind_layer, layer_config
from .loading import load_layer_modules, resolve_registry
from .registry import BUILTIN_LAYERS, DEFAULT_LAYERS, LayerEntry, LayerRegistry, register_layer
from .runtime import LayerRunner, layer_runner
from .serialize import decode_params, encode_params
from .shapes import layer_output_types
from .slots import split_inputs

__all__ = [
    "Layer", "Param", "LayerRegistry", "LayerEntry", "BUILTIN_LAYERS", "DEFAULT_LAYERS", "register_layer",
    "resolve_registry",
    "LayerBinding", "bind_layer", "layer_output_types", "load_layer_modules", "LayerRunner", "layer_runner",
    "encode_params", "decode_params", "layer_config", "split_inputs",
]

from . import builtin as _builtin  # noqa: E402,F401 - registers graphc's built-in layers in BUILTIN_LAYERS
