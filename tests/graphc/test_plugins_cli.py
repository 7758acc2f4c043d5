"""User passes on the command line (issue 16, item 2): section 6 of docs/writing-passes.md run
through the real CLI in fresh processes, and installed plugins found by their entry points."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "writing-passes.md").read_text()
PIPELINE = "canonicalize,infer-shapes,fuse-matmul-scale,dce"


def _graphc(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    if os.environ.get("PYTHONPATH") and env["PYTHONPATH"] != os.environ["PYTHONPATH"]:
        env["PYTHONPATH"] += os.pathsep + os.environ["PYTHONPATH"]
    return subprocess.run([sys.executable, "-m", "graphc.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n## ", start + 1)
    return DOC[start: end if end > 0 else None]


@pytest.fixture
def tutorial(tmp_path: Path) -> Path:
    """A folder with section 1's models and section 6's plugin file."""
    models = re.findall(r"^```python\n(.*?)^```", DOC, flags=re.S | re.M)[0]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(models, "writing-passes.md[models]", "exec"), {"__name__": "models"})  # noqa: S102 - our doc
    finally:
        os.chdir(cwd)
    plugin = re.search(r'^```python title="my_passes.py"\n(.*?)^```', DOC, flags=re.S | re.M)
    assert plugin, "section 6 shows my_passes.py"
    (tmp_path / "my_passes.py").write_text(plugin.group(1))
    return tmp_path


def test_without_plugins_the_pass_is_unknown_and_the_error_says_what_to_do(tutorial):
    res = _graphc(["optimize", "linear.onnx", "-o", "out.onnx", "--passes", PIPELINE], tutorial)
    assert res.returncode == 1
    assert "unknown pass 'fuse-matmul-scale'" in res.stderr and "--plugins" in res.stderr


def test_section_6_commands_run_in_fresh_processes(tutorial):
    commands = re.findall(r"^graphc (.+)$", _section("## 6."), flags=re.M)
    assert [c.split()[0] for c in commands] == ["optimize", "explain", "blame", "passes"]
    outputs = {}
    for line in commands:
        res = _graphc(shlex.split(line), tutorial)
        assert res.returncode == 0, f"graphc {line}\n{res.stderr}"
        outputs[line.split()[0]] = res.stdout
    assert "linear_opt.onnx: 2 -> 1 ops; changed by: infer-shapes (1), fuse-matmul-scale (1), dce (1)" \
        in outputs["optimize"]
    assert "first failure: the scale must be a single number" in outputs["explain"]
    assert "1. pass 'fuse-matmul-scale', rule 'matmul-scale': replaced scale, mm" in outputs["blame"]
    assert "fuse-matmul-scale" in outputs["passes"]


def test_compile_takes_plugins_and_a_module_name(tutorial):
    res = _graphc(["compile", "linear.onnx", "--target", "numpy", "-o", "linear.graphc", "--plugins", "my_passes",
                   "--passes", "canonicalize,infer-shapes,fuse-matmul-scale,dce,legalize,infer-shapes,plan-buffers"],
                  tutorial, {"PYTHONPATH": str(tutorial)})
    assert res.returncode == 0, res.stderr
    # the plugin's pass ran (one Gemm with alpha 0.5, not MatMul + Mul) and the artifact computes y = 0.5 x B;
    # an existence check passed whatever the artifact held (issue 21 Low)
    import zipfile

    import numpy as np
    import onnx

    import graphc

    with zipfile.ZipFile(tutorial / "linear.graphc") as z:
        ops = [n.op_type for n in onnx.load_model_from_string(z.read("model.onnx")).graph.node]
    assert ops == ["Gemm"], ops
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    B = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    np.testing.assert_allclose(graphc.load(tutorial / "linear.graphc").run({"x": x})["y"], 0.5 * x @ B, rtol=1e-6)


def test_bad_plugins_are_named(tutorial):
    (tutorial / "broken.py").write_text("raise RuntimeError('half-written plugin')\n")
    res = _graphc(["passes", "--plugins", "broken.py"], tutorial)
    assert res.returncode == 1 and "cannot import pass plugin file 'broken.py': RuntimeError: half-written plugin" \
        in res.stderr
    res = _graphc(["passes", "--plugins", "missing.py"], tutorial)
    assert res.returncode == 1 and "pass plugin file 'missing.py' does not exist" in res.stderr


def _install(site: Path, name: str, entry_points: str) -> None:
    """A distribution as pip leaves it: a .dist-info folder with METADATA and entry_points.txt."""
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_installed_plugin_is_found_through_its_entry_point(tutorial):
    site = tutorial / "site"
    site.mkdir()
    (site / "demo_passes.py").write_text((tutorial / "my_passes.py").read_text())
    _install(site, "graphc_demo", "[graphc.passes]\ndemo = demo_passes\n")
    env = {"PYTHONPATH": str(site)}
    res = _graphc(["optimize", "linear.onnx", "-o", "out.onnx", "--passes", PIPELINE], tutorial, env)
    assert res.returncode == 0, res.stderr
    assert "fuse-matmul-scale (1)" in res.stdout
    res = _graphc(["explain", "linear_vector_scale.onnx", "--rule", "matmul-scale"], tutorial, env)
    assert res.returncode == 0, res.stderr


def test_a_broken_installed_plugin_warns_and_is_named_by_unknown_pass(tutorial):
    site = tutorial / "site"
    _install(site, "graphc_broken", "[graphc.passes]\nbroken = not_there.passes\n")
    env = {"PYTHONPATH": str(site)}
    res = _graphc(["optimize", "linear.onnx", "-o", "out.onnx"], tutorial, env)  # built-in passes still work
    assert res.returncode == 0, res.stderr
    assert "pass plugin 'broken' = 'not_there.passes' (package 'graphc_broken') failed to load" in res.stderr
    res = _graphc(["optimize", "linear.onnx", "-o", "out.onnx", "--passes", PIPELINE], tutorial, env)
    assert res.returncode == 1 and "failed to load: ModuleNotFoundError" in res.stderr.split("graphc: error:")[1]


def test_load_pass_plugins_returns_what_it_registered(tutorial):
    from graphc.passinfra import PASSES, load_pass_plugins
    from graphc.pattern import RULES

    path = tutorial / "my_passes.py"
    try:
        assert load_pass_plugins([str(path)]) == ["fuse-matmul-scale", "matmul-scale"]
        assert load_pass_plugins([str(path)]) == []  # imported once per process
    finally:
        PASSES.remove("fuse-matmul-scale")
        RULES._rules.pop("matmul-scale", None)
