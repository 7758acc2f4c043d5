"""MaxPool on small static maps (targets/numpy/kernels/pooling.py, ``SmallMaxPool``) against onnxruntime, exactly.

The small-map path pads into a scratch whose border holds the lowest value (written once) and
takes ``k - 1`` maxima per axis; every case also runs on the separable path (threshold 0) so
both stay checked. MTCNN's pools (2x2/2 and 3x3/2 with ``ceil_mode``) are among the cases. The
compiled MaxPool (``pool_jit``) is switched off here; tests/targets/numpy/test_small_ops_jit.py checks it.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from tests.oracle import ort_run
from targets.numpy.kernels import jit, pooling

CASES = {
    # name: (input shape, attributes)
    "pnet-2x2s2-ceil": ((1, 10, 11, 11), dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
    "rnet-3x3s2-ceil": ((1, 28, 22, 22), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    "rnet-3x3s2-ceil-odd": ((2, 48, 9, 9), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    "2x2s2-floor-no-copy": ((1, 16, 10, 9), dict(kernel_shape=[2, 2], strides=[2, 2])),
    "pads": ((2, 3, 9, 10), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2])),
    "pads-ceil": ((2, 3, 9, 10), dict(kernel_shape=[3, 3], strides=[3, 3], pads=[2, 2, 2, 2], ceil_mode=1)),
    "dilated-ceil": ((2, 3, 9, 10), dict(kernel_shape=[3, 2], strides=[1, 2], dilations=[2, 1], ceil_mode=1)),
    "stride1-same": ((1, 4, 7, 7), dict(kernel_shape=[3, 5], pads=[1, 2, 1, 2])),
    "1x1": ((1, 4, 7, 7), dict(kernel_shape=[1, 1], strides=[2, 2])),
    "1d-ceil": ((2, 5, 13), dict(kernel_shape=[3], strides=[2], ceil_mode=1)),
    "3d": ((1, 2, 5, 6, 7), dict(kernel_shape=[2, 2, 3], strides=[2, 1, 2], ceil_mode=1)),
}


@pytest.fixture(autouse=True)
def _numpy_kernels(monkeypatch):
    """These tests check the numpy MaxPool paths: no compiled kernel."""
    monkeypatch.setattr(jit, "ENABLED", False)


def _model(shape, attrs, elem=TensorProto.FLOAT, nodes=1):
    names = ["x"] + [f"y{i}" for i in range(nodes)]
    graph_nodes = [helper.make_node("MaxPool", [names[i]], [names[i + 1]], name=f"pool{i}", **attrs)
                   for i in range(nodes)]
    g = helper.make_graph(graph_nodes, "pool", [helper.make_tensor_value_info("x", elem, shape)],
                          [helper.make_tensor_value_info(names[-1], elem, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])


def _small_plans(art):
    return [s.state[3] is not None for s in art.program.steps if s.state is not None]


@pytest.mark.parametrize("small", [True, False], ids=["small", "separable"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_maxpool_matches_onnxruntime_exactly(name, small, monkeypatch):
    shape, attrs = CASES[name]
    if not small:
        monkeypatch.setattr(pooling, "SMALL_POOL_MAX_ELEMENTS", 0)
    model = _model(shape, attrs)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _small_plans(art) == [small]
    rng = np.random.default_rng(3)
    for _ in range(3):  # later runs reuse the padded scratch (its border is written only once)
        x = rng.standard_normal(shape).astype(np.float32)
        want = ort_run(model, {"x": x})["y0"]
        np.testing.assert_array_equal(art.run({"x": x})["y0"], want)


def test_chained_pools_share_scratch_and_float64():
    """Two small pools back to back (shared intermediate scratch keys), float64, against onnxruntime."""
    model = _model((1, 6, 23, 23), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
                   TensorProto.DOUBLE, nodes=2)
    art = graphc.compile(model, "numpy", fallback=False)
    assert _small_plans(art) == [True, True]
    x = np.random.default_rng(4).standard_normal((1, 6, 23, 23))
    want = ort_run(model, {"x": x})["y1"]
    for _ in range(2):
        np.testing.assert_array_equal(art.run({"x": x})["y1"], want)


def test_nan_in_a_window_gives_nan():
    shape, attrs = CASES["rnet-3x3s2-ceil-odd"]
    art = graphc.compile(_model(shape, attrs), "numpy", fallback=False)
    x = np.zeros(shape, np.float32)
    x[0, 0, 8, 8] = np.nan  # the last row/column: only the ceil window sees it
    y = art.run({"x": x})["y0"]
    assert np.isnan(y[0, 0, 3, 3]) and np.isnan(y).sum() == 1


def test_large_maps_keep_the_separable_path():
    shape = (1, 2, pooling.SMALL_POOL_MAX_ELEMENTS // 4 + 2, 2)
    art = graphc.compile(_model(shape, dict(kernel_shape=[2, 2], strides=[2, 2])), "numpy", fallback=False)
    assert _small_plans(art) == [False]
