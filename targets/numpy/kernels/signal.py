"""Kernels: signal processing — DFT (opset 17 and 20) and STFT.

Tensors hold complex values as a trailing dimension of 2 (real, imaginary) or real
values as a trailing dimension of 1, as the ONNX spec lays them out. Transforms run in
numpy's pocketfft at the input's precision (complex64 for float32 and narrower, as
onnx.reference computes them) and are cast back to the input dtype.

The window generators HannWindow, HammingWindow and BlackmanWindow live here too.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from onnx import helper

from .registry import OpContext, kernel


def _as_complex(x: np.ndarray) -> np.ndarray:
    """[..., 1] real or [..., 2] (re, im) -> complex [...]."""
    real = np.float64 if x.dtype == np.float64 else np.float32
    if x.shape[-1] == 1:
        return x[..., 0].astype(real)
    z = np.empty(x.shape[:-1], np.complex128 if real is np.float64 else np.complex64)
    z.real, z.imag = x[..., 0], x[..., 1]
    return z


def _as_pairs(z: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """complex [...] -> [..., 2] (re, im) in ``dtype``."""
    return np.stack([z.real, z.imag], axis=-1).astype(dtype)


def _dft(ctx: OpContext, x: np.ndarray, dft_length: np.ndarray | None, axis: int) -> np.ndarray:
    inverse = bool(ctx.attr("inverse", 0))
    onesided = bool(ctx.attr("onesided", 0))
    axis %= x.ndim
    if axis == x.ndim - 1:
        raise ValueError(f"DFT node {ctx.name!r}: axis {axis} is the (re, im) dimension")
    if dft_length is not None and dft_length.size:
        n = int(dft_length.reshape(-1)[0])
    else:
        n = 2 * (x.shape[axis] - 1) if inverse and onesided else x.shape[axis]
    signal = _as_complex(x)
    if inverse and onesided:
        return np.fft.irfft(signal, n=n, axis=axis)[..., np.newaxis].astype(x.dtype)
    if inverse:
        return _as_pairs(np.fft.ifft(signal, n=n, axis=axis), x.dtype)
    spectrum = np.fft.fft(signal, n=n, axis=axis)
    if onesided:
        spectrum = np.take(spectrum, np.arange(n // 2 + 1), axis=axis)
    return _as_pairs(spectrum, x.dtype)


@kernel("DFT", since=17, until=19)
def dft17(ctx: OpContext, x: np.ndarray, dft_length: np.ndarray | None = None) -> np.ndarray:
    """Discrete Fourier transform along attribute ``axis`` (default 1)."""
    return _dft(ctx, x, dft_length, int(ctx.attr("axis", 1)))


@kernel("DFT", since=20)
def dft20(ctx: OpContext, x: np.ndarray, dft_length: np.ndarray | None = None,
          axis: np.ndarray | None = None) -> np.ndarray:
    """Discrete Fourier transform along input ``axis`` (default -2)."""
    return _dft(ctx, x, dft_length, -2 if axis is None or axis.size == 0 else int(axis.reshape(-1)[0]))


@kernel("STFT", since=17)
def stft(ctx: OpContext, x: np.ndarray, frame_step: np.ndarray, window: np.ndarray | None = None,
         frame_length: np.ndarray | None = None) -> np.ndarray:
    """Short-time Fourier transform: [batch, frames, bins, 2].

    A rank-2 signal [batch, length] is real, as onnxruntime reads it (torch.onnx exports
    ``torch.stft`` of a [batch, samples] waveform that way); rank 3 follows the spec.
    """
    if x.ndim == 2:
        x = x[..., np.newaxis]
    onesided = bool(ctx.attr("onesided", 1))
    hop = int(frame_step.reshape(-1)[0])
    if frame_length is not None and frame_length.size:
        n_fft = int(frame_length.reshape(-1)[0])
    else:
        n_fft = window.shape[0] if window is not None else x.shape[-2]
    width = window.shape[0] if window is not None else n_fft
    signal = _as_complex(x)  # [batch, length]
    n_frames = 1 + (signal.shape[-1] - n_fft) // hop
    if n_frames <= 0 or hop <= 0:
        raise ValueError(f"STFT node {ctx.name!r}: signal of length {signal.shape[-1]} gives no frame of "
                         f"length {n_fft} with step {hop}")
    starts = np.arange(n_frames) * hop
    taps = starts[:, None] + np.arange(width)[None, :]
    inside = taps < signal.shape[-1]
    frames = np.where(inside, signal[..., np.minimum(taps, signal.shape[-1] - 1)], 0)  # [batch, frames, width]
    if window is not None:
        frames = frames * window.astype(frames.real.dtype)
    spectrum = np.fft.fft(frames, n=n_fft, axis=-1)
    if onesided:
        spectrum = spectrum[..., : n_fft // 2 + 1]
    return _as_pairs(spectrum, x.dtype)


_WINDOW_CHUNK = 1 << 16  # points computed at once in float64: bounds a window kernel's scratch


def _window(ctx: OpContext, size: np.ndarray, formula: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """A window of ``size`` points, ``formula`` applied to ``2 pi n / N`` (N = size, or size - 1
    when not periodic). The output comes from ``ctx.out`` (so its size is checked against the
    run's memory budget before allocation) and is filled a chunk at a time: the float64 scratch
    stays small whatever the size (a size of 3e9 used to allocate 22 GiB of it first)."""
    n = int(np.asarray(size).reshape(-1)[0])
    dtype = helper.tensor_dtype_to_np_dtype(int(ctx.attr("output_datatype", 1)))
    denom = np.float64(n if ctx.attr("periodic", 1) else n - 1)
    out = ctx.out(0, (max(n, 0),), dtype)
    for start in range(0, n, _WINDOW_CHUNK):
        points = np.arange(start, min(start + _WINDOW_CHUNK, n), dtype=np.float64)
        out[start:start + len(points)] = formula(points * (2 * np.pi) / denom)
    return out


@kernel("HannWindow")
def hann_window(ctx: OpContext, size: np.ndarray) -> np.ndarray:
    """sin^2(pi n / N)."""
    return _window(ctx, size, lambda t: np.sin(t / 2) ** 2)


@kernel("HammingWindow")
def hamming_window(ctx: OpContext, size: np.ndarray) -> np.ndarray:
    """alpha - beta cos(2 pi n / N) with alpha = 25/46."""
    alpha = 25.0 / 46.0
    return _window(ctx, size, lambda t: alpha - np.cos(t) * (1 - alpha))


@kernel("BlackmanWindow")
def blackman_window(ctx: OpContext, size: np.ndarray) -> np.ndarray:
    """0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)."""
    return _window(ctx, size, lambda t: 0.42 - 0.5 * np.cos(t) + 0.08 * np.cos(2 * t))
