"""graphc scaffold: a skeleton per unsupported op that imports, and compiles once forward is filled in."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import helper

import graphc
from graphc import LayerError
from graphc.cli.main import main
from graphc.layers import load_layer_modules
from graphc.target import TARGETS

from tests.layers.models import F, StandardOnlyTarget, interp_model, resize_bilinear_model, three_unknown_model



@pytest.fixture
def standard_only(monkeypatch):
    monkeypatch.setitem(TARGETS._factories, "standard-only", StandardOnlyTarget)
    return "standard-only"


def _typed(model, name, shape):
    model.graph.value_info.append(helper.make_tensor_value_info(name, F, shape))
    return model


def _scaffold(tmp_path, model, target, *extra):
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    out = tmp_path / "my_layers.py"
    assert main(["scaffold", str(path), "--target", target, "-o", str(out), *extra]) == 0
    return path, out, out.read_text()


def _fill(text, op_qualified, body):
    """Replace the NotImplementedError line of one layer's forward with ``body``."""
    pattern = rf"        raise NotImplementedError\('{re.escape(op_qualified)}: fill in forward\(\) in [^']*'\)"
    new, n = re.subn(pattern, body, text)
    assert n == 1
    return new


def test_interp_skeleton_declares_params_and_derives_output_shapes(tmp_path, standard_only):
    _, out, text = _scaffold(tmp_path, _typed(interp_model(9, 8), "i", [1, 3, 9, 8]), standard_only)
    assert "@graphc.register_layer('Interp', domain='caffe')\nclass Interp(graphc.Layer):" in text
    assert "    height = Param(int, default=9)\n    width = Param(int, default=8)" in text
    assert "inputs[0]  'r': float32[1,3,4,5]" in text and "outputs[0] 'i': float32[1,3,9,8]" in text
    assert "return [(input_shapes[0][0], input_shapes[0][1], self.height, self.width)]" in text
    assert "raise NotImplementedError('caffe::Interp: fill in forward()" in text
    # it imports as is, and a node with another size gets the right shape from it
    layers = load_layer_modules([str(out)])
    cls = layers.lookup("caffe", "Interp").cls
    assert cls({"height": 5, "width": 6}).output_shapes([(2, 3, 4, 4)]) == [(2, 3, 5, 6)]


def test_resize_bilinear_skeleton_reads_the_size_blob(tmp_path, standard_only):
    _, out, text = _scaffold(tmp_path, _typed(resize_bilinear_model(), "y", [1, 9, 8, 3]), standard_only)
    assert "self.blobs[0]  input slot 1: int32[2] = [9, 8]" in text
    assert "align_corners = Param(int, default=0)" in text
    assert "return [(input_shapes[0][0], int(self.blobs[0][0]), int(self.blobs[0][1]), input_shapes[0][3])]" in text


def test_unknown_output_shapes_fall_back_to_pass_through_with_a_todo(tmp_path, standard_only):
    _, out, text = _scaffold(tmp_path, three_unknown_model(), standard_only)
    assert text.count("@graphc.register_layer(") == 3
    assert "order = Param(list, default=[0, 2, 3, 1])" in text and "eps = Param(float, default=1e-05)" in text
    assert "# TODO: output 0: shape inference did not find its shape" in text
    layers = load_layer_modules([str(out)])
    assert {e.op_type for e in layers.entries()} >= {"Interpolate", "Permute", "Normalise"}


def test_filled_skeleton_compiles_and_runs_on_numpy(tmp_path, rng):
    model = _typed(interp_model(6, 10), "i", [1, 3, 6, 10])
    path, out, text = _scaffold(tmp_path, model, "numpy")
    out.write_text(_fill(text, "caffe::Interp",
                         "        from tests.layers.resample import bilinear_nchw\n"
                         "        outputs[0][...] = bilinear_nchw(inputs[0], self.height, self.width)"))
    x = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    y = graphc.compile(str(path), "numpy", layers=[str(out)]).run({"x": x})["y"]
    from tests.layers.resample import bilinear_nchw

    np.testing.assert_allclose(y, 1 / (1 + np.exp(-bilinear_nchw(np.maximum(x, 0), 6, 10))), rtol=1e-5, atol=1e-6)


def test_unfilled_skeleton_compiles_and_fails_at_run_with_the_todo(tmp_path):
    path, out, _ = _scaffold(tmp_path, _typed(resize_bilinear_model(), "y", [1, 9, 8, 3]), "numpy")
    art = graphc.compile(str(path), "numpy", layers=[str(out)])
    with pytest.raises(LayerError, match=r"node 'resize' \(tf::ResizeBilinear\).*NotImplementedError: tf::ResizeBilinear: fill in forward"):
        art.run({"x": np.zeros((1, 4, 5, 3), np.float32)})


def test_nothing_to_scaffold_and_existing_output(tmp_path, standard_only, capsys):
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                                            [helper.make_tensor_value_info("x", F, [2])],
                                            [helper.make_tensor_value_info("y", F, [2])]),
                          opset_imports=[helper.make_opsetid("", 18)])
    path = tmp_path / "relu.onnx"
    onnx.save(m, path)
    assert main(["scaffold", str(path), "--target", standard_only, "-o", str(tmp_path / "x.py")]) == 0
    assert not (tmp_path / "x.py").exists() and "nothing to write" in capsys.readouterr().out
    _scaffold(tmp_path, interp_model(), standard_only)
    assert main(["scaffold", str(tmp_path / "model.onnx"), "--target", standard_only, "-o", str(tmp_path / "my_layers.py")]) == 1
    assert "exists; pass --force" in capsys.readouterr().err


def test_layers_already_registered_are_not_scaffolded(tmp_path, standard_only):
    from tests.layers.models import CAFFE_LAYERS

    path = tmp_path / "three.onnx"
    m = three_unknown_model()
    m.graph.node[1].op_type = m.graph.node[3].op_type = "Interp"
    onnx.save(m, path)
    out = tmp_path / "rest.py"
    assert main(["scaffold", str(path), "--target", standard_only, "-o", str(out), "--layers", str(CAFFE_LAYERS)]) == 0
    text = out.read_text()
    assert "'Interp'" not in text and "'Permute'" in text and "'Normalise'" in text
