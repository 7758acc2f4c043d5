"""DFT and STFT against a direct DFT-matrix reference in float64 (audio front ends)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc


def _dft_matrix(n_in: int, n_fft: int) -> np.ndarray:
    k = np.arange(n_fft)[:, None]
    t = np.arange(min(n_in, n_fft))[None, :]
    return np.exp(-2j * np.pi * k * t / n_fft)


def test_stft_hann_onesided_matches_direct_dft():
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((2, 400, 1)).astype(np.float32)
    n_fft, hop = 64, 16
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    node = helper.make_node("STFT", ["x", "step", "window", "length"], ["y"], onesided=1)
    g = helper.make_graph([node], "stft", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 400, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.array(hop, np.int64), "step"),
                           numpy_helper.from_array(window, "window"),
                           numpy_helper.from_array(np.array(n_fft, np.int64), "length")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    got = graphc.compile(model, target="numpy", fallback=False).run({"x": signal})["y"]
    frames = 1 + (400 - n_fft) // hop
    x = signal[..., 0].astype(np.float64)
    want = np.stack([_dft_matrix(n_fft, n_fft) @ (x[:, f * hop:f * hop + n_fft] * window).T for f in range(frames)], axis=1)
    want = want.transpose(2, 1, 0)[..., : n_fft // 2 + 1]  # [n_fft, frames, batch] -> [batch, frames, bins]
    want = np.stack([want.real, want.imag], axis=-1)
    assert got.shape == (2, frames, n_fft // 2 + 1, 2)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("inverse", [0, 1])
def test_dft_complex_input_with_padding_length(inverse):
    rng = np.random.default_rng(inverse)
    x = rng.standard_normal((3, 20, 2)).astype(np.float32)
    node = helper.make_node("DFT", ["x", "n"], ["y"], axis=1, inverse=inverse)
    g = helper.make_graph([node], "dft", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 20, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.array(32, np.int64), "n")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    got = graphc.compile(model, target="numpy", fallback=False).run({"x": x})["y"]
    z = x[..., 0].astype(np.float64) + 1j * x[..., 1]
    m = _dft_matrix(20, 32)
    want = (np.conj(m) / 32 if inverse else m) @ z.T
    want = np.stack([want.T.real, want.T.imag], axis=-1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_stft_rank2_signal_is_real_like_onnxruntime():
    """torch.onnx exports torch.stft(waveform[B, N]) as STFT on the rank-2 signal; onnxruntime reads it as real."""
    from tests.oracle import ort_run

    rng = np.random.default_rng(3)
    signal = rng.standard_normal((2, 300)).astype(np.float32)
    window = np.hanning(32).astype(np.float32)
    node = helper.make_node("STFT", ["x", "step", "window"], ["y"], onesided=1)
    g = helper.make_graph([node], "stft", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "n"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.array(8, np.int64), "step"),
                           numpy_helper.from_array(window, "window")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    want = ort_run(model, {"x": signal})["y"]
    got = graphc.compile(model, target="numpy", fallback=False).run({"x": signal})["y"]
    assert got.shape == want.shape == (2, 1 + (300 - 32) // 8, 17, 2)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
