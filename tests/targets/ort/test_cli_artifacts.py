"""Saved artifacts with custom layers through the CLI, in subprocesses, on both targets:
the missing-layer error says exactly what to pass (and following it works), ``--trust``
imports the bundle's own copy without leaving files behind, and ``graphc inspect``
describes an artifact without importing its layers."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.layers.models import interp_model

ROOT = Path(__file__).resolve().parents[3]
SUFFIX = {"numpy": "interp.graphc", "ort": "interp.bundle"}

# a layer file that announces every import of itself on stderr
LAYER_FILE = """
import sys
import graphc

print("LAYER MODULE IMPORTED", file=sys.stderr)


@graphc.register_layer("Interp", domain="caffe")
class Interp(graphc.Layer):
    height = graphc.Param(int)
    width = graphc.Param(int)

    def output_shapes(self, s):
        return [(s[0][0], s[0][1], self.height, self.width)]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = inputs[0].mean()
"""


def _cli(args: list[str], cwd: Path, tmp: Path) -> subprocess.CompletedProcess:
    """``graphc ARGS`` in a fresh process whose temporary folder is ``tmp``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "graphc.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


#: the feed the runs below read from x.npy, and what interp_model with LAYER_FILE's Interp makes of it:
#: Relu, the layer's mean everywhere in a (1, 3, 9, 8) map, Sigmoid
X = (np.arange(60, dtype=np.float32).reshape(1, 3, 4, 5) - 20) / 8
Y = np.full((1, 3, 9, 8), 1 / (1 + np.exp(-np.maximum(X, 0).astype(np.float64).mean())), np.float32)


@pytest.fixture
def work(tmp_path):
    """A folder with the model, the layer file (given by a relative path), x.npy and an empty TMPDIR."""
    (tmp_path / "my_layers.py").write_text(LAYER_FILE)
    onnx.save(interp_model(9, 8), tmp_path / "interp.onnx")
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "tmp").mkdir()
    return tmp_path


def _saved_y(folder: Path) -> np.ndarray:
    """The y.npy a run wrote into ``folder``: the hand-computed Y, not only a file of that name."""
    y = np.load(folder / "y.npy", allow_pickle=False)
    assert y.dtype == np.float32 and y.shape == Y.shape
    np.testing.assert_allclose(y, Y, rtol=1e-6)
    return y


def _compile(work: Path, target: str) -> Path:
    out = work / SUFFIX[target]
    done = _cli(["compile", "interp.onnx", "--target", target, "--layers", "my_layers.py", "-o", out.name],
                work, work / "tmp")
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_the_missing_layer_error_says_exactly_what_to_pass(work, target):
    art = _compile(work, target)
    elsewhere = work / "elsewhere"  # the error must hold from another folder too
    elsewhere.mkdir()
    refused = _cli(["run", str(art), "--random-inputs", "0"], elsewhere, work / "tmp")
    assert refused.returncode == 1
    message = refused.stderr
    assert "--trust" in message  # the CLI's flag, not only the Python keyword
    assert "--layers graphc_layers_" not in message and "layers=['graphc_layers_" not in message
    suggested = re.search(r"`(graphc run [^`]*)`", message)
    assert suggested, message
    argv = shlex.split(suggested.group(1))[1:]
    assert argv[argv.index("--layers") + 1] == str((work / "my_layers.py").resolve())
    followed = _cli([*argv, "--input", f"x={work / 'x.npy'}", "--output-dir", "out"], elsewhere, work / "tmp")
    assert followed.returncode == 0, followed.stderr
    assert "y: shape (1, 3, 9, 8) float32" in followed.stdout
    _saved_y(elsewhere / "out")


def test_trusting_a_bundle_imports_its_own_copy_and_leaves_no_files(work):
    bundle = _compile(work, "ort")
    (work / "my_layers.py").unlink()  # only the bundle's copy is left
    refused = _cli(["run", bundle.name, "--random-inputs", "0"], work, work / "tmp")
    assert refused.returncode == 1 and "no longer exists" in refused.stderr and "--trust" in refused.stderr
    trusted = _cli(["run", bundle.name, "--input", "x=x.npy", "--trust", "--output-dir", "out"], work, work / "tmp")
    assert trusted.returncode == 0, trusted.stderr
    assert "y: shape (1, 3, 9, 8) float32" in trusted.stdout
    _saved_y(work / "out")
    assert not list((work / "tmp").glob("graphc*"))  # imported from memory: nothing extracted to disk


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_inspect_describes_an_artifact_without_importing_its_layers(work, target):
    art = _compile(work, target)
    shown = _cli(["inspect", art.name, "--plan"], work, work / "tmp")
    assert shown.returncode == 0, shown.stderr
    assert "LAYER MODULE IMPORTED" not in shown.stderr
    text = shown.stdout
    runs = {"numpy": "layer", "ort": "python-op"}[target]
    assert "caffe::Interp" in text and f"runs as {runs}" in text and '{"height": 9, "width": 8}' in text
    assert f"--layers {(work / 'my_layers.py').resolve()}" in text
    assert ("arena" in text) if target == "numpy" else ("none recorded" in text)

    as_json = _cli(["inspect", art.name, "--plan", "--json"], work, work / "tmp")
    assert as_json.returncode == 0 and "LAYER MODULE IMPORTED" not in as_json.stderr
    info = json.loads(as_json.stdout)
    assert info["target"] == target and info["ops"] == 3
    assert info["op_types"] == {"Relu": 1, "caffe::Interp": 1, "Sigmoid": 1}
    assert info["runs"] == {"native": {"Relu": 1, "Sigmoid": 1}, runs: {"caffe::Interp": 1}}
    (layer,) = info["layers"]
    assert layer["node"] == "interp" and layer["params"] == {"height": 9, "width": 8}
    assert layer["import_path"].endswith(":Interp") and layer["layers_arg"] == str((work / "my_layers.py").resolve())
    assert [i["name"] for i in info["inputs"]] == ["x"]
    if target == "numpy":
        assert info["plan"]["arena_bytes"] > 0


def test_a_saved_numpy_artifact_is_described_as_the_loaded_one_describes_itself(work):
    import graphc
    from graphc.target import read_manifest
    from targets.numpy.artifact import describe_saved

    art = _compile(work, "numpy")
    saved = describe_saved(art, read_manifest(art))
    loaded = graphc.load(art, layers=[str(work / "my_layers.py")]).describe()
    for key in ("ops", "op_types", "runs", "overrides", "inputs", "outputs", "plan", "options", "layers"):
        assert saved[key] == loaded[key], key
