"""CLI commands no test reached with a behaviour check (issue 21 Low, "untested surface"): `graphc
passes`, `optimize --verify`, `scaffold --example`, `run --input` on a successful run, `inspect MODEL
--plan` and `--target ort`, `explain`/`blame --layers`, and the installed `graphc` console script.
Each asserts what the command says or writes against hand-computed values."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphc.cli import main

ROOT = Path(__file__).resolve().parents[2]

# y = a + exp(a) with a = -x: two intermediates (a, b = exp(a)), both live at the Add.
NEG_EXP_ADD = [("Neg", ["x"], ["a"], "neg"), ("Exp", ["a"], ["b"], "exp"), ("Add", ["a", "b"], ["y"], "add")]

FLAT_LAYER = '''
import graphc

@graphc.register_layer("Flat", domain="test")
class Flat(graphc.Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...)."""

    def output_shapes(self, input_shapes):
        n, *rest = input_shapes[0]
        size = 1
        for d in rest:
            size *= d
        return [(n, size)]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = inputs[0].reshape(outputs[0].shape)
'''

# A plugin pass that appends an input to every Relu's list without adding the graph edge.
BREAKING_PASS = '''
from graphc.passinfra import PassResult, graph_pass

@graph_pass("break-edges", "append a Relu input without its edge")
def break_edges(graph, ctx):
    result = PassResult()
    for op in list(graph.ops.values()):
        if op.op_type == "Relu":
            op.inputs.append(op.inputs[0])
            result.count("broken")
    return result
'''


def _save(path: Path, nodes, inputs, outputs, inits=(), opsets=(("", 17),)) -> Path:
    g = helper.make_graph([helper.make_node(t, i, o, name=n, **({"domain": "test"} if t == "Flat" else {}))
                           for t, i, o, n in nodes], "g", inputs, outputs, list(inits))
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets]), path)
    return path


def _vec(name: str, n: int | None):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None if n is None else [n])


def _neg_exp_add(path: Path, n: int = 256) -> Path:
    return _save(path, NEG_EXP_ADD, [_vec("x", n)], [_vec("y", n)])


def _flat_matmul_add(path: Path) -> Path:
    """Flat (a custom layer) -> MatMul(constant 4x3) -> Add(constant 3): matmul-add needs A's rank 2,
    which only the layer's output_shapes can tell."""
    B = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "B")
    c = numpy_helper.from_array(np.ones(3, np.float32), "c")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2, 2])
    nodes = [("Flat", ["x"], ["f"], "flat"), ("MatMul", ["f", "B"], ["m"], "mm"), ("Add", ["m", "c"], ["y"], "add")]
    return _save(path, nodes, [x], [_vec("y", None)], [B, c], opsets=(("", 17), ("test", 1)))


def test_passes_lists_each_pass_with_its_contract_and_options(capsys):
    """Expected rows written from the @graph_pass declarations in passes/*.py."""
    from graphc.passinfra import PASSES

    assert main(["passes"]) == 0
    out = capsys.readouterr().out
    rows = {m.group(1): m.start() for m in re.finditer(r"^│ ([a-z-]+) +│", out, flags=re.M)}
    assert sorted(rows) == sorted(PASSES.names()) and len(rows) >= 14
    expected = {
        "fold-constants": ["evaluate ops whose inputs are all constant", "requires: canonical",
                           "establishes: constants-folded", "options: max_elements=67108864"],
        "lower-opset": ["re-stamp the model at opset N", "options: opset=0, ir=0"],
        "canonicalize": ["Constant ops -> constant values", "establishes: canonical"],
        "plan-buffers": ["establishes: buffers-planned"],
    }
    starts = sorted(rows.values()) + [len(out)]
    for name, parts in expected.items():
        block = out[rows[name]: starts[starts.index(rows[name]) + 1]]
        for part in parts:
            assert part in block, f"{name}: {part!r} missing from its row:\n{block}"
    assert "requires" not in out[rows["dce"]: starts[starts.index(rows["dce"]) + 1]]


def test_optimize_verify_names_the_pass_that_breaks_an_invariant(tmp_path, capsys):
    (tmp_path / "breaking.py").write_text(BREAKING_PASS)
    model = _save(tmp_path / "m.onnx", [("Relu", ["x"], ["y"], "r")], [_vec("x", 2)], [_vec("y", 2)])
    argv = ["optimize", str(model), "--plugins", str(tmp_path / "breaking.py"), "--passes", "break-edges"]
    assert main([*argv, "-o", str(tmp_path / "v.onnx"), "--verify"]) == 1
    err = capsys.readouterr().err
    assert "after pass 'break-edges': op 'r' (Relu): input slots disagree with graph edges" in err
    assert not (tmp_path / "v.onnx").exists()
    # without --verify nothing checks the edges: the broken model is written (what --verify is for)
    assert main([*argv, "-o", str(tmp_path / "nv.onnx")]) == 0
    assert list(onnx.load(tmp_path / "nv.onnx").graph.node[0].input) == ["x", "x"]


def test_optimize_verify_passes_a_correct_pipeline(tmp_path, capsys):
    model = _neg_exp_add(tmp_path / "m.onnx")
    assert main(["optimize", str(model), "-o", str(tmp_path / "o.onnx"), "--verify"]) == 0
    assert "3 -> 3 ops; changed by: infer-shapes (2)" in capsys.readouterr().out  # a and b typed
    assert [n.op_type for n in onnx.load(tmp_path / "o.onnx").graph.node] == ["Neg", "Exp", "Add"]


def test_scaffold_example_model_needs_no_layers_on_numpy_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "layers.py"
    assert main(["scaffold", "--example", "squeezenet", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "light_squeezenet.onnx runs on target 'numpy'" in said and "nothing to write" in said
    assert not out.exists()


def test_scaffold_example_and_model_together_are_refused(tmp_path, capsys):
    model = _neg_exp_add(tmp_path / "m.onnx")
    for cmd in (["scaffold", "-o", str(tmp_path / "l.py")], ["inspect"], ["compile", "-o", str(tmp_path / "m.graphc")]):
        assert main([*cmd, str(model), "--example", "squeezenet"]) == 1
        assert "give a MODEL path or --example NAME, not both" in capsys.readouterr().err  # MODEL was ignored
    assert not (tmp_path / "l.py").exists() and not (tmp_path / "m.graphc").exists()


def test_run_input_files_give_the_hand_computed_outputs(tmp_path, capsys):
    model = _neg_exp_add(tmp_path / "m.onnx", 4)
    art = tmp_path / "m.graphc"
    assert main(["compile", str(model), "-o", str(art)]) == 0
    x = np.array([0.0, np.log(2.0), -1.0, 3.0], np.float32)
    np.save(tmp_path / "x.npy", x)
    capsys.readouterr()
    assert main(["run", str(art), "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "y: shape (4,) float32" in out
    y = np.load(tmp_path / "o" / "y.npy", allow_pickle=False)
    want = np.array([1.0, 0.5 - np.log(2.0), 1.0 + np.e, -3.0 + np.exp(-3.0)], np.float32)  # -x + exp(-x)
    assert y.dtype == np.float32 and y.shape == (4,)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-7)


def test_inspect_model_plan_reports_the_hand_computed_arena(tmp_path, capsys):
    """256 float32 intermediates a and b, both live at the Add: 2 x 1024 bytes, nothing in place."""
    assert main(["inspect", str(_neg_exp_add(tmp_path / "m.onnx")), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "runs: native: 3" in out
    assert ("plan: arena 2048 bytes (0.00 MiB), sum of intermediates 2048 bytes (0.00 MiB), liveness lower bound "
            "2048 bytes (0.00 MiB), arena / lower bound = 1.000; 2 tensors planned, 0 in place, 0 views") in out


def test_inspect_model_for_ort_shows_the_python_stage_of_a_layer(tmp_path, capsys):
    (tmp_path / "flat.py").write_text(FLAT_LAYER)
    model = _flat_matmul_add(tmp_path / "m.onnx")
    assert main(["inspect", str(model), "--target", "ort", "--layers", str(tmp_path / "flat.py")]) == 0
    out = capsys.readouterr().out
    assert "compiled for ort" in out and "node flat (test::Flat) runs as python-op" in out
    assert f"--layers {tmp_path / 'flat.py'}" in out
    assert "schedule: 1 onnxruntime session(s), Python between them" in out
    stages = [line for line in out.splitlines() if re.match(r"^│ +[01] │", line)]
    assert len(stages) == 2, out
    assert "python" in stages[0] and "x (float32 2x2x2, 32 B)" in stages[0] and "f (float32 2x4, 32 B)" in stages[0]
    assert "onnxruntime" in stages[1] and "2: " in stages[1] and "y (float32 2x3, 24 B)" in stages[1]


def test_explain_and_blame_use_the_layers_output_shapes(tmp_path, capsys):
    (tmp_path / "flat.py").write_text(FLAT_LAYER)
    model = str(_flat_matmul_add(tmp_path / "m.onnx"))
    layers = ["--layers", str(tmp_path / "flat.py")]
    passes = "canonicalize,legalize,infer-shapes"
    assert main(["explain", model, "--rule", "matmul-add", "--passes", passes]) == 0
    assert "first failure: 'a' must have rank 2, 'f' is of unknown rank" in capsys.readouterr().out
    assert main(["explain", model, "--rule", "matmul-add", "--passes", passes, *layers]) == 0
    assert "1 candidate Add op(s); 1 match and rewrite: add" in capsys.readouterr().out
    # the default passes bind the layer too (they were canonicalize,infer-shapes: --layers had no effect)
    assert main(["explain", model, "--rule", "matmul-add", *layers]) == 0
    assert "1 candidate Add op(s); 1 match and rewrite: add" in capsys.readouterr().out
    fused = passes + ",fuse-matmul-add"
    assert main(["blame", model, "--passes", fused, "--node", "add"]) == 0
    assert "from the source model" in capsys.readouterr().out
    assert main(["blame", model, "--passes", fused, "--node", "add", *layers]) == 0
    out = capsys.readouterr().out
    assert "'add' was replaced; it lives on in Gemm 'add_Gemm'" in out
    assert "1. pass 'fuse-matmul-add', rule 'matmul-add': replaced add, mm" in out


def test_the_installed_console_script_runs_the_cli(tmp_path):
    script = shutil.which("graphc", path=str(Path(sys.executable).parent))
    assert script, f"no graphc console script beside {sys.executable}: reinstall the package"
    model = _neg_exp_add(tmp_path / "m.onnx", 4)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([script, "compile", str(model), "-o", str(tmp_path / "m.graphc")], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    np.save(tmp_path / "x.npy", np.array([0, 1, 2, 3], np.float32))
    r = subprocess.run([script, "run", "m.graphc", "--input", "x=x.npy", "--output-dir", "o"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    x = np.arange(4, dtype=np.float64)
    np.testing.assert_allclose(np.load(tmp_path / "o" / "y.npy"), -x + np.exp(-x), rtol=1e-6)
