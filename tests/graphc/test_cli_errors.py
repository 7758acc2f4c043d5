"""CLI errors (issue 16, item 6): simple errors on one line; the unsupported-op error keeps its
list, so the scaffold command it gives sits alone on a line and can be copied."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from graphc.cli.main import error_text, main


def test_simple_error_is_one_line():
    assert error_text("unknown pass 'x'. `graphc passes` lists them.") == \
        "graphc: error: unknown pass 'x'. `graphc passes` lists them."
    assert error_text("over the memory budget\n[pass 'plan-buffers']") == \
        "graphc: error: over the memory budget; [pass 'plan-buffers']"  # context, not a list


def test_listing_error_keeps_its_lines_indented_under_the_first():
    text = error_text("2 ops failed:\n  a: bad\n  b: worse\nRun:\n  graphc scaffold m.onnx -o l.py\n")
    assert text.splitlines() == ["graphc: error: 2 ops failed:", "    a: bad", "    b: worse", "  Run:",
                                 "    graphc scaffold m.onnx -o l.py"]


def test_unsupported_op_error_prints_the_scaffold_command_on_its_own_line(tmp_path, capsys):
    node = helper.make_node("Interp", ["x"], ["y"], name="up", domain="caffe", height=8, width=10)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "interp.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("caffe", 1)]), path)
    assert main(["compile", str(path), "-o", str(tmp_path / "x.graphc")]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("graphc: error: 1 op type cannot run on target 'numpy'")
    assert any(line.lstrip().startswith("caffe::Interp (domain 'caffe'") for line in lines[1:])
    assert f"    graphc scaffold {path} --target numpy -o my_layers.py" in lines
