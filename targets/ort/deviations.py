"""Configurations where onnxruntime's own kernel departs from the ONNX specification.

For a node matching an entry, the ort target prefers graphc's numpy kernel (run inside
onnxruntime as a Python op) over onnxruntime's kernel. Each entry names the op, the
exact configuration (a predicate on the node, decided from what the graph states
statically), why onnxruntime's answer is not the specification's, and the ONNX
node-suite case that shows it. Checked against onnxruntime 1.32; an entry whose
case starts passing with onnxruntime's own kernel should be removed.

Differences that are precision, not specification (DFT/STFT twiddles rounded in
float32, float16 accumulation order) or where the specification does not settle the
answer (MaxUnpool indices with ``output_shape``) are deliberately *not* listed:
onnxruntime keeps those nodes (docs/ort-target.md lists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from graphc.ir import Op, Value

__all__ = ["Deviation", "DEVIATIONS", "deviation_for"]


@dataclass(frozen=True)
class Deviation:
    """One configuration of ``domain::op_type`` onnxruntime computes differently from the spec."""

    op_type: str
    applies: Callable[[Op], bool]
    reason: str
    case: str  # the node-suite case that shows it
    domain: str = ""


def _input(op: Op, slot: int) -> Value | None:
    return op.inputs[slot] if slot < len(op.inputs) else None


def _static_shape(v: Value | None) -> tuple[int, ...] | None:
    if v is None or v.type.shape is None or not all(isinstance(d, int) for d in v.type.shape):
        return None
    return tuple(v.type.shape)


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


#: the declared table; see the module docstring
DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "Attention", _causal_masked_scores,
        "with is_causal=1, the spec's function body masks scores with Where(allowed, 0, -inf); onnxruntime "
        "adds the lowest finite float instead, so the qk_matmul_output (modes 1 and 2) holds -3.4e38 where the "
        "spec has -inf", "test_attention_4d_with_past_and_present_qk_matmul_bias_3d_mask_causal"),
    Deviation(
        "Attention", _short_attention_mask,
        "the spec lets attn_mask's last dimension be shorter than total_sequence_length (padded with -inf); "
        "onnxruntime's kernel fails at run time ('inconsistent total_sequence_length')",
        "test_attention_4d_diff_heads_mask4d_padded_kv"),
    Deviation(
        "ConvInteger", _per_channel_weight_zero_point,
        "the spec allows a per-output-channel (1-D) w_zero_point; onnxruntime's kernel fails at run time "
        "('Non per-tensor quantization is not supported now')", "test_convinteger_with_padding"),
    Deviation(
        "ReduceMax", _bool_over_possibly_empty,
        "the spec reduces an empty bool set to False (the type's minimum); onnxruntime fails at run time "
        "('ReduceMax is not defined for empty set with bool type')", "test_reduce_max_empty_set_bool"),
    Deviation(
        "ReduceMin", _bool_over_possibly_empty,
        "the spec reduces an empty bool set to True (the type's maximum); onnxruntime refuses empty bool "
        "reductions as it does for ReduceMax", "no node-suite case; checked by tests/targets/ort/test_relowering.py"),
    Deviation(
        "Resize", _align_corners_from_scales,
        "with scales (no sizes), the spec's align_corners uses length_resized = length_original * scale, which "
        "may be fractional (scale = length_resized / length_original); onnxruntime uses the floored output "
        "length", "test_resize_downsample_scales_linear_align_corners"),
)


def deviation_for(op: Op) -> Deviation | None:
    """The declared deviation ``op`` matches, or None."""
    for d in DEVIATIONS:
        if d.op_type == op.op_type and d.domain == op.domain and d.applies(op):
            return d
    return None
