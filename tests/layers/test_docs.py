"""Runs docs/custom-layers.md: python blocks in order in one namespace; `# file:` blocks become files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "custom-layers.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_tutorial_snippets_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 14
    namespace: dict = {"__name__": "custom_layers_tutorial"}
    files = 0
    for i, block in enumerate(blocks):
        first, _, rest = block.partition("\n")
        if m := re.fullmatch(r"# file: (\S+\.py)", first.strip()):
            (tmp_path / m.group(1)).write_text(rest)
            files += 1
            continue
        exec(compile(block, f"{DOC.name}[block {i}]", "exec"), namespace)  # noqa: S102 - our own doc
    assert files == 4
    out = capsys.readouterr().out
    for printed in ("(1, 3, 8, 10)", "(1, 9, 8, 3)", "['images'] [[9, 8]] [1]", "[16. 17. 18. 19.]", "[ 8.  9. 10. 11.]"):
        assert printed in out
