"""Rendering a GraphDiff: rich Text lines (colored), the same lines as plain text, or JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from ..printable import escape_controls
from .changes import KINDS, Change

if TYPE_CHECKING:
    from .core import GraphDiff

__all__ = ["render_lines", "render", "to_json_text"]

_STYLE = {"+": "green", "-": "red", "~": "yellow"}


def render_lines(diff: GraphDiff, neighbourhood: bool = True) -> list[Text]:
    """The diff as styled lines: a summary, then one section per change kind."""
    s = diff.summary
    head = Text("graph diff: ", style="bold")
    head.append(f"+{s['added']}", style="green").append(" ")
    head.append(f"−{s['removed']}", style="red").append(" ")
    head.append(f"~{s['changed']}", style="yellow")
    head.append(f"   ops {len(diff.before)} → {len(diff.after)}", style="dim")
    lines = [head]
    if diff.empty:
        lines.append(Text("  (no changes)", style="dim"))
        return lines
    for kind, changes in diff.by_kind().items():
        lines.append(Text(f"{KINDS[kind]} ({len(changes)})", style="bold underline"))
        for c in changes:
            lines += _change_lines(c, neighbourhood)
    return lines


def _change_lines(c: Change, neighbourhood: bool) -> list[Text]:
    style = _STYLE[c.mark]
    line = Text("  ").append(c.mark, style=f"bold {style}").append(" ")
    if c.kind in ("io",):
        return [line.append(escape_controls(c.detail), style=style)]
    if c.op_type:
        line.append(escape_controls(c.op_type), style="bold").append(" ")
    line.append(escape_controls(c.subject), style="cyan")
    if c.detail:
        line.append("  ").append(escape_controls(c.detail), style=style)
    out = [line]
    if neighbourhood and c.kind in ("added", "removed", "rewired"):
        if c.inputs:
            out.append(Text("      ← ", style="dim").append(escape_controls(", ".join(c.inputs))))
        if c.consumers:
            out.append(Text("      → ", style="dim").append(escape_controls(", ".join(c.consumers))))
    return out


def render(diff: GraphDiff, console: Console, neighbourhood: bool = True) -> None:
    """Print ``diff`` on ``console`` (colors follow the console)."""
    for line in render_lines(diff, neighbourhood):
        console.print(line, overflow="fold", soft_wrap=True)


def to_json_text(diff: GraphDiff) -> str:
    return json.dumps(diff.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
