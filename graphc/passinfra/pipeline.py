"""Pipeline text: ``"canonicalize,legalize,[fold-constants,dce]*8,infer-shapes{strict=false}"``.

A step is a pass name with optional ``{key=value,...}`` options; ``[a,b]*N`` is a
fixed-point group run until no pass in it changes the graph, at most N times.
``format_pipeline(parse_pipeline(text)) == text`` for canonical text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import PassError

__all__ = ["PassStep", "FixedPoint", "Step", "parse_pipeline", "format_pipeline"]


@dataclass(frozen=True)
class PassStep:
    """One pass in a pipeline, with its ``key=value`` options as written."""
    name: str
    options: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.options:
            return self.name
        return f"{self.name}{{{','.join(f'{k}={v}' for k, v in self.options.items())}}}"


@dataclass(frozen=True)
class FixedPoint:
    """A ``[a,b]*N`` group: its steps rerun until none changes the graph, at most N times."""
    steps: tuple[PassStep, ...]
    max_iterations: int

    def __str__(self) -> str:
        return f"[{','.join(map(str, self.steps))}]*{self.max_iterations}"


Step = PassStep | FixedPoint

_TOKEN = re.compile(r"\s*(?:(?P<group>\[)|(?P<name>[A-Za-z_][\w\-.]*)(?:\{(?P<opts>[^}]*)\})?)\s*")


def parse_pipeline(text: str | list[str]) -> list[Step]:
    """Parse pipeline text (or a list of pass names) into steps; errors point at the column."""
    if isinstance(text, list):
        text = ",".join(text)
    steps: list[Step] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        if text[pos] == "[":
            end = text.find("]", pos)
            m = re.match(r"\]\*(\d+)", text[end:]) if end >= 0 else None
            if m is None:
                raise PassError(f"pipeline {text!r}: fixed-point group at column {pos} must look like [a,b]*N")
            inner = parse_pipeline(text[pos + 1 : end])
            if any(isinstance(s, FixedPoint) for s in inner) or not inner:
                raise PassError(f"pipeline {text!r}: fixed-point groups hold one or more plain passes")
            steps.append(FixedPoint(tuple(inner), int(m.group(1))))  # type: ignore[arg-type]
            pos = end + len(m.group(0))
        else:
            m = _TOKEN.match(text, pos)
            if m is None or not m.group("name"):
                raise PassError(f"pipeline {text!r}: cannot read a pass name at column {pos}")
            steps.append(PassStep(m.group("name"), _options(text, m.group("opts"))))
            pos = m.end()
        pos = _skip_comma(text, pos)
    return steps


def _options(text: str, raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    out = {}
    for part in raw.split(","):
        if "=" not in part:
            raise PassError(f"pipeline {text!r}: option {part!r} must be key=value")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _skip_comma(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    if pos < len(text):
        if text[pos] != ",":
            raise PassError(f"pipeline {text!r}: expected ',' at column {pos}")
        pos += 1
    return pos


def format_pipeline(steps: list[Step]) -> str:
    """Pipeline text for ``steps``; ``format_pipeline(parse_pipeline(t)) == t``."""
    return ",".join(map(str, steps))
