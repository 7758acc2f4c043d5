"""The changes a GraphDiff lists: their kinds and one change's record (no rendering, no graphs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["KINDS", "Change"]

#: change kinds in rendering order, with their section titles
KINDS = {
    "io": "Graph inputs/outputs",
    "added": "Ops added",
    "removed": "Ops removed",
    "rewired": "Ops rewired",
    "renamed": "Ops renamed",
    "attribute": "Attributes",
    "weight": "Weights",
    "type": "Value types",
}


@dataclass(frozen=True)
class Change:
    """One change. ``kind`` is a key of KINDS; ``mark`` is "+", "-" or "~"."""

    kind: str
    mark: str
    subject: str
    op_type: str = ""
    detail: str = ""
    before: Any = None
    after: Any = None
    #: neighbourhood: the op's inputs with their producers, and its readers
    inputs: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """This change as JSON data."""
        d = asdict(self)
        d["inputs"], d["consumers"] = list(self.inputs), list(self.consumers)
        return d
