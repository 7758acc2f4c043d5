"""Blobs as a view: an artifact saved before the change (blobs exported as ``{op}__blob{i}``
initializers) still loads and runs, checked against onnxruntime on the source model."""

from pathlib import Path

import numpy as np
import onnxruntime as ort

import graphc

DATA = Path(__file__).parent / "data"


def _reference(x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(DATA / "folded_blobs_model.onnx"), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_artifact_saved_with_moved_blobs_loads_and_matches_onnxruntime():
    x = np.random.default_rng(0).standard_normal((1, 3, 5, 5)).astype(np.float32)
    art = graphc.load(DATA / "folded_blobs_pre_view.graphc")
    y = art.run({"x": x})["y"]
    np.testing.assert_allclose(y, _reference(x), rtol=1e-5, atol=1e-5)


def test_resaved_artifact_loads_and_matches_onnxruntime(tmp_path):
    x = np.random.default_rng(1).standard_normal((1, 3, 5, 5)).astype(np.float32)
    art = graphc.compile(str(DATA / "folded_blobs_model.onnx"), target="numpy")
    art.save(tmp_path / "again.graphc")
    again = graphc.load(tmp_path / "again.graphc")
    np.testing.assert_allclose(again.run({"x": x})["y"], _reference(x), rtol=1e-5, atol=1e-5)
