"""CLI surface no test reached (issue 21 Low, "untested surface"): inspect --json, scaffold's
refusal to overwrite and --force, `graphc --debug CMD` before the subcommand, tools/graphc."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from graphc.cli import main
from tests.reliability.test_cli_hygiene import _tiny, _unknown_ops

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_inspect_json_describes_the_model_and_how_it_runs(tmp_path, capsys, target):
    assert main(["inspect", str(_tiny(tmp_path / "tiny.onnx")), "--json", "--target", target]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model"]["inputs"] == {"x": "float32[2]"} and info["model"]["outputs"] == {"y": "float32[2]"}
    assert info["model"]["op_types"] == {"Relu": 1} and info["target"] == target
    assert info["runs"]["native"] == {"Relu": 1}


def test_scaffold_refuses_to_overwrite_without_force(tmp_path, capsys):
    model = str(_unknown_ops(tmp_path / "unknown.onnx"))
    out = tmp_path / "layers.py"
    out.write_text("# my work\n")
    assert main(["scaffold", model, "-o", str(out)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_text() == "# my work\n"
    assert main(["scaffold", model, "-o", str(out), "--force"]) == 0
    text = out.read_text()
    assert "@graphc.register_layer('Interp', domain='caffe')" in text
    assert "@graphc.register_layer('PriorBox', domain='caffe')" in text
    compile(text, str(out), "exec")  # the skeleton is Python


def test_debug_before_the_subcommand_shows_the_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "graphc.cli", "--debug", "compile", "missing.onnx", "-o", "x.graphc"],
                       cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "Traceback" in r.stderr and "ModelFormatError: model file 'missing.onnx' does not exist" in r.stderr


@pytest.mark.parametrize("shim", ["tools/graphc"])
def test_the_checkout_shim_runs_the_cli(tmp_path, shim):
    r = subprocess.run([sys.executable, str(ROOT / shim), "passes"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "fold-constants" in r.stdout and "infer-shapes" in r.stdout


def _three_ops(path: Path, middle: str) -> str:
    from onnx import TensorProto, helper, save

    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r"), helper.make_node(middle, ["a"], ["b"], name="n"),
             helper.make_node("Identity", ["b"], ["y"], name="i")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return str(path)


def test_diff_no_context_leaves_out_producers_and_consumers(tmp_path, capsys):
    a, b = _three_ops(tmp_path / "a.onnx", "Neg"), _three_ops(tmp_path / "b.onnx", "Abs")
    assert main(["diff", a, b, "--no-color"]) == 0
    full = capsys.readouterr().out
    assert "+ Abs n  (a) -> b" in full and "- Neg n  (a) -> b" in full and "← a (Relu r)" in full
    assert main(["diff", a, b, "--no-color", "--no-context"]) == 0
    bare = capsys.readouterr().out
    assert "+ Abs n  (a) -> b" in bare and "- Neg n  (a) -> b" in bare
    assert "← a (Relu r)" not in bare and "→ i (Identity)" not in bare
