"""Native numpy kernels of the LLM-decoder contrib ops (MatMulNBits, GroupQueryAttention), held to onnxruntime.

Each case is a single-node model (or a small decoder block) compiled with ``fallback=False``
(so the native kernel must run) and compared with onnxruntime's CPU kernel at rtol/atol
1e-4 (float32). Quantized weights come from onnxruntime's own block quantizer
(``quantize_matmul_4bits``, the packing routine ``MatMulNBitsQuantizer`` calls) or are
random packed bytes (every nibble pattern, packed and float zero points).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import graphc
from graphc.errors import GraphcError
from tests.oracle import ort_run

MS = "com.microsoft"
RTOL = ATOL = 1e-4
GQA_OPTIONAL = ("position_ids", "attention_bias", "head_sink", "k_scale", "v_scale", "q_norm_weight",
                "k_norm_weight", "query_seqlens")


def _model(nodes: list[onnx.NodeProto], feeds: dict[str, np.ndarray], outputs: list[str],
           inits: list[onnx.TensorProto] | None = None) -> onnx.ModelProto:
    inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for k, v in feeds.items()]
    graph = helper.make_graph(nodes, "llm", inputs, [onnx.ValueInfoProto(name=o) for o in outputs],
                              initializer=inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])


def _single(op: str, feeds: dict[str, np.ndarray | None], outputs: list[str], **attrs
            ) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """One com.microsoft ``op`` node; a None feed is an omitted optional input (trailing ones dropped)."""
    names = list(feeds)
    while names and feeds[names[-1]] is None:
        names.pop()
    node = helper.make_node(op, [k if feeds[k] is not None else "" for k in names], outputs, domain=MS, **attrs)
    given = {k: v for k, v in feeds.items() if v is not None}
    return _model([node], given, outputs), given


def _check(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> float:
    """The numpy target (no fallback) against onnxruntime; returns the largest absolute difference."""
    art = graphc.compile(model, "numpy", fallback=False)
    assert set(art.describe()["runs"]) == {"native"}
    got, want = art.run(feeds), ort_run(model, feeds)
    assert got.keys() == want.keys()
    worst = 0.0
    for k, w in want.items():
        g = got[k]
        assert g.shape == w.shape and g.dtype == w.dtype, f"output {k}: {g.shape} {g.dtype} vs {w.shape} {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"output {k}")
        worst = max(worst, float(np.abs(g.astype(np.float64) - w).max()) if w.size else 0.0)
    return worst


# --------------------------------------------------------------------------- MatMulNBits


def _ort_quantize(w: np.ndarray, block_size: int, symmetric: bool
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(packed B, scales, packed zero points or None) of a (K, N) weight, by onnxruntime's 4-bit quantizer."""
    from onnxruntime.capi._pybind_state import quantize_matmul_4bits

    k, n = w.shape
    kb = -(-k // block_size)
    padded = np.pad(w, ((0, kb * block_size - k), (0, 0)))
    packed = np.zeros((n, kb, block_size // 2), np.uint8)
    scales = np.zeros((n, kb), np.float32)
    zp = np.zeros((n, (kb + 1) // 2), np.uint8)
    quantize_matmul_4bits(packed, np.ascontiguousarray(padded), scales, zp, block_size, n, k, symmetric)
    return packed, scales, None if symmetric else zp


def _nbits_node(name: str, a: str, out: str, w: np.ndarray, block_size: int, symmetric: bool,
                bias: np.ndarray | None = None, **attrs) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    """A MatMulNBits node for the (K, N) float weight ``w`` quantized by onnxruntime, with its initializers."""
    packed, scales, zp = _ort_quantize(w, block_size, symmetric)
    inits = [numpy_helper.from_array(packed, f"{name}_B"), numpy_helper.from_array(scales, f"{name}_scales")]
    ins = [a, f"{name}_B", f"{name}_scales"]
    if zp is not None:
        inits.append(numpy_helper.from_array(zp, f"{name}_zp"))
    ins.append(f"{name}_zp" if zp is not None else "")
    if bias is not None:
        inits.append(numpy_helper.from_array(bias, f"{name}_bias"))
        ins += ["", f"{name}_bias"]
    while not ins[-1]:
        ins.pop()
    node = helper.make_node("MatMulNBits", ins, [out], domain=MS, name=name, K=w.shape[0], N=w.shape[1], bits=4,
                            block_size=block_size, **attrs)
    return node, inits


@pytest.mark.parametrize("k,n,block_size,symmetric,with_bias,level", [
    (64, 48, 32, True, False, 0),
    (64, 48, 32, False, False, 0),
    (72, 40, 16, False, True, 0),   # K not a multiple of the block size, bias
    (50, 24, 32, True, True, 0),
    (128, 96, 64, False, False, 0),
    (256, 64, 32, False, False, 4),  # int8-quantized A, as Olive / genai CPU int4 exports use
    (72, 40, 16, True, True, 4),
])
def test_matmul_nbits_ort_quantized(k, n, block_size, symmetric, with_bias, level):
    rng = np.random.default_rng(k * 7 + n)
    w = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
    node, inits = _nbits_node("fc", "A", "Y", w, block_size, symmetric, bias, accuracy_level=level)
    feeds = {"A": rng.standard_normal((2, 5, k)).astype(np.float32)}
    _check(_model([node], feeds, ["Y"], inits), feeds)


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("zp_kind", ["none", "packed", "float"])
def test_matmul_nbits_runtime_weights(bits, zp_kind):
    """Every packed bit pattern, weights fed at run time (no compile-time dequantization)."""
    if bits == 8 and zp_kind == "float":
        pytest.skip("onnxruntime's CPU kernel rejects 8-bit weights with float zero points")
    rng = np.random.default_rng(bits * 10 + len(zp_kind))
    k, n, bs = 40, 24, 16
    kb = -(-k // bs)
    feeds = {
        "A": rng.standard_normal((3, k)).astype(np.float32),
        "B": rng.integers(0, 256, (n, kb, bs * bits // 8), dtype=np.uint8),
        "scales": (rng.random((n, kb)) * 0.2).astype(np.float32),
        "zero_points": {"none": None,
                        "packed": rng.integers(0, 256, (n, -(-kb * bits // 8)), dtype=np.uint8),
                        "float": (rng.random((n, kb)) * (1 << bits)).astype(np.float32)}[zp_kind],
        "g_idx": None,
        "bias": rng.standard_normal(n).astype(np.float32),
    }
    model, given = _single("MatMulNBits", feeds, ["Y"], K=k, N=n, bits=bits, block_size=bs)
    _check(model, given)


def test_matmul_nbits_accuracy_level_1_and_empty_weight():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((32, 16)).astype(np.float32)
    node, inits = _nbits_node("fc", "A", "Y", w, 16, False, accuracy_level=1)
    feeds = {"A": rng.standard_normal((4, 32)).astype(np.float32)}
    _check(_model([node], feeds, ["Y"], inits), feeds)
    # an omitted projection: B with a zero dimension gives the broadcast bias
    feeds = {"A": feeds["A"], "B": np.zeros((0, 2, 8), np.uint8), "scales": np.zeros((0, 2), np.float32),
             "zero_points": None, "g_idx": None, "bias": rng.standard_normal(16).astype(np.float32)}
    model, given = _single("MatMulNBits", feeds, ["Y"], K=32, N=16, bits=4, block_size=16)
    _check(model, given)


def test_matmul_nbits_refuses_g_idx():
    rng = np.random.default_rng(4)
    feeds = {"A": rng.standard_normal((2, 32)).astype(np.float32),
             "B": rng.integers(0, 256, (8, 2, 8), dtype=np.uint8), "scales": rng.random((8, 2)).astype(np.float32),
             "zero_points": None, "g_idx": np.repeat(np.arange(2, dtype=np.int32), 16)}
    model, given = _single("MatMulNBits", feeds, ["Y"], K=32, N=8, bits=4, block_size=16)
    with pytest.raises(GraphcError, match="g_idx"):
        graphc.compile(model, "numpy", fallback=False).run(given)


# --------------------------------------------------------------------------- GroupQueryAttention


def _gqa_feeds(rng: np.random.Generator, b: int, s: int, n: int, kvn: int, h: int, past: int | None,
               seqlens: list[int], total: int, rotary_dim: int = 0, packed: bool = False,
               **extra: np.ndarray) -> dict[str, np.ndarray | None]:
    def f(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    q, k, v = f(b, s, n * h), f(b, s, kvn * h), f(b, s, kvn * h)
    cos = sin = None
    if rotary_dim:
        angles = rng.random((32, rotary_dim // 2)) * 2 * np.pi
        cos, sin = np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
    feeds = {"query": np.concatenate([q, k, v], axis=-1) if packed else q, "key": None if packed else k,
             "value": None if packed else v, "past_key": None if past is None else f(b, kvn, past, h),
             "past_value": None if past is None else f(b, kvn, past, h),
             "seqlens_k": np.array(seqlens, np.int32), "total_sequence_length": np.array(total, np.int32),
             "cos_cache": cos, "sin_cache": sin}
    feeds.update({name: extra.get(name) for name in GQA_OPTIONAL})
    return feeds


GQA_CASES = {
    # name: (feeds kwargs, attrs)
    "prompt": (dict(b=2, s=6, past=None, seqlens=[5, 5], total=6), {}),
    "prompt_empty_past": (dict(b=2, s=6, past=0, seqlens=[5, 5], total=6), {}),
    "decode": (dict(b=2, s=1, past=7, seqlens=[7, 4], total=8), {}),
    "decode_static_cache": (dict(b=2, s=1, past=10, seqlens=[7, 4], total=8), {}),
    "prompt_rotary": (dict(b=2, s=6, past=None, seqlens=[5, 5], total=6, rotary_dim=16), {"do_rotary": 1}),
    "decode_rotary": (dict(b=2, s=1, past=7, seqlens=[7, 4], total=8, rotary_dim=16), {"do_rotary": 1}),
    "decode_rotary_interleaved": (dict(b=2, s=1, past=7, seqlens=[7, 4], total=8, rotary_dim=16),
                                  {"do_rotary": 1, "rotary_interleaved": 1}),
    "prompt_partial_rotary": (dict(b=1, s=5, past=None, seqlens=[4], total=5, h=32, rotary_dim=16),
                              {"do_rotary": 1}),
    "chunk_after_past": (dict(b=1, s=3, past=5, seqlens=[7], total=8, rotary_dim=16), {"do_rotary": 1}),
    "prompt_window": (dict(b=1, s=9, past=None, seqlens=[8], total=9), {"local_window_size": 3}),
    "decode_window": (dict(b=2, s=1, past=7, seqlens=[7, 4], total=8), {"local_window_size": 3}),
    "prompt_packed_rotary": (dict(b=2, s=6, past=None, seqlens=[5, 5], total=6, rotary_dim=16, packed=True),
                             {"do_rotary": 1}),
    "decode_packed": (dict(b=2, s=1, past=7, seqlens=[7, 4], total=8, packed=True), {}),
    "softcap_scale": (dict(b=2, s=6, past=None, seqlens=[5, 5], total=6), {"softcap": 2.0, "scale": 0.3}),
    "smooth_softmax": (dict(b=2, s=1, past=7, seqlens=[7, 4], total=8), {"smooth_softmax": 1}),
    "bidirectional": (dict(b=2, s=6, past=None, seqlens=[5, 5], total=6), {"causal": 0}),
}


@pytest.mark.parametrize("case", sorted(GQA_CASES))
def test_group_query_attention(case):
    kwargs, attrs = GQA_CASES[case]
    kwargs = {"n": 4, "kvn": 2, "h": 16, **kwargs}
    rng = np.random.default_rng(sorted(GQA_CASES).index(case))
    feeds = _gqa_feeds(rng, **kwargs)
    model, given = _single("GroupQueryAttention", feeds, ["output", "present_key", "present_value"],
                           num_heads=kwargs["n"], kv_num_heads=kwargs["kvn"], **attrs)
    _check(model, given)


def test_group_query_attention_bias_sink_position_ids():
    rng = np.random.default_rng(11)
    extra = {"position_ids": np.array([[9], [3]], np.int64),
             "attention_bias": rng.standard_normal((1, 4, 1, 8)).astype(np.float32),
             "head_sink": rng.standard_normal(4).astype(np.float32)}
    feeds = _gqa_feeds(rng, 2, 1, 4, 2, 16, 7, [7, 4], 8, rotary_dim=16, **extra)
    model, given = _single("GroupQueryAttention", feeds, ["output", "present_key", "present_value"],
                           num_heads=4, kv_num_heads=2, do_rotary=1, local_window_size=4)
    _check(model, given)
    extra = {"attention_bias": rng.standard_normal((2, 1, 6, 6)).astype(np.float32)}
    feeds = _gqa_feeds(rng, 2, 6, 8, 1, 16, None, [5, 5], 6, **extra)
    model, given = _single("GroupQueryAttention", feeds, ["output", "present_key", "present_value"],
                           num_heads=8, kv_num_heads=1)
    _check(model, given)


@pytest.mark.parametrize("what,extra,attrs", [
    ("query_seqlens", {"query_seqlens": np.array([1, 1], np.int32)}, {}),
    ("k_scale", {"k_scale": np.ones(1, np.float32), "v_scale": np.ones(1, np.float32)}, {}),
    ("q_norm_weight", {"q_norm_weight": np.ones(16, np.float32), "k_norm_weight": np.ones(16, np.float32)}, {}),
    ("sliding_window_cache", {}, {"sliding_window_cache": 1, "local_window_size": 4}),
])
def test_group_query_attention_refusals(what, extra, attrs):
    rng = np.random.default_rng(12)
    feeds = _gqa_feeds(rng, 2, 1, 4, 2, 16, 7, [7, 4], 8, **extra)
    model, given = _single("GroupQueryAttention", feeds, ["output", "present_key", "present_value"],
                           num_heads=4, kv_num_heads=2, **attrs)
    with pytest.raises(GraphcError, match=what):
        graphc.compile(model, "numpy", fallback=False).run(given)


# --------------------------------------------------------------------------- a decoder block


def _decoder_block(rng: np.random.Generator, d: int, n: int, kvn: int, h: int) -> onnx.ModelProto:
    """A Phi/Llama-style attention block: packed-QKV MatMulNBits -> GQA (rotary) -> MatMulNBits output projection."""
    qkv_w = (rng.standard_normal((d, (n + 2 * kvn) * h)) * 0.2).astype(np.float32)
    o_w = (rng.standard_normal((n * h, d)) * 0.2).astype(np.float32)
    qkv, qkv_inits = _nbits_node("qkv_proj", "x", "qkv", qkv_w, 32, False, accuracy_level=1)
    out, out_inits = _nbits_node("o_proj", "attn", "y", o_w, 16, True)
    angles = np.arange(32)[:, None] * (10000.0 ** (-np.arange(h // 2) / (h // 2)))[None, :]
    caches = [numpy_helper.from_array(np.cos(angles).astype(np.float32), "cos"),
              numpy_helper.from_array(np.sin(angles).astype(np.float32), "sin")]
    gqa = helper.make_node("GroupQueryAttention", ["qkv", "", "", "past_key", "past_value", "seqlens_k",
                                                   "total_sequence_length", "cos", "sin"],
                           ["attn", "present_key", "present_value"], domain=MS, num_heads=n, kv_num_heads=kvn,
                           do_rotary=1)
    shapes = {"x": ["batch", "seq", d], "past_key": ["batch", kvn, "past", h], "past_value": ["batch", kvn, "past", h],
              "seqlens_k": ["batch"], "total_sequence_length": []}
    inputs = [helper.make_tensor_value_info(k, onnx.TensorProto.INT32 if k in ("seqlens_k", "total_sequence_length")
                                            else onnx.TensorProto.FLOAT, shape) for k, shape in shapes.items()]
    graph = helper.make_graph([qkv, gqa, out], "decoder_block", inputs,
                              [onnx.ValueInfoProto(name=o) for o in ("y", "present_key", "present_value")],
                              initializer=qkv_inits + out_inits + caches)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    return model


def test_decoder_block_prompt_then_decode():
    """A prompt then two generation steps, feeding present_key/value back, numpy target vs onnxruntime."""
    rng = np.random.default_rng(21)
    d, n, kvn, h = 64, 4, 2, 16
    model = _decoder_block(rng, d, n, kvn, h)
    art = graphc.compile(model, "numpy", fallback=False)
    s = 5
    feeds = {"x": rng.standard_normal((1, s, d)).astype(np.float32),
             "past_key": np.zeros((1, kvn, 0, h), np.float32), "past_value": np.zeros((1, kvn, 0, h), np.float32),
             "seqlens_k": np.array([s - 1], np.int32), "total_sequence_length": np.array(s, np.int32)}
    for step in range(3):
        got, want = art.run(feeds), ort_run(model, feeds)
        for k, w in want.items():
            np.testing.assert_allclose(got[k], w, rtol=RTOL, atol=ATOL, err_msg=f"step {step} output {k}")
        total = int(feeds["total_sequence_length"]) + 1
        feeds = {"x": rng.standard_normal((1, 1, d)).astype(np.float32),
                 "past_key": want["present_key"], "past_value": want["present_value"],
                 "seqlens_k": np.array([total - 1], np.int32), "total_sequence_length": np.array(total, np.int32)}


def test_group_query_attention_output_only():
    """A node that declares only the attention output (no present cache outputs)."""
    rng = np.random.default_rng(13)
    feeds = _gqa_feeds(rng, 2, 6, 4, 2, 16, None, [5, 5], 6, rotary_dim=16)
    model, given = _single("GroupQueryAttention", feeds, ["output"], num_heads=4, kv_num_heads=2, do_rotary=1)
    _check(model, given)
