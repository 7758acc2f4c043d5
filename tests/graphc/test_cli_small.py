"""Smaller CLI points of issue 16, item 10: an unknown --input name, layer files named by their
path in messages, sizes in readable units, --dump-dir says what it wrote, optimize counts only
changes a diff shows."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from graphc.cli.main import main
from graphc.summary import human_bytes


def _model(path, node_name="") -> None:
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name=node_name)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_unknown_input_name_is_named_with_the_real_ones(tmp_path, capsys):
    _model(tmp_path / "m.onnx", "relu")
    assert main(["compile", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "m.graphc")]) == 0
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.float32))
    assert main(["run", str(tmp_path / "m.graphc"), "--input", f"X={tmp_path / 'x.npy'}"]) == 1
    err = capsys.readouterr().err
    assert "the artifact has no input 'X'" in err and "its inputs are 'x'" in err


def test_layer_file_is_named_by_its_path_not_its_module(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    node = helper.make_node("Interp", ["x"], ["y"], name="up", domain="caffe", height=8, width=10)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("caffe", 1)]),
              "interp.onnx")
    (tmp_path / "my_layers.py").write_text(
        "import graphc\n\n@graphc.register_layer('Interp', domain='caffe')\nclass Interp(graphc.Layer):\n"
        "    height = graphc.Param(int)\n")
    assert main(["compile", "interp.onnx", "--layers", "my_layers.py", "-o", "i.graphc"]) == 1
    err = capsys.readouterr().err
    assert "layer my_layers.py:Interp: attribute 'width'" in err and "graphc_layers_" not in err


def test_sizes_are_readable():
    assert [human_bytes(n) for n in (0, 512, 12_800, 3_932_160, 1_288_490_189)] == \
        ["0 bytes", "512 bytes", "12.5 KiB", "3.75 MiB", "1.2 GiB"]


def test_dump_dir_says_what_it_wrote_and_optimize_counts_visible_changes(tmp_path, capsys):
    _model(tmp_path / "m.onnx")  # an unnamed op: canonicalize names it, which no diff shows
    assert main(["optimize", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "o.onnx"), "--passes", "canonicalize",
                 "--dump-dir", str(tmp_path / "stages")]) == 0
    out = capsys.readouterr().out
    assert "changed by: nothing" in out
    assert f"wrote 2 stages to {tmp_path / 'stages'}/ (" in out


def test_output_into_a_missing_folder_is_refused_not_created(tmp_path, capsys):
    _model(tmp_path / "m.onnx", "relu")
    missing = tmp_path / "no_such_folder"
    for argv in (["compile", str(tmp_path / "m.onnx"), "-o", str(missing / "m.graphc")],
                 ["optimize", str(tmp_path / "m.onnx"), "-o", str(missing / "o.onnx")]):
        assert main(argv) == 1
        assert f"folder {str(missing)!r} does not exist; create it first" in capsys.readouterr().err
    assert not missing.exists()


def test_help_does_not_import_onnx_or_networkx():
    """`graphc --help` stays fast: the CLI and `import graphc` load onnx and networkx only when used."""
    import subprocess
    import sys

    code = ("import sys, graphc; from graphc.cli.main import build_parser; build_parser().format_help(); "
            "heavy = [n for n in ('onnx', 'networkx', 'onnxruntime') if n in sys.modules]; "
            "assert not heavy, heavy; assert graphc.Param is graphc.layers.Param; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
