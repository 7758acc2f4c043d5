"""PassContext: what passes share during one pipeline run, and the instrument hooks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ir import Graph, Op
    from ..layers.registry import LayerRegistry
    from ..target import Target
    from .declare import PassInfo, PassResult

__all__ = ["PassContext", "Instrument"]

logger = logging.getLogger("graphc.passes")


class Instrument:
    """Hooks around each pass (timing, verification, snapshots, diffs, progress).

    Subclass and override what you need; instruments compose in PassContext.instruments.
    """

    def run_begin(self, graph: Graph, ctx: PassContext, total: int) -> None:
        """Called once before the first pass, with the number of passes to run."""

    def before_pass(self, info: PassInfo, graph: Graph, ctx: PassContext) -> None:
        """Called before each pass."""

    def after_pass(self, info: PassInfo, graph: Graph, ctx: PassContext, result: PassResult) -> None:
        """Called after each pass with its result (``result.changed`` says whether it did anything)."""

    def run_end(self, graph: Graph, ctx: PassContext) -> None:
        """Called once after the last pass."""


@dataclass
class PassContext:
    """Shared state for one pipeline run.

    ``target`` (a :class:`graphc.target.Target`, None for target-free runs) answers
    ``supports(op)``; ``layers`` is the :class:`graphc.layers.LayerRegistry` custom ops
    resolve against (None: no layers; `compile` passes the default registry); ``options`` carries compile options (memory budget, fallback policy);
    ``node`` is the op a pass is working on (set it with :meth:`focus` so errors name it).
    """

    target: Target | None = None
    layers: LayerRegistry | None = None
    options: dict[str, Any] = field(default_factory=dict)
    instruments: list[Instrument] = field(default_factory=list)
    properties: set[str] = field(default_factory=set)
    history: list[str] = field(default_factory=list)
    node: Op | None = None
    log: logging.Logger = field(default=logger)

    def focus(self, op: Op | None) -> None:
        """Record the op being processed, so a failure can name it."""
        self.node = op

    def instrument(self, kind: type) -> Any:
        """The first instrument of type ``kind``, or None."""
        return next((i for i in self.instruments if isinstance(i, kind)), None)
