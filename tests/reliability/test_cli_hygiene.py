"""CLI error paths: non-zero exit, one line on stderr; interrupted writes keep the old artifact."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, save

from graphc.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def _tiny(path: Path) -> Path:
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "t",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _unknown_ops(path: Path) -> Path:
    nodes = [helper.make_node("Interp", ["x"], ["a"], domain="caffe", height=4, width=4),
             helper.make_node("PriorBox", ["a"], ["y"], domain="caffe")]
    g = helper.make_graph(nodes, "u", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("caffe", 1)]), path)
    return path


def _interp_only(path: Path) -> Path:
    node = helper.make_node("Interp", ["x"], ["y"], domain="caffe", height=4, width=4)
    g = helper.make_graph([node], "i", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("caffe", 1)]), path)
    return path


BROKEN_LAYER = """
import graphc

@graphc.register_layer("Interp", domain="caffe")
class Interp(graphc.Layer):
    height = graphc.Param(int)
    width = graphc.Param(int)

    def output_shapes(self, input_shapes):
        raise RuntimeError("shape bug in the layer")

    def forward(self, inputs, outputs, internals):
        pass
"""


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "graphc.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


# One expected-message pattern per case: a test that checked only the format passed while
# `run --random-inputs -1` printed `graphc: error: ValueError: expected non-negative integer`
# and the broken-layer case failed on an unrelated unsupported op (PriorBox) before the layer ran.
ERROR_CASES = [
    (["compile", "missing.onnx", "-o", "x.graphc"], r"'missing\.onnx' does not exist"),
    (["compile", "corrupt.onnx", "-o", "x.graphc"], r"corrupt\.onnx is not a valid ONNX model"),
    (["compile", "--example", "no_such_model", "-o", "x.graphc"], r"no example model 'no_such_model'; choose one of: .*squeezenet"),
    (["run", "missing.graphc"], r"missing\.graphc: no such artifact"),
    (["run", "tiny.graphc", "--input", "x=missing.npy"], r"--input x=missing\.npy: cannot read a \.npy array"),
    (["run", "tiny.graphc", "--input", "nosuch=in.npy"], r"the artifact has no input 'nosuch'; its inputs are 'x'"),
    (["run", "tiny.graphc", "--input", "x=bad_dtype.npy"], r"input 'x': expected dtype float32 .*got int64"),
    (["inspect", "corrupt.onnx"], r"corrupt\.onnx is not a valid ONNX model"),
    (["compile", "tiny.onnx", "--target", "nosuch", "-o", "x.graphc"], r"unknown target 'nosuch'"),
    (["compile", "tiny.onnx", "--passes", "no-such-pass", "-o", "x.graphc"], r"unknown pass 'no-such-pass'"),
    (["compile", "tiny.onnx", "--layers", "no_such_layer_module", "-o", "x.graphc"],
     r"cannot import layer module 'no_such_layer_module'.*No module named 'no_such_layer_module'"),
    (["compile", "unknown.onnx", "-o", "x.graphc"], r"2 op types cannot run on target 'numpy'"),
    (["compile", "--example", "squeezenet", "--memory-budget", "1000", "-o", "x.graphc"],
     r"over the memory budget of 1000 bytes"),
    # interp.onnx holds the Interp node only, so the compile gets as far as the layer's own bug
    (["compile", "interp.onnx", "--layers", "broken_layer.py", "-o", "x.graphc"],
     r"node 'Interp' \(caffe::Interp\), layer Interp: output_shapes\(\) failed.*RuntimeError: shape bug in the layer"),
    (["compile", "tiny.onnx", "--layers", "exits.py", "-o", "x.graphc"], r"cannot import layer file 'exits\.py': SystemExit"),
    (["inspect", "unknown.onnx", "--no-fallback"], r"2 op types cannot run on target 'numpy'"),
    (["run", "tiny.graphc", "--random-inputs", "-1"], r"--random-inputs -1: the seed must be a non-negative integer"),
]

# graphc's own errors say what is wrong in words; only the main() fallback for an escaped
# OSError/ValueError prefixes a bare class name (`graphc: error: ValueError: ...`). A class name
# is expected only where it names the exception the user's own code raised (a layer, a layer file).
RAW_CLASS_PREFIX = re.compile(r"^graphc: error: [A-Z][A-Za-z]*(Error|Exception|Exit)\b")


@pytest.fixture(scope="module")
def error_folder(tmp_path_factory) -> Path:
    """The files the error cases name, with tiny.graphc compiled once for the module (each case
    compiled it again in a subprocess before)."""
    import graphc

    folder = tmp_path_factory.mktemp("cli_errors")
    _tiny(folder / "tiny.onnx")
    _unknown_ops(folder / "unknown.onnx")
    _interp_only(folder / "interp.onnx")
    (folder / "broken_layer.py").write_text(BROKEN_LAYER)
    (folder / "exits.py").write_text("raise SystemExit(0)\n")
    (folder / "corrupt.onnx").write_bytes(b"\x08\x07garbage" * 10)
    np.save(folder / "in.npy", np.zeros(2, np.float32))
    np.save(folder / "bad_dtype.npy", np.zeros(2, np.int64))
    graphc.compile(folder / "tiny.onnx", target="numpy").save(folder / "tiny.graphc")
    return folder


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("args,expected", ERROR_CASES, ids=["-".join(args[:4]) for args, _ in ERROR_CASES])
def test_error_paths_exit_nonzero_with_one_line(error_folder, args, expected):
    before = _listing(error_folder)
    res = _cli(*args, cwd=error_folder)
    assert _listing(error_folder) == before, "a failed command left or changed a file"
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("graphc: error:"), res.stderr
    # one line, or a list (the unsupported ops and the scaffold command) indented under it
    assert len(lines) == 1 or ("cannot run on target" in lines[0] and all(l.startswith("  ") for l in lines[1:])), \
        res.stderr
    assert "Traceback" not in res.stderr
    assert re.search(expected, lines[0]), res.stderr
    assert not RAW_CLASS_PREFIX.match(lines[0]), res.stderr
    if "broken_layer.py" in args:
        assert "PriorBox" not in res.stderr and "cannot run on target" not in res.stderr, res.stderr


def test_interrupted_compile_keeps_the_previous_artifact(tmp_path, monkeypatch):
    model = _tiny(tmp_path / "tiny.onnx")
    out = tmp_path / "tiny.graphc"
    assert main(["compile", str(model), "-o", str(out)]) == 0
    before = out.read_bytes()

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    monkeypatch.setattr(os, "rename", interrupted)
    code = main(["compile", "--example", "squeezenet", "-o", str(out)])
    monkeypatch.undo()
    assert code != 0
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.graphc", "tiny.onnx"], "temporary files left behind"


def test_debug_flag_after_the_subcommand_shows_the_traceback(tmp_path):
    res = _cli("compile", "missing.onnx", "-o", "x.graphc", "--debug", cwd=tmp_path)
    assert res.returncode != 0 and "Traceback" in res.stderr
