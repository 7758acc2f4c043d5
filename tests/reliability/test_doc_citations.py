"""The tests the documents cite exist (issue 21: docs/reliability.md cited
`test_run_inputs.py::test_outputs_are_owned_by_the_caller`, which never existed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["docs/reliability.md", "docs/conformance.md", "docs/ort-target.md", "README.md"]


def cited(text: str) -> list[tuple[str, str | None]]:
    """(file, test) pairs from `tests/x.py`, `tests/x.py::test_y` and `::test_z` (the last file named)."""
    pairs, current = [], None
    for m in re.finditer(r"`(tests/[\w/.-]+\.py)?(?:::([\w-]+)(?:\[[^\]`]*\])?)?`", text):
        path, test = m.groups()
        if path:
            current = path
        if path or test:
            pairs.append((current, test))
    return pairs


@pytest.mark.parametrize("doc", DOCS)
def test_every_cited_test_exists(doc):
    """Demonstrated: the old citation above, or a test cited by shorthand (`::name`) after another
    file was inserted in front of it (the name then resolves against the wrong file), fails here."""
    missing = []
    for path, test in cited((ROOT / doc).read_text()):
        source = ROOT / path if path else None
        if source is None or not source.is_file():
            missing.append(f"{path} (no such file)")
        elif test and not re.search(rf"^(async )?def {re.escape(test)}\(", source.read_text(), re.M):
            missing.append(f"{path}::{test}")
    assert not missing, f"{doc} cites tests that do not exist: {missing}"


def test_the_citation_reader_sees_shorthand():
    assert cited("`tests/a.py::test_x`, `::test_y[p]` and `tests/b.py`") == [
        ("tests/a.py", "test_x"), ("tests/a.py", "test_y"), ("tests/b.py", None)]
