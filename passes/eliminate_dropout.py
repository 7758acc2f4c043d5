"""eliminate-dropout: inference-mode Dropout is the identity; its readers read its input instead."""

from __future__ import annotations

from graphc.domains import is_onnx_domain
from graphc.ir import Op
from graphc.pattern import Builder, Match, P, fail, rule, rule_pass, var

__all__ = ["RULES", "dropout", "is_inference_dropout"]


def is_inference_dropout(op: Op) -> bool | str:
    """True when ``op`` is a Dropout that computes the identity at inference, else the reason it is not."""
    if op.op_type != "Dropout" or not is_onnx_domain(op.domain):
        return "not an ONNX Dropout"
    if len(op.outputs) > 1 and op.outputs[1] is not None and op.outputs[1].is_used():
        return "its mask output is read"
    if op.opset < 7 and not op.attrs.get("is_test", 0) and len(op.outputs) > 1:
        return "an opset < 7 Dropout in training mode (is_test=0 with a mask output)"
    training = op.inputs[2] if len(op.inputs) > 2 else None
    if training is not None and (training.const is None or bool(training.const.reshape(-1)[0])):
        return "training_mode is not a constant false"
    return True


_PATTERN = P.Dropout(var("x"), ..., name="drop").where(
    lambda m: is_inference_dropout(m["drop"]) is True or fail(str(is_inference_dropout(m["drop"]))),
    "the Dropout is not the identity at inference",
)


@rule("dropout", _PATTERN, "inference Dropout(x) -> x (its mask output, if declared, unread)")
def dropout(m: Match, b: Builder):
    """Readers of the output read x; the unread mask output is dropped with the op."""
    return [m["x"]] + [None] * (len(m["drop"].outputs) - 1)


RULES = rule_pass("eliminate-dropout", """inference Dropout (mask unread, training_mode absent or false) removed

    Remove each Dropout of the graph (recursively in subgraphs) that is the identity at inference:

    1. its mask output, if declared, is read by nobody;
    2. ``training_mode`` (opset 12+) is absent or a constant false; before opset 7 a node
       with a mask output is in training mode unless ``is_test=1``;
    3. its output is not a graph output (that name must stay; the op is kept).
    Readers of the output then read the Dropout's input. Removing it lets shape
    inference see through (opset 1-6 Dropouts have no shape function), so the numpy
    target plans every buffer statically.
    """, [dropout])
