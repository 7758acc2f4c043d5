"""mypy on graphc/, passes/ and targets/ finds no error at the strictness pyproject's [tool.mypy]
states (issue 18: the type check runs in CI). The suite is what CI runs, so the check is a test."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("graphc", "passes", "targets")


@pytest.mark.skipif(int(np.__version__.split(".")[0]) < 2,
                    reason="the types are checked against numpy 2's stubs; numpy 1.x ships other, looser stubs "
                           "(at numpy 1.26 mypy reports 9 errors the numpy 2 stubs rule out)")
def test_mypy_finds_no_errors():
    """Demonstrated: a module graphc/_probe.py holding `x: int = "s"` makes this fail naming that line."""
    with tempfile.TemporaryDirectory(prefix="graphc-mypy-") as cache:
        stdout, stderr, status = api.run([
            "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", cache, "--no-error-summary",
            "--hide-error-context", *(str(ROOT / p) for p in PACKAGES),
        ])
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert status == 0 and not errors, (
        f"mypy (exit {status}) found {len(errors)} error(s); fix the types (see docs/architecture.md, "
        "Typing):\n" + "\n".join(errors or [stdout, stderr]))
