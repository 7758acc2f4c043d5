"""Runs every python block of docs/writing-passes.md, in order, in one namespace."""

from __future__ import annotations

from pathlib import Path

from tests.doc_snippets import python_blocks, unguarded_excepts

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-passes.md"


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


def test_every_error_demonstration_fails_when_the_error_is_not_raised():
    """Each `try: ... except SomeError` block must fail when the error is not raised (issue 21 item 6)."""
    bad = {i: lines for i, b in enumerate(python_blocks(DOC.read_text())) if (lines := unguarded_excepts(b))}
    assert not bad, f"{DOC.name}: blocks (index: try lines) that pass when their error is not raised: {bad}"
