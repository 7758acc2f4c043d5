"""Text from a model printed by the CLI cannot drive the terminal (issue 20 Low: manifest text with control
characters was printed raw): control characters in names come out as escapes, rich markup in names is
printed as written, in ``graphc inspect`` (models and artifacts) and in error messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parents[2]
#: an OSC title change, a colour, a carriage return and a bidi override
HOSTILE = "x\x1b]0;owned\x07\x1b[31m\r\u202e"
MARKUP = "[bold red]loud[/]"


def _graphc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graphc.cli", *args], cwd=cwd, capture_output=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "200"})


def _assert_inert(stream: bytes) -> str:
    text = stream.decode()
    for ch in ("\x1b", "\x07", "\r", "\u202e"):
        assert ch not in text, f"{ch!r} reached the terminal: {text!r}"
    return text


def _model(input_name: str, node_name: str, output_name: str) -> onnx.ModelProto:
    g = helper.make_graph([helper.make_node("Relu", [input_name], [output_name], name=node_name)], "g",
                          [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [2])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_inspect_of_a_model_escapes_control_characters_and_markup(tmp_path):
    onnx.save(_model(HOSTILE, "relu" + HOSTILE, MARKUP), tmp_path / "m.onnx")
    r = _graphc("inspect", "m.onnx", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    out = _assert_inert(r.stdout)
    assert "x\\x1b]0;owned\\x07\\x1b[31m\\x0d\\u202e" in out
    assert MARKUP in out  # printed as written, not read as markup (which would print 'loud' alone)


LAYER = '''
import graphc


@graphc.register_layer("Twice", domain="h4.print")
class Twice(graphc.Layer):
    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = inputs[0] * 2
'''


def test_inspect_of_an_artifact_escapes_its_manifest_text(tmp_path):
    """A saved artifact whose layer node is named with control characters and markup: the manifest's node name
    is printed escaped by ``inspect`` (which reads the manifest without importing the layer)."""
    import graphc

    (tmp_path / "twice_layer.py").write_text(LAYER)
    g = helper.make_graph([helper.make_node("Twice", ["x"], ["y"], name="twice" + HOSTILE + MARKUP,
                                            domain="h4.print")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("h4.print", 1)])
    art = graphc.compile(model, target="numpy", layers=[str(tmp_path / "twice_layer.py")])
    np.testing.assert_array_equal(art.run({"x": np.array([1.0, -2.0], np.float32)})["y"], [2.0, -4.0])
    art.save(tmp_path / "a.zip")
    r = _graphc("inspect", "a.zip", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    out = _assert_inert(r.stdout)
    assert "layer: node twicex\\x1b]0;owned\\x07\\x1b[31m\\x0d\\u202e" + MARKUP in out


def test_an_error_naming_a_hostile_node_is_escaped(tmp_path):
    model = _model("x", "bad" + HOSTILE, "y")
    model.graph.node[0].input[0] = "nowhere"  # dangling: a ModelFormatError naming the node
    onnx.save(model, tmp_path / "m.onnx")
    r = _graphc("inspect", "m.onnx", cwd=tmp_path)
    assert r.returncode == 1
    err = _assert_inert(r.stderr)
    assert "bad" + "x\\x1b]0;owned\\x07\\x1b[31m\\r\\u202e" in err and "nowhere" in err  # repr of the name


def test_error_text_escapes_what_a_message_carries_raw():
    """Most messages quote names with repr; those that carry text raw (a framework's own message, a layer's
    exception text) are escaped by the CLI's error layout, keeping its line structure."""
    from graphc.cli.main import error_text

    text = error_text("layer failed: " + HOSTILE + "\n  graphc scaffold x.onnx")
    assert text == ("graphc: error: layer failed: x\\x1b]0;owned\\x07\\x1b[31m\\x0d\\u202e\n"
                    "    graphc scaffold x.onnx")


def test_blame_and_plain_diff_escape_names_from_the_model(tmp_path):
    """``graphc blame`` and ``graphc diff --no-color`` print node and value names from the models: escaped too."""
    onnx.save(_model("x", "relu" + HOSTILE, "y"), tmp_path / "a.onnx")
    b = _model("x", "relu" + HOSTILE, "y")
    b.graph.node[0].op_type = "Sigmoid"
    onnx.save(b, tmp_path / "b.onnx")
    r = _graphc("blame", "a.onnx", "--passes", "canonicalize", "--node", "relu" + HOSTILE, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert "relux\\x1b]0;owned\\x07" in _assert_inert(r.stdout)  # repr or escape, never the raw ESC
    r = _graphc("diff", "a.onnx", "b.onnx", "--no-color", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    out = _assert_inert(r.stdout)
    assert "relux\\x1b]0;owned" in out and "Sigmoid" in out


def test_coloured_diff_escapes_names_from_the_model(tmp_path):
    """The coloured ``graphc diff`` (rich styles on, FORCE_COLOR) prints the hostile names as escapes: its
    only ESC bytes are rich's own SGR colour codes, never the name's OSC title change, BEL, CR or bidi override."""
    onnx.save(_model("x", "relu" + HOSTILE, "y"), tmp_path / "a.onnx")
    b = _model("x", "relu" + HOSTILE, "y")
    b.graph.node[0].op_type = "Sigmoid"
    onnx.save(b, tmp_path / "b.onnx")
    r = subprocess.run([sys.executable, "-m", "graphc.cli", "diff", "a.onnx", "b.onnx"], cwd=tmp_path,
                       capture_output=True, timeout=300,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "200", "FORCE_COLOR": "1"})
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert "\x1b[" in out, "the diff was not coloured: the test does not check the coloured renderer"
    for raw in ("\x1b]0;owned", "\x07", "\r", "\u202e", "\x1b[31m\r"):
        assert raw not in out, f"{raw!r} reached the terminal: {out!r}"
    assert "relux\\x1b]0;owned\\x07" in out and "Sigmoid" in out
