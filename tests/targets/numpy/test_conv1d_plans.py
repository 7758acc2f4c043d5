"""1-D convolutions on the prepared 2-D paths (targets/numpy/kernels/conv2d.py ``_prepare_1d``) against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import jit
from targets.numpy.kernels.conv2d import Conv2dPlan, DeferredConv
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _conv1d_model(c, length, m, k, stride=1, pads=(0, 0), group=1, dilation=1, bias=True, act=None,
                  residual=False, n=1, dynamic=False, auto_pad=None, seed=0):
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((m, c // group, k)) / np.sqrt(c // group * k)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "b"))
        ins.append("b")
    pad_attrs = dict(auto_pad=auto_pad) if auto_pad else dict(pads=list(pads))
    nodes = [helper.make_node("Conv", ins, ["c"], kernel_shape=[k], strides=[stride], group=group,
                              dilations=[dilation], **pad_attrs)]
    inputs = [helper.make_tensor_value_info("x", F, ["N", c, "L"] if dynamic else [n, c, length])]
    last = "c"
    if residual:
        lo = (length + sum(pads) - dilation * (k - 1) - 1) // stride + 1
        inputs.append(helper.make_tensor_value_info("z", F, [n, m, lo]))
        nodes.append(helper.make_node("Add", ["c", "z"], ["s"]))
        last = "s"
    nodes.append(helper.make_node(act or "Identity", [last], ["y"]))
    g = helper.make_graph(nodes, "conv1d", inputs, [helper.make_tensor_value_info("y", F, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


#: stride 128 is more stride positions than the phase path takes (MAX_PHASES): without compiled kernels the
#: general kernel runs it (with them, the ``conv1d`` path: tests/targets/numpy/test_vad_path.py)
UNPLANNED = set() if jit.available() else {"stft-like"}
CASES = {
    # name: keyword arguments of _conv1d_model
    "stft-like": dict(c=1, length=576, m=258, k=256, stride=128, bias=False),
    "same-relu": dict(c=129, length=4, m=128, k=3, pads=(1, 1), act="Relu"),
    "strided-relu": dict(c=128, length=4, m=64, k=3, stride=2, pads=(1, 1), act="Relu"),
    "length-one": dict(c=64, length=1, m=128, k=3, pads=(1, 1), act="Relu"),
    "pointwise-sigmoid": dict(c=128, length=1, m=1, k=1, act="Sigmoid"),
    "pointwise-batch": dict(c=16, length=50, m=24, k=1, n=3),
    "dilated-asym-pads": dict(c=8, length=40, m=12, k=3, dilation=2, pads=(3, 1)),
    "depthwise": dict(c=24, length=33, m=24, k=5, pads=(2, 2), group=24, act="Relu"),
    "grouped-residual": dict(c=12, length=20, m=18, k=3, pads=(1, 1), group=3, act="Relu", residual=True),
    "implicit": dict(c=48, length=30, m=40, k=3, pads=(1, 1), n=2),
    "auto-pad-same": dict(c=8, length=17, m=8, k=4, stride=2, auto_pad="SAME_UPPER"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_conv1d_runs_a_prepared_plan_and_matches_onnxruntime(name):
    kw = CASES[name]
    model = _conv1d_model(**kw)
    rng = np.random.default_rng(1)
    feeds = {}
    for vi in model.graph.input:
        feeds[vi.name] = rng.standard_normal([d.dim_value for d in vi.type.tensor_type.shape.dim]).astype(np.float32)
    art = graphc.compile(model, "numpy")
    plans = [s.state for s in art.program.steps if isinstance(s.state, Conv2dPlan)]
    if name in UNPLANNED:
        assert not plans
    else:
        assert len(plans) == 1 and plans[0].node_shapes is not None
        assert plans[0].in_shape == feeds["x"].shape
    want = ort_run(model, feeds)["y"]
    for _ in range(2):  # a second run reuses the plan's scratch buffers
        got = art.run(feeds)["y"]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_conv1d_with_dynamic_length_plans_each_shape():
    model = _conv1d_model(c=16, length=0, m=8, k=3, pads=(1, 1), act="Relu", dynamic=True)
    art = graphc.compile(model, "numpy")
    assert any(isinstance(s.state, DeferredConv) for s in art.program.steps)
    rng = np.random.default_rng(2)
    for n, length in ((1, 10), (2, 7), (1, 10)):
        x = rng.standard_normal((n, 16, length)).astype(np.float32)
        np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-4, atol=1e-5)
