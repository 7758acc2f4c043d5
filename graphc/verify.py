"""Graph.verify(): the IR invariants, each failure naming the node that breaks it."""

from __future__ import annotations

from typing import Any

from .errors import VerifyError

__all__ = ["verify_graph"]


def verify_graph(graph: Any) -> None:
    """Raise VerifyError on the first broken invariant of ``graph`` (a :class:`graphc.ir.Graph`;
    this module does not import :mod:`graphc.ir`, which calls it) and its subgraphs.

    Checked: every op and value is registered under its name and belongs to this graph;
    op input/output lists agree with the values' producer and use records (one producer
    per value, constants and graph inputs have none); every read value is defined in this
    scope or an enclosing one; graph outputs are defined; blob slots are distinct and
    sorted, one per blob; the graph is acyclic.
    """
    writers: dict[Any, list[Any]] = {}
    for op in graph.ops.values():
        for v in op.outputs:
            writers.setdefault(v, []).append(op)
    for name, v in graph.values.items():
        if v.name != name or v.graph is not graph:
            raise VerifyError(f"value {name!r} is registered under the wrong name or graph")
        producers = writers.get(v, [])
        if len(producers) > 1:
            raise VerifyError(f"value {name!r} has {len(producers)} producers: {[p.name for p in producers]}")
        if v.producer() is not (producers[0] if producers else None):
            raise VerifyError(f"value {name!r}: its producer record disagrees with the ops' output lists")
        if producers and (v.is_const or graph.is_input(v)):
            kind = "constant" if v.is_const else "graph input"
            raise VerifyError(f"value {name!r} is a {kind} but op {producers[0].name!r} also writes it")
        for op, slot in v.uses():
            if op.graph is not graph or slot >= len(op.inputs) or op.inputs[slot] is not v:
                raise VerifyError(f"op {op.name!r} ({op.op_type}): input slots disagree with graph edges "
                                  f"(value {name!r} records a use at slot {slot} the op's inputs do not have)")
        for op in v.capturers():
            if op.graph is not graph or v not in graph.captures(op):
                raise VerifyError(f"value {name!r}: a capture record (op {op.name!r}) disagrees with the op's captures")
    for name, op in graph.ops.items():
        if op.name != name or op.graph is not graph:
            raise VerifyError(f"op {name!r} ({op.op_type}) is registered under the wrong name or graph")
        if not hasattr(op, "op_type"):  # no import of .ir here: it imports this module
            raise VerifyError(f"node {name!r} is not an Op")
        for slot, v in enumerate(op.inputs):
            if v is not None and v.graph is graph and (op, slot) not in v.uses():
                raise VerifyError(f"op {name!r} ({op.op_type}): input slots disagree with graph edges "
                                  f"(slot {slot} reads {v.name!r}, which has no use record for it)")
            if v is not None and graph.lookup(v.name) is not v:
                raise VerifyError(f"op {name!r} ({op.op_type}) reads {v.name!r} (slot {slot}), which is not defined in scope")
        for v in graph.captures(op):
            if graph.lookup(v.name) is not v:
                raise VerifyError(f"value {v.name!r} in graph {graph.name!r} is neither local nor from an enclosing scope")
        if any(v.graph is not graph for v in op.outputs):
            raise VerifyError(f"op {name!r} ({op.op_type}): output slots are not dense or disagree with graph edges")
        if op.blob_slots:
            slots = list(op.blob_slots)
            if slots != sorted(set(slots)) or slots[0] < 0 or any(
                    s >= len(op.inputs) or op.inputs[s] is None or op.inputs[s].const is None for s in slots):
                raise VerifyError(f"op {name!r} ({op.op_type}): blob_slots {slots} must be distinct, sorted and "
                                  "each hold a constant input")
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
