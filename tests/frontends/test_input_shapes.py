"""A framework model's declared input shape overridden by the caller (input_shapes= / --input-shape):
OpenCV runs an SSD face detector at any image size; graphc does too when told the size is free."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import graphc
from graphc.errors import GraphcError, ModelFormatError
from tests.frontends.test_tensorflow import GraphText
from tests.graphc.test_formats import CAFFE_NET


def _pool_ref(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return np.maximum(x, 0)[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def test_a_caffe_input_made_free_runs_at_any_size(tmp_path):
    (tmp_path / "deploy.prototxt").write_text(CAFFE_NET)
    with pytest.raises(GraphcError):  # the declared 1x2x4x4 is enforced
        graphc.compile(tmp_path / "deploy.prototxt", "numpy").run({"data": np.ones((1, 2, 6, 8), np.float32)})
    art = graphc.compile(tmp_path / "deploy.prototxt", "numpy", input_shapes={"data": [1, 2, None, None]})
    for h, w in ((4, 4), (6, 10)):
        x = np.random.default_rng(h).standard_normal((1, 2, h, w)).astype(np.float32)
        (y,) = art.run({"data": x}).values()
        np.testing.assert_array_equal(y, _pool_ref(x))


def test_an_unknown_input_name_is_refused(tmp_path):
    (tmp_path / "deploy.prototxt").write_text(CAFFE_NET)
    with pytest.raises(ModelFormatError, match="'image'.*its inputs: data"):
        graphc.load_model(tmp_path / "deploy.prototxt", input_shapes={"image": [1, 3, None, None]})


def test_a_tf_placeholder_shape_is_overridden(tmp_path):
    g = GraphText()
    g.placeholder("x", (1, 3))
    g.node("y", "Relu", ["x"])
    (tmp_path / "g.pbtxt").write_text(g.text())
    graph = graphc.load_model(tmp_path / "g.pbtxt", input_shapes={"x": [None, 3]})
    assert graph.inputs[0].shape == (None, 3)


def test_the_cli_takes_input_shape_and_outputs(tmp_path):
    (tmp_path / "deploy.prototxt").write_text(CAFFE_NET)
    out = tmp_path / "net.graphc"
    cli = [sys.executable, "-m", "graphc.cli"]
    done = subprocess.run(cli + ["compile", str(tmp_path / "deploy.prototxt"), "--target", "numpy", "-o", str(out),
                                 "--input-shape", "data=1,2,?,?"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    (y,) = graphc.load(out).run({"data": x}).values()
    np.testing.assert_array_equal(y, _pool_ref(x))
    bad = subprocess.run(cli + ["compile", str(tmp_path / "deploy.prototxt"), "-o", str(out), "--input-shape",
                                "data:1,2"], capture_output=True, text=True)
    assert bad.returncode != 0 and "write NAME=DIMS" in bad.stderr and "Traceback" not in bad.stderr
    g = GraphText()
    g.placeholder("x", (2, 3))
    g.node("a", "Relu", ["x"])
    g.node("b", "Sigmoid", ["x"])
    (tmp_path / "two.pbtxt").write_text(g.text())
    done = subprocess.run(cli + ["compile", str(tmp_path / "two.pbtxt"), "-o", str(out), "--outputs", "b"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert list(graphc.load(out).run({"x": np.zeros((2, 3), np.float32)})) == ["b"]
