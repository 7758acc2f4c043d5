"""A .caffemodel whose blobs hold fp16 ``raw_data`` (OpenCV's ``res10_300x300_ssd_iter_140000_fp16``
layout, NVCaffe's BlobProto fields 10/12) loads; checked against a hand computation and OpenCV's dnn."""

from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.errors import ModelFormatError
from graphc.frontends.caffe_schema import caffe_messages

DEPLOY = """
input: "data"
input_shape { dim: 1 dim: 2 dim: 5 dim: 5 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 3 kernel_size: 3 } }
layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc" inner_product_param { num_output: 4 } }
"""


def _weights() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(3)
    return {"conv": [rng.standard_normal((3, 2, 3, 3)).astype(np.float16), rng.standard_normal(3).astype(np.float16)],
            "fc": [rng.standard_normal((4, 27)).astype(np.float16), rng.standard_normal(4).astype(np.float16)]}


def _write_fp16(path, weights: dict[str, list[np.ndarray]], raw_type: str = "FLOAT16") -> None:
    net = caffe_messages()["NetParameter"]()
    for name, arrays in weights.items():
        layer = net.layer.add(name=name)
        for arr in arrays:
            blob = layer.blobs.add(raw_data_type=raw_type, raw_data=arr.astype("<f2").tobytes())
            blob.shape.dim.extend(arr.shape)
    path.write_bytes(net.SerializeToString())


def _expected(x: np.ndarray, w: dict[str, list[np.ndarray]]) -> np.ndarray:
    cw, cb = (a.astype(np.float64) for a in w["conv"])
    patches = np.lib.stride_tricks.sliding_window_view(x[0].astype(np.float64), (3, 3), axis=(1, 2))  # (2,3,3,3,3)
    conv = np.einsum("cijkl,ockl->oij", patches, cw) + cb[:, None, None]
    fw, fb = (a.astype(np.float64) for a in w["fc"])
    return (fw @ conv.reshape(-1) + fb)[None]


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_fp16_raw_data_blobs(tmp_path, target):
    (tmp_path / "deploy.prototxt").write_text(DEPLOY)
    weights = _weights()
    _write_fp16(tmp_path / "model_fp16.caffemodel", weights)
    x = np.random.default_rng(4).standard_normal((1, 2, 5, 5)).astype(np.float32)
    art = graphc.compile(str(tmp_path / "deploy.prototxt"), target, weights=str(tmp_path / "model_fp16.caffemodel"))
    got = np.asarray(art.run({"data": x})["fc"])
    np.testing.assert_allclose(got, _expected(x, weights), rtol=1e-5, atol=1e-5)
    cv2 = pytest.importorskip("cv2")
    net = cv2.dnn.readNetFromCaffe(str(tmp_path / "deploy.prototxt"), str(tmp_path / "model_fp16.caffemodel"))
    net.setInput(x)
    np.testing.assert_allclose(got, net.forward().reshape(got.shape), rtol=1e-5, atol=1e-5)


def test_integer_raw_data_is_refused_by_name(tmp_path):
    (tmp_path / "deploy.prototxt").write_text(DEPLOY)
    _write_fp16(tmp_path / "m.caffemodel", _weights(), raw_type="INT")
    with pytest.raises(ModelFormatError, match="layer 'conv'.*raw_data is of type INT"):
        graphc.compile(str(tmp_path / "deploy.prototxt"), "numpy", weights=str(tmp_path / "m.caffemodel"))
