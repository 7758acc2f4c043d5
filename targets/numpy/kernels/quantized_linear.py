"""Kernels: quantized matrix products.

* ONNX ``MatMulInteger`` (int32 product, zero points per row of A / column of B) and
  ``QLinearMatMul`` (requantized by ``a_scale * b_scale / y_scale``).

onnxruntime's ``com.microsoft`` ones follow its CPU implementation
(``onnxruntime/contrib_ops/cpu/quantization``):

* ``QGemm`` (QOperator format): ``alpha * a_scale * b_scale * ((A - a_zp) (B - b_zp) + C)``,
  int32 bias ``C`` in the scale ``a_scale * b_scale``, requantized when ``y_scale`` is
  given, float32 output otherwise; ``MatMulIntegerToFloat``; ``DynamicQuantizeMatMul``
  (float A quantized to uint8 on the fly as DynamicQuantizeLinear does). B's scale and zero
  point may be per column.
* ``MatMulNBits`` (LLM decoders exported for onnxruntime-genai / Olive,
  ``matmul_nbits.cc``): ``A @ dequant(B).T (+ bias)`` with a block-quantized (N, K) weight.
  ``B`` is uint8 (N, k_blocks, blob_size) holding ``bits``-bit values packed low bits
  first along K (for 4 bits: element 2i in the low nibble, 2i+1 in the high one), the
  last block zero-padded when K is not a multiple of ``block_size``; ``scales`` (N,
  k_blocks); ``zero_points`` packed uint8 (N, ceil(k_blocks * bits / 8)) like B, or
  unpacked floats (N, k_blocks), default ``2^(bits - 1)``. The dequantized weight is
  ``(q - zero_point) * scale``. With constant weights it is dequantized once, at
  compile time (the ``prepare`` hook), and ``accuracy_level=4`` rounds A to int8 per row
  and K block (symmetric, scale max|a| / 127) as onnxruntime's int8 compute path does on
  CPUs where MLAS has it (x86 AVX2/AVX-512, arm64 dot product); runtime weights are
  computed in float, as onnxruntime does without prepacked weights. ``g_idx`` and
  ``weight_prepacked`` are refused with :class:`graphc.errors.UnsupportedOpError`.

Integer products go through :func:`targets.numpy.kernels.linalg.integer_matmul`;
QLinearConv lives with the convolutions.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._numeric import compute_dtype
from ._quant import shift_zero_point
from .linalg import integer_matmul, matmul_shape
from .quantize import dynamic_quantize_linear, output_dtype, requantize, scalar_param
from .registry import OpContext, kernel

__all__ = ["dequantize_nbits", "matmul_nbits"]

DOMAIN = "com.microsoft"

#: what an UnsupportedOpError of MatMulNBits tells the user to do
REMEDY = "compile for the 'ort' target or export the model without it"


# --------------------------------------------------------------------------- ONNX


@kernel("MatMulInteger")
def matmul_integer(ctx: OpContext, a: np.ndarray, b: np.ndarray, a_zp: np.ndarray | None = None,
                   b_zp: np.ndarray | None = None) -> np.ndarray:
    """(A - a_zero_point) @ (B - b_zero_point) in int32 (zero points per row of A / column of B)."""
    ai = shift_zero_point(a, a_zp, a.ndim - 2 if a.ndim > 1 else 0)
    bi = shift_zero_point(b, b_zp, b.ndim - 1)
    buf = ctx.out(0, matmul_shape(ctx, ai, bi), np.dtype(np.int32))
    np.copyto(buf, integer_matmul(ai, bi), casting="unsafe")
    return buf


@kernel("QLinearMatMul")
def qlinear_matmul(ctx: OpContext, a: np.ndarray, a_scale: np.ndarray, a_zp: np.ndarray | None,
                   b: np.ndarray, b_scale: np.ndarray, b_zp: np.ndarray | None,
                   y_scale: np.ndarray, y_zp: np.ndarray | None = None) -> np.ndarray:
    """Quantized MatMul: int32 product requantized by a_scale * b_scale / y_scale."""
    ai = shift_zero_point(a, a_zp, a.ndim - 2 if a.ndim > 1 else 0)
    bi = shift_zero_point(b, b_zp, b.ndim - 1)
    acc = integer_matmul(ai, bi)
    sa = a_scale.reshape(-1, 1) if a_scale.size > 1 else a_scale
    res = acc * (sa * b_scale / y_scale)
    out_dtype = y_zp.dtype if y_zp is not None else a.dtype
    if y_zp is not None:
        res = res + y_zp
    info = np.iinfo(out_dtype)
    res = np.clip(np.rint(res), info.min, info.max)
    buf = ctx.out(0, res.shape, out_dtype)
    np.copyto(buf, res, casting="unsafe")
    return buf


def _plain(ctx: OpContext, attrs: dict | None = None) -> OpContext:
    """A context for calling another kernel: same node, no planned outputs (they belong to this op)."""
    return OpContext(ctx.name, ctx.op_type, ctx.attrs if attrs is None else attrs, ctx.opset, ctx.domain)


# -------------------------------------------------- QGemm, MatMulIntegerToFloat, DynamicQuantizeMatMul


def _col_param(ctx: OpContext, p: np.ndarray | None, n: int, what: str, default: float | int) -> np.ndarray:
    """A per-tensor or per-column (size N) parameter broadcasting against an (..., N) result."""
    if p is None:
        return np.asarray(default)
    if p.size == 1:
        return p.reshape(())
    if p.ndim != 1 or p.shape[0] != n:
        raise ctx.shape_error(f"{what} must be a scalar or a 1-D tensor of size {n}, got shape {p.shape}")
    return p


def _product(ctx: OpContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return integer_matmul(a, b)
        return np.matmul(a, b)
    except ValueError:
        raise ctx.shape_error(f"shapes {a.shape} and {b.shape} do not multiply") from None


@kernel("QGemm", domain=DOMAIN)
def qgemm(ctx: OpContext, a: np.ndarray, a_scale: np.ndarray, a_zp: np.ndarray, b: np.ndarray,
          b_scale: np.ndarray, b_zp: np.ndarray, c: np.ndarray | None = None, y_scale: np.ndarray | None = None,
          y_zp: np.ndarray | None = None) -> np.ndarray:
    """alpha * a_scale * b_scale * ((A - a_zp) (B - b_zp) + C), requantized when ``y_scale`` is given.

    ``C`` is an int32 bias in the accumulator's scale (a_scale * b_scale); b's scale and zero
    point may be per column. Without ``y_scale`` the output is float32.
    """
    if a.ndim != 2 or b.ndim != 2:
        raise ctx.shape_error(f"A and B must be 2-D, got {a.shape} and {b.shape}")
    ai = shift_zero_point(a, scalar_param(ctx, a_zp, "a_zero_point"), dtype=np.int64)
    if ctx.attr("transA", 0):
        ai = ai.T
    bt = b.T if ctx.attr("transB", 0) else b
    n = bt.shape[1]
    bi = bt.astype(np.int64) - _col_param(ctx, b_zp, n, "b_zero_point", 0).astype(np.int64)
    acc = _product(ctx, ai, bi)
    if c is not None:
        acc = acc + c.astype(np.int64)
    scale = (np.float32(ctx.attr("alpha", 1.0)) * scalar_param(ctx, a_scale, "a_scale").astype(np.float32)
             * _col_param(ctx, b_scale, n, "b_scale", 1).astype(np.float32))
    if y_scale is None:
        return ctx.write(0, acc.astype(np.float32) * scale, np.float32)
    scale = scale / scalar_param(ctx, y_scale, "y_scale").astype(np.float32)
    return requantize(ctx, acc.astype(np.float32) * scale, y_zp, output_dtype(a, y_zp))


def _bias(ctx: OpContext, y: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    if bias is None:
        return y
    if bias.ndim != 1 or bias.shape[0] != y.shape[-1]:
        raise ctx.shape_error(f"bias must be 1-D of size {y.shape[-1]}, got shape {bias.shape}")
    return y + bias.astype(np.float32)


@kernel("MatMulIntegerToFloat", domain=DOMAIN)
def matmul_integer_to_float(ctx: OpContext, a: np.ndarray, b: np.ndarray, a_scale: np.ndarray,
                            b_scale: np.ndarray, a_zp: np.ndarray | None = None, b_zp: np.ndarray | None = None,
                            bias: np.ndarray | None = None) -> np.ndarray:
    """(A - a_zp) @ (B - b_zp) * a_scale * b_scale + bias, in float32 (B's parameters may be per column)."""
    n = b.shape[-1]
    ai = shift_zero_point(a, scalar_param(ctx, a_zp, "a_zero_point"), dtype=np.int64)
    bi = b.astype(np.int64) - _col_param(ctx, b_zp, n, "b_zero_point", 0).astype(np.int64)
    scale = (scalar_param(ctx, a_scale, "a_scale").astype(np.float32)
             * _col_param(ctx, b_scale, n, "b_scale", 1).astype(np.float32))
    y = _product(ctx, ai, bi).astype(np.float32) * scale
    return ctx.write(0, _bias(ctx, y, bias), np.float32)


@kernel("DynamicQuantizeMatMul", domain=DOMAIN)
def dynamic_quantize_matmul(ctx: OpContext, a: np.ndarray, b: np.ndarray, b_scale: np.ndarray,
                            b_zp: np.ndarray | None = None, bias: np.ndarray | None = None) -> np.ndarray:
    """Float A quantized to uint8 as DynamicQuantizeLinear does, then as MatMulIntegerToFloat."""
    qa, a_scale, a_zp = dynamic_quantize_linear(_plain(ctx, {}), a.astype(np.float32, copy=False))
    return matmul_integer_to_float(ctx, qa, b, a_scale, b_scale, a_zp, b_zp, bias)


# --------------------------------------------------------------------------- MatMulNBits


#: MatMulNBits accuracy_level 4: onnxruntime quantizes A to int8 per block (with constant, prepacked weights)
_INT8_ACCURACY = 4


def _unpack_bits(packed: np.ndarray, bits: int) -> np.ndarray:
    """uint8 (..., M) -> uint8 (..., M * 8 / bits): each byte's values, low bits first."""
    per = 8 // bits
    mask = np.uint8((1 << bits) - 1)
    shifts = (np.arange(per, dtype=np.uint8) * bits).astype(np.uint8)
    vals = (packed[..., None] >> shifts) & mask
    return vals.reshape(*packed.shape[:-1], packed.shape[-1] * per)


def _nbits_params(ctx: OpContext) -> tuple[int, int, int, int]:
    """(K, N, bits, block_size) from the attributes, validated."""
    k, n = int(ctx.attr("K")), int(ctx.attr("N"))
    bits, bs = int(ctx.attr("bits", 4)), int(ctx.attr("block_size"))
    if bits not in (2, 4, 8):
        raise ctx.unsupported(f"bits={bits} (only 2, 4 and 8)", REMEDY)
    if bs < 16 or bs & (bs - 1):
        raise ctx.shape_error(f"block_size {bs} must be a power of two >= 16")
    if int(ctx.attr("weight_prepacked", 0)):
        raise ctx.unsupported("weight_prepacked (an execution-provider specific weight layout)", REMEDY)
    return k, n, bits, bs


def dequantize_nbits(ctx: OpContext, b: np.ndarray, scales: np.ndarray, zero_points: np.ndarray | None,
                     ct: np.dtype) -> np.ndarray:
    """The (K, N) weight ``(q - zero_point) * scale`` of a MatMulNBits node, in ``ct``."""
    k, n, bits, bs = _nbits_params(ctx)
    kb = -(-k // bs)
    blob = bs * bits // 8
    if b.dtype != np.uint8 or b.size != n * kb * blob:
        raise ctx.shape_error(f"B {b.dtype} {b.shape} is not uint8 (N, k_blocks, blob_size) = ({n}, {kb}, {blob})")
    if scales.size != n * kb:
        raise ctx.shape_error(f"scales {scales.shape} is not (N, k_blocks) = ({n}, {kb})")
    q = _unpack_bits(b.reshape(n, kb, blob), bits).reshape(n, kb, bs).astype(ct)
    s = scales.astype(ct, copy=False).reshape(n, kb, 1)
    if zero_points is None:
        zp = ct.type(1 << (bits - 1))
    elif zero_points.dtype == np.uint8:
        per_row = -(-kb * bits // 8)
        if zero_points.size != n * per_row:
            raise ctx.shape_error(f"packed zero_points {zero_points.shape} is not (N, ceil(k_blocks*bits/8)) = "
                             f"({n}, {per_row})")
        zp = _unpack_bits(zero_points.reshape(n, per_row), bits)[:, :kb].astype(ct).reshape(n, kb, 1)
    else:
        if zero_points.size != n * kb:
            raise ctx.shape_error(f"float zero_points {zero_points.shape} is not (N, k_blocks) = ({n}, {kb})")
        zp = zero_points.astype(ct, copy=False).reshape(n, kb, 1)
    w = ((q - zp) * s).reshape(n, kb * bs)[:, :k]
    return np.ascontiguousarray(w.T)


def _int8_blocks(a: np.ndarray, block_size: int) -> np.ndarray:
    """A as onnxruntime's int8 compute path sees it: per row and K block, round(a / s) * s, s = max|a| / 127."""
    k = a.shape[-1]
    kb = -(-k // block_size)
    blocks = np.zeros(a.shape[:-1] + (kb * block_size,), a.dtype)
    blocks[..., :k] = a
    blocks = blocks.reshape(a.shape[:-1] + (kb, block_size))
    s = np.abs(blocks).max(axis=-1, keepdims=True) / a.dtype.type(127)
    q = np.rint(blocks / np.where(s == 0, a.dtype.type(1), s))
    return (q * s).reshape(a.shape[:-1] + (kb * block_size,))[..., :k]


def _prepare_nbits(ctx: OpContext, inputs: Sequence[Any]) -> np.ndarray | None:
    """Dequantize constant weights once: the (K, N) float32 weight, or None when B/scales/zp are runtime inputs."""
    _nbits_params(ctx)
    b, scales = inputs[1], inputs[2]
    zp = inputs[3] if len(inputs) > 3 else None
    g_idx = inputs[4] if len(inputs) > 4 else None
    if g_idx is not None:
        raise ctx.unsupported("the deprecated g_idx input (act-order group index)", REMEDY)
    if not all(isinstance(x, np.ndarray) for x in (b, scales)) or not (zp is None or isinstance(zp, np.ndarray)):
        return None
    if 0 in b.shape:
        return None
    ct = np.dtype(np.float64) if scales.dtype == np.float64 else np.dtype(np.float32)
    return dequantize_nbits(ctx, b, scales, zp, ct)


@kernel("MatMulNBits", domain=DOMAIN, prepare=_prepare_nbits)
def matmul_nbits(ctx: OpContext, a: np.ndarray, b: np.ndarray, scales: np.ndarray,
                 zero_points: np.ndarray | None = None, g_idx: np.ndarray | None = None,
                 bias: np.ndarray | None = None) -> np.ndarray:
    """Y (..., N) = A (..., K) @ dequant(B) + bias, with B block-quantized to ``bits`` bits along K."""
    k, n, _, _ = _nbits_params(ctx)
    if g_idx is not None:
        raise ctx.unsupported("the deprecated g_idx input (act-order group index)", REMEDY)
    if a.shape[-1:] != (k,):
        raise ctx.shape_error(f"A {a.shape} must end in K={k}")
    ct = compute_dtype(a)
    if 0 in b.shape:  # an omitted projection: zeros (plus bias)
        y = np.zeros(a.shape[:-1] + (n,), ct)
    else:
        w = ctx.state if ctx.state is not None else dequantize_nbits(ctx, b, scales, zero_points, ct)
        ac = a.astype(ct, copy=False)
        if ctx.state is not None and int(ctx.attr("accuracy_level", 0)) == _INT8_ACCURACY:
            ac = _int8_blocks(ac, int(ctx.attr("block_size")))
        y = np.matmul(ac, w.astype(ct, copy=False))
    if bias is not None:
        if bias.size != n:
            raise ctx.shape_error(f"bias {bias.shape} is not (N)=({n})")
        y += bias.astype(ct, copy=False).reshape(n)
    return ctx.write(0, y, a.dtype)
