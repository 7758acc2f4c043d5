"""Buffer planning: one arena for a graph's intermediate tensors, offsets by greedy placement.

:func:`plan_graph` computes a :class:`BufferPlan` from a graph's schedule (liveness, views,
in-place reuse, Concats joined in place); :func:`check_budget` holds it to a memory budget.
The ``plan-buffers`` pass (:mod:`passes.plan_buffers`) keeps the plan in memory in
``graph.meta[PLAN_KEY]`` (never exported; any structural change to the graph empties ``meta``, so a
plan is never stale); targets read it with :func:`read_plan` (None: plan afresh) and
executors that meet concrete shapes the static types did not fix re-plan with
:func:`plan_graph` and the recorded shapes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Callable, Mapping

import numpy as np

from graphc.errors import PlanError
from graphc.ir import Graph, Op, Value
from graphc.limits import memory_budget

__all__ = ["plan_graph", "BufferPlan", "Hints", "Shapes", "PLAN_KEY", "LEGACY_PLAN_KEY", "ALIGNMENT", "read_plan",
           "store_plan", "check_budget"]

#: ``graph.meta`` key holding the :class:`BufferPlan` (in memory only)
PLAN_KEY = "graphc.plan"
#: ``graph.metadata`` key where graphc before the in-memory store kept the plan's JSON (exported with the
#: model, so models and artifacts saved then still carry it); :func:`store_plan` drops it
LEGACY_PLAN_KEY = "graphc.plan"
#: every offset and every allocation size is a multiple of this many bytes
ALIGNMENT = 64

#: ``hints(op) -> (inplace {output slot: input slot}, output 0 may view input 0[, joins])``; ``joins``:
#: output 0 is the inputs concatenated along the op's ``axis`` and the kernel accepts inputs already
#: written in place there (the planner may lay them out inside the output's buffer)
Hints = Callable[[Op], "tuple[Mapping[int, int], bool] | tuple[Mapping[int, int], bool, bool]"]
#: value name -> (shape, dtype) observed in a run (re-planning for concrete shapes)
Shapes = Mapping[str, "tuple[tuple[int, ...], np.dtype]"]


@dataclass
class BufferPlan:
    """Where each intermediate tensor lives in the arena.

    ``offsets[name] = (byte offset, nbytes)`` for every value in the arena (views and
    in-place results share their base's offset); ``inplace_ops`` are the ops whose
    declared in-place output was given a dying input's buffer; ``fresh`` lists the
    intermediates of unknown size, allocated when produced. Graph inputs, outputs and
    constants are never in the arena.
    """

    arena_bytes: int = 0
    intermediate_bytes: int = 0
    lower_bound_bytes: int = 0
    largest_tensor_bytes: int = 0
    #: the largest tensor and the node writing it (``'y' (output of HannWindow node 'hann')``)
    largest_tensor: str = ""
    #: bytes of the graph outputs of known size (fresh arrays each run, outside the arena)
    output_bytes: int = 0
    offsets: dict[str, tuple[int, int]] = field(default_factory=dict)
    inplace_ops: list[str] = field(default_factory=list)
    views: dict[str, str] = field(default_factory=dict)
    fresh: list[str] = field(default_factory=list)
    #: one (offset, aligned size, first step, last step) per arena buffer
    buffers: list[tuple[int, int, int, int]] = field(default_factory=list)
    alignment: int = ALIGNMENT

    def note_tensor(self, v: Value, op: Op | None, size: int) -> None:
        """Count ``size`` bytes of ``v`` (written by ``op``) towards ``largest_tensor_bytes``."""
        if size > self.largest_tensor_bytes:
            self.largest_tensor_bytes = size
            where = f" (output of {op.op_type} node {op.name!r})" if op is not None else ""
            self.largest_tensor = f"{v.name!r}{where}"

    @property
    def ratio(self) -> float:
        """Arena size over the liveness lower bound (1.0 is optimal)."""
        return self.arena_bytes / self.lower_bound_bytes if self.lower_bound_bytes else 1.0

    def stats(self) -> dict[str, float | int]:
        """The figures ``graphc inspect --plan`` and the manifest show."""
        return {
            "arena_bytes": self.arena_bytes,
            "intermediate_bytes": self.intermediate_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "largest_tensor_bytes": self.largest_tensor_bytes,
            "output_bytes": self.output_bytes,
            "ratio": round(self.ratio, 4),
            "planned_values": len(self.offsets),
            "inplace_ops": len(self.inplace_ops),
            "views": len(self.views),
            "fresh_values": len(self.fresh),
        }

    def to_json(self) -> str:
        # the fields as they are (json writes tuples as lists): dataclasses.asdict deep-copies every entry
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> BufferPlan:
        data = json.loads(text)
        data["offsets"] = {k: (int(a), int(b)) for k, (a, b) in data.get("offsets", {}).items()}
        data["buffers"] = [tuple(int(x) for x in b) for b in data.get("buffers", [])]
        return cls(**data)


@dataclass
class _Buffer:
    size: int  # aligned
    start: int
    end: int
    members: list[str]
    offset: int = -1
    nbytes: int = 0  # exact size of the tensor(s) it holds
    #: a joined buffer (a concatenation laid out in place): member -> byte offset inside the buffer
    parts: dict[str, int] = field(default_factory=dict)


def read_plan(graph: Graph) -> BufferPlan | None:
    """The plan the plan-buffers pass kept on ``graph`` (in ``graph.meta``), or None."""
    plan = graph.meta.get(PLAN_KEY)
    return plan if isinstance(plan, BufferPlan) else None


def store_plan(graph: Graph, plan: BufferPlan) -> None:
    """Keep ``plan`` on ``graph`` in memory, dropping a JSON plan an older graphc left in
    ``graph.metadata`` (it would be stale, and exported with the model)."""
    graph.meta[PLAN_KEY] = plan
    graph.metadata.pop(LEGACY_PLAN_KEY, None)


def check_budget(plan: BufferPlan, budget: int | None) -> None:
    """Raise PlanError when one tensor (intermediate or graph output), the arena, or the arena
    plus the graph outputs exceed ``budget`` bytes (None: the default budget, half the machine's
    memory; see :mod:`graphc.limits`)."""
    budget = memory_budget(budget)
    if plan.largest_tensor_bytes > budget:
        raise PlanError(
            f"a single tensor{' ' + plan.largest_tensor if plan.largest_tensor else ''} needs "
            f"{plan.largest_tensor_bytes} bytes, over the memory budget of "
            f"{budget} bytes (arena {plan.arena_bytes}, liveness lower bound {plan.lower_bound_bytes}); "
            "raise memory_budget or reduce the input size")
    if plan.arena_bytes > budget:
        raise PlanError(
            f"the buffer plan needs an arena of {plan.arena_bytes} bytes, over the memory budget of {budget} bytes "
            f"(liveness lower bound {plan.lower_bound_bytes}, sum of intermediates {plan.intermediate_bytes}); "
            "raise memory_budget or reduce the input size")
    if plan.arena_bytes + plan.output_bytes > budget:
        raise PlanError(
            f"the graph outputs need {plan.output_bytes} bytes on top of an arena of {plan.arena_bytes} bytes, "
            f"over the memory budget of {budget} bytes; raise memory_budget or reduce the input size")


def _aligned(n: int, alignment: int) -> int:
    return max(alignment, -(-n // alignment) * alignment)


def _nbytes(v: Value, shapes: Shapes | None) -> int | None:
    """Bytes of ``v`` if its size is known (from ``shapes`` or its static type), else None."""
    if shapes is not None and v.name in shapes:
        shape, dtype = shapes[v.name]
        dt = np.dtype(dtype)
    else:
        t = v.type
        if t.kind != "tensor" or t.dtype is None or not t.is_static:
            return None
        shape, dt = t.static_shape, np.dtype(t.dtype)
    if dt.kind in "OSUV" and dt.itemsize == 0 or dt == object:
        return None
    return math.prod(shape) * dt.itemsize


def plan_graph(graph: Graph, shapes: Shapes | None = None, hints: Hints | None = None,
               alignment: int = ALIGNMENT) -> BufferPlan:
    """Compute the buffer plan of ``graph`` (its root-level schedule).

    ``shapes`` (value name -> (shape, dtype)) overrides static types, for re-planning
    with the concrete shapes of a run; ``hints`` gives each op's in-place/view declaration.
    """
    order = graph.topological_order()
    end = len(order)
    step = {op: i for i, op in enumerate(order)}
    outputs = {id(v) for v in graph.outputs}

    def last_use(v: Value) -> int:
        if id(v) in outputs:
            return end
        uses = [step[op] for op in v.consumers() if op in step]
        return max(uses) if uses else -1

    plan = BufferPlan(alignment=alignment)
    group: dict[str, _Buffer] = {}
    buffers: list[_Buffer] = []
    inplace_seen: set[str] = set()
    for i, op in enumerate(order):
        hint = hints(op) if hints is not None and op.layer is None else ({}, False)
        inplace, view, joins = hint[0], hint[1], len(hint) > 2 and bool(hint[2])
        by_slot = dict(op.runtime_inputs())  # slot -> runtime input (blob slots left out)
        if joins and len(op.outputs) == 1 and id(op.outputs[0]) not in outputs:
            joined = _join(op, group, shapes, alignment, last_use(op.outputs[0]))
            if joined is not None:
                buffers.append(joined)
                plan.inplace_ops.append(op.name)
                joined_size = _nbytes(op.outputs[0], shapes) or 0
                plan.intermediate_bytes += joined_size
                plan.note_tensor(op.outputs[0], op, joined_size)
                continue
        for slot, v in enumerate(op.outputs):
            size = _nbytes(v, shapes)
            is_candidate = size is not None and size > 0 and id(v) not in outputs and v.const is None
            if size is not None and id(v) not in outputs:
                plan.intermediate_bytes += 0 if (view and slot == 0) else size
                plan.note_tensor(v, op, size)
            src = by_slot.get(0)
            if view and slot == 0 and src is not None:
                plan.views[v.name] = src.name
                if src.name in group:  # a view of an arena buffer: keep the base alive while the view is read
                    buf = group[src.name]
                    buf.end = max(buf.end, last_use(v))
                    buf.members.append(v.name)
                    if src.name in buf.parts:
                        buf.parts[v.name] = buf.parts[src.name]
                    group[v.name] = buf
                continue
            if not is_candidate:
                if size is None and id(v) not in outputs:
                    plan.fresh.append(v.name)
                continue
            assert size is not None
            target = _inplace_target(op, by_slot, slot, inplace, group, i, size, shapes)
            if target is not None:
                target.end = max(target.end, last_use(v))
                target.members.append(v.name)
                group[v.name] = target
                if op.name not in inplace_seen:
                    inplace_seen.add(op.name)
                    plan.inplace_ops.append(op.name)
                continue
            buf = _Buffer(_aligned(size, alignment), i, max(i, last_use(v)), [v.name], nbytes=size)
            buffers.append(buf)
            group[v.name] = buf
    _count_outputs(graph, shapes, plan)
    buffers = [b for b in buffers if not b.members or group.get(b.members[0]) is b]  # drop buffers joined into others
    _place(buffers)
    plan.arena_bytes = max((b.offset + b.size for b in buffers), default=0)
    plan.lower_bound_bytes = _lower_bound(buffers, end)
    plan.buffers = [(b.offset, b.size, b.start, b.end) for b in buffers]
    sizes = {}
    for name, buf in group.items():
        value = graph.values.get(name)
        n = _nbytes(value, shapes) if value is not None else None
        sizes[name] = (buf.offset + buf.parts.get(name, 0), buf.size if n is None else n)
    plan.offsets = sizes
    return plan


def _count_outputs(graph: Graph, shapes: Shapes | None, plan: BufferPlan) -> None:
    """Add the graph outputs of known size to ``plan.output_bytes`` and ``largest_tensor_bytes``:
    each run hands the caller fresh arrays of them, so they count against the budget."""
    seen: set[int] = set()
    for v in graph.outputs:
        size = _nbytes(v, shapes) if id(v) not in seen else None
        seen.add(id(v))
        if size:
            plan.output_bytes += size
            plan.note_tensor(v, v.producer() if v.graph is not None else None, size)


def _inplace_target(op: Op, by_slot: dict[int, Value | None], slot: int, inplace: Mapping[int, int],
                    group: dict[str, _Buffer], i: int, size: int, shapes: Shapes | None) -> _Buffer | None:
    """The dying input buffer output ``slot`` may take over, or None."""
    src_slot = inplace.get(slot)
    src = by_slot.get(src_slot) if src_slot is not None else None
    if src is None or src.name not in group:
        return None
    buf = group[src.name]
    if buf.parts or buf.end != i or _nbytes(src, shapes) != size or _nbytes(op.outputs[slot], shapes) != size:
        return None
    if any(k != src_slot and u is not None and group.get(u.name) is buf for k, u in by_slot.items()):
        return None
    return buf


def _join(op: Op, group: dict[str, _Buffer], shapes: Shapes | None, alignment: int, end: int) -> _Buffer | None:
    """One buffer holding ``op``'s inputs side by side as its concatenated output, or None.

    Needs a static output whose dims before ``axis`` are all 1 (so each input is one
    contiguous run of the output), no constant inputs, and every input an arena tensor
    that fills its own buffer (in-place chains and views of it move along).
    """
    out = op.outputs[0]
    t = out.type
    size = _nbytes(out, shapes)
    if size is None or op.blobs or any(u is None for u in op.inputs) or not op.inputs:
        return None
    ins = [u for u in op.inputs if u is not None]  # all of them (checked above)
    shape = shapes[out.name][0] if shapes is not None and out.name in shapes else t.static_shape
    axis = int(op.attrs.get("axis", 1 if op.opset < 4 else 0))
    axis = axis + len(shape) if axis < 0 else axis
    if not 0 <= axis < len(shape) or math.prod(shape[:axis]) != 1:
        return None
    found = [group.get(u.name) for u in ins]
    parts = [b for b in found if b is not None]
    if len(parts) != len(found) or len({id(b) for b in parts}) != len(parts):
        return None
    sizes = [_nbytes(u, shapes) for u in ins]
    if any(b.parts.get(u.name, 0) != 0 or n != b.nbytes for u, b, n in zip(ins, parts, sizes)) \
            or sum(sizes) != size:  # type: ignore[arg-type]  # each n == b.nbytes, an int
        return None
    joined = _Buffer(_aligned(size, alignment), min(b.start for b in parts), max(end, *(b.end for b in parts)), [],
                     nbytes=size)
    at = 0
    for b, n in zip(parts, sizes):
        for name in b.members:
            joined.parts[name] = at + b.parts.get(name, 0)
            joined.members.append(name)
            group[name] = joined
        at += n  # type: ignore[operator]
    joined.members.append(out.name)
    joined.parts[out.name] = 0
    group[out.name] = joined
    return joined


#: placement orders tried in turn (a sort key per buffer), best first: greedy by size with
#: longer lifetimes first among equal sizes, greedy by breadth (longest lifetime first),
#: and by size times lifetime; later orders run only while the arena is above the bound
_ORDERS: tuple[Callable[[_Buffer], tuple[int, ...]], ...] = (
    lambda b: (-b.size, b.start - b.end, b.start),
    lambda b: (b.start - b.end, -b.size, b.start),
    lambda b: (-b.size * (b.end - b.start + 1), b.start),
)


def _place(buffers: list[_Buffer]) -> None:
    """Set every buffer's offset: the smallest arena of greedy placement in each of
    :data:`_ORDERS` (the first order reaching the liveness lower bound ends the search;
    ties keep the earlier order, so the result is deterministic)."""
    if not buffers:
        return
    bound = _lower_bound(buffers, max(b.end for b in buffers))
    best: list[int] = []
    best_arena = -1
    for key in _ORDERS:
        offsets = _greedy(buffers, sorted(range(len(buffers)), key=lambda i: key(buffers[i])))
        arena = max(o + b.size for o, b in zip(offsets, buffers))
        if best_arena < 0 or arena < best_arena:
            best, best_arena = offsets, arena
        if best_arena <= bound:
            break
    for buf, offset in zip(buffers, best):
        buf.offset = offset


def _greedy(buffers: list[_Buffer], order: list[int]) -> list[int]:
    """Offsets of ``buffers`` placed one by one in ``order`` (indices), each into the
    best-fitting gap among the placed buffers whose lifetimes overlap it, else above them.

    Placed buffers are indexed by the steps they are live at, so finding the ones that
    overlap a lifetime costs the length of that lifetime, not the number of buffers
    placed so far (compile time stays near-linear on long graphs).
    """
    offsets = [-1] * len(buffers)
    live_at: list[list[int]] = [[] for _ in range(max(b.end for b in buffers) + 1)]
    for i in order:
        buf = buffers[i]
        seen = {j for step in range(buf.start, buf.end + 1) for j in live_at[step]}
        best, best_gap, prev_end = -1, -1, 0
        for j in sorted(seen, key=offsets.__getitem__):
            gap = offsets[j] - prev_end
            if gap >= buf.size and (best_gap < 0 or gap < best_gap):
                best, best_gap = prev_end, gap
            prev_end = max(prev_end, offsets[j] + buffers[j].size)
        offsets[i] = best if best >= 0 else prev_end
        for step in range(buf.start, buf.end + 1):
            live_at[step].append(i)
    return offsets


def _lower_bound(buffers: list[_Buffer], steps: int) -> int:
    """The largest total size of buffers live at one step."""
    if not buffers:
        return 0
    delta = [0] * (steps + 2)
    for b in buffers:
        delta[b.start] += b.size
        delta[b.end + 1] -= b.size
    best = live = 0
    for d in delta:
        live += d
        best = max(best, live)
    return best
