"""Every test of the suite runs under a time bound (issue 21 item 10): pytest-timeout, configured in
pyproject.toml's pytest options, so a hang fails the run instead of stalling it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def test_the_suite_runs_under_a_per_test_timeout(pytestconfig):
    """Demonstrated: with `timeout = 900` removed from pyproject.toml (or the plugin not installed),
    this test fails."""
    assert pytestconfig.pluginmanager.hasplugin("timeout"), "pytest-timeout is not installed: pip install '.[test]'"
    assert 60 <= float(pytestconfig.getini("timeout")) <= 3600
    assert pytestconfig.getini("timeout_method") == "thread"  # SIGALRM belongs to tests/reliability/bounds.py


def test_a_hanging_test_fails_the_run(tmp_path):
    """A test that sleeps 120 s under the project's method and a 2 s bound ends the run within
    seconds, non-zero, naming the timeout (a child pytest: the thread method ends the process)."""
    (tmp_path / "test_hang.py").write_text("import time\n\ndef test_hang():\n    time.sleep(120)\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntimeout = 2\ntimeout_method = thread\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_hang.py")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=100)
    assert time.monotonic() - start < 60
    assert r.returncode != 0
    assert "Timeout" in r.stdout + r.stderr, (r.stdout + r.stderr)[-2000:]
