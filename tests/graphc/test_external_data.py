"""External data loads only from the model's own folder (the path-traversal CVE class)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphc import ModelFormatError, load_model


def _model_with_external(tmp_path, location: str, write_to=None) -> str:
    weights = np.arange(6, dtype=np.float32).reshape(2, 3)
    tensor = numpy_helper.from_array(weights, "w")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    target = write_to or (tmp_path / location)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(weights.tobytes())
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [tensor])
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "model.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    return str(path)


def test_external_data_inside_the_folder_loads(tmp_path):
    g = load_model(_model_with_external(tmp_path, "data/weights.bin"))
    np.testing.assert_array_equal(g.value("w").const, np.arange(6, dtype=np.float32).reshape(2, 3))


@pytest.mark.parametrize("location", ["../secret.bin", "data/../../secret.bin"])
def test_dot_dot_is_refused(tmp_path, location):
    model_dir = tmp_path / "m"
    path = _model_with_external(model_dir, location, write_to=tmp_path / "secret.bin")
    with pytest.raises(ModelFormatError, match="may not contain '..'"):
        load_model(path)


def test_absolute_path_is_refused(tmp_path):
    path = _model_with_external(tmp_path / "m", str(tmp_path / "abs.bin"), write_to=tmp_path / "abs.bin")
    with pytest.raises(ModelFormatError, match="relative path"):
        load_model(path)


def test_symlink_leaving_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(np.zeros(6, np.float32).tobytes())
    model_dir = tmp_path / "m"
    path = _model_with_external(model_dir, "link.bin", write_to=model_dir / "real.bin")
    os.symlink(outside, model_dir / "link.bin")
    with pytest.raises(ModelFormatError, match="outside the model's folder"):
        load_model(path)


def test_a_link_to_dev_zero_is_refused_as_outside_the_folder(tmp_path):
    model_dir = tmp_path / "m"
    path = _model_with_external(model_dir, "dev.bin", write_to=model_dir / "real.bin")
    os.symlink("/dev/zero", model_dir / "dev.bin")
    with pytest.raises(ModelFormatError, match="resolves outside the model's folder"):
        load_model(path)


def test_a_fifo_inside_the_folder_is_refused_as_not_a_regular_file(tmp_path):
    """The device check itself: a FIFO passes the folder check (the /dev/zero link above never
    reaches this check). Demonstrated: with `is_file()` in `_confined_path` changed to `exists()`,
    the FIFO gets past it and the load fails later on its 0-byte size, so the message does not match."""
    model_dir = tmp_path / "m"
    path = _model_with_external(model_dir, "pipe.bin", write_to=model_dir / "real.bin")
    os.mkfifo(model_dir / "pipe.bin")
    with pytest.raises(ModelFormatError, match="external data file 'pipe.bin' is missing or not a regular file"):
        load_model(path)


def test_external_data_from_bytes_is_refused(tmp_path):
    path = _model_with_external(tmp_path, "w.bin")
    with pytest.raises(ModelFormatError, match="load it by path"):
        load_model(open(path, "rb").read())


@pytest.mark.parametrize("data", [b"", b"\x00" * 10, b"garbage bytes that are not protobuf \xff\xfe"])
def test_corrupt_bytes_are_a_model_format_error(data):
    with pytest.raises(ModelFormatError):
        load_model(data)


def test_dangling_input_names_the_node():
    graph = helper.make_graph([helper.make_node("Relu", ["nowhere"], ["y"], name="r")], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    with pytest.raises(ModelFormatError, match="node 'r' \\(Relu\\) reads 'nowhere'"):
        load_model(helper.make_model(graph))


def test_reference_to_missing_file_is_clear(tmp_path):
    path = _model_with_external(tmp_path, "w.bin")
    os.unlink(tmp_path / "w.bin")
    with pytest.raises(ModelFormatError, match="missing"):
        load_model(path)
