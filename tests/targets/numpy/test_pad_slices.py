"""Reflect and edge Pad by slice copies (shape_ops._pad_by_slices) and the prepared Pad of constant pads
(shape_ops.PadPlan) against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels.shape_ops import PadPlan
from tests.oracle import ort_run

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


def _pad_model(shape, pads, mode, value=None, axes=None, dynamic=False):
    """One Pad whose pads (and value, axes) are initializers, so it is prepared (shape_ops.PadPlan)."""
    inits = [numpy_helper.from_array(np.array(pads, np.int64), "p")]
    ins = ["x", "p"]
    if value is not None or axes is not None:
        ins.append("v" if value is not None else "")
        if value is not None:
            inits.append(numpy_helper.from_array(np.array(value, np.float32), "v"))
    if axes is not None:
        inits.append(numpy_helper.from_array(np.array(axes, np.int64), "a"))
        ins.append("a")
    dims = [f"d{i}" for i in range(len(shape))] if dynamic else list(shape)
    g = helper.make_graph([helper.make_node("Pad", ins, ["y"], mode=mode)], "pad",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


PREPARED = {
    "vad-reflect": ((1, 1, 512), [0, 0, 0, 0, 0, 64], "reflect", None, None),
    "edge-corners": ((2, 3, 5, 4), [0, 1, 2, 3, 1, 0, 4, 3], "edge", None, None),
    "reflect-crop": ((3, 6), [-1, 2, 1, -2], "reflect", None, None),
    "constant-value-crop": ((3, 6), [-1, 2, 1, -2], "constant", 1.5, None),
    "constant-axes": ((2, 3, 4), [1, 2, 0, 3], "constant", -2.0, [-1, 0]),
    "edge-too-wide": ((2, 3), [0, 4, 0, 0], "edge", None, None),  # pad >= axis: the general path
    "wrap": ((2, 5), [0, 2, 1, 3], "wrap", None, None),
}


@pytest.mark.parametrize("name", sorted(PREPARED))
def test_prepared_pad_matches_onnxruntime(name):
    shape, pads, mode, value, axes = PREPARED[name]
    model = _pad_model(shape, pads, mode, value, axes)
    art = graphc.compile(model, "numpy", fallback=False)
    (step,) = art.program.steps
    assert isinstance(step.state, PadPlan)
    x = np.random.default_rng(8).standard_normal(shape).astype(np.float32)
    want = ort_run(model, {"x": x})["y"]
    for _ in range(2):  # the second run takes the kept copies
        got = art.run({"x": x})["y"]
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_prepared_pad_with_symbolic_shape_keeps_copies_per_shape():
    model = _pad_model((1, 1, 0), [0, 0, 1, 0, 0, 3], "reflect", dynamic=True)
    art = graphc.compile(model, "numpy", fallback=False)
    rng = np.random.default_rng(9)
    for shape in [(1, 2, 9), (2, 3, 5), (1, 2, 9), (1, 1, 4), (3, 2, 6), (1, 4, 8), (1, 2, 9)]:
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_array_equal(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"])
    assert len(art.program.steps[0].state._shapes) <= PadPlan.MAX_SHAPES
