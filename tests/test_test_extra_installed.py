"""The suite runs with its test extra installed: the tests that `importorskip` h5py (Keras frontend,
its damaged-weights cases) would otherwise skip silently and the run would still be green
(issue 21 Low: "skips that remove checks silently"). Each requirement of pyproject's `test` extra
must be installed at a version it allows."""

from __future__ import annotations

import ast
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_requirement_is_installed():
    """Demonstrated: with h5py uninstalled, tests/frontends/test_keras*.py skip and this test fails."""
    # (no tomllib: Python 3.10 is supported) the extra is one line, `test = [...]`
    line = re.search(r"^test = (\[.*\])$", (ROOT / "pyproject.toml").read_text(), re.M)
    assert line, "pyproject.toml: no one-line `test = [...]` extra"
    extra = ast.literal_eval(line.group(1))
    assert any(re.match(r"h5py\b", r) for r in extra)
    problems = []
    for text in extra:
        req = Requirement(text)
        try:
            have = version(req.name)
        except PackageNotFoundError:
            problems.append(f"{req.name} is not installed")
            continue
        if not req.specifier.contains(have, prereleases=True):
            problems.append(f"{req.name} {have} is outside {req.specifier}")
    assert not problems, "pip install '.[test]': " + "; ".join(problems)
