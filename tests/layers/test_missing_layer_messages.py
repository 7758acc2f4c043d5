"""A saved artifact or bundle whose layer file was not given says which file to pass, naming the layer
as FILE.py:Class (never the hashed module name graphc imported the file under), on both targets,
as a LayerError."""

from __future__ import annotations

import subprocess
import sys

import pytest
from onnx import TensorProto, helper, save

LAYER = '''
import graphc

@graphc.register_layer("Double", domain="test.ext")
class Double(graphc.Layer):
    def output_shapes(self, input_shapes):
        return [input_shapes[0]]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = inputs[0] * 2
'''


@pytest.mark.parametrize("target,out", [("numpy", "m.graphc"), ("ort", "m.bundle")])
def test_a_missing_layer_file_is_named_readably(tmp_path, target, out):
    (tmp_path / "my_layers.py").write_text(LAYER)
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Double", ["x"], ["y"], domain="test.ext"), helper.make_node("Relu", ["y"], ["z"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [3])]),
        opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid("test.ext", 1)])
    save(model, tmp_path / "m.onnx")
    cli = [sys.executable, "-m", "graphc.cli"]
    done = subprocess.run(cli + ["compile", "m.onnx", "--target", target, "--layers", "my_layers.py", "-o", out],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (tmp_path / "elsewhere").mkdir()
    run = subprocess.run(cli + ["run", f"../{out}", "--random-inputs", "0"], cwd=tmp_path / "elsewhere",
                         capture_output=True, text=True)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "my_layers.py:Double" in run.stderr and "graphc_layers_" not in run.stderr, run.stderr
    assert f"--layers {tmp_path / 'my_layers.py'}" in run.stderr
