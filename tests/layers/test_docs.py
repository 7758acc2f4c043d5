"""Runs docs/custom-layers.md: python blocks in order in one namespace; `# file:` blocks become files."""

from __future__ import annotations

import re
from pathlib import Path

from tests.doc_snippets import python_blocks, unguarded_excepts

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "custom-layers.md"


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
    for printed in ("(1, 3, 8, 10)", "(1, 9, 8, 3)", "['images', 'size'] [[9, 8]] [1]", "[16. 17. 18. 19.]", "[ 8.  9. 10. 11.]"):
        assert printed in out


def test_every_error_demonstration_fails_when_the_error_is_not_raised():
    """A block `try: compile(...) except graphc.LayerError as e: assert ...` passes when compile
    stops raising; each needs `else: raise AssertionError` (or a raise closing the try body).
    Demonstrated: with the `else:` removed from the undeclared-attribute block, this test fails;
    with it, a layer that accepts the undeclared 'mode' attribute fails test_tutorial_snippets_run."""
    blocks = python_blocks(DOC.read_text())
    bad = {i: lines for i, b in enumerate(blocks) if (lines := unguarded_excepts(b))}
    assert not bad, f"{DOC.name}: blocks (index: try lines) that pass when their error is not raised: {bad}"
    assert unguarded_excepts("try:\n    f()\nexcept ValueError as e:\n    assert 'x' in str(e)\n") == [1]
    assert unguarded_excepts("try:\n    f()\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError\n") == []
