"""Graph diffs: GraphDiff(before, after), its rich/plain/JSON renderings, and stage instruments.

>>> d = GraphDiff(before, after)        # doctest: +SKIP
>>> print(d.to_text())                  # doctest: +SKIP
graph diff: +1 −2 ~1   ops 3 → 2
...
"""

from __future__ import annotations

from .core import KINDS, Change, GraphDiff, checksum
from .render import render, render_lines, to_json_text

__all__ = ["GraphDiff", "Change", "KINDS", "checksum", "render", "render_lines", "to_json_text"]
