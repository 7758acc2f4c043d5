"""Native numpy kernels of the ONNX attention family and the training losses: Attention,
RotaryEmbedding, NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss. The ONNX node suite's
single-node cases plus random-data comparisons against onnx.reference (GQA + causal + KV
cache, external cache with nonpad_kv_seqlen, float16 rotary)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from graphc.errors import ShapeInferenceError
from targets.numpy.kernels import KERNELS, OpContext
from tests.node_cases import node_cases
from tests.targets.numpy.kernel_cases import check_kernel_on_case

OPS = {"Attention", "RotaryEmbedding", "NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"}


def _cases():
    return [pytest.param(c, id=c.name) for c in node_cases()
            if len(c.model.graph.node) == 1 and c.tensor_only and c.model.graph.node[0].op_type in OPS]


def test_suite_covers_every_op():
    seen = {c.values[0].model.graph.node[0].op_type for c in _cases()}
    assert seen == OPS


@pytest.mark.parametrize("case", _cases())
def test_node_suite(case):
    check_kernel_on_case(case)


# --------------------------------------------------------------------------- random data vs onnx.reference


def _run_both(op: str, inputs: list[np.ndarray | None], n_out: int, opset: int, **attrs):
    """(kernel outputs, onnx.reference outputs) of one default-domain node; None inputs are omitted."""
    names = [f"i{k}" if x is not None else "" for k, x in enumerate(inputs)]
    outs = [f"o{k}" for k in range(n_out)]
    node = helper.make_node(op, names, outs, **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)
         for n, x in zip(names, inputs) if x is not None],
        [helper.make_empty_tensor_value_info(o) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    want = ReferenceEvaluator(model).run(None, {n: x for n, x in zip(names, inputs) if x is not None})
    spec = KERNELS.lookup("", op, opset)
    ctx = OpContext(op.lower(), op, attrs, opset, "", outs=[None] * n_out)
    got = spec.fn(ctx, *inputs)
    return (list(got) if isinstance(got, tuple) else [got]), want


def _assert_close(got, want, rtol=1e-5, atol=1e-6):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol)


def _rand(shape, seed, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("mode", [0, 2, 3])
def test_attention_gqa_causal_with_past_matches_reference(mode):
    # 3-D inputs, 8 query heads sharing 2 KV heads, a 5-token cache, 3 new tokens, a bool mask shorter
    # than the keys (padded as masked), softcap, and every output including the debug scores.
    b, s, past, nq, nkv, h = 2, 3, 5, 8, 2, 4
    q = _rand((b, s, nq * h), 1)
    k = _rand((b, s, nkv * h), 2)
    v = _rand((b, s, nkv * 6), 3)
    pk = _rand((b, nkv, past, h), 4)
    pv = _rand((b, nkv, past, 6), 5)
    mask = np.random.default_rng(6).random((b, 1, s, past + s - 1)) > 0.2
    got, want = _run_both("Attention", [q, k, v, mask, pk, pv], 4, 23, q_num_heads=nq, kv_num_heads=nkv,
                          is_causal=1, softcap=3.0, scale=0.3, qk_matmul_output_mode=mode)
    assert got[0].shape == (b, s, nq * 6) and got[1].shape == (b, nkv, past + s, h)
    _assert_close(got, want)


def test_attention_unknown_qk_output_mode_is_refused():
    """A qk_matmul_output_mode outside 0-3 with the scores output wanted is an error (it was a NaN output)."""
    q, k, v = _rand((1, 2, 3, 4), 1), _rand((1, 2, 3, 4), 2), _rand((1, 2, 3, 4), 3)
    ctx = OpContext("attention", "Attention", {"qk_matmul_output_mode": 4}, 23, "", outs=[None] * 4)
    with pytest.raises(ShapeInferenceError, match="qk_matmul_output_mode 4"):
        KERNELS.lookup("", "Attention", 23).fn(ctx, q, k, v)


def test_attention_external_cache_nonpad_and_float_mask_match_reference():
    # opset 24: 4-D inputs over a static cache of 7 slots with per-batch valid lengths (one row fully
    # masked by the negative causal offset), an additive float mask and float64 softmax precision.
    b, n, s, t, h = 2, 2, 3, 7, 4
    q, k, v = _rand((b, n, s, h), 7), _rand((b, n, t, h), 8), _rand((b, n, t, h), 9)
    mask = _rand((s, t), 10)
    nonpad = np.array([2, 7], dtype=np.int64)
    got, want = _run_both("Attention", [q, k, v, mask, None, None, nonpad], 4, 24, is_causal=1,
                          qk_matmul_output_mode=3, softmax_precision=TensorProto.DOUBLE)
    _assert_close([got[0], got[3]], [want[0], want[3]])


def test_attention_sliding_window_matches_reference():
    q, k, v = _rand((1, 5, 8), 11), _rand((1, 5, 4), 12), _rand((1, 5, 4), 13)
    got, want = _run_both("Attention", [q, k, v], 1, 25, q_num_heads=2, kv_num_heads=1, is_causal=1,
                          left_window_size=2)
    _assert_close(got, want)


@pytest.mark.parametrize("interleaved,rot", [(0, 0), (1, 4)])
def test_rotary_embedding_3d_with_positions_float16_matches_reference(interleaved, rot):
    x = _rand((2, 5, 3 * 8), 14, np.float16)
    cos, sin = _rand((16, (rot or 8) // 2), 15, np.float16), _rand((16, (rot or 8) // 2), 16, np.float16)
    pos = np.random.default_rng(17).integers(0, 16, (2, 5)).astype(np.int64)
    got, want = _run_both("RotaryEmbedding", [x, cos, sin, pos], 1, 23, num_heads=3, interleaved=interleaved,
                          rotary_embedding_dim=rot)
    _assert_close(got, want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("op", ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_losses_weighted_ignore_index_match_reference(op, reduction):
    x = _rand((3, 5, 2, 4), 18)
    target = np.random.default_rng(19).integers(0, 5, (3, 2, 4)).astype(np.int64)
    target[0, 1, 2] = -3
    weight = np.abs(_rand((5,), 20))
    n_out = 2 if op == "SoftmaxCrossEntropyLoss" else 1
    got, want = _run_both(op, [x, target, weight], n_out, 13, reduction=reduction, ignore_index=-3)
    _assert_close(got, want)


def test_loss_target_out_of_range_names_the_node():
    spec = KERNELS.lookup("", "NegativeLogLikelihoodLoss", 13)
    ctx = OpContext("nll0", "NegativeLogLikelihoodLoss", {}, 13, outs=[None])
    with pytest.raises(ShapeInferenceError, match="nll0.*outside"):
        spec.fn(ctx, _rand((2, 3), 21), np.array([0, 3], dtype=np.int64))
