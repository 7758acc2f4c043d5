"""Custom layers: the Layer API, registries, parameter serialization, runtime binding."""

from __future__ import annotations

from .base import Layer, Param
from .registry import DEFAULT_LAYERS, LayerEntry, LayerRegistry, register_layer, resolve_registry

__all__ = ["Layer", "Param", "LayerRegistry", "LayerEntry", "DEFAULT_LAYERS", "register_layer", "resolve_registry"]
