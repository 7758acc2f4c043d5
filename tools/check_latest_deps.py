#!/usr/bin/env python3
"""Run the test suite against the newest releases of graphc's dependencies (or the lowest the
range allows) in a fresh venv, and print what breaks: the way to raise or check a bound.

    python tools/check_latest_deps.py                 # newest releases, ignoring pyproject's upper bounds
    python tools/check_latest_deps.py --lowest        # each dependency at its declared lower bound
    python tools/check_latest_deps.py --venv /tmp/v -- tests/targets/ort   # reuse a venv, run a subset

The newest run installs every dependency (runtime and ``test`` extra) by name only, so pip takes
the newest release it can reach; the lowest run pins each to the ``>=`` bound pyproject.toml
declares. Then graphc itself is installed without dependencies and pytest runs (same flags as
CI). The report lists the versions installed, pytest's summary line and its failures; a node-suite
failing set to record for a new onnxruntime is printed by that test itself.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WATCHED = ("onnx", "onnxruntime", "onnxruntime-extensions", "numpy", "networkx", "rich", "h5py", "ml-dtypes",
           "protobuf", "hypothesis", "pytest", "opencv-python-headless", "mypy", "numba", "llvmlite")


def declared() -> list[str]:
    """Requirement strings of the runtime dependencies and the ``test`` extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["test"])


def requirements(lowest: bool) -> list[str]:
    """Each dependency unpinned (newest) or pinned to its ``>=`` lower bound (lowest)."""
    reqs = []
    for spec in declared():
        name = re.match(r"[A-Za-z0-9_.\-]+", spec).group(0)
        bound = re.search(r">=\s*([0-9][^,;\s]*)", spec)
        reqs.append(f"{name}=={bound.group(1)}" if lowest and bound else name)
    return reqs


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, text=True, **kw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lowest", action="store_true", help="pin each dependency to its declared lower bound")
    parser.add_argument("--venv", type=Path, help="venv folder to create or reuse (default: a temporary one)")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (default: the whole suite)")
    args = parser.parse_args(argv)

    venv = args.venv or Path(tempfile.mkdtemp(prefix="graphc-deps-"))
    if not (venv / "bin" / "python").exists():
        run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    reqs = requirements(args.lowest)
    if run([py, "-m", "pip", "install", "-q", "--upgrade", *reqs]).returncode != 0:
        print(f"\nRESULT: pip could not install {reqs}")
        return 2
    run([py, "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)], check=True)

    freeze = run([py, "-m", "pip", "freeze"], capture_output=True).stdout.splitlines()
    versions = [line for line in freeze if line.split("==")[0].lower().replace("_", "-") in WATCHED]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    test = run([py, "-m", "pytest", "-p", "no:cacheprovider", *args.pytest_args], cwd=ROOT, env=env,
               capture_output=True)
    lines = test.stdout.splitlines()
    failures = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    summary = next((line for line in reversed(lines) if re.search(r"\d+ (passed|failed)", line)), "(no summary)")
    print("\n".join(line for line in lines if "ort target, ONNX node suite" in line or line.startswith("E   ")
                    and "pinned" in line))
    print(f"\nRESULT ({'lowest' if args.lowest else 'newest'} releases): {', '.join(versions)}")
    print(f"pytest exit {test.returncode}: {summary}")
    print("\n".join(failures) if failures else "no failures")
    return test.returncode


if __name__ == "__main__":
    sys.exit(main())
