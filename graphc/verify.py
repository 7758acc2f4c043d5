"""Graph.verify(): the IR invariants, each failure naming the node that breaks it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import VerifyError

if TYPE_CHECKING:
    from .ir import Graph

__all__ = ["verify_graph"]


def verify_graph(graph: Graph) -> None:
    """Raise VerifyError on the first broken invariant of ``graph`` and its subgraphs.

    Checked: every op and value is registered under its name and belongs to this graph;
    op input/output lists agree with the networkx edges (dense slots, one producer per
    value, constants and graph inputs have none); every read value is defined in this
    scope or an enclosing one; graph outputs are defined; blob slots are distinct and
    sorted, one per blob; the graph is acyclic.
    """
    from .ir import Op, Value

    g = graph.nx
    for name, v in graph.values.items():
        if v.name != name or v.graph is not graph:
            raise VerifyError(f"value {name!r} is registered under the wrong name or graph")
        producers = list(g.predecessors(v))
        if len(producers) > 1:
            raise VerifyError(f"value {name!r} has {len(producers)} producers: {[p.name for p in producers]}")
        if producers and (v.is_const or graph.is_input(v)):
            kind = "constant" if v.is_const else "graph input"
            raise VerifyError(f"value {name!r} is a {kind} but op {producers[0].name!r} also writes it")
    for node in g.nodes:
        if isinstance(node, Value) and node.graph is not graph and graph.lookup(node.name) is not node:
            raise VerifyError(f"value {node.name!r} in graph {graph.name!r} is neither local nor from an enclosing scope")
    for name, op in graph.ops.items():
        if op.name != name or op.graph is not graph:
            raise VerifyError(f"op {name!r} ({op.op_type}) is registered under the wrong name or graph")
        if not isinstance(op, Op):
            raise VerifyError(f"node {name!r} is not an Op")
        edges_in = {(k, u) for u, _, k in g.in_edges(op, keys=True) if k != "capture"}
        listed_in = {(slot, v) for slot, v in enumerate(op.inputs) if v is not None}
        if edges_in != listed_in:
            raise VerifyError(f"op {name!r} ({op.op_type}): input slots disagree with graph edges")
        for slot, v in enumerate(op.inputs):
            if v is not None and graph.lookup(v.name) is not v:
                raise VerifyError(f"op {name!r} ({op.op_type}) reads {v.name!r} (slot {slot}), which is not defined in scope")
        edges_out = sorted((k, id(v)) for _, v, k in g.out_edges(op, keys=True))
        if edges_out != [(slot, id(v)) for slot, v in enumerate(op.outputs)]:
            raise VerifyError(f"op {name!r} ({op.op_type}): output slots are not dense or disagree with graph edges")
        if op.blobs or op.blob_slots:
            slots = list(op.blob_slots)
            if len(op.blobs) != len(slots) or slots != sorted(set(slots)) or slots[0] < 0:
                raise VerifyError(f"op {name!r} ({op.op_type}): blob_slots {slots} must be distinct, sorted and "
                                  f"non-negative, one per blob ({len(op.blobs)} blobs)")
        for _, sub in op.subgraphs():
            if sub.parent is not op:
                raise VerifyError(f"op {name!r} ({op.op_type}): subgraph {sub.name!r} does not point back to it")
            verify_graph(sub)
    for v in graph.outputs:
        if graph.lookup(v.name) is not v:
            raise VerifyError(f"graph output {v.name!r} of {graph.name!r} is not defined")
    for v in graph.inputs:
        if v.graph is not graph:
            raise VerifyError(f"graph input {v.name!r} of {graph.name!r} belongs to another graph")
    graph.topological_order()  # raises on a cycle
