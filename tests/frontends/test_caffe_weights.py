"""A Caffe prototxt without its .caffemodel (issue 16, item 3): scaffold and inspect read the
structure alone, compile names every layer lacking blobs, --weights pairs files of any names."""

from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.cli.main import main
from graphc.errors import ModelFormatError
from graphc.frontends.caffe import load_caffe, parse_net, save_caffemodel

DEPLOY = """
name: "hed_tail"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 8 dim: 8 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "up" type: "MyInterp" bottom: "conv" top: "up" interp_param { height: 16 width: 16 } }
layer { name: "crop" type: "Crop" bottom: "up" bottom: "data" top: "crop" crop_param { axis: 2 offset: 4 } }
layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc" inner_product_param { num_output: 4 } }
"""
MISSING = ["'conv' (Convolution)", "'bn' (BatchNorm)", "'scale' (Scale)", "'fc' (InnerProduct)"]


def _blobs() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(1)
    return {"conv": [rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)],
            "bn": [rng.standard_normal(3), rng.uniform(0.5, 2, 3), np.array([2.0])],
            "scale": [rng.standard_normal(3), rng.standard_normal(3)],
            "fc": [rng.standard_normal((4, 192)), rng.standard_normal(4)]}


@pytest.fixture
def hed(tmp_path, monkeypatch):
    """HED's file names: deploy.prototxt, and (written on demand) hed_pretrained_bsds.caffemodel."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deploy.prototxt").write_text(DEPLOY)
    return tmp_path


def test_compile_names_every_layer_without_blobs(hed):
    with pytest.raises(ModelFormatError) as err:
        graphc.compile("deploy.prototxt", "numpy")
    message = str(err.value)
    assert "no weights for 4 layer(s)" in message and "--weights FILE.caffemodel" in message
    assert all(f"layer {m} needs" in message for m in MISSING)
    assert main(["compile", "deploy.prototxt", "-o", "a.graphc"]) == 1


def test_scaffold_reads_the_structure_alone(hed):
    assert main(["scaffold", "deploy.prototxt", "-o", "hed_layers.py"]) == 0
    skeleton = (hed / "hed_layers.py").read_text()
    assert "@graphc.register_layer('MyInterp', domain='caffe')" in skeleton and "height = Param(int, default=16)" in skeleton
    assert "Convolution" not in skeleton  # mapped layers stay mapped without their weights


def test_inspect_reads_the_structure_alone(hed, capsys):
    assert main(["inspect", "deploy.prototxt"]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "caffe::MyInterp" in out and "no weights:" in out and "'fc' (InnerProduct)" in out


def test_structure_only_graph_has_the_blobs_as_inputs(hed):
    g = load_caffe("deploy.prototxt", structure_only=True)
    assert {v.name for v in g.inputs} >= {"data", "conv_weight", "conv_bias", "fc_weight", "scale_gamma"}
    assert g.ops["conv"].op_type == "Conv" and g.ops["conv"].inputs[1].name == "conv_weight"


def test_weights_of_another_name_pair_with_the_prototxt(hed):
    blobs = _blobs()
    save_caffemodel("hed_pretrained_bsds.caffemodel", blobs)
    assert main(["scaffold", "deploy.prototxt", "-o", "hed_layers.py"]) == 0
    reg = graphc.layers.load_layer_modules(["hed_layers.py"])
    g = graphc.load_model("deploy.prototxt", weights="hed_pretrained_bsds.caffemodel", layers=reg)
    np.testing.assert_array_equal(g.ops["conv"].inputs[1].const, blobs["conv"][0].astype(np.float32))
    assert main(["compile", "deploy.prototxt", "--weights", "hed_pretrained_bsds.caffemodel",
                 "--layers", "hed_layers.py", "-o", "hed.graphc"]) == 0
    assert main(["inspect", "deploy.prototxt", "--weights", "hed_pretrained_bsds.caffemodel",
                 "--layers", "hed_layers.py"]) == 0
    assert main(["optimize", "deploy.prototxt", "--weights", "hed_pretrained_bsds.caffemodel", "-o", "hed.onnx"]) == 0


def test_weights_option_is_refused_for_other_formats(hed, capsys):
    assert main(["optimize", "deploy.onnx", "--weights", "w.caffemodel", "-o", "o.onnx"]) == 1
    assert "--weights applies to a Caffe .prototxt or a Keras .json config" in capsys.readouterr().err


def test_save_caffemodel_round_trips(tmp_path):
    blobs = _blobs()
    save_caffemodel(tmp_path / "w.caffemodel", blobs)
    net, _ = parse_net(tmp_path / "w.caffemodel")
    assert [layer.name for layer in net.layer] == list(blobs)
    for layer in net.layer:
        got = [np.asarray(b.data, np.float32).reshape(tuple(b.shape.dim)) for b in layer.blobs]
        for a, want in zip(got, blobs[layer.name]):
            np.testing.assert_array_equal(a, np.asarray(want, np.float32))
