"""fuse-conv-affine: fold a per-channel constant Mul/Add after a Conv or BatchNormalization into its parameters."""

from __future__ import annotations

import numpy as np

from graphc.pattern import Builder, Match, OpPattern, P, const, fail, rule, rule_pass, var

__all__ = ["RULES", "conv_mul", "conv_add", "bn_mul", "bn_add", "per_channel"]


def per_channel(array: np.ndarray, channels: int, rank: int) -> np.ndarray | None:
    """``array`` as a (channels,) vector when it broadcasts against an (N, channels, *spatial) tensor of
    rank ``rank`` as one value per channel (or one value overall) without growing it; else None."""
    if array.ndim > rank or array.size == 0:
        return None
    shape = (1,) * (rank - array.ndim) + tuple(array.shape)
    if shape[0] != 1 or any(d != 1 for d in shape[2:]) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(array.reshape(-1), (channels,))


def _float_same(m: Match, a: str, b: str) -> bool:
    x, y = m.array(a), m.array(b)
    if x.dtype.kind != "f" or x.dtype != y.dtype:
        fail(f"{a} and {b} must share one floating-point dtype (got {x.dtype}, {y.dtype})")
    return True


def _known(vector: np.ndarray | None) -> np.ndarray:
    """A per-channel vector the rule's pattern condition already found (not None)."""
    assert vector is not None
    return vector


def _conv_vector(m: Match) -> np.ndarray | None:
    w = m.array("w")
    return per_channel(m.array("k"), w.shape[0], w.ndim)


_CONV = P.Conv(var("x"), const("w"), const("b", optional=True), name="conv")


def _conv_affine(pat: OpPattern) -> OpPattern:
    return (pat.where(lambda m: _float_same(m, "w", "k"), "the weights and the constant must share a float dtype")
               .where(lambda m: _conv_vector(m) is not None, "the constant is not one value per output channel"))


_CONV_MUL = _conv_affine(P.Mul(_CONV, const("k"), name="affine"))
_CONV_ADD = _conv_affine(P.Add(P.Conv(var("x"), const("w"), const("b", optional=True), name="conv"), const("k"), name="affine"))


@rule("conv-mul", _CONV_MUL, "Conv(x, W, b) * k (per output channel) -> Conv(x, W * k, b * k)")
def conv_mul(m: Match, b: Builder):
    w = m.array("w")
    k = _known(_conv_vector(m)).astype(np.float64)
    w_new = (w.astype(np.float64) * k.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
    conv = m["conv"]
    inputs = [m["x"], b.const(w_new, f"{conv.name}_w_scaled")]
    if m["b"] is not None:
        inputs.append(b.const((m.array("b").astype(np.float64) * k).astype(w.dtype), f"{conv.name}_b_scaled"))
    return b.like(conv, inputs)


@rule("conv-add", _CONV_ADD, "Conv(x, W, b) + k (per output channel) -> Conv(x, W, b + k)")
def conv_add(m: Match, b: Builder):
    w = m.array("w")
    bias = (m.array("b").astype(np.float64) if m["b"] is not None else 0.0) + _known(_conv_vector(m)).astype(np.float64)
    conv = m["conv"]
    return b.like(conv, [m["x"], m["w"], b.const(bias.astype(w.dtype), f"{conv.name}_b_shifted")])


def _bn_vector(m: Match) -> np.ndarray | None:
    rank = m["x"].type.rank if m["x"].type.shape is not None else None
    if rank is None or rank < 2:
        return None
    return per_channel(m.array("k"), m.array("scale").shape[0], rank)


def _bn(op_type: str) -> OpPattern:
    pat: OpPattern = getattr(P, op_type)(P.BatchNormalization(var("x"), const("scale"), const("bias"), const("mean"), const("var"),
                                                   name="bn", outputs=1), const("k"), name="affine")
    return (pat.where(lambda m: m["bn"].attrs.get("training_mode", 0) == 0, "BatchNormalization is in training mode")
               .where(lambda m: _float_same(m, "scale", "k"), "BN parameters and the constant must share a float dtype")
               .where(lambda m: _float_same(m, "bias", "k"), "BN parameters and the constant must share a float dtype")
               .where(lambda m: _bn_vector(m) is not None or fail("the constant is not one value per channel "
                                                                  "(or x's rank is unknown)"),
                      "the constant is not one value per channel"))


@rule("bn-mul", _bn("Mul"), "BatchNormalization(x, s, c, ...) * k (per channel) -> BatchNormalization(x, s * k, c * k, ...)")
def bn_mul(m: Match, b: Builder):
    k = _known(_bn_vector(m)).astype(np.float64)
    bn = m["bn"]
    dt = m.array("scale").dtype
    scale = b.const((m.array("scale").astype(np.float64) * k).astype(dt), f"{bn.name}_scale_scaled")
    bias = b.const((m.array("bias").astype(np.float64) * k).astype(dt), f"{bn.name}_bias_scaled")
    return b.like(bn, [m["x"], scale, bias, m["mean"], m["var"]])


@rule("bn-add", _bn("Add"), "BatchNormalization(x, s, c, ...) + k (per channel) -> BatchNormalization(x, s, c + k, ...)")
def bn_add(m: Match, b: Builder):
    k = _known(_bn_vector(m)).astype(np.float64)
    bn = m["bn"]
    dt = m.array("bias").dtype
    bias = b.const((m.array("bias").astype(np.float64) + k).astype(dt), f"{bn.name}_bias_shifted")
    return b.like(bn, [m["x"], m["scale"], bias, m["mean"], m["var"]])


RULES = rule_pass("fuse-conv-affine", """fold per-channel constant Mul/Add after Conv or BatchNormalization into its weights

    Rewrite, until nothing changes:

    1. ``Mul(Conv(x, W, b?), k)`` into ``Conv(x, W * k, b * k)``;
    2. ``Add(Conv(x, W, b?), k)`` into ``Conv(x, W, b + k)``;
    3. ``Mul(BatchNormalization(x, s, c, mean, var), k)`` into ``BatchNormalization(x, s * k, c * k, mean, var)``;
    4. ``Add(BatchNormalization(x, s, c, mean, var), k)`` into ``BatchNormalization(x, s, c + k, mean, var)``;

    when W/b (or the BN parameters) and k are constants of one floating-point dtype, k
    holds one value per output channel or a single value (it broadcasts against the
    (N, C, *spatial) result without growing it), the Conv/BN output is read only by the
    Mul/Add, and a BatchNormalization is in inference mode. The folding is computed in
    float64. Caffe-converted models (a Scale layer after each Conv or BN: densenet121,
    inception_v2 of the light model zoo) lose one Mul and one Add per layer.
    Refused otherwise (``graphc explain MODEL --rule conv-mul`` says which case).
    """, [conv_mul, conv_add, bn_mul, bn_add], uses=("shapes-known",), max_iterations=8)
