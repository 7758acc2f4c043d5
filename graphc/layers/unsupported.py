"""Finding the ops a target cannot run and no layer implements, and reporting them once.

Shared by the ``legalize`` pass (which raises the report) and ``graphc scaffold``
(which writes a layer skeleton per unsupported op).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import UnsupportedOpError

if TYPE_CHECKING:
    from ..ir import Graph, Op
    from .registry import LayerRegistry

__all__ = ["UnsupportedOp", "find_unsupported", "unsupported_error", "scaffold_command"]


@dataclass
class UnsupportedOp:
    """One (domain, op_type, opset) nobody can run, with the ops that use it."""

    domain: str
    op_type: str
    opset: int
    ops: list[Op] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{self.domain}::{self.op_type}" if self.domain else self.op_type

    @property
    def node_names(self) -> list[str]:
        return [op.name for op in self.ops]


def find_unsupported(graph: Graph, target: Any, layers: LayerRegistry | None) -> list[UnsupportedOp]:
    """Ops (by domain, op type, opset) that no layer in ``layers`` implements and ``target`` cannot run."""
    found: dict[tuple[str, str, int], UnsupportedOp] = {}
    for op in graph.walk():
        if op.layer is not None:
            continue
        if layers is not None and layers.lookup(op.domain, op.op_type, op.opset) is not None:
            continue
        if target is None or target.supports(op):
            continue
        key = (op.domain, op.op_type, op.opset)
        found.setdefault(key, UnsupportedOp(*key)).ops.append(op)
    return list(found.values())


def scaffold_command(target: Any, model_path: str | None) -> str:
    """The command that writes layer skeletons for this model and target."""
    model = shlex.quote(str(model_path)) if model_path else "MODEL"
    tname = getattr(target, "name", None) or "numpy"
    return f"graphc scaffold {model} --target {tname} -o my_layers.py"


def _near_misses(item: UnsupportedOp, layers: LayerRegistry | None) -> str:
    if layers is None:
        return ""
    notes = []
    for e in layers.entries():
        if e.op_type == item.op_type and e.domain != item.domain:
            notes.append(f"a layer is registered for {e.op_type!r} in domain {e.domain or 'ai.onnx'!r}, "
                         f"but the model uses domain {item.domain or 'ai.onnx'!r}")
        elif e.op_type == item.op_type and not e.covers(item.opset):
            upto = f"..{e.until_version}" if e.until_version is not None else "+"
            notes.append(f"the registered layer covers opsets {e.since_version}{upto}, the model imports {item.opset}")
    close = layers.closest(item.op_type)
    if close:
        notes.append(f"closest registered layers: {', '.join(close)}")
    else:
        notes.append("no similar layer is registered")
    return "; ".join(notes)


def unsupported_error(items: list[UnsupportedOp], target: Any, layers: LayerRegistry | None,
                      model_path: str | None = None, max_names: int = 5) -> UnsupportedOpError:
    """One error listing every unsupported op type, the nodes using it, near misses, and what to run."""
    tname = getattr(target, "name", "the target")
    lines = [f"{len(items)} op type{'s' if len(items) != 1 else ''} cannot run on target {tname!r} "
             "and no registered layer implements them:"]
    for item in sorted(items, key=lambda i: (i.domain, i.op_type, i.opset)):
        names = item.node_names
        shown = ", ".join(repr(n) for n in names[:max_names]) + (f" and {len(names) - max_names} more" if len(names) > max_names else "")
        lines.append(f"  {item.qualified} (domain {item.domain or 'ai.onnx'!r}, opset {item.opset}): "
                     f"{len(names)} node{'s' if len(names) != 1 else ''} ({shown}); {_near_misses(item, layers)}")
    lines.append("Register a layer for each (docs/custom-layers.md). Write skeletons with:")
    lines.append(f"  {scaffold_command(target, model_path)}")
    lines.append("fill in forward(), then compile with --layers my_layers.py "
                 "(Python: layers=graphc.layers.load_layer_modules(['my_layers.py'])).")
    err = UnsupportedOpError("\n".join(lines))
    err.unsupported = [(i.domain, i.op_type, i.opset, i.node_names) for i in items]  # type: ignore[attr-defined]
    return err
