"""The N-d convolution's working buffers count against the run's memory budget (numpy target)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from tests.reliability.test_limits import _peak_of

BUDGET = 10 << 20


def _conv3d(channels: int, group: int, strides: tuple[int, int, int]):
    """A 3x3x3 Conv (pads 1) over an input of symbolic depth, height and width, compiled under 10 MiB."""
    w = np.random.default_rng(0).standard_normal((channels, channels // group, 3, 3, 3)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv3d", pads=[1] * 6, strides=list(strides),
                            group=group)
    g = helper.make_graph([node], "conv3d",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, "D", "H", "W"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [helper.make_tensor("w", TensorProto.FLOAT, list(w.shape), w.ravel())])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    return graphc.compile(model, target="numpy", memory_budget=BUDGET), w


def _direct(x: np.ndarray, w: np.ndarray, group: int, stride: int) -> np.ndarray:
    """The convolution summed tap by tap in float64 (the test's own reference)."""
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(1, 1)] * 3)
    n, c = x.shape[:2]
    m = w.shape[0]
    cg, mg = c // group, m // group
    out = [(s + 2 - 3) // stride + 1 for s in x.shape[2:]]
    y = np.zeros((n, m, *out))
    for o in range(m):
        gi = o // mg
        for ci in range(cg):
            for a, b, d in np.ndindex(3, 3, 3):
                patch = xp[:, gi * cg + ci, a: a + stride * out[0]: stride, b: b + stride * out[1]: stride,
                           d: d + stride * out[2]: stride]
                y[:, o] += w[o, ci, a, b, d] * patch
    return y


@pytest.mark.parametrize("channels, group, stride, size, scratch", [
    (2, 1, 1, 64, "conv-nd-cols"),   # stride-1 wide rows: 2 x 27 x ~279,000 columns, 60 MB
    (4, 1, 2, 64, "conv-nd-cols"),   # strided im2col: 4 x 27 x 32,768 columns, 14 MB
    (16, 16, 1, 48, "conv-nd-acc"),  # depthwise: 7 MB output, then a 7.7 MB accumulator
])
def test_a_3d_convolutions_columns_are_checked_against_the_budget(channels, group, stride, size, scratch):
    """Each input's own bytes and the output fit the 10 MiB budget, but the working buffers do not: a PlanError
    naming the node and the scratch before it is allocated (the columns used to be allocated outside the budget,
    so the run went on over it). A small input runs and matches a direct sum."""
    art, w = _conv3d(channels, group, (stride,) * 3)
    small = np.random.default_rng(1).standard_normal((1, channels, 6, 7, 5)).astype(np.float32)
    np.testing.assert_allclose(art.run({"x": small})["y"], _direct(small, w, group, stride), rtol=1e-4, atol=1e-5)
    x = np.ones((1, channels, size, size, size), np.float32)
    err, peak = _peak_of(lambda: art.run({"x": x}))
    assert err is not None and f"Conv node 'conv3d': its scratch '{scratch}'" in str(err), err
    assert f"over the memory budget of {BUDGET}" in str(err)
    assert peak < BUDGET, f"the refused run allocated {peak} bytes"


def test_a_warm_3d_convolution_allocates_no_new_columns():
    """Once a shape's program is bound, running it again takes the columns from the node's scratch: the traced
    peak of a warm run stays below the columns' size (only the output is allocated per run)."""
    art, w = _conv3d(2, 1, (1, 1, 1))
    x = np.random.default_rng(2).standard_normal((1, 2, 24, 24, 24)).astype(np.float32)
    want = _direct(x, w, 1, 1)
    for _ in range(2):  # the first runs of a new shape bind its program (and its scratch pool)
        np.testing.assert_allclose(art.run({"x": x})["y"], want, rtol=1e-4, atol=1e-5)
    cols = 2 * 27 * 24 * 26 * 26 * 4
    got = {}
    err, peak = _peak_of(lambda: got.update(art.run({"x": x})))
    assert err is None and peak < cols, (peak, cols)
    np.testing.assert_allclose(got["y"], want, rtol=1e-4, atol=1e-5)
