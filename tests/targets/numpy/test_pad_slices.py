"""Reflect and edge Pad by slice copies (shape_ops._pad_by_slices) against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.targets.numpy.test_kernels_nn import run_kernel, run_ort


@pytest.mark.parametrize("mode", ["reflect", "edge"])
@pytest.mark.parametrize("shape,pads", [
    ((1, 1, 512), [0, 0, 0, 0, 0, 64]),  # a VAD's STFT padding
    ((2, 3, 5, 4), [0, 1, 2, 3, 1, 0, 4, 3]),  # every side of three axes, corners included
    ((3, 6), [-1, 2, 1, -2]),  # crop on one side, pad on the other
    ((4,), [3, 3]),
])
def test_reflect_and_edge_pad_match_onnxruntime(mode, shape, pads):
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    p = np.array(pads, np.int64)
    (got,) = run_kernel("Pad", x, p, opset=18, mode=mode)
    (want,) = run_ort("Pad", [x, p], opset=18, mode=mode)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
