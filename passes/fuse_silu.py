"""fuse-silu: SiLU and HardSwish into the preceding Conv's epilogue (graphc::FusedConv), else one SiLU node.

A numpy-target pass: the ops it makes live in graphc's own domain (:data:`graphc.domains.GRAPHC_DOMAIN`),
which onnxruntime does not run, so it only rewrites when the pass context's target runs them.
"""

from __future__ import annotations

from graphc.domains import GRAPHC_DOMAIN
from graphc.pattern import Builder, Match, P, capture, const, fail, rule, rule_pass, var

__all__ = ["RULES", "conv_silu", "conv_hard_swish", "conv_hard_sigmoid_mul", "silu"]

_CONV = P.Conv(var("x"), const("w"), ..., name="prod")
#: torch's SiLU export: Sigmoid then Mul, both reading the same x (the same Conv pattern object binds one op)
_CONV_SILU = P.Mul(_CONV, P.Sigmoid(_CONV, name="sig"), name="act")
_CONV_HARD_SWISH = P.HardSwish(_CONV, name="act")
_CONV_HSIG_MUL = P.Mul(_CONV, P.HardSigmoid(_CONV, name="hsig",
                                            attrs={"alpha": capture("alpha", 0.2), "beta": capture("beta", 0.5)}),
                       name="act")
_SILU = P.Mul(var("y"), P.Sigmoid(var("y"), name="sig"), name="act")


def _supported(m: Match, value):
    """Keep the graphc op only if the pass context's target runs it (no target: plain ONNX, which has none)."""
    target = m.ctx.target if m.ctx is not None else None
    op = value.producer()
    if target is None:
        fail(f"no target: {GRAPHC_DOMAIN}::{op.op_type} runs on a graphc target only (onnxruntime has no such op)")
    if not target.supports(op):
        fail(f"target {target.name!r} does not run {GRAPHC_DOMAIN}::{op.op_type}")
    native = getattr(target, "native", None)  # the ort target: would run it as a Python op, slower than the nodes
    if native is not None and not native(op):
        fail(f"target {target.name!r} would run {GRAPHC_DOMAIN}::{op.op_type} only through a fallback")
    return value


def _float32(m: Match) -> bool:
    known = [v.dtype for v in (m["x"], m["w"], m["prod"].outputs[0]) if v.dtype is not None]
    if not known:
        fail("the element type is unknown (run infer-shapes first)")
    return all(str(d) == "float32" for d in known) or fail(f"the fused kernels take float32 only, not {known[0]}")


def _floating(m: Match) -> bool:
    dtype = m["y"].dtype
    if dtype is None:
        fail("the element type is unknown (run infer-shapes first)")
    return dtype.kind == "f" or fail(f"SiLU takes a floating-point tensor, not {dtype}")


_CONV_SILU, _CONV_HARD_SWISH, _CONV_HSIG_MUL = (
    p.where(_float32, "the fused kernels take float32 only") for p in (_CONV_SILU, _CONV_HARD_SWISH, _CONV_HSIG_MUL))
_SILU = _SILU.where(_floating, "SiLU takes a floating-point tensor")


def _fused_conv(m: Match, b: Builder, activation: str, params: list[float]):
    """graphc::FusedConv with the Conv's inputs and attributes, if the target runs it (else the rule declines)."""
    conv = m["prod"]
    attrs = {**conv.attrs, "activation": activation}
    if params:
        attrs["activation_params"] = params
    return _supported(m, b.op("FusedConv", list(conv.inputs), attrs, domain=GRAPHC_DOMAIN, name=conv.name))


@rule("conv-silu", _CONV_SILU, "Mul(Conv(x), Sigmoid(Conv(x))) -> graphc::FusedConv(activation=SiLU)")
def conv_silu(m: Match, b: Builder):
    return _fused_conv(m, b, "SiLU", [])


@rule("conv-hard-swish", _CONV_HARD_SWISH, "HardSwish(Conv(x)) -> graphc::FusedConv(activation=HardSwish)")
def conv_hard_swish(m: Match, b: Builder):
    return _fused_conv(m, b, "HardSwish", [1.0 / 6.0, 0.5])


@rule("conv-hard-sigmoid-mul", _CONV_HSIG_MUL,
      "Mul(Conv(x), HardSigmoid(Conv(x))) -> graphc::FusedConv(activation=HardSwish, its alpha and beta)")
def conv_hard_sigmoid_mul(m: Match, b: Builder):
    return _fused_conv(m, b, "HardSwish", [float(m["alpha"]), float(m["beta"])])


@rule("silu", _SILU, "Mul(y, Sigmoid(y)) -> graphc::SiLU(y) (one node, in place)")
def silu(m: Match, b: Builder):
    return _supported(m, b.op("SiLU", [m["y"]], {}, domain=GRAPHC_DOMAIN, name=m["act"].name))


RULES = rule_pass("fuse-silu", """SiLU / HardSwish into the Conv epilogue (graphc::FusedConv), else Mul(y, Sigmoid(y)) -> graphc::SiLU

    For a target that runs graphc's own ops (the numpy target; onnxruntime runs none of them):

    1. ``Mul(c, Sigmoid(c))`` (SiLU as torch exports it), ``HardSwish(c)`` and
       ``Mul(c, HardSigmoid(c))`` (any alpha, beta; HardSwish is 1/6, 0.5) where ``c`` is a Conv
       output with constant weights, read only by those ops, all float32, become one
       ``graphc::FusedConv`` (the Conv's inputs and attributes, ``activation`` ``SiLU`` or
       ``HardSwish`` with ``activation_params`` [alpha, beta]): the activation runs in the
       convolution's epilogue;
    2. any other ``Mul(y, Sigmoid(y))`` (floating point, the Sigmoid read only by the Mul; e.g. a
       Conv output also read elsewhere) becomes one ``graphc::SiLU(y)`` node.

    Refused without a target, or when the target does not run the graphc op natively (the ort
    target would run it as a Python op through its numpy-kernel fallback); ``graphc explain MODEL
    --rule conv-silu`` says which case.
    """, [conv_silu, conv_hard_swish, conv_hard_sigmoid_mul, silu], uses=("shapes-known",))
