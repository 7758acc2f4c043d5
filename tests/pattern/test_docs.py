"""Runs every python block of docs/writing-passes.md, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-passes.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_tutorial_snippets_run(tmp_path, monkeypatch):
    from graphc.passinfra import PASSES
    from graphc.pattern import RULES

    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 8
    namespace: dict = {"__name__": "writing_passes_tutorial"}
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name}[block {i}]", "exec"), namespace)  # noqa: S102 - our own doc
    finally:  # the tutorial registers a pass and rules globally; leave the registries as found
        for name in ("fuse-matmul-scale", "oops"):
            PASSES.remove(name)
        RULES._rules.pop("matmul-scale", None)
