"""dce: remove ops none of whose outputs is read, and unread constants."""

from __future__ import annotations

from graphc.ir import Graph
from graphc.passinfra import PassContext, PassResult, graph_pass

__all__ = ["dce"]


@graph_pass("dce", "remove ops whose outputs nobody reads, and unused constants")
def dce(graph: Graph, ctx: PassContext) -> PassResult:
    """Remove, in every (sub)graph, walking from the outputs back:

    1. an op none of whose outputs is read by an op, a subgraph or a graph output;
    2. a constant value nobody reads that is not a graph input or output.
    Ops are kept whenever any output is live (multi-output ops stay whole).
    """
    result = PassResult()
    _dce(graph, ctx, result)
    return result


# Not Graph.walk: reverse topological order, a body entered only if its op is live, constants swept per graph.
def _dce(graph: Graph, ctx: PassContext, result: PassResult) -> None:
    for op in reversed(graph.topological_order()):
        ctx.focus(op)
        live = any(v.is_used() for v in op.outputs)
        if not live:
            graph.remove_op(op)
            result.count("ops_removed")
            continue
        for _, sub in op.subgraphs():
            _dce(sub, ctx, result)
        if any(True for _ in op.subgraphs()):
            graph.refresh_captures(op)
    for v in list(graph.values.values()):
        if v.const is not None and not v.is_used() and not v.is_graph_input():
            graph.remove_value(v)
            result.count("constants_removed")
