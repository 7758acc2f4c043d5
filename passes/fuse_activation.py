"""fuse-activation: Conv/Gemm followed by an activation -> onnxruntime's FusedConv/FusedGemm."""

from __future__ import annotations

from graphc.pattern import Builder, Match, P, capture, const, fail, rule, rule_pass, var

__all__ = ["RULES", "conv_activation", "conv_add_relu", "gemm_activation"]

#: the fused ops live in onnxruntime's contrib domain, so optimized models still run there
DOMAIN = "com.microsoft"
_SIMPLE = ("Relu", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid")


def _params(m: Match) -> tuple[str, list[float]]:
    act = m["act"]
    if act.op_type == "LeakyRelu":
        return act.op_type, [float(m["alpha"] if m["alpha"] is not None else 0.01)]
    if act.op_type == "HardSigmoid":
        alpha = m["alpha"] if m["alpha"] is not None else 0.2
        beta = m["beta"] if m["beta"] is not None else 0.5
        return act.op_type, [float(alpha), float(beta)]
    if act.op_type == "Clip":
        lo, hi = (m[k] for k in ("min", "max"))
        if lo is None or hi is None:
            fail("Clip needs both min and max as constants to fuse")
        return "Clip", [float(lo.const), float(hi.const)]
    return act.op_type, []


def _supported(m: Match, b: Builder, value):
    """Keep the fused op only if the target runs it (no target: plain ONNX/onnxruntime output)."""
    target = m.ctx.target if m.ctx is not None else None
    if target is not None and not target.supports(value.producer()):
        fail(f"target {target.name!r} does not run {DOMAIN}::{value.producer().op_type}")
    return value


_CONV_ACTS = P.any(*_SIMPLE)(P.Conv(var("x"), const("w"), ..., name="prod"), name="act",
                             attrs={"alpha": capture("alpha", None), "beta": capture("beta", None)})
_CONV_CLIP = P.Clip(P.Conv(var("x"), const("w"), ..., name="prod"), const("min", optional=True), const("max", optional=True), name="act")
_GEMM_ACTS = P.any(*_SIMPLE)(P.Gemm(var("x"), var("w"), ..., name="prod"), name="act",
                             attrs={"alpha": capture("alpha", None), "beta": capture("beta", None)})


def _float32(m: Match) -> bool:
    known = [v.dtype for v in (m["x"], m["w"], m["prod"].outputs[0]) if v.dtype is not None]
    if not known:
        fail("the element type is unknown (run infer-shapes first)")
    return all(str(d) == "float32" for d in known) or fail(f"the fused kernels take float32 only, not {known[0]}")


_CONV_ADD_RELU = P.Relu(P.any("Add", "Sum")(P.Conv(var("x"), const("w"), const("b", optional=True), name="prod"), var("z"),
                               name="add"), name="act")


def _same_shape(m: Match) -> bool:
    """The residual must have exactly the Conv output's (static) shape: FusedConv's Z does not broadcast."""
    out, z = m["prod"].outputs[0], m["z"]
    if out.type.shape is None or not out.type.is_static:
        fail("the Conv output's shape is not static (run infer-shapes first)")
    if z.type.shape is None or tuple(z.type.shape) != tuple(out.type.shape) or z.dtype != out.dtype:
        fail(f"the residual {z.name!r} ({z.type}) does not have the Conv output's type ({out.type})")
    return True


_CONV_ADD_RELU = _CONV_ADD_RELU.where(_same_shape, "the residual does not have the Conv output's shape and dtype")
_CONV_ACTS, _CONV_CLIP, _GEMM_ACTS, _CONV_ADD_RELU = (
    p.where(_float32, "the fused kernels take float32 only") for p in (_CONV_ACTS, _CONV_CLIP, _GEMM_ACTS, _CONV_ADD_RELU))


def _fused_conv(m: Match, b: Builder):
    name, params = _params(m)
    conv = m["prod"]
    attrs = {**conv.attrs, "activation": name}
    if params:
        attrs["activation_params"] = params
    out = b.op("FusedConv", list(conv.inputs), attrs, domain=DOMAIN, name=conv.name)
    return _supported(m, b, out)


@rule("conv-activation", _CONV_ACTS, "Conv + Relu/Sigmoid/Tanh/LeakyRelu/HardSigmoid -> com.microsoft::FusedConv")
def conv_activation(m: Match, b: Builder):
    return _fused_conv(m, b)


@rule("conv-clip", _CONV_CLIP, "Conv + Clip(min, max constants) -> com.microsoft::FusedConv")
def conv_clip(m: Match, b: Builder):
    return _fused_conv(m, b)


@rule("conv-add-relu", _CONV_ADD_RELU, "Relu(Conv(x, W, b) + z) -> com.microsoft::FusedConv(x, W, b, Z=z, Relu)")
def conv_add_relu(m: Match, b: Builder):
    conv = m["prod"]
    attrs = {**conv.attrs, "activation": "Relu"}
    inputs = [m["x"], m["w"], m["b"], m["z"]]
    out = b.op("FusedConv", inputs, attrs, domain=DOMAIN, name=conv.name)
    return _supported(m, b, out)


@rule("gemm-activation", _GEMM_ACTS, "Gemm + Relu/Sigmoid/Tanh/LeakyRelu/HardSigmoid -> com.microsoft::FusedGemm")
def gemm_activation(m: Match, b: Builder):
    name, params = _params(m)
    gemm = m["prod"]
    attrs = {**gemm.attrs, "activation": name}
    for key, val in zip(("activation_alpha", "activation_beta"), params):
        attrs[key] = val
    out = b.op("FusedGemm", list(gemm.inputs), attrs, domain=DOMAIN, name=gemm.name)
    return _supported(m, b, out)


RULES = rule_pass("fuse-activation", """Conv/Gemm + activation -> com.microsoft FusedConv/FusedGemm (when the target runs them)

    Rewrite ``act(Conv(x, W, ...))`` into ``com.microsoft::FusedConv`` and ``act(Gemm(...))``
    into ``com.microsoft::FusedGemm`` (onnxruntime's contrib ops) when:

    1. act is Relu, Sigmoid, Tanh, LeakyRelu or HardSigmoid (Conv also: Clip with
       constant min and max);
    2. the Conv's weights are constant, the producer's output is read only by the
       activation, and the tensors are float32;
    3. the pass context's target, if any, ``supports`` the fused op (without a target
       the result is for onnxruntime, which runs them).

    Also ``Relu(Add(Conv(x, W, b?), z))`` (a residual connection; a two-input Sum too) becomes
    ``FusedConv(x, W, b, Z=z, activation=Relu)``, which computes ``Relu(conv + b + z)`` in
    the convolution's epilogue, when ``z`` has exactly the Conv output's static shape and
    dtype and the Conv and Add outputs are read only inside the pattern.
    Refused otherwise (``graphc explain MODEL --rule conv-activation`` says which case).
    """, [conv_activation, conv_clip, conv_add_relu, gemm_activation], uses=("shapes-known",))
