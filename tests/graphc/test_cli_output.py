"""CLI output to a file or pipe is never cropped or wrapped at 80 columns (issue 16, item 5)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LONG = "encoder_block_07_multi_head_self_attention_output_projection_matmul_with_a_name_longer_than_a_terminal"


def _model(path) -> None:
    b = numpy_helper.from_array(np.ones((3, 4), np.float32), "B")
    s = numpy_helper.from_array(np.array(0.5, np.float32), "s")
    nodes = [helper.make_node("MatMul", ["x", "B"], [LONG + "_out"], name=LONG),
             helper.make_node("Mul", [LONG + "_out", "s"], ["y"], name="scale"),
             helper.make_node("Identity", ["y"], ["z"], name="id")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 4])], [b, s])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def _graphc(args, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([sys.executable, "-m", "graphc.cli", *args], cwd=cwd, env={**env, "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=120)


def test_piped_show_diffs_and_summary_keep_whole_lines(tmp_path):
    _model(tmp_path / "m.onnx")
    out_name = "optimized_" + "x" * 90 + ".onnx"
    res = _graphc(["optimize", "m.onnx", "-o", out_name, "--show-diffs"], tmp_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert any(line.startswith(f"{out_name}: 3 -> ") and line.rstrip().endswith(")") for line in lines), res.stdout
    assert "…" not in res.stdout


def test_piped_colored_diff_keeps_long_names(tmp_path):
    _model(tmp_path / "a.onnx")
    model = onnx.load(tmp_path / "a.onnx")
    model.graph.node[1].op_type = "Div"
    onnx.save(model, tmp_path / "b.onnx")
    res = _graphc(["diff", "a.onnx", "b.onnx"], tmp_path)  # the rich renderer, not --no-color
    assert res.returncode == 0, res.stderr
    assert any(f"{LONG}_out" in line for line in res.stdout.splitlines()), res.stdout
    assert "…" not in res.stdout
