"""Lowering: a planned Graph -> a :class:`Program` of steps over numbered value slots.

A program is static and shareable: which kernel runs each op (native, the declared
fallback, or a custom layer), where each argument comes from (a slot index, blobs and
constants preset in slots), where each result goes. The executor binds a program to an
arena (per thread) to run it. Subgraphs (If/Loop/Scan bodies) lower to nested programs
whose first slots hold the outer-scope values they read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphc.errors import UnsupportedOpError
from graphc.ir import Graph, Op, Value

from .fallback import has_fallback
from .kernels import KERNELS, KernelSpec

__all__ = ["Program", "Step", "lower_program", "op_kind", "NONE_SLOT"]

#: slot 0 always holds None (an omitted optional input)
NONE_SLOT = 0


@dataclass
class Step:
    """One op of the schedule, ready to bind."""

    op: Op
    kind: str  # "native" | "fallback" | "layer"
    spec: KernelSpec | None
    args: tuple[int, ...]  # slots of the call's arguments, in the kernel's calling convention
    outs: tuple[int, ...]  # slots the results go to
    captures: tuple[int, ...] = ()  # slots of outer values the op's subgraphs read
    #: attribute name -> (subgraph program, slots of its captures in this program)
    subprograms: dict[str, tuple[Program, tuple[int, ...]]] = field(default_factory=dict)
    #: what the kernel's ``prepare`` hook returned (shared by every bound copy; None: not prepared)
    state: Any = None


@dataclass
class Program:
    """A graph lowered to steps over value slots."""

    graph: Graph
    slot_of: dict[Value, int]
    n_slots: int
    presets: list[tuple[int, Any]]  # (slot, constant array): initializers and blobs
    inputs: list[tuple[int, Value]]  # runtime graph inputs
    outputs: list[tuple[str, int]]
    steps: list[Step]
    captures: list[Value]  # outer values, in slots 1..len(captures)
    #: a subgraph's buffer plans by shape signature, shared by every bound copy (filled by the executor)
    plans: dict[Any, Any] = field(default_factory=dict)

    def kinds(self) -> dict[str, str]:
        """op name -> native / fallback / layer (root graph only)."""
        return {s.op.name: s.kind for s in self.steps}


def op_kind(op: Op, fallback: bool = True) -> str | None:
    """How the numpy target runs ``op``: "layer", "native", "fallback", or None (it cannot)."""
    if op.layer is not None:
        return "layer"
    if KERNELS.lookup(op.domain, op.op_type, op.opset) is not None:
        return "native"
    if fallback and has_fallback(op.domain, op.op_type):
        return "fallback"
    return None


def free_values(graph: Graph) -> list[Value]:
    """Values ``graph`` reads from enclosing scopes (directly or in nested subgraphs), by name."""
    found: dict[str, Value] = {}

    def visit(v: Value | None) -> None:
        if v is not None and v.graph is not graph and v.name not in found:
            found[v.name] = v

    for op in graph.ops.values():
        for v in op.inputs:
            visit(v)
        for _, sub in op.subgraphs():
            for v in free_values(sub):
                if v.graph is not graph:
                    visit(v)
    for v in graph.outputs:
        visit(v)
    return [found[k] for k in sorted(found)]


def lower_program(graph: Graph, fallback: bool = True, captures: list[Value] | None = None) -> Program:
    """Lower ``graph`` (root or subgraph) to a :class:`Program`; refuse ops nothing can run."""
    captures = list(captures if captures is not None else free_values(graph) if graph.parent is not None else [])
    slot_of: dict[Value, int] = {}
    presets: list[tuple[int, Any]] = []
    const_at: dict[int, Any] = {}
    n = 1

    def slot(v: Value) -> int:
        nonlocal n
        s = slot_of.get(v)
        if s is None:
            s = slot_of[v] = n
            n += 1
            if v.const is not None:
                presets.append((s, v.const))
                const_at[s] = v.const
        return s

    for v in captures:
        slot(v)
    inputs = [(slot(v), v) for v in graph.inputs if v.const is None]
    for v in graph.inputs:
        slot(v)
    unsupported: list[str] = []
    steps: list[Step] = []
    for op in graph.topological_order():
        kind = op_kind(op, fallback)
        if kind is None:
            unsupported.append(f"{op.name!r} ({op.qualified_type}, opset {op.opset})")
            continue
        runtime = [NONE_SLOT if v is None else slot(v) for v in op.inputs]
        spec = KERNELS.lookup(op.domain, op.op_type, op.opset) if kind == "native" else None
        caps = tuple(slot(v) for v in graph.captures(op)) if op.has_subgraphs else ()
        if kind == "layer":  # constant inputs are the layer's blobs; it is called with the others
            args = [NONE_SLOT if v is None else slot(v) for v in op.inputs if v is None or v.const is None]
        elif kind == "fallback":
            args = [s for s in runtime if s != NONE_SLOT] + list(caps)
        else:
            args = runtime
        while kind == "native" and args and args[-1] == NONE_SLOT:
            args.pop()  # trailing omitted inputs may be absent
        subs: dict[str, tuple[Program, tuple[int, ...]]] = {}
        if kind == "native":
            for attr, sub in op.subgraphs():
                prog = lower_program(sub, fallback, free_values(sub))
                subs[attr] = (prog, tuple(slot(v) for v in prog.captures))
        state = None
        if kind == "native" and spec is not None and spec.prepare is not None:
            types = {slot_of[v]: v.type for v in op.inputs if v is not None}
            state = _prepare(op, spec, args, const_at, types)
        steps.append(Step(op, kind, spec, tuple(args), tuple(slot(v) for v in op.outputs), caps, subs, state))
    if unsupported:
        hint = "compile with fallback enabled (drop --no-fallback) or register a custom layer (graphc scaffold)"
        raise UnsupportedOpError(f"the numpy target cannot run {len(unsupported)} op(s): {', '.join(unsupported[:10])}"
                                 f"{' ...' if len(unsupported) > 10 else ''}; {hint}")
    outputs = [(v.name, slot(v)) for v in graph.outputs]
    return Program(graph, slot_of, n, presets, inputs, outputs, steps, captures)


def _prepare(op: Op, spec: KernelSpec, args: list[int], consts: dict[int, Any], types: dict[int, Any]) -> Any:
    """Run ``spec.prepare`` once for ``op``: constants as arrays, runtime inputs as their TensorType."""
    from graphc.errors import GraphcError

    from .kernels import OpContext

    inputs: list[Any] = []
    for s in args:
        if s == NONE_SLOT:
            inputs.append(None)
        elif s in consts:
            inputs.append(consts[s])
        else:
            inputs.append(types.get(s))
    ctx = OpContext(op.name, op.op_type, op.attrs, op.opset, op.domain)
    assert spec.prepare is not None  # only kernels with a prepare step get here
    try:
        return spec.prepare(ctx, inputs)
    except GraphcError:
        raise
    except Exception as e:  # noqa: BLE001 - a failing hook becomes an error naming the node
        raise GraphcError(f"node {op.name!r} ({op.qualified_type}): preparing its kernel at lowering failed: "
                          f"{type(e).__name__}: {e}") from e
