"""eliminate-dropout: inference-mode Dropout is the identity; its readers read its input instead."""

from __future__ import annotations

from graphc.domains import is_onnx_domain
from graphc.ir import Graph, Op
from graphc.passinfra import PassContext, PassResult, graph_pass

__all__ = ["eliminate_dropout", "is_inference_dropout"]


def is_inference_dropout(op: Op) -> bool | str:
    """True when ``op`` is a Dropout that computes the identity at inference, else the reason it is not."""
    if op.op_type != "Dropout" or not is_onnx_domain(op.domain):
        return "not an ONNX Dropout"
    if len(op.outputs) > 1 and op.outputs[1] is not None and (op.outputs[1].consumers() or op.graph.is_output(op.outputs[1])):
        return "its mask output is read"
    if op.opset < 7 and not op.attrs.get("is_test", 0) and len(op.outputs) > 1:
        return "an opset < 7 Dropout in training mode (is_test=0 with a mask output)"
    training = op.inputs[2] if len(op.inputs) > 2 else None
    if training is not None and (training.const is None or bool(training.const.reshape(-1)[0])):
        return "training_mode is not a constant false"
    return True


@graph_pass("eliminate-dropout", "inference Dropout (mask unread, training_mode absent or false) removed")
def eliminate_dropout(graph: Graph, ctx: PassContext) -> PassResult:
    """Remove each Dropout of ``graph`` (recursively in subgraphs) that is the identity at inference:

    1. its mask output, if declared, is read by nobody;
    2. ``training_mode`` (opset 12+) is absent or a constant false; before opset 7 a node
       with a mask output is in training mode unless ``is_test=1``;
    3. its output is not a graph output (that name must stay; the op is kept).
    Readers of the output then read the Dropout's input. Removing it lets shape
    inference see through (opset 1-6 Dropouts have no shape function), so the numpy
    target plans every buffer statically.
    """
    result = PassResult()
    for op in graph.walk("post"):
        if op.op_type != "Dropout" or is_inference_dropout(op) is not True:
            continue
        ctx.focus(op)
        x, y, owner = op.inputs[0], op.outputs[0], op.graph
        if x is None or owner.is_output(y):
            continue
        owner.replace_all_uses(y, x)
        owner.remove_op(op)
        result.count("dropouts_removed")
    return result
