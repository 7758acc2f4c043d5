"""Forming the partition: onnxruntime regions and the Python nodes between them.

The top-level ops of a lowered graph are of two kinds: those onnxruntime runs (standard
ops, layers lowered to functions, control flow whose bodies hold Python ops) and the
*Python nodes* (custom layers without ``to_onnx``, ops graphc's kernels back). A
schedule is a sequence of stages alternating between the two kinds; an onnxruntime
stage becomes one session (a region), a Python stage runs its nodes in order,
in-process.

Placement is by *position*: even positions are onnxruntime stages, odd ones Python
stages. An op goes to the first position of its kind at or after the positions of all
the ops it reads (inputs and values its subgraphs capture), so

1. a chain of Python nodes shares one stage (Python reading Python stays put);
2. independent Python nodes at the same depth share one stage, however far apart they
   are in the model's node order (a diamond's two Python branches cut the graph once);
3. an onnxruntime op goes to the first region after the last Python node it depends on.

That is the as-soon-as-possible leveling; its number of regions is the longest chain of
Python -> onnxruntime crossings, except that an onnxruntime op independent of a leading
Python node opens an extra region before it. The same leveling of the reversed graph (as
late as possible) avoids that, once ending with a region and once with a Python stage (a
chain that ends in a layer then lets its regions line up with those of a chain that starts
with one). :func:`form_stages` takes whichever of the three needs fewer sessions, then
fewer Python stages, then fewer bytes crossing boundaries. This is a heuristic, not a
proof of the minimum for every graph; the tests pin the cases each leveling wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from graphc.ir import Graph, Op, Value, free_names

__all__ = ["Stage", "form_stages", "boundary_bytes", "ONNXRUNTIME", "PYTHON"]

#: stage kinds
ONNXRUNTIME = "onnxruntime"
PYTHON = "python"


@dataclass
class Stage:
    """One step of the schedule: its kind, its ops (in a topological order), the values it reads
    from earlier stages or graph inputs, and the values later stages or graph outputs need."""

    kind: str
    ops: list[Op]
    inputs: list[Value] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)

    @property
    def nodes(self) -> list[str]:
        return [op.name for op in self.ops]


def form_stages(graph: Graph, is_python: Callable[[Op], bool]) -> list[Stage]:
    """The stages of ``graph``'s top-level ops; ``is_python(op)`` says which run in Python."""
    order = graph.topological_order()
    preds = {op: _producers(graph, op) for op in order}
    succs: dict[Op, list[Op]] = {op: [] for op in order}
    for op in order:
        for p in preds[op]:
            succs[p].append(op)
    kinds = {op: is_python(op) for op in order}
    candidates = [_positions(order, preds, kinds)]  # as soon as possible
    for python_last in (False, True):  # as late as possible, ending with a region / with a Python stage
        odd = {op: kinds[op] != python_last for op in order}  # counted from the end
        late = _positions(list(reversed(order)), succs, odd)
        top = max(late.values(), default=0)
        top += (top % 2) != int(python_last)  # so that regions land on even positions
        candidates.append({op: top - p for op, p in late.items()})
    return min((_stages(graph, order, pos, kinds) for pos in candidates), key=_cost)


def _producers(graph: Graph, op: Op) -> list[Op]:
    """Top-level ops whose outputs ``op`` reads (directly, or captured by its subgraphs)."""
    values: list[Value | None] = list(op.inputs)
    values += [graph.values.get(n) for n in sorted(free_names(op))] if op.has_subgraphs else []
    found: dict[Op, None] = {}
    for v in values:
        p = v.producer() if v is not None and v.graph is graph else None
        if p is not None:
            found[p] = None
    return list(found)


def _positions(order: list[Op], preds: dict[Op, list[Op]], odd: dict[Op, bool]) -> dict[Op, int]:
    """Each op's position: the first of its parity (``odd[op]``) at or after every predecessor's."""
    pos: dict[Op, int] = {}
    for op in order:
        at = max((pos[p] for p in preds[op]), default=0)
        if at % 2 != int(odd[op]):
            at += 1
        pos[op] = at
    return pos


def _stages(graph: Graph, order: list[Op], pos: dict[Op, int], python: dict[Op, bool]) -> list[Stage]:
    by_pos: dict[int, list[Op]] = {}
    for op in order:
        by_pos.setdefault(pos[op], []).append(op)
    stages = [Stage(PYTHON if python[ops[0]] else ONNXRUNTIME, ops) for _, ops in sorted(by_pos.items())]
    _boundaries(graph, stages)
    return stages


def _reads(graph: Graph, op: Op) -> Iterable[Value]:
    for v in op.inputs:
        if v is not None:
            yield v
    if op.has_subgraphs:
        for n in sorted(free_names(op)):
            v = graph.values.get(n)
            if v is not None:
                yield v


def _boundaries(graph: Graph, stages: list[Stage]) -> None:
    """Fill each stage's inputs (values produced outside it, constants excluded) and outputs."""
    made_in: dict[Value, int] = {}
    for i, st in enumerate(stages):
        for op in st.ops:
            for v in op.outputs:
                if v is not None:
                    made_in[v] = i
    needed_after: dict[Value, int] = {v: len(stages) for v in graph.outputs}
    for i, st in enumerate(stages):
        seen: dict[Value, None] = {}
        for op in st.ops:
            for v in _reads(graph, op):
                if v.const is None and made_in.get(v, -1) != i:
                    seen[v] = None
                needed_after[v] = max(needed_after.get(v, -1), i)
        st.inputs = list(seen)
    for i, st in enumerate(stages):
        st.outputs = [v for op in st.ops for v in op.outputs
                      if v is not None and needed_after.get(v, -1) > i]


def boundary_bytes(v: Value) -> int | None:
    """Bytes of value ``v`` when its type is static, else None."""
    t = v.type
    if t.kind != "tensor" or t.dtype is None or not t.is_static:
        return None
    return math.prod(t.static_shape) * np.dtype(t.dtype).itemsize


def _cost(stages: list[Stage]) -> tuple[int, int, int]:
    sessions = sum(st.kind == ONNXRUNTIME for st in stages)
    crossing = sum(boundary_bytes(v) or 0 for st in stages for v in st.outputs)
    return sessions, len(stages) - sessions, crossing
