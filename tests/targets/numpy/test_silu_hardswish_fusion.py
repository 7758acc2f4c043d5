"""fuse-silu on the numpy target: SiLU / HardSwish in the Conv epilogue (graphc::FusedConv) and the
standalone graphc::SiLU kernel, checked against onnxruntime on the unfused model."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from graphc import PassContext, PassManager, load_model
from graphc.target import get_target
from targets.numpy.kernels.epilogue import HALF_SILU
from tests.oracle import ort_run

F = TensorProto.FLOAT


def _model(c, h, m, k, act, *, stride=1, group=1, extra_reader=False, dtype=np.float32, seed=0):
    """x -> Conv -> act ("silu", "hardswish", "hsig-mul" or ("hsig-mul", alpha, beta)) -> y
    (and y2 = c + 1 when ``extra_reader``: the Conv output has a reader outside the activation)."""
    rng = np.random.default_rng(seed)
    w = (2 * rng.standard_normal((m, c // group, k, k)) / np.sqrt(c // group * k * k)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    one = np.ones((), dtype)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[k, k], strides=[stride] * 2,
                              pads=[k // 2] * 4, group=group)]
    kind = act[0] if isinstance(act, tuple) else act
    if kind == "silu":
        nodes += [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["s", "c"], ["y"])]
    elif kind == "hardswish":
        nodes.append(helper.make_node("HardSwish", ["c"], ["y"]))
    else:
        alpha, beta = act[1:] if isinstance(act, tuple) else (1.0 / 6.0, 0.5)
        nodes += [helper.make_node("HardSigmoid", ["c"], ["s"], alpha=alpha, beta=beta),
                  helper.make_node("Mul", ["c", "s"], ["y"])]
    outputs = [helper.make_tensor_value_info("y", elem, None)]
    if extra_reader:
        nodes.append(helper.make_node("Add", ["c", "one"], ["y2"]))
        outputs.append(helper.make_tensor_value_info("y2", elem, None))
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"), numpy_helper.from_array(one, "one")]
    g = helper.make_graph(nodes, "conv_act", [helper.make_tensor_value_info("x", elem, [1, c, h, h])], outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _feeds(model, dtype=np.float32, scale=2.0, seed=1):
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return {"x": (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)}


def _ops(art) -> list[tuple[str, str | None]]:
    """(qualified op type, activation attribute) of every op of the lowered graph."""
    return [(op.qualified_type, op.attrs.get("activation")) for op in art.graph.walk()]


def _check(model, feeds, rtol=1e-5, atol=1e-5):
    """Compile for numpy, run, compare with onnxruntime (the tolerance of the convolution's sums,
    test_conv_paths.py's; a wrong epilogue is off by tenths)."""
    art = graphc.compile(model, "numpy")
    got, ref = art.run(feeds), ort_run(model, feeds)
    for name, want in ref.items():
        np.testing.assert_allclose(got[name], want, rtol=rtol, atol=atol, err_msg=name)
    return art


# (c, h, m, k, stride, group): the prepared paths the epilogue follows (pointwise, im2col stem, depthwise)
SHAPES = {"pointwise": (16, 9, 24, 1, 1, 1), "stem": (3, 17, 8, 3, 2, 1), "depthwise": (24, 10, 24, 3, 1, 24),
          "implicit": (32, 12, 40, 3, 1, 1)}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("act, activation", [("silu", "SiLU"), ("hardswish", "HardSwish"), ("hsig-mul", "HardSwish")])
def test_conv_activation_rides_the_epilogue(shape, act, activation):
    c, h, m, k, stride, group = SHAPES[shape]
    model = _model(c, h, m, k, act, stride=stride, group=group)
    art = _check(model, _feeds(model))
    ops = _ops(art)
    assert ops == [("graphc::FusedConv", activation)], ops
    # the prepared plan runs the epilogue (SiLU: over halved weights, the three-pass form, except in the
    # compiled depthwise loop, which applies x * sigmoid(x) itself, and the compiled small conv)
    (plan,) = [s.state for s in art.program.steps if s.state is not None]
    halved = activation == "SiLU" and plan.path not in ("depthwise", "small")
    assert plan.activation[0] == (HALF_SILU if halved else activation)


def test_hard_sigmoid_mul_keeps_its_alpha_beta():
    model = _model(8, 9, 12, 3, ("hsig-mul", 0.2, 0.4))
    art = _check(model, _feeds(model))
    (op,) = list(art.graph.walk())
    assert (op.qualified_type, op.attrs["activation"]) == ("graphc::FusedConv", "HardSwish")
    np.testing.assert_allclose(op.attrs["activation_params"], [0.2, 0.4], rtol=1e-7)


def test_conv_output_read_elsewhere_does_not_fuse_but_silu_is_one_node():
    model = _model(8, 9, 12, 3, "silu", extra_reader=True)
    art = _check(model, _feeds(model))
    types = sorted(t for t, _ in _ops(art))
    assert types == ["Add", "Conv", "graphc::SiLU"], types


def test_hardswish_with_conv_output_read_elsewhere_stays_a_node():
    model = _model(8, 9, 12, 3, "hardswish", extra_reader=True)
    art = _check(model, _feeds(model))
    assert sorted(t for t, _ in _ops(art)) == ["Add", "Conv", "HardSwish"]


def _silu_model(dtype, shape=(2, 5, 7, 3)):
    """y = SiLU(x + 0): the Add's output dies at the SiLU, so the kernel may run in place."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    nodes = [helper.make_node("Add", ["x", "zero"], ["a"]), helper.make_node("Sigmoid", ["a"], ["s"]),
             helper.make_node("Mul", ["a", "s"], ["y"])]
    g = helper.make_graph(nodes, "silu", [helper.make_tensor_value_info("x", elem, list(shape))],
                          [helper.make_tensor_value_info("y", elem, None)],
                          [numpy_helper.from_array(np.zeros((), dtype), "zero")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standalone_silu_over_a_wide_range(dtype):
    model = _silu_model(dtype)
    x = np.concatenate([np.linspace(-30, 30, 150), [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, -104.0, 200.0, -200.0,
                                                    np.inf, -np.inf, np.nan]])
    feeds = {"x": np.resize(x, (2, 5, 7, 3)).astype(dtype)}
    art = graphc.compile(model, "numpy")
    assert "graphc::SiLU" in {t for t, _ in _ops(art)} and not {"Sigmoid", "Mul"} & {t for t, _ in _ops(art)}
    got, want = art.run(feeds)["y"], ort_run(model, feeds)["y"]
    # float32: the error of sigmoid (~one float32 step of 1) times |x|, as for onnxruntime's Sigmoid then Mul
    scale = np.maximum(1.0, np.abs(np.nan_to_num(feeds["x"], posinf=0, neginf=0)))
    eps = np.finfo(dtype).eps
    finite = np.isfinite(want)
    assert np.all(np.abs(got[finite] - want[finite]) <= 2 * eps * scale[finite]), np.abs(got - want).max()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])


def test_saved_artifact_keeps_the_graphc_ops(tmp_path):
    model = _model(8, 9, 12, 3, "silu", extra_reader=True)
    feeds = _feeds(model)
    graphc.compile(model, "numpy").save(tmp_path / "art")
    loaded = graphc.load(tmp_path / "art")
    assert {"graphc::SiLU", "Conv"} <= {t for t, _ in _ops(loaded)}
    for name, want in ort_run(model, feeds).items():
        np.testing.assert_allclose(loaded.run(feeds)[name], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("target", [None, "ort"])
def test_without_a_graphc_target_nothing_is_rewritten(target):
    """fuse-silu makes graphc ops only for a target that runs them: plain ONNX output and the ort
    target keep the nodes (onnxruntime has no graphc::FusedConv nor graphc::SiLU)."""
    for act, kept in (("silu", ["Conv", "Mul", "Sigmoid"]), ("hardswish", ["Conv", "HardSwish"])):
        graph = load_model(_model(8, 9, 12, 3, act))
        ctx = PassContext(target=None if target is None else get_target(target))
        PassManager("infer-shapes,fuse-silu").run(graph, ctx)
        assert sorted(op.op_type for op in graph.walk()) == kept


def test_conv1d_silu_rides_the_epilogue():
    """A 1-D convolution's plan (the 2-D one over a height-1 image) halves its weights for SiLU too."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 4, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3], pads=[1, 1]),
             helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    g = helper.make_graph(nodes, "conv1d_silu", [helper.make_tensor_value_info("x", F, [1, 4, 50])],
                          [helper.make_tensor_value_info("y", F, None)], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    art = _check(model, _feeds(model))
    assert _ops(art) == [("graphc::FusedConv", "SiLU")]
