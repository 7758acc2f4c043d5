"""Model files named as people ship them: the format comes from the content when the suffix says nothing."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphc
from graphc.errors import ModelFormatError
from graphc.formats import detect_format
from tests.frontends.test_keras import write_keras
from tests.frontends.test_tensorflow import UNMAPPED_GRAPH

CAFFE_NET = """
# a deploy file as OpenCV's samples ship it
name: "tiny"
input: "data"
input_shape { dim: 1 dim: 2 dim: 4 dim: 4 }
layer { name: "relu" type: "ReLU" bottom: "data" top: "relu" }
layer { name: "pool" type: "Pooling" bottom: "relu" top: "pool"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
"""


def _onnx_relu() -> onnx.ModelProto:
    node = helper.make_node("Relu", ["x"], ["y"])
    return helper.make_model(helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                                               [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])]))


def test_a_prototxt_named_txt_is_read_as_caffe(tmp_path):
    (tmp_path / "deploy.prototxt.txt").write_text(CAFFE_NET)
    (tmp_path / "deploy.prototxt").write_text(CAFFE_NET)
    found = detect_format(tmp_path / "deploy.prototxt.txt")
    assert (found.format, found.text, found.sniffed) == ("caffe", True, True) and "layer" in found.how
    g = graphc.load_model(tmp_path / "deploy.prototxt.txt")
    want = graphc.load_model(tmp_path / "deploy.prototxt")
    assert [op.op_type for op in g] == [op.op_type for op in want] == ["Relu", "MaxPool"]
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    (y,) = graphc.compile(tmp_path / "deploy.prototxt.txt", "numpy").run({"data": x}).values()
    np.testing.assert_array_equal(y, np.maximum(x, 0).reshape(1, 2, 2, 2, 2, 2).max(axis=(3, 5)))


def test_graphdefs_under_other_names(tmp_path):
    from graphc.frontends.tensorflow import parse_graphdef

    (tmp_path / "frozen.txt").write_text(UNMAPPED_GRAPH)
    (tmp_path / "frozen_graph.bin").write_bytes(parse_graphdef(UNMAPPED_GRAPH.encode(), text=True).SerializeToString())
    for name, text in (("frozen.txt", True), ("frozen_graph.bin", False)):
        found = detect_format(tmp_path / name)
        assert (found.format, found.text) == ("tensorflow", text), found
        assert [op.op_type for op in graphc.load_model(tmp_path / name)] == ["ResizeBicubic"]


def test_a_caffemodel_under_another_name(tmp_path):
    from graphc.frontends.caffe import parse_net

    net, _ = parse_net(CAFFE_NET.encode(), binary=False)
    (tmp_path / "net.weights").write_bytes(net.SerializeToString())
    found = detect_format(tmp_path / "net.weights")
    assert (found.format, found.text) == ("caffe", False), found


def test_onnx_and_keras_under_other_names(tmp_path):
    (tmp_path / "detector.model").write_bytes(_onnx_relu().SerializeToString())
    assert detect_format(tmp_path / "detector.model").format == "onnx"
    assert [op.op_type for op in graphc.load_model(tmp_path / "detector.model")] == ["Relu"]

    cfg = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "InputLayer", "config": {"name": "inp", "batch_shape": [None, 3], "dtype": "float32"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "relu", "use_bias": True}}]}}
    k, b = np.ones((3, 2), np.float32), np.zeros(2, np.float32)
    path = write_keras(tmp_path / "face_mask_detector.model", cfg, {"dense": [k, b]})
    found = detect_format(path)
    assert found.format == "keras" and "config.json" in found.how
    same = write_keras(tmp_path / "same.keras", cfg, {"dense": [k, b]})
    assert [op.op_type for op in graphc.load_model(path)] == [op.op_type for op in graphc.load_model(same)]


def test_what_cannot_be_read_says_what_it_is(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "classifier.model", "w") as f:
        f.attrs["keras_version"] = "2.4.0"
    with pytest.raises(ModelFormatError, match="HDF5 file without a Keras model_config"):
        graphc.load_model(tmp_path / "classifier.model")

    import zipfile

    with zipfile.ZipFile(tmp_path / "relu.bin", "w") as z:  # a numpy artifact's layout
        z.writestr("manifest.json", "{}")
        z.writestr("weights.npz", b"")
    with pytest.raises(ModelFormatError, match="compiled graphc artifact"):
        graphc.load_model(tmp_path / "relu.bin")

    (tmp_path / "noise.dat").write_bytes(np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes())
    with pytest.raises(ModelFormatError, match="format was not recognized"):
        graphc.load_model(tmp_path / "noise.dat")
    (tmp_path / "notes.txt").write_text("just some notes\n")
    with pytest.raises(ModelFormatError, match="neither a prototxt, a pbtxt nor JSON"):
        graphc.load_model(tmp_path / "notes.txt")
