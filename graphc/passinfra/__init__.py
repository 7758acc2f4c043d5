"""Pass infrastructure: declaring passes, pipelines, the PassManager and instruments."""

from __future__ import annotations

from .context import Instrument, PassContext
from .declare import PASSES, PassInfo, PassRegistry, PassResult, graph_pass
from .manager import PassManager
from .pipeline import FixedPoint, PassStep, format_pipeline, parse_pipeline
from .plugins import ENTRY_POINT_GROUP, load_pass_plugins

__all__ = [
    "Instrument", "PassContext", "PASSES", "PassInfo", "PassRegistry", "PassResult", "graph_pass",
    "PassManager", "FixedPoint", "PassStep", "format_pipeline", "parse_pipeline", "ENTRY_POINT_GROUP",
    "load_pass_plugins",
]
