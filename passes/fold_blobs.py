"""fold-blobs: every constant input of an op becomes one of its blobs, in place."""

from __future__ import annotations

import logging

from graphc.ir import Graph, Op
from graphc.passinfra import PassContext, PassResult, graph_pass

__all__ = ["fold_blobs"]
logger = logging.getLogger(__name__)


@graph_pass("fold-blobs", "constant inputs of every op become op.blobs, recorded by input slot in op.blob_slots",
            establishes=("blobs-folded",))
def fold_blobs(graph: Graph, ctx: PassContext) -> PassResult:
    """For every op, in every (sub)graph, custom layer or built-in:

    each input slot holding constant data (an initializer, a folded Constant node, or
    anything ``fold-constants`` reduced to a constant) is added to ``op.blob_slots``
    (sorted). Nothing moves: ``op.inputs`` stays in ONNX slot order with the constant
    values in it, and ``op.blobs`` is the view of their arrays — OpenCV's "Const size
    goes to blobs[0]", without losing the slot. An op that already has blobs (the pass
    ran before) only gains new ones; ops whose inputs are all runtime values are left alone.
    """
    result = PassResult()
    for op in graph.walk("post"):
        ctx.focus(op)
        _fold_op(op, result)
    return result


def _fold_op(op: Op, result: PassResult) -> None:
    taken = set(op.blob_slots)
    new = [s for s, v in enumerate(op.inputs) if v is not None and v.const is not None and s not in taken]
    if not new:
        return
    op.blob_slots = sorted(taken.union(new))
    result.count("blobs", len(new))
    if op.layer is not None:
        result.count("layer_blobs", len(new))
