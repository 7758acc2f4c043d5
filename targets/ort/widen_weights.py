"""Signed 8-bit weights re-expressed as unsigned ones, so onnxruntime takes its u8u8 path.

On x86-64 processors without AVX-VNNI, onnxruntime's MLAS multiplies uint8 activations by
int8 weights with ``VPMADDUBSW``, which adds each pair of products in a *saturating*
int16: a pair whose true sum exceeds 32767 (or falls below -32768) is clipped, and the
integer product is wrong (onnxruntime's quantization guide, "the saturation issue": use
``reduce_range`` or the U8U8 format). A pair of uint8 x int8 products can only saturate
when some weight has magnitude above 64 (255 * 128 = 32640 fits).

The remedy keeps the node in onnxruntime: for weights ``w`` (int8) with zero point ``z``,
``w + 128`` (uint8) with zero point ``z + 128`` dequantize to the same real values and give
the same integer products, ``(w + 128) - (z + 128) = w - z``; onnxruntime's u8u8 kernels
widen to int16 before multiplying and never saturate.

:func:`needs_widening` decides it on the IR (the ort target's deviation predicate);
:func:`widen_signed_weights` rewrites the lowered ONNX model's named nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np
import onnx
from onnx import numpy_helper

if TYPE_CHECKING:
    from graphc.ir import Op, Value

__all__ = ["SIGNED_WEIGHT_SLOTS", "saturation_possible", "needs_widening", "widen_signed_weights"]

#: (domain, op type) -> (uint8 activation slot or None where it is quantized to uint8 inside the op,
#: weight slot, weight zero-point slot, weight scale slot or None)
SIGNED_WEIGHT_SLOTS: dict[tuple[str, str], tuple[int | None, int, int, int | None]] = {
    ("", "MatMulInteger"): (0, 1, 3, None),
    ("", "ConvInteger"): (0, 1, 3, None),
    ("", "QLinearMatMul"): (0, 3, 5, 4),
    ("", "QLinearConv"): (0, 3, 5, 4),
    ("com.microsoft", "QGemm"): (0, 3, 5, 4),
    ("com.microsoft", "DynamicQuantizeMatMul"): (None, 1, 3, 2),
    ("com.microsoft", "MatMulIntegerToFloat"): (0, 1, 5, 3),
}
#: float ops onnxruntime fuses with DequantizeLinear inputs into the integer kernels above
_QDQ_FUSED = {"Conv", "ConvTranspose", "MatMul", "Gemm"}
_LIMIT = 64  # |w| <= 64 everywhere: no pair of products can leave int16


def saturation_possible(weights: np.ndarray) -> bool:
    """True when int8 ``weights`` have a value a uint8 x int8 product pair can saturate with."""
    return weights.dtype == np.int8 and weights.size > 0 and int(np.abs(weights.astype(np.int16)).max()) > _LIMIT


def _slot(op: Op, slot: int | None) -> Value | None:
    return op.inputs[slot] if slot is not None and slot < len(op.inputs) else None


def _is_u8(v: Value | None) -> bool:
    return v is not None and v.type.dtype == np.dtype(np.uint8)


def _saturating_const(v: Value | None) -> bool:
    return v is not None and v.const is not None and saturation_possible(np.asarray(v.const))


def needs_widening(op: Op) -> bool:
    """``op`` multiplies uint8 activations by constant int8 weights that can saturate:
    an integer matmul/conv (:data:`SIGNED_WEIGHT_SLOTS`), or a DequantizeLinear of such weights
    feeding a Conv/MatMul/Gemm whose other operand is dequantized from 8 bits (onnxruntime fuses
    the group into its integer kernel; on x86 it first turns int8 activation Q/DQ pairs into
    uint8 ones, its QDQ s8-to-u8 transform, so int8 activations saturate the same way)."""
    slots = SIGNED_WEIGHT_SLOTS.get((op.domain, op.op_type))
    if slots is not None:
        act, weight, _, _ = slots
        return (act is None or _is_u8(_slot(op, act))) and _saturating_const(_slot(op, weight))
    if op.op_type != "DequantizeLinear" or op.domain != "" or not _saturating_const(_slot(op, 0)):
        return False
    for consumer in op.outputs[0].consumers():
        if consumer.op_type in _QDQ_FUSED:
            others = [v for v in consumer.inputs if v is not None and v is not op.outputs[0]]
            if any(_dequantized_8bit(v) for v in others):
                return True
    return False


def _dequantized_8bit(v: Value) -> bool:
    producer = v.producer()
    x = _slot(producer, 0) if producer is not None and producer.op_type == "DequantizeLinear" else None
    return x is not None and x.type.dtype in (np.dtype(np.uint8), np.dtype(np.int8))


def widen_signed_weights(model: onnx.ModelProto, nodes: Iterable[str]) -> None:
    """Rewrite the top-level ``nodes`` of ``model`` (in place): each one's int8 constant weight
    becomes uint8 ``w + 128`` with zero point ``z + 128`` (128 where the zero point was omitted),
    as new initializers (the originals may have other readers)."""
    wanted = set(nodes)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.name not in wanted:
            continue
        scale: int | None
        if node.op_type == "DequantizeLinear":
            weight, zero, scale = 0, 2, 1
        else:
            _, weight, zero, scale = SIGNED_WEIGHT_SLOTS[(node.domain, node.op_type)]
        inputs = list(node.input) + [""] * max(0, zero + 1 - len(node.input))
        w = inits[inputs[weight]]
        z_name = inputs[zero]
        if z_name:
            z = numpy_helper.to_array(inits[z_name])
        else:
            scale_init = inits.get(inputs[scale]) if scale is not None else None
            z = np.zeros(numpy_helper.to_array(scale_init).shape if scale_init is not None else (), np.int8)
        inputs[weight] = _add_shifted(graph, numpy_helper.to_array(w), f"{w.name}__as_u8")
        inputs[zero] = _add_shifted(graph, z, f"{z_name or node.name + '_w_zero_point'}__as_u8")
        del node.input[:]
        node.input.extend(inputs)


def _add_shifted(graph: onnx.GraphProto, signed: np.ndarray, name: str) -> str:
    """Add ``signed + 128`` as a uint8 initializer named ``name`` (once); its name."""
    if not any(t.name == name for t in graph.initializer):
        graph.initializer.append(numpy_helper.from_array((signed.astype(np.int16) + 128).astype(np.uint8), name))
    return name
