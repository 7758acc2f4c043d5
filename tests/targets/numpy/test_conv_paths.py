"""Prepared convolution paths (targets/numpy/kernels/conv2d.py) against onnxruntime, the prepare hook,
scratch reuse, the direct BLAS call, and separable pooling."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from graphc.ir import TensorType
from tests.oracle import ort_run
from targets.numpy.kernels import OpContext, blas, jit
from targets.numpy.kernels.conv import conv, fused_conv
from targets.numpy.kernels.conv2d import DeferredConv, prepare_conv, winograd_weights

F = TensorProto.FLOAT


def _conv_model(c, h, m, k, stride=1, pad=0, group=1, dilation=1, bias=True, relu=False, residual=False, n=1,
                seed=0):
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((m, c // group, k, k)) / np.sqrt(c // group * k * k)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), "b"))
        ins.append("b")
    nodes = [helper.make_node("Conv", ins, ["c"], kernel_shape=[k, k], strides=[stride] * 2, pads=[pad] * 4,
                              group=group, dilations=[dilation] * 2)]
    inputs = [helper.make_tensor_value_info("x", F, [n, c, h, h])]
    last = "c"
    if residual:
        ho = (h + 2 * pad - dilation * (k - 1) - 1) // stride + 1
        inputs.append(helper.make_tensor_value_info("z", F, [n, m, ho, ho]))
        nodes.append(helper.make_node("Add", ["c", "z"], ["s"]))
        last = "s"
    if relu:
        nodes.append(helper.make_node("Relu", [last], ["y"]))
    else:
        nodes.append(helper.make_node("Identity", [last], ["y"]))
    g = helper.make_graph(nodes, "conv", inputs, [helper.make_tensor_value_info("y", F, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _feeds(model, seed=1):
    rng = np.random.default_rng(seed)
    out = {}
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        out[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return out


def _paths(art):
    return [(s.state.path, s.state.implicit) for s in art.program.steps if s.state is not None]


CASES = {
    # name: (c, h, m, k, stride, pad, group, dilation, bias, relu, residual, n, expected path, implicit)
    "pointwise": (16, 9, 24, 1, 1, 0, 1, 1, True, True, False, 1, "pointwise", False),
    "pointwise-strided-folded": (8, 9, 24, 1, 2, 0, 1, 1, True, False, False, 2, "pointwise", False),
    "pointwise-grouped": (12, 7, 12, 1, 1, 0, 3, 1, True, False, True, 1, "pointwise", False),
    "pointwise-grouped-folded": (12, 7, 24, 1, 1, 0, 3, 1, True, False, False, 2, "pointwise", False),
    "winograd": (256, 14, 256, 3, 1, 1, 1, 1, True, True, True, 1, "winograd", False),
    "winograd-odd": (256, 15, 256, 3, 1, 1, 1, 1, False, False, False, 1, "winograd", False),
    "implicit": (32, 32, 40, 3, 1, 1, 1, 1, True, True, False, 2, "phase", True),
    "implicit-strided": (48, 63, 16, 3, 2, 1, 1, 1, False, True, True, 1, "phase", True),
    # below IMPLICIT_MIN_COLUMNS GEMM columns per image im2col wins (12x12: 168 columns)
    "im2col-small-map": (32, 12, 40, 3, 1, 1, 1, 1, True, True, False, 2, "phase", False),
    "im2col-stem": (3, 30, 8, 7, 2, 3, 1, 1, True, True, False, 1, "phase", False),
    "im2col-dilated": (4, 11, 6, 3, 1, 2, 1, 2, True, False, False, 1, "phase", False),
    "im2col-exact": (8, 5, 16, 3, 1, 0, 1, 1, True, False, False, 1, "phase", False),
    # exact taps of unpadded stride-1 inputs read the input itself (plan.direct), also per group block
    "direct-grouped": (8, 6, 12, 3, 1, 0, 4, 1, True, False, False, 2, "phase", False),
    "direct-dilated": (4, 9, 6, 3, 1, 0, 1, 2, False, True, False, 1, "phase", False),
    "grouped": (8, 10, 12, 3, 1, 1, 4, 1, True, False, False, 1, "phase", False),
    "depthwise": (24, 10, 24, 3, 1, 1, 24, 1, True, True, False, 1, "phase", False),
    # patchify stems: kernel = stride (an input size that is not a multiple of it drops the remainder)
    "patch": (3, 33, 16, 4, 4, 0, 1, 1, True, True, False, 2, "patch", False),
    "patch-no-bias": (3, 32, 8, 16, 16, 0, 1, 1, False, False, False, 1, "patch", False),
    "depthwise-strided": (24, 11, 24, 3, 2, 1, 24, 1, False, False, False, 1, "phase", False),
    # several cache-sized blocks of groups, the last one partial
    "depthwise-blocked": (72, 40, 72, 3, 1, 1, 72, 1, True, True, False, 2, "phase", False),
    # taps spread unevenly over 3x3 stride phases (grids of 2 and 1 rows/cols)
    "grouped-stride3-k5": (6, 17, 6, 5, 3, 2, 3, 1, True, False, False, 1, "phase", False),
    "grouped-strided-dilated": (8, 15, 4, 3, 2, 2, 2, 2, True, True, False, 1, "phase", False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_prepared_conv_matches_onnxruntime(name, monkeypatch):
    monkeypatch.setattr(jit, "ENABLED", False)  # the numpy paths (compiled depthwise: test_conv_jit.py)
    c, h, m, k, stride, pad, group, dil, bias, relu, residual, n, path, implicit = CASES[name]
    model = _conv_model(c, h, m, k, stride, pad, group, dil, bias, relu, residual, n)
    art = graphc.compile(model, "numpy", fallback=False)
    want_implicit = implicit and blas.available()
    assert _paths(art) == [(path, want_implicit)]
    feeds = _feeds(model)
    want = ort_run(model, feeds)["y"]
    for _ in range(2):  # the second run reuses scratch buffers (zero borders, rows of ones)
        got = art.run(feeds)["y"]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_direct_taps_only_on_unpadded_stride_one_exact_plans(monkeypatch):
    monkeypatch.setattr(jit, "ENABLED", False)  # small maps take the compiled ``small`` path otherwise
    direct = {}
    for name in ("im2col-exact", "direct-grouped", "direct-dilated", "im2col-dilated", "implicit-strided",
                 "im2col-stem"):
        art = graphc.compile(_conv_model(*CASES[name][:12]), "numpy", fallback=False)
        direct[name] = [s.state.direct for s in art.program.steps if s.state is not None]
    assert direct == {"im2col-exact": [True], "direct-grouped": [True], "direct-dilated": [True],
                      "im2col-dilated": [False], "implicit-strided": [False], "im2col-stem": [False]}


def test_grouped_im2col_runs_in_blocks_of_whole_groups(monkeypatch):
    monkeypatch.setattr(jit, "ENABLED", False)  # depthwise takes the phase path without compiled kernels
    c, h, m, k, stride, pad, group, dil, bias, relu, residual, n, _, _ = CASES["depthwise-blocked"]
    art = graphc.compile(_conv_model(c, h, m, k, stride, pad, group, dil, bias, relu, residual, n), "numpy")
    (plan,) = [s.state for s in art.program.steps if s.state is not None]
    assert 1 < plan.block_groups < group and group % plan.block_groups
    assert sorted(plan.tap_order) == list(range(k * k)) and len(plan.tap_grids) == 1


def test_residual_output_reuses_the_residual_buffer():
    """FusedConv's output takes over Z's arena buffer when Z dies there (and stays correct)."""
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((16, 16, 3, 3)) / 12).astype(np.float32)
    w2 = (rng.standard_normal((16, 16, 1, 1)) / 4).astype(np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Conv", ["r", "w1"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w2"], ["c"], kernel_shape=[1, 1]),
             helper.make_node("Add", ["c", "r"], ["s"]),  # r dies here: the output may take its buffer
             helper.make_node("Relu", ["s"], ["t"]),
             helper.make_node("Sigmoid", ["t"], ["y"])]
    g = helper.make_graph(nodes, "res", [helper.make_tensor_value_info("x", F, [1, 16, 8, 8])],
                          [helper.make_tensor_value_info("y", F, None)],
                          [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    art = graphc.compile(model, "numpy", fallback=False)
    fused = [op for op in art.graph.ops.values() if op.op_type == "FusedConv" and len(op.inputs) > 3 and op.inputs[3] is not None and 3 not in op.blob_slots]
    assert fused, "Relu(Conv + z) should become FusedConv with Z"
    assert set(art.plan.inplace_ops) & {op.name for op in fused}
    feeds = _feeds(model)
    want = ort_run(model, feeds)["y"]
    for debug in (False, True):
        got = graphc.compile(model, "numpy", debug=debug).run(feeds)["y"]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_prepare_runs_once_and_other_shapes_fall_back():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    ctx = OpContext("c", "Conv", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    ctx.state = prepare_conv(ctx, [TensorType(np.dtype(np.float32), (1, 4, 6, 6)), w, None])
    assert ctx.state is not None and ctx.state.x_shape == (1, 4, 6, 6)
    plain = OpContext("c", "Conv", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    for shape in [(1, 4, 6, 6), (2, 4, 5, 7)]:  # the second is not what was prepared: general kernel
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(conv(ctx, x, w), conv(plain, x, w), rtol=1e-5, atol=1e-5)


def test_prepare_declines_what_it_cannot_plan():
    w = np.ones((4, 2, 3, 3), np.float32)
    ctx = OpContext("c", "Conv", {"kernel_shape": [3, 3]})
    assert prepare_conv(ctx, [TensorType(np.dtype(np.float32), (1, 2, "H", 6, 1)), w, None]) is None  # not 4-D
    assert prepare_conv(ctx, [TensorType(np.dtype(np.float32), (1, 2, 6, 6)), TensorType(None, None)]) is None
    assert prepare_conv(ctx, [TensorType(np.dtype(np.float64), (1, 2, 6, 6)), w, None]) is None  # dtype mismatch


def test_symbolic_input_shapes_get_plans_per_concrete_shape():
    """Dynamic-axis exports: the plan is made on first use of each shape; equal weights are shared."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    ctx = OpContext("c", "Conv", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    ctx.share_scratch({})
    deferred = prepare_conv(ctx, [TensorType(np.dtype(np.float32), ("N", 4, "H", "W")), w, None])
    assert isinstance(deferred, DeferredConv)
    ctx.state = deferred
    plain = OpContext("p", "Conv", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    plans = []
    for shape in [(1, 4, 6, 6), (2, 4, 5, 9), (1, 4, 6, 6)] + [(1, 4, 4 + i, 4) for i in range(5)]:
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(conv(ctx, x, w), conv(plain, x, w), rtol=1e-5, atol=1e-5)
        plans.append(deferred.plan_for(ctx, x))
    assert plans[0] is plans[2] and plans[0].x_shape == (1, 4, 6, 6)
    assert plans[0].weights is plans[1].weights  # same path, one prepared copy
    assert len(deferred._plans) == DeferredConv.MAX_SHAPES


def test_fused_conv_with_aliased_residual_general_path():
    """Unprepared FusedConv whose output buffer is Z's (inplace_ok) still adds the original Z."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    z = rng.standard_normal((1, 4, 5, 5)).astype(np.float32)
    want = fused_conv(OpContext("f", "FusedConv", {"pads": [1] * 4, "activation": "Relu"}), x, w, None, z.copy())
    zbuf = z.copy()
    ctx = OpContext("f", "FusedConv", {"pads": [1] * 4, "activation": "Relu"}, outs=[zbuf])
    ctx.inplace_ok = True
    got = fused_conv(ctx, x, w, None, zbuf)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_winograd_weights_reproduce_a_direct_tile():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    u = winograd_weights(g)
    assert u.shape == (16, 2, 3) and u.dtype == np.float32
    bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
    at = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
    d = rng.standard_normal((3, 4, 4))
    v = np.einsum("ia,cab,jb->ijc", bt, d, bt).reshape(16, 3)
    y = np.einsum("xi,ijm,yj->mxy", at, np.einsum("kmc,kc->km", u.astype(np.float64), v).reshape(4, 4, 2), at)
    direct = np.array([[[np.sum(d[:, i:i + 3, j:j + 3] * g[m]) for j in range(2)] for i in range(2)] for m in range(2)])
    np.testing.assert_allclose(y, direct, rtol=1e-5, atol=1e-5)


def _bundled_openblas() -> list[str]:
    """The OpenBLAS libraries a numpy wheel ships in numpy.libs (none for a distro or source build)."""
    import glob
    import os

    return sorted(glob.glob(os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs", "*openblas*")))


NO_BLAS = (f"numpy {np.__version__} ({np.__file__}) bundles no OpenBLAS in numpy.libs: the implicit-GEMM conv "
           "path and the direct sgemm call are not tested here")


def test_blas_is_found_where_numpy_bundles_openblas():
    """Where numpy ships OpenBLAS (every PyPI wheel), graphc must find its sgemm: otherwise the implicit-GEMM
    convolution turns off and the conv-path tests silently check the numpy path instead (a renamed
    CBLAS symbol list passed every test before this one)."""
    libs = _bundled_openblas()
    if not libs:
        pytest.skip(NO_BLAS)
    assert blas.available(), f"numpy bundles {libs} but graphc found no CBLAS sgemm in it"


@pytest.mark.skipif(not blas.available(), reason=NO_BLAS)
def test_blas_sgemm_strided_accumulate_and_bounds():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 3)).astype(np.float32)
    buf = rng.standard_normal(100).astype(np.float32)
    c = rng.standard_normal((5, 7)).astype(np.float32)
    want = a @ np.stack([buf[10 + i * 20: 10 + i * 20 + 7] for i in range(3)]) + c
    blas.sgemm(a, buf, 10, 20, 3, 7, c, 1.0)
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        blas.sgemm(a, buf, 90, 20, 3, 7, c, 0.0)  # rows run past the buffer


def test_scratch_is_shared_by_key_and_sized_for_the_largest_user():
    pool: dict = {}
    a, b = OpContext("a", "X"), OpContext("b", "X")
    a.share_scratch(pool)
    b.share_scratch(pool)
    small = a.scratch("k", (2, 3), np.float32)
    big = b.scratch("k", (4, 5), np.float32)  # grows the shared buffer
    again = a.scratch("k", (2, 3), np.float32)
    assert np.shares_memory(again, big) and again.shape == (2, 3)
    assert not np.shares_memory(small, a.scratch("other", (2, 3), np.float32))
    table = a.scratch("t", (3,), np.float32, fill=1)  # filled buffers are private and keep their fill
    assert np.all(table == 1) and b.scratch("t", (3,), np.float32, fill=1) is table


@pytest.mark.parametrize("op_type,attrs", [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])),
    ("MaxPool", dict(kernel_shape=[3, 2], strides=[1, 2], dilations=[2, 1], ceil_mode=1)),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[2, 3], strides=[2, 1], ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[3, 3], pads=[2, 2, 2, 2], ceil_mode=1)),  # border taps skipped
    ("MaxPool", dict(kernel_shape=[9, 10])),  # the whole map: one reduction
    ("AveragePool", dict(kernel_shape=[9, 10])),
    ("AveragePool", dict(kernel_shape=[5, 5], strides=[1, 1], pads=[4, 4, 4, 4])),  # no tap sees every output
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])),
    ("MaxPool", dict(kernel_shape=[3, 5], strides=[1, 1], pads=[1, 2, 1, 2])),
])
def test_separable_pooling_matches_onnxruntime(op_type, attrs):
    node = helper.make_node(op_type, ["x"], ["y"], **attrs)
    g = helper.make_graph([node], "pool", [helper.make_tensor_value_info("x", F, [2, 3, 9, 10])],
                          [helper.make_tensor_value_info("y", F, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    art = graphc.compile(model, "numpy", fallback=False)
    feeds = _feeds(model)
    want = ort_run(model, feeds)["y"]
    for _ in range(2):
        np.testing.assert_allclose(art.run(feeds)["y"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k,s,d,pad,combine", [(3, 1, 1, 1, np.add), (3, 2, 1, 1, np.maximum), (2, 2, 1, 0, np.add),
                                               (3, 1, 2, 2, np.maximum)])
def test_pool_axis_over_flat_arrays_matches_the_row_path(k, s, d, pad, combine):
    from targets.numpy.kernels.pooling import combine_axis_flat, combine_taps, tap_ranges

    x = np.random.default_rng(0).standard_normal((2, 3, 12, 12)).astype(np.float32)
    o = (12 + 2 * pad - d * (k - 1) - 1) // s + 1
    ranges = tap_ranges(12, k, s, d, pad, o)
    identity = 0 if combine is np.add else -np.inf
    for axis in (2, 3):  # the first spatial axis only at stride 1 (rows of a plane stay whole)
        shape = list(x.shape)
        shape[axis] = o
        want = np.empty(shape, np.float32)
        combine_taps(x, want, axis, ranges, s, (0, o), combine, identity)
        got = np.full_like(want, np.nan)
        assert combine_axis_flat(x, got, axis, ranges, s, combine, identity) == (axis == 3 or s == 1)
        if axis == 3 or s == 1:
            np.testing.assert_array_equal(got, want)


def _depthwise_pair(c, hw, k, strides, dilations, pads, multiplier=1, bias=True, relu6=False, seed=0):
    """Two depthwise convs of one geometry (different weights) on the same input, added: they share the
    zeroed phase buffer."""
    rng = np.random.default_rng(seed)
    m = c * multiplier
    inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("lo", 0.0), ("hi", 6.0))]
    nodes = []
    for i in range(2):
        w = (rng.standard_normal((m, 1, k[0], k[1])) / np.sqrt(k[0] * k[1])).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        ins = ["x", f"w{i}"]
        if bias:
            inits.append(numpy_helper.from_array(rng.standard_normal(m).astype(np.float32), f"b{i}"))
            ins.append(f"b{i}")
        nodes.append(helper.make_node("Conv", ins, [f"c{i}"], kernel_shape=list(k), strides=list(strides),
                                      dilations=list(dilations), pads=list(pads), group=c))
        if relu6:
            nodes.append(helper.make_node("Clip", [f"c{i}", "lo", "hi"], [f"r{i}"]))
    last = "r" if relu6 else "c"
    nodes.append(helper.make_node("Add", [f"{last}0", f"{last}1"], ["y"]))
    g = helper.make_graph(nodes, "dw", [helper.make_tensor_value_info("x", F, [1, c, *hw])],
                          [helper.make_tensor_value_info("y", F, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


DEPTHWISE = {
    # name: (channels, (h, w), kernel, strides, dilations, pads (top, left, bottom, right), depth multiplier)
    "3x3-same": (16, (15, 15), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),
    "3x3-stride2-even": (24, (16, 16), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 1),
    "3x3-stride2-odd-asym": (8, (13, 11), (3, 3), (2, 2), (1, 1), (0, 0, 1, 1), 1),
    # even sizes: the phase interiors form a grid, loaded in one copy
    "5x5-stride2-even": (16, (16, 16), (5, 5), (2, 2), (1, 1), (2, 2, 2, 2), 1),
    "3x3-stride-1x2-even": (8, (9, 12), (3, 3), (1, 2), (1, 1), (1, 1, 1, 1), 1),
    "3x3-stride2-even-multiplier2": (6, (10, 12), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 2),
    "3x3-valid": (12, (9, 10), (3, 3), (1, 1), (1, 1), (0, 0, 0, 0), 1),
    "3x3-dilated2": (8, (14, 14), (3, 3), (1, 1), (2, 2), (2, 2, 2, 2), 1),
    "5x5-stride2": (16, (17, 17), (5, 5), (2, 2), (1, 1), (2, 2, 2, 2), 1),
    "5x3-stride-1x2": (8, (12, 13), (5, 3), (1, 2), (1, 1), (2, 1, 2, 1), 1),
    "3x3-stride3-dilated": (6, (20, 20), (3, 3), (3, 3), (2, 2), (1, 2, 3, 0), 1),
    "multiplier2": (8, (10, 10), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 2),
    "multiplier3-stride2": (4, (11, 11), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 3),
    "7x7-wide-pad": (8, (9, 9), (7, 7), (1, 1), (1, 1), (3, 3, 3, 3), 1),
}


@pytest.mark.parametrize("large", [False, True], ids=["zeroed-once", "shared-scratch"])
@pytest.mark.parametrize("name", sorted(DEPTHWISE))
def test_depthwise_matches_onnxruntime(name, large, monkeypatch):
    """Depthwise and depth-multiplier convs (group = channels) through the phase path, against onnxruntime:
    the private phase buffer zeroed once (two nodes of one geometry share it, runs reuse it) and, with the
    size limit at 0, the shared scratch whose zeros are rewritten on every call."""
    from targets.numpy.kernels import conv2d

    monkeypatch.setattr(jit, "ENABLED", False)  # the phase path (compiled depthwise: test_conv_jit.py)
    if large:
        monkeypatch.setattr(conv2d, "ZEROED_PHASES_MAX_BYTES", 0)
    c, hw, k, strides, dilations, pads, mult = DEPTHWISE[name]
    for bias, relu6 in ((True, True), (False, False)):
        model = _depthwise_pair(c, hw, k, strides, dilations, pads, mult, bias, relu6)
        art = graphc.compile(model, "numpy", fallback=False)
        assert _paths(art) == [("phase", False)] * 2
        feeds = _feeds(model)
        want = ort_run(model, feeds)["y"]
        for _ in range(3):  # later runs reuse the phase buffer: its zeros must still be there
            np.testing.assert_allclose(art.run(feeds)["y"], want, rtol=1e-4, atol=1e-5)
