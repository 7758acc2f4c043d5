"""The Caffe converter's state: one layer being converted and the net being built.

Kept apart from :mod:`graphc.frontends.caffe` so the layer-family converters
(:mod:`.caffe_ssd`, :mod:`.caffe_layers`) can name these types without importing the
frontend that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir import Value
from .builder import GraphBuilder

__all__ = ["CaffeLayer", "CaffeNet"]


@dataclass
class CaffeLayer:
    """A LayerParameter being converted."""

    name: str
    type: str
    proto: Any
    bottoms: list[Value]
    blobs: list[np.ndarray]
    tops: list[str]
    text: dict[str, list[Any]] = field(default_factory=dict)  # the layer's prototxt block, schema-free


class CaffeNet:
    """Conversion state: the builder, the rank of every value and the layers found without weights."""

    def __init__(self, b: GraphBuilder):
        self.b = b
        self.ranks: dict[int, int] = {}
        self.missing: list[str] = []  # one description per layer lacking weight blobs

    def has_blobs(self, L: CaffeLayer, n: int) -> bool:
        """Whether ``L`` carries its ``n`` weight blobs; a layer without them is recorded as missing."""
        if len(L.blobs) >= n:
            return True
        self.missing.append(f"layer {L.name!r} ({L.type}) needs {n} weight blob(s) but has {len(L.blobs)}")
        return False

    def placeholder(self, L: CaffeLayer, what: str, rank: int) -> Value:
        """A missing weight blob as a graph input of unknown dims (structure-only import)."""
        return self.b.input(self.b.graph.unique_name(f"{L.name}_{what}"), np.float32, [None] * rank)

    def rank(self, v: Value) -> int:
        if v.shape is not None:
            return len(v.shape)
        return self.ranks.get(id(v), 4)

    def set_rank(self, v: Value, r: int) -> Value:
        self.ranks[id(v)] = r
        return v
