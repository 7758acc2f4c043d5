"""fuse-conv-bn: fold an inference BatchNormalization into the Conv that feeds it."""

from __future__ import annotations

import numpy as np

from graphc.pattern import Builder, Match, P, capture, const, rule, rule_pass, var

__all__ = ["RULES", "conv_bn"]

_CONV = P.Conv(var("x"), const("w"), const("b", optional=True), name="conv")
_PATTERN = P.BatchNormalization(
    _CONV, const("scale"), const("bias"), const("mean"), const("var"),
    name="bn", outputs=1, attrs={"epsilon": capture("epsilon", 1e-5)},
).where(lambda m: m["bn"].attrs.get("training_mode", 0) == 0, "BatchNormalization is in training mode"
).where(lambda m: m.array("w").dtype.kind == "f", "Conv weights are not floating point"
).where(
    lambda m: all(m.array(k).shape == (m.array("w").shape[0],) for k in ("scale", "bias", "mean", "var")),
    "BatchNormalization's scale/bias/mean/var are not 1-D of the Conv's output-channel count",
)


@rule("conv-bn", _PATTERN, "fold BatchNormalization(Conv(x, W, b)) into Conv(x, W', b')")
def conv_bn(m: Match, b: Builder):
    """y = (conv(x, W) + b - mean) * s + bias with s = scale / sqrt(var + eps), so
    W' = W * s (per output channel) and b' = (b - mean) * s + bias."""
    w = m.array("w")
    s = m.array("scale").astype(np.float64) / np.sqrt(m.array("var").astype(np.float64) + float(m["epsilon"]))
    bias0 = m.array("b").astype(np.float64) if m["b"] is not None else 0.0
    w_new = (w.astype(np.float64) * s.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
    b_new = ((bias0 - m.array("mean")) * s + m.array("bias")).astype(w.dtype)
    conv = m["conv"]
    return b.like(conv, [m["x"], b.const(w_new, f"{conv.name}_w_fused"), b.const(b_new, f"{conv.name}_b_fused")])


RULES = rule_pass("fuse-conv-bn", """fold inference BatchNormalization into the preceding Conv's weights and bias

    Rewrite ``BatchNormalization(Conv(x, W, b?), scale, bias, mean, var)`` into one Conv
    with folded weights when:

    1. W, b (if present), scale, bias, mean and var are constants;
    2. the BatchNormalization is in inference mode (one output, training_mode 0);
    3. the Conv's output is read only by the BatchNormalization (otherwise both would run);
    4. W is floating point and the BN parameters are 1-D with one entry per output channel.
    Refused otherwise (``graphc explain MODEL --rule conv-bn`` says which case).
    """, [conv_bn])
