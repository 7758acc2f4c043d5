"""fold-blobs: constant inputs move into the op's blobs, each remembering its input slot."""

from __future__ import annotations

import logging

import numpy as np

from graphc.ir import Graph, Op, Value
from graphc.layers.slots import input_slots
from graphc.passinfra import PassContext, PassResult, graph_pass

__all__ = ["fold_blobs"]
logger = logging.getLogger(__name__)


@graph_pass("fold-blobs", "constant inputs of every op move into op.blobs with their input slots",
            establishes=("blobs-folded",))
def fold_blobs(graph: Graph, ctx: PassContext) -> PassResult:
    """For every op, in every (sub)graph, custom layer or built-in:

    1. each input holding constant data (an initializer, a folded Constant node, or
       anything ``fold-constants`` reduced to a constant) leaves ``op.inputs`` and is
       appended to ``op.blobs``; ``op.blob_slots`` records the input slot it came from
       and both lists stay sorted by slot. This is OpenCV's "Const size goes to
       blobs[0]", without losing the slot. ``op.inputs`` keeps the runtime inputs (and
       omitted optional ones, as None) in their original order, so
       :func:`graphc.layers.slots.full_inputs` rebuilds the argument list;
    2. a constant value no longer read by anyone is removed, unless it is a graph
       input or output (then it stays a value; the op still reads its blob);
    3. an op that already has blobs (the pass ran before) only gains new ones.
    Ops whose inputs are all runtime values are left alone.
    """
    result = PassResult()
    folded: dict[int, Value] = {}
    _fold(graph, ctx, result, folded)
    for v in folded.values():
        g = v.graph
        if g is not None and v.producer() is None and not v.is_used() and not v.is_graph_input():
            g.remove_value(v)
            result.count("constants_removed")
    return result


def _fold(graph: Graph, ctx: PassContext, result: PassResult, folded: dict[int, Value]) -> None:
    for op in graph.walk("post"):
        ctx.focus(op)
        assert op.graph is not None  # walk() yields ops of a graph
        if op.has_subgraphs:
            op.graph.refresh_captures(op)  # a subgraph may no longer read an outer constant
        _fold_op(op.graph, op, result, folded)


def _fold_op(graph: Graph, op: Op, result: PassResult, folded: dict[int, Value]) -> None:
    positions = [i for i, v in enumerate(op.inputs) if v is not None and v.const is not None]
    if not positions:
        return
    slots = input_slots(op)
    pairs = list(zip(op.blob_slots, op.blobs))
    pairs += [(slots[i], np.asarray(op.inputs[i].const)) for i in positions]  # type: ignore[union-attr]
    pairs.sort(key=lambda p: p[0])
    for v in graph.remove_input_slots(op, positions):
        if v is not None:
            folded[id(v)] = v
    op.blob_slots = [s for s, _ in pairs]
    op.blobs = [b for _, b in pairs]
    result.count("blobs", len(positions))
    if op.layer is not None:
        result.count("layer_blobs", len(positions))
