"""A schema-free reader of protobuf text format, for blocks no schema declares.

:func:`parse_prototext` turns text such as ``layer { name: "a" foo_param { k: 3 } }``
into nested dicts whose values are lists (a field may repeat): ``{"layer": [{"name":
["a"], "foo_param": [{"k": [3]}]}]}``. Numbers become int/float, quoted strings str,
other identifiers (enum values, true/false) str/bool.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from ..errors import ModelFormatError

__all__ = ["parse_prototext"]

_TOKEN = re.compile(r"""\s+|\#[^\n]*|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')|([{}<>\[\]:,;])|([^\s{}<>\[\]:,;"'#]+)""")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ModelFormatError(f"prototxt: cannot read text at offset {pos}: {text[pos:pos + 20]!r}")
        tok = m.group(1) or m.group(2) or m.group(3)
        if tok:
            out.append(tok)
        pos = m.end()
    return out


def _scalar(tok: str) -> Any:
    if tok[0] in "\"'":
        try:
            return ast.literal_eval(tok)
        except (ValueError, SyntaxError):
            return tok[1:-1]
    if tok in ("true", "True"):
        return True
    if tok in ("false", "False"):
        return False
    try:
        return int(tok, 0)
    except ValueError:
        pass
    try:
        return float(tok.rstrip("fF")) if tok.lower() not in ("inf", "nan", "-inf") else float(tok)
    except ValueError:
        return tok


def parse_prototext(text: str) -> dict[str, list[Any]]:
    """Parse protobuf text format into nested dicts of lists (see the module docstring)."""
    toks = _tokens(text)
    pos = 0

    def message(end: str | None) -> dict[str, list[Any]]:
        nonlocal pos
        msg: dict[str, list[Any]] = {}
        while pos < len(toks):
            tok = toks[pos]
            if end is not None and tok == end:
                pos += 1
                return msg
            if tok in ",;":
                pos += 1
                continue
            key = tok
            pos += 1
            if pos < len(toks) and toks[pos] == ":":
                pos += 1
            if pos >= len(toks):
                raise ModelFormatError(f"prototxt: field {key!r} has no value")
            tok = toks[pos]
            if tok in ("{", "<"):
                pos += 1
                msg.setdefault(key, []).append(message("}" if tok == "{" else ">"))
            elif tok == "[":
                pos += 1
                while toks[pos] != "]":
                    if toks[pos] == ",":
                        pos += 1
                        continue
                    if toks[pos] in ("{", "<"):
                        close = "}" if toks[pos] == "{" else ">"
                        pos += 1
                        msg.setdefault(key, []).append(message(close))
                    else:
                        msg.setdefault(key, []).append(_scalar(toks[pos]))
                        pos += 1
                pos += 1
            else:
                value = _scalar(tok)
                pos += 1
                # adjacent string literals concatenate
                while isinstance(value, str) and tok[0] in "\"'" and pos < len(toks) and toks[pos][0] in "\"'":
                    value += _scalar(toks[pos])
                    pos += 1
                msg.setdefault(key, []).append(value)
        if end is not None:
            raise ModelFormatError(f"prototxt: missing {end!r} before the end of the text")
        return msg

    try:
        return message(None)
    except IndexError:
        raise ModelFormatError("prototxt: the text ends in the middle of a field") from None
