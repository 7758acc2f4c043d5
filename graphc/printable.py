"""Text from a model or an artifact made safe to print on a terminal.

Names, doc strings, op types and layer paths come from files anyone can write: an ESC in a node
name would drive the terminal (colours, cursor moves, a title change), a carriage return would
overwrite the line before it, a bidi override would reorder what is shown, and ``[red]`` inside a
name would be read as rich markup. :func:`escape_controls` writes such characters as ``\\x1b`` /
``\\u202e`` escapes; :func:`printable` does that to every string of a description and escapes rich
markup too, for output printed with markup on.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rich.markup import escape

__all__ = ["escape_controls", "printable"]


def escape_controls(text: str, keep: str = "") -> str:
    """``text`` with control (Cc), format (Cf: bidi overrides, zero-width) and separator (Zl, Zp)
    characters written as Python escapes, except those in ``keep`` (``"\\n"`` for a multi-line error)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in keep or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"):
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def printable(value: Any) -> Any:
    """``value`` (a description: dicts, lists, strings, numbers) with every string, keys included, passed
    through :func:`escape_controls` and rich's markup escape."""
    if isinstance(value, str):
        return escape(escape_controls(value))
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(printable(v) for v in value)
    return value
