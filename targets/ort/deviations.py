"""Configurations where onnxruntime's own kernel departs from the ONNX specification.

Each entry names the op, the exact configuration (a predicate on the node, decided from
what the graph states statically), why onnxruntime's answer is not the specification's,
the first onnxruntime release seen to show it, and the case that shows it: an ONNX
node-suite case, or a probe the entry builds where the suite has none. The table is not
trusted blindly: :mod:`targets.ort.deviation_check` runs each entry's case through
onnxruntime's own kernels once per installed onnxruntime (and processor, for the
hardware-dependent entry), caches the answer, and only the entries whose case still
fails are applied. An entry that no installed onnxruntime shows any more should be
removed; a new departure is caught by the node-suite test, whose failing set is pinned.

How a present deviation is routed around (``remedy``):

* ``kernel``: graphc's numpy kernel runs the node (a Python op inside onnxruntime);
* ``widen-weights``: the node stays in onnxruntime, its signed 8-bit weights re-expressed
  as unsigned ones with the zero point shifted by 128 (the same real values), so
  onnxruntime takes its u8u8 path (:mod:`targets.ort.widen_weights`).

Differences that are precision, not specification (DFT/STFT twiddles rounded in
float32, float16 accumulation order) or where the specification does not settle the
answer (MaxUnpool indices with ``output_shape``) are deliberately *not* listed:
onnxruntime keeps those nodes (docs/ort-target.md lists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from graphc.conformance import NodeCase

from .widen_weights import SIGNED_WEIGHT_SLOTS, needs_widening

if TYPE_CHECKING:
    from graphc.ir import Op, Value

__all__ = ["Deviation", "DEVIATIONS", "KERNEL", "WIDEN_WEIGHTS", "deviation_for", "entries"]

KERNEL = "kernel"
WIDEN_WEIGHTS = "widen-weights"


@dataclass(frozen=True)
class Deviation:
    """One configuration of ``op_types`` (in ``domain``) onnxruntime computes differently from the spec.

    ``case`` names the ONNX node-suite case showing it, or, with ``probe``, the case that
    function builds. ``since`` is the first of the checked onnxruntime releases (1.20.1, 1.31.1,
    1.32.0) whose kernels run the case and get it wrong; earlier ones refuse the case's opset,
    and graphc's kernel runs it there anyway.
    """

    key: str
    op_types: tuple[str, ...]
    applies: Callable[[Op], bool]
    reason: str
    case: str
    since: str
    domain: str = ""
    remedy: str = KERNEL
    probe: Callable[[], NodeCase] | None = None

    def matches(self, op: Op) -> bool:
        return op.op_type in self.op_types and op.domain == self.domain and self.applies(op)


def _input(op: Op, slot: int) -> Value | None:
    return op.inputs[slot] if slot < len(op.inputs) else None


def _static_shape(v: Value | None) -> tuple[int, ...] | None:
    if v is None or v.type.shape is None or not all(isinstance(d, int) for d in v.type.shape):
        return None
    return tuple(v.type.shape)  # type: ignore[arg-type]  # all ints, checked above


def _causal_masked_scores(op: Op) -> bool:
    wants_scores = len(op.outputs) > 3 and op.outputs[3] is not None
    return bool(op.attrs.get("is_causal", 0)) and wants_scores and op.attrs.get("qk_matmul_output_mode", 0) in (1, 2)


def _short_attention_mask(op: Op) -> bool:
    mask, k, past = _static_shape(_input(op, 3)), _static_shape(_input(op, 1)), _static_shape(_input(op, 4))
    if mask is None or k is None or _input(op, 3) is None:
        return False
    kv_len = k[-2] if len(k) == 4 else k[1]
    total = kv_len + (past[-2] if past is not None and _input(op, 4) is not None else 0)
    return mask[-1] < total


def _per_channel_weight_zero_point(op: Op) -> bool:
    shape = _static_shape(_input(op, 3))
    return shape is not None and int(np.prod(shape, dtype=np.int64)) > 1


def _bool_over_possibly_empty(op: Op) -> bool:
    x = _input(op, 0)
    shape = _static_shape(x)
    return x is not None and x.type.dtype == np.dtype(bool) and shape is not None and 0 in shape


def _align_corners_from_scales(op: Op) -> bool:
    if op.attrs.get("coordinate_transformation_mode", "half_pixel") != "align_corners":
        return False
    sizes, scales = _input(op, 3), _input(op, 2)
    if sizes is not None or scales is None:
        return False
    shape = _static_shape(_input(op, 0))
    if scales.const is None or shape is None:
        return True  # the output length may be fractional: only the spec's formula is safe
    axes = op.attrs.get("axes")
    dims = [shape[a] for a in axes] if axes else list(shape)
    products = np.asarray(dims, np.float64) * scales.const.astype(np.float64)
    return not np.allclose(products, np.round(products))


_SUB_BYTE_INTEGERS = {"int4", "uint4", "int2", "uint2"}


def _float_to_sub_byte_integer(op: Op) -> bool:
    x, y = _input(op, 0), op.outputs[0] if op.outputs else None
    if x is None or y is None or x.type.dtype is None or y.type.dtype is None:
        return False
    to, source = np.dtype(y.type.dtype).name, np.dtype(x.type.dtype).name
    return to in _SUB_BYTE_INTEGERS and source.startswith(("float", "bfloat"))


def _empty_bool_reduce_min() -> NodeCase:
    """ReduceMin over a zero-length axis of a bool tensor: the spec's answer is True (the type's maximum)."""
    from onnx import TensorProto, helper

    node = helper.make_node("ReduceMin", ["x", "axes"], ["y"], keepdims=1)
    graph = helper.make_graph([node], "reduce_min_empty_bool",
                              [helper.make_tensor_value_info("x", TensorProto.BOOL, [2, 0, 4]),
                               helper.make_tensor_value_info("axes", TensorProto.INT64, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.BOOL, [2, 1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    return NodeCase("reduce_min_empty_set_bool", model, (np.zeros((2, 0, 4), bool), np.array([1], np.int64)),
                    (np.ones((2, 1, 4), bool),), 0.0, 0.0)


def _saturating_u8s8_matmul() -> NodeCase:
    """MatMulInteger of uint8 255s by int8 127s over K = 64: exactly 255 * 127 * 64 per element,
    where a kernel adding product pairs in saturating int16 gives 32767 * 32."""
    from onnx import TensorProto, helper, numpy_helper

    m, k, n = 4, 64, 16
    node = helper.make_node("MatMulInteger", ["a", "b"], ["y"])
    graph = helper.make_graph([node], "u8s8_saturation",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, [m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [m, n])],
                              [numpy_helper.from_array(np.full((k, n), 127, np.int8), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    return NodeCase("matmulinteger_u8s8_saturation", model, (np.full((m, k), 255, np.uint8),),
                    (np.full((m, n), 255 * 127 * k, np.int32),), 0.0, 0.0)


_SUB_BYTE_CAST_REASON = (
    "the spec leaves a float outside the target's range undefined; the ONNX reference implementation, the "
    "node-suite cases and graphc's numpy kernel give 0 there (ml_dtypes' conversion), onnxruntime keeps the "
    "low bits (-9 -> 7 for int4), so the two targets would disagree: graphc's kernel keeps them one answer")


#: the declared table; see the module docstring
DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "attention-causal-scores", ("Attention",), _causal_masked_scores,
        "with is_causal=1, the spec's function body masks scores with Where(allowed, 0, -inf); onnxruntime "
        "adds the lowest finite float instead, so the qk_matmul_output (modes 1 and 2) holds -3.4e38 where the "
        "spec has -inf", "test_attention_4d_with_past_and_present_qk_matmul_bias_3d_mask_causal", since="1.31"),
    Deviation(
        "attention-short-mask", ("Attention",), _short_attention_mask,
        "the spec lets attn_mask's last dimension be shorter than total_sequence_length (padded with -inf); "
        "onnxruntime's kernel fails at run time ('inconsistent total_sequence_length')",
        "test_attention_4d_diff_heads_mask4d_padded_kv", since="1.31"),
    Deviation(
        "cast-float-to-sub-byte-integer", ("Cast",), _float_to_sub_byte_integer, _SUB_BYTE_CAST_REASON,
        "test_cast_FLOAT_to_INT4", since="1.32"),
    Deviation(
        "castlike-float-to-sub-byte-integer", ("CastLike",), _float_to_sub_byte_integer, _SUB_BYTE_CAST_REASON,
        "test_castlike_FLOAT_to_INT4", since="1.31"),
    Deviation(
        "convinteger-per-channel-zero-point", ("ConvInteger",), _per_channel_weight_zero_point,
        "the spec allows a per-output-channel (1-D) w_zero_point; onnxruntime's kernel fails at run time "
        "('Non per-tensor quantization is not supported now')", "test_convinteger_with_padding", since="1.20"),
    Deviation(
        "reduce-max-empty-bool", ("ReduceMax",), _bool_over_possibly_empty,
        "the spec reduces an empty bool set to False (the type's minimum); onnxruntime fails at run time "
        "('ReduceMax is not defined for empty set with bool type')", "test_reduce_max_empty_set_bool", since="1.20"),
    Deviation(
        "reduce-min-empty-bool", ("ReduceMin",), _bool_over_possibly_empty,
        "the spec reduces an empty bool set to True (the type's maximum); onnxruntime refuses empty bool "
        "reductions as it does for ReduceMax", "reduce_min_empty_set_bool (the node suite has no bool case)",
        since="1.20", probe=_empty_bool_reduce_min),
    Deviation(
        "resize-align-corners-scales", ("Resize",), _align_corners_from_scales,
        "with scales (no sizes), the spec's align_corners uses length_resized = length_original * scale, which "
        "may be fractional (scale = length_resized / length_original); onnxruntime uses the floored output "
        "length", "test_resize_downsample_scales_linear_align_corners", since="1.20"),
    Deviation(
        "u8s8-saturation", tuple(t for _, t in SIGNED_WEIGHT_SLOTS) + ("DequantizeLinear",), needs_widening,
        "on x86-64 processors without AVX-VNNI, onnxruntime's MLAS adds each pair of uint8 x int8 products in "
        "saturating int16 (VPMADDUBSW): with weights above 64 in magnitude the integer product is clipped "
        "(onnxruntime's quantization guide: 'the saturation issue'); the weights are re-expressed as uint8 and "
        "onnxruntime's u8u8 kernels, which do not saturate, run the node",
        "matmulinteger_u8s8_saturation (hardware-dependent: no node-suite case saturates)", since="1.20",
        remedy=WIDEN_WEIGHTS, probe=_saturating_u8s8_matmul),
)


def deviation_for(op: Op, present: Callable[[Deviation], bool]) -> Deviation | None:
    """The declared deviation ``op`` matches that the installed onnxruntime shows, or None.

    ``present`` decides whether an entry is shown (the target passes the cached check,
    :func:`targets.ort.deviation_check.default_check`)."""
    for d in DEVIATIONS:
        if d.matches(op) and present(d):
            return d
    return None


def entries(keys: Iterable[str]) -> list[Deviation]:
    """The table's entries named by ``keys`` (a KeyError names an unknown one)."""
    by_key = {d.key: d for d in DEVIATIONS}
    return [by_key[k] for k in keys]
