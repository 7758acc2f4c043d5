"""Winograd F(2x2, 3x3) with compiled transforms (kernels/winograd_jit.py) against onnxruntime.

Every case runs with compiled kernels (the plan must take the ``winograd`` path from 16 channels,
transforms compiled) and with ``jit.ENABLED`` patched False (below 256 channels the numpy ``phase``
path); both must give onnxruntime's answer. Winograd's transforms add and subtract up to 16
products per output before the GEMM sums them, so its float32 error is a few times the direct
sum's: the tolerance is relative to the output's magnitude.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from targets.numpy.kernels import conv2d, jit
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _model(c, m, hw, pads=(1, 1, 1, 1), n=1, act="none", residual=False, bias=True, seed=0):
    """y = act(Conv3x3(x) [+ z]); z is a model input when ``residual``. ``hw``: (H, W)."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((m, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "b"))
        ins.append("b")
    nodes = [helper.make_node("Conv", ins, ["c"], kernel_shape=[3, 3], pads=list(pads))]
    inputs = [helper.make_tensor_value_info("x", F, [n, c, *hw])]
    src = "c"
    if residual:
        ho, wo = hw[0] + pads[0] + pads[2] - 2, hw[1] + pads[1] + pads[3] - 2
        inputs.append(helper.make_tensor_value_info("z", F, [n, m, ho, wo]))
        nodes.append(helper.make_node("Add", ["c", "z"], ["s"]))
        src = "s"
    if act == "Clip":
        inits += [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in (("lo", -0.5), ("hi", 0.5))]
        nodes.append(helper.make_node("Clip", [src, "lo", "hi"], ["y"]))
    elif act == "SiLU":
        nodes += [helper.make_node("Sigmoid", [src], ["g"]), helper.make_node("Mul", [src, "g"], ["y"])]
    elif act == "none":
        nodes.append(helper.make_node("Identity", [src], ["y"]))
    else:
        nodes.append(helper.make_node(act, [src], ["y"]))
    graph = helper.make_graph(nodes, "wino", inputs, [helper.make_tensor_value_info("y", F, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _feeds(model, seed=1, fill=None):
    rng = np.random.default_rng(seed)
    feeds = {}
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    if fill is not None:
        x = feeds["x"].reshape(-1)
        x[rng.choice(x.size, 5, replace=False)] = fill
    return feeds


def _plans(art):
    return [s.state for s in art.program.steps if getattr(s.state, "path", None)]


CASES = {
    # name: (C, M, (H, W), pads, N, activation, residual, bias); tiles * C * M >= WINOGRAD_JIT_MIN_WORK
    "yolo-silu": (32, 32, (20, 20), (1, 1, 1, 1), 1, "SiLU", False, True),
    "relu-store": (16, 24, (33, 29), (1, 1, 1, 1), 1, "Relu", False, True),
    "clip-store": (24, 16, (24, 30), (1, 1, 1, 1), 1, "Clip", False, False),
    "odd-out-no-pad": (16, 32, (31, 27), (0, 0, 0, 0), 2, "none", False, True),
    "asymmetric-pads": (32, 32, (20, 22), (0, 2, 1, 0), 1, "Relu", False, True),
    "wide-pads": (32, 32, (14, 14), (2, 2, 2, 2), 1, "none", False, False),
    "residual-relu": (32, 32, (18, 18), (1, 1, 1, 1), 2, "Relu", True, True),
    "residual-silu": (32, 32, (16, 16), (1, 1, 1, 1), 1, "SiLU", True, True),
    "tanh-epilogue": (32, 32, (16, 16), (1, 1, 1, 1), 1, "Tanh", False, True),
}


@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_winograd_matches_onnxruntime(name, compiled, monkeypatch):
    if compiled and not jit.available():
        pytest.skip("numba is not importable")
    monkeypatch.setattr(jit, "ENABLED", compiled)
    c, m, hw, pads, n, act, residual, bias = CASES[name]
    model = _model(c, m, hw, pads, n, act, residual, bias)
    art = graphc.compile(model, "numpy", fallback=False)
    (plan,) = _plans(art)
    assert plan.path == ("winograd" if compiled else "phase")
    assert (plan.compiled is not None) == compiled
    if compiled:
        from targets.numpy.kernels import gemm_jit  # imports numba

        assert (plan.winograd_gemm is not None) == (conv2d.WINOGRAD_GEMM_JIT and gemm_jit.supported())
    else:
        assert plan.winograd_gemm is None
    feeds = _feeds(model)
    want = ort_run(model, feeds)["y"]
    for _ in range(2):  # the second run reuses the scratch buffers (split planes are zeroed per call)
        got = art.run(feeds)["y"]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))


def test_winograd_store_applies_the_activation():
    arts = {act: graphc.compile(_model(32, 32, (16, 16), act=act), "numpy", fallback=False)
            for act in ("Relu", "Clip", "SiLU", "Tanh", "none")}
    if not jit.available():
        pytest.skip("numba is not importable")
    from targets.numpy.kernels import store_jit

    codes = {act: _plans(art)[0].act_code for act, art in arts.items()}
    # SiLU: the plan halves its weights, the store takes SiLU of twice the value
    from targets.numpy.kernels._numeric import HALF_SILU

    assert codes == {"Relu": store_jit.STORE_ACTIVATIONS["Relu"], "Clip": store_jit.STORE_ACTIVATIONS["Clip"],
                     "SiLU": store_jit.STORE_ACTIVATIONS[HALF_SILU], "Tanh": 0, "none": 0}


@pytest.mark.parametrize("c, m, hw, path", [
    (16, 16, (12, 12), "phase"),  # 36 tiles * 16 * 16 = 9216 < WINOGRAD_JIT_MIN_WORK
    (8, 64, (40, 40), "stem"),  # fewer than WINOGRAD_JIT_MIN_CHANNELS input channels (and few enough for stem)
    (64, 64, (10, 10), "winograd"),  # 25 tiles * 64 * 64 = 102400
])
def test_winograd_thresholds(c, m, hw, path):
    if not jit.available():
        pytest.skip("numba is not importable")
    tiles = -(-hw[0] // 2) * -(-hw[1] // 2)
    assert (tiles * c * m >= conv2d.WINOGRAD_JIT_MIN_WORK and min(c, m) >= conv2d.WINOGRAD_JIT_MIN_CHANNELS) \
        == (path == "winograd")
    (plan,) = _plans(graphc.compile(_model(c, m, hw), "numpy", fallback=False))
    assert plan.path == path


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan, 3e19])
def test_non_finite_input_takes_the_direct_convolution(value):
    """Winograd's input transform subtracts neighbours (inf - inf = NaN): a non-finite input runs the general
    kernel, which gives onnxruntime's IEEE result; a finite input after it is Winograd's again. 3e19 is
    finite but its square overflows the x . x test: the direct convolution runs, with the same result."""
    model = _model(32, 32, (16, 16), act="Relu")
    art = graphc.compile(model, "numpy", fallback=False)
    assert [p.path for p in _plans(art)] == ["winograd" if jit.available() else "phase"]
    feeds = _feeds(model, fill=value)
    want = ort_run(model, feeds)["y"]
    got = art.run(feeds)["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.nanmax(np.abs(want[np.isfinite(want)])))))
    finite = _feeds(model, seed=5)
    np.testing.assert_allclose(art.run(finite)["y"], ort_run(model, finite)["y"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("h, w, pads", [
    (7, 9, (1, 0, 1, 0)),  # odd output sizes: the last tile's second row and column are cropped
    (6, 1, (0, 3, 0, 0)),  # a left pad wider than the input: the column phases hold no input column
    (3, 4, (4, 2, 1, 5)),  # pads beyond the kernel on every side
    (10, 12, (2, 1, 0, 2)),
])
def test_winograd_transforms_against_hand_computed_direct_sum(h, w, pads):
    """The two compiled transforms and the weight transform reproduce a float64 direct convolution of one
    image, including borders where whole tiles or phases read only padding."""
    if not jit.available():
        pytest.skip("numba is not importable")
    from targets.numpy.kernels import conv_jit, winograd_jit  # imports numba
    from targets.numpy.kernels._numeric import HALF_SILU

    rng = np.random.default_rng(4)
    c, m = 5, 7
    top, left, bottom, right = pads
    x = rng.standard_normal((c, h, w)).astype(np.float32)
    g = rng.standard_normal((m, c, 3, 3)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    ho, wo = h + top + bottom - 2, w + left + right - 2
    xp = np.pad(x.astype(np.float64), ((0, 0), (top, bottom), (left, right)))
    want = b[:, None, None].astype(np.float64) + sum(
        np.einsum("mc,chw->mhw", g[:, :, i, j].astype(np.float64), xp[:, i:i + ho, j:j + wo])
        for i in range(3) for j in range(3))
    th, tw = -(-ho // 2), -(-wo // 2)
    v = np.empty((16, winograd_jit.plane_stride(c * th * tw)), np.float32)
    split = np.full(winograd_jit.split_size((ho, wo)), np.nan, np.float32)  # stale contents must not leak
    winograd_jit.winograd_input(x, v, split, th, tw, top, left)
    prod = np.zeros((16, winograd_jit.plane_stride(m * th * tw)), np.float32)
    np.matmul(conv2d.winograd_weights(g), v[:, :c * th * tw].reshape(16, c, th * tw),
              out=prod[:, :m * th * tw].reshape(16, m, th * tw))
    out = np.empty((m, ho, wo), np.float32)
    params = np.zeros(3, np.float32)
    winograd_jit.winograd_output(prod, b, out, np.empty(4 * th * tw, np.float32), th, tw, 0, params)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    codes = conv_jit.ACTIVATION_CODES
    winograd_jit.winograd_output(prod, b, out, np.empty(4 * th * tw, np.float32), th, tw, codes["Relu"], params)
    np.testing.assert_allclose(out, np.maximum(want, 0), rtol=1e-5, atol=1e-5 * np.abs(want).max())
    # SiLU of twice the value (the halved-weights plans' code), HardSwish (alpha 1/6, beta 0.5)
    winograd_jit.winograd_output(prod, b, out, np.empty(4 * th * tw, np.float32), th, tw, codes[HALF_SILU], params)
    np.testing.assert_allclose(out, 2 * want / (1 + np.exp(-2 * want)), rtol=1e-5, atol=1e-5 * np.abs(want).max())
    winograd_jit.winograd_output(prod, b, out, np.empty(4 * th * tw, np.float32), th, tw, codes["HardSwish"],
                                 np.array([1 / 6, 0.5, 0], np.float32))
    np.testing.assert_allclose(out, want * np.clip(want / 6 + 0.5, 0, 1), rtol=1e-5, atol=1e-5 * np.abs(want).max())


def _pointwise_model(c, m, hw, stride=1, group=1, act="Relu", residual=False, n=1, seed=0):
    """y = act(Conv1x1(x) + b [+ z]) with a bias; z is a model input when ``residual``."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((m, c // group, 1, 1)) / np.sqrt(c // group)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[1, 1], strides=[stride] * 2, group=group)]
    inputs = [helper.make_tensor_value_info("x", F, [n, c, hw, hw])]
    src = "c"
    if residual:
        ho = (hw - 1) // stride + 1
        inputs.append(helper.make_tensor_value_info("z", F, [n, m, ho, ho]))
        nodes.append(helper.make_node("Add", ["c", "z"], ["s"]))
        src = "s"
    if act == "Clip":
        inits += [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in (("lo", 0.0), ("hi", 6.0))]
        nodes.append(helper.make_node("Clip", [src, "lo", "hi"], ["y"]))
    elif act == "SiLU":
        nodes += [helper.make_node("Sigmoid", [src], ["g"]), helper.make_node("Mul", [src, "g"], ["y"])]
    else:
        nodes.append(helper.make_node(act, [src], ["y"]))
    graph = helper.make_graph(nodes, "pw", inputs, [helper.make_tensor_value_info("y", F, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


POINTWISE = {
    # name: (C, M, H=W, stride, group, activation, residual, N); large enough for the pointwise path (tiny
    # one-group convs may take a compiled direct path)
    "expand-relu": (16, 64, 14, 1, 1, "Relu", False, 1),  # C < M: folded without the compiled pass
    "project-clip": (64, 24, 14, 1, 1, "Clip", False, 2),
    "silu": (32, 48, 10, 1, 1, "SiLU", False, 1),
    "strided-relu": (32, 64, 27, 2, 1, "Relu", False, 1),
    "grouped-silu": (24, 36, 7, 1, 3, "SiLU", False, 1),
    "residual-relu": (32, 128, 8, 1, 1, "Relu", True, 2),
}


@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "numpy"])
@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_bias_in_the_compiled_activation_pass(name, compiled, monkeypatch):
    if compiled and not jit.available():
        pytest.skip("numba is not importable")
    monkeypatch.setattr(jit, "ENABLED", compiled)
    c, m, hw, stride, group, act, residual, n = POINTWISE[name]
    model = _pointwise_model(c, m, hw, stride, group, act, residual, n)
    art = graphc.compile(model, "numpy", fallback=False)
    (plan,) = _plans(art)
    assert plan.path == "pointwise" and (plan.epilogue is not None) == compiled
    if compiled:
        assert not plan.folded and plan.weights.shape[2] == c // group  # no bias column
    feeds = _feeds(model)
    want = ort_run(model, feeds)["y"]
    for _ in range(2):
        np.testing.assert_allclose(art.run(feeds)["y"], want, rtol=1e-5, atol=1e-5)


def test_winograd_on_a_shape_known_only_at_run_time():
    """Symbolic batch and spatial dims: the plan is made per concrete shape (DeferredConv), Winograd's too."""
    model = _model(32, 32, (18, 22), act="Relu")
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_param = "W"
    art = graphc.compile(model, "numpy", fallback=False)
    for shape in [(1, 32, 18, 22), (2, 32, 15, 21)]:
        x = np.random.default_rng(shape[0]).standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(art.run({"x": x})["y"], ort_run(model, {"x": x})["y"], rtol=1e-4, atol=1e-5)
    (state,) = [s.state for s in art.program.steps if s.state is not None]
    paths = sorted(p.path for p in state._plans.values() if p is not None)
    assert paths == ["winograd", "winograd"] if jit.available() else ["phase", "phase"]
