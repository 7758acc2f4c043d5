"""GraphDiff: what changed between two graphs, as a deterministic list of changes.

Ops are paired by name (same name, same op type), then by structure: an unpaired op of
the new graph pairs with an unpaired op of the old one that has the same op type and
reads the same inputs (the same graph input, a constant of the same shape and dtype,
or the corresponding output of an already-paired op). Values pair by name and through
paired ops' output slots. Everything is a single pass over each graph in topological
order plus dictionary lookups, so 10k-op graphs diff in well under a second.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .changes import KINDS, Change

if TYPE_CHECKING:
    from ..ir import Graph, Op, Value

__all__ = ["Change", "GraphDiff", "KINDS", "checksum"]

def checksum(array: np.ndarray) -> str:
    """A short content hash of an array (8 hex digits)."""
    a = np.ascontiguousarray(array)
    data = repr(a.tolist()).encode() if a.dtype == object else a.tobytes()
    return hashlib.blake2b(data + str(a.dtype).encode() + str(a.shape).encode(), digest_size=4).hexdigest()


@dataclass
class GraphDiff:
    """The changes turning ``before`` into ``after``.

    ``changes`` is ordered by kind (KINDS order) then by name; ``summary`` counts
    added, removed and changed items. ``console.print(diff)`` renders it with rich;
    ``diff.to_text()`` is the plain-text form and ``diff.to_json()`` a JSON-able dict.
    """

    before: Graph
    after: Graph
    changes: list[Change] = field(init=False, default_factory=list)
    op_pairs: dict[Op, Op] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._sums: dict[int, str] = {}
        self._compute()

    # ------------------------------------------------------------------ summary
    @property
    def summary(self) -> dict[str, int]:
        """Counts: ops added, removed and changed."""
        added = sum(1 for c in self.changes if c.mark == "+")
        removed = sum(1 for c in self.changes if c.mark == "-")
        return {"added": added, "removed": removed, "changed": len(self.changes) - added - removed}

    @property
    def empty(self) -> bool:
        """True when the two graphs do not differ."""
        return not self.changes

    def by_kind(self) -> dict[str, list[Change]]:
        """Changes grouped by kind, in the rendering order."""
        out: dict[str, list[Change]] = {}
        for c in self.changes:
            out.setdefault(c.kind, []).append(c)
        return out

    def to_json(self) -> dict[str, Any]:
        """The whole diff as JSON data (what ``graphc diff --json`` prints)."""
        return {
            "summary": self.summary,
            "ops": {"before": len(self.before), "after": len(self.after)},
            "changes": [c.to_json() for c in self.changes],
        }

    def to_text(self, neighbourhood: bool = True) -> str:
        """The plain-text rendering (what ``graphc diff --no-color`` prints)."""
        from .render import render_lines

        return "\n".join(t.plain for t in render_lines(self, neighbourhood=neighbourhood))

    def __rich_console__(self, console, options):  # noqa: ANN001 - rich protocol
        from .render import render_lines

        yield from render_lines(self)

    # -------------------------------------------------------------- computation
    def _sum(self, a: np.ndarray) -> str:
        key = id(a)
        if key not in self._sums:
            self._sums[key] = checksum(a)
        return self._sums[key]

    def _compute(self) -> None:
        b_ops, a_ops = self.before.topological_order(), self.after.topological_order()
        pairs = self._pair_ops(b_ops, a_ops)
        self.op_pairs = pairs
        vpairs = self._pair_values(pairs)
        changes: list[Change] = []
        changes += self._io_changes()
        paired_after = set(pairs.values())
        for o in a_ops:
            if o not in paired_after:
                changes.append(self._op_change("added", "+", o, self.after))
        for o in b_ops:
            if o not in pairs:
                changes.append(self._op_change("removed", "-", o, self.before))
        for ob, oa in pairs.items():
            changes += self._pair_changes(ob, oa, vpairs)
        changes += self._value_changes(vpairs)
        order = {k: i for i, k in enumerate(KINDS)}
        self.changes = sorted(changes, key=lambda c: (order[c.kind], c.subject, c.detail))

    def _pair_ops(self, b_ops: list[Op], a_ops: list[Op]) -> dict[Op, Op]:
        pairs: dict[Op, Op] = {}
        bnames = self.before.ops
        for oa in a_ops:
            ob = bnames.get(oa.name)
            if ob is not None and ob.op_type == oa.op_type and ob.domain == oa.domain:
                pairs[ob] = oa
        back = {oa: ob for ob, oa in pairs.items()}
        pool: dict[tuple, list[Op]] = {}
        for ob in b_ops:
            if ob not in pairs:
                pool.setdefault(self._key(ob, None), []).append(ob)
        if not pool:
            return pairs
        for oa in a_ops:
            if oa in back:
                continue
            cands = pool.get(self._key(oa, back))
            if cands:
                ob = cands.pop(0)
                pairs[ob] = oa
                back[oa] = ob
        return pairs

    def _key(self, o: Op, back: dict[Op, Op] | None) -> tuple:
        """Structural key; for after-ops, producers are translated to their before partners."""
        ins: list[tuple[Any, ...] | None] = []
        for v in _runtime(o):
            if v is None:
                ins.append(None)
                continue
            if v.const is not None:
                ins.append(("const", str(v.dtype), tuple(v.const.shape)))
                continue
            p = v.producer() if v.graph is not None else None
            if p is None:
                ins.append(("value", v.name))
            else:
                src = p if back is None else back.get(p)
                ins.append(("op", src.name if src is not None else f"?{p.name}", p.outputs.index(v)))
        return (o.op_type, o.domain, tuple(ins))

    def _pair_values(self, pairs: dict[Op, Op]) -> dict[Value, Value]:
        vp: dict[Value, Value] = {}
        avals = self.after.values
        for name, vb in self.before.values.items():
            va = avals.get(name)
            if va is not None:
                vp[vb] = va
        for ob, oa in pairs.items():
            for vb, va in zip(ob.outputs, oa.outputs):
                vp.setdefault(vb, va)
        return vp

    def _same_input(self, vb: Value | None, va: Value | None, vpairs: dict[Value, Value]) -> bool:
        if vb is None or va is None:
            return vb is va
        if vpairs.get(vb) is va:
            return True
        if vb.const is not None and va.const is not None:
            return vb.const is va.const or (vb.const.shape == va.const.shape and self._sum(vb.const) == self._sum(va.const))
        return False

    def _pair_changes(self, ob: Op, oa: Op, vpairs: dict[Value, Value]) -> list[Change]:
        out: list[Change] = []
        if ob.name != oa.name:
            out.append(Change("renamed", "~", oa.name, oa.op_type, f"{ob.name} → {oa.name}", ob.name, oa.name))
        rb, ra = _runtime(ob), _runtime(oa)
        rewired = []
        for i in range(max(len(rb), len(ra))):
            vb = rb[i] if i < len(rb) else None
            va = ra[i] if i < len(ra) else None
            if not self._same_input(vb, va, vpairs):
                rewired.append(f"input {i}: {_vname(vb)} → {_vname(va)}")
        if rewired:
            out.append(Change("rewired", "~", oa.name, oa.op_type, "; ".join(rewired),
                              [_vname(v) for v in rb], [_vname(v) for v in ra],
                              *_neighbourhood(oa, self.after)))
        for key in sorted(set(ob.attrs) | set(oa.attrs)):
            x, y = ob.attrs.get(key, _ABSENT), oa.attrs.get(key, _ABSENT)
            if not _attr_equal(x, y):
                out.append(Change("attribute", "~", oa.name, oa.op_type, f"{key}: {_show(x)} → {_show(y)}",
                                  _jsonable(x), _jsonable(y)))
        if len(ob.blobs) != len(oa.blobs) or any(
            x is not y and (x.shape != y.shape or self._sum(x) != self._sum(y)) for x, y in zip(ob.blobs, oa.blobs)
        ):
            bb = [self._describe_array(x) for x in ob.blobs]
            ba = [self._describe_array(x) for x in oa.blobs]
            out.append(Change("weight", "~", oa.name, oa.op_type, f"blobs: {', '.join(bb) or '(none)'} → {', '.join(ba) or '(none)'}", bb, ba))
        return out

    def _describe_array(self, a: np.ndarray) -> str:
        return f"{a.dtype}[{','.join(map(str, a.shape))}] #{self._sum(a)}"

    def _value_changes(self, vpairs: dict[Value, Value]) -> list[Change]:
        out: list[Change] = []
        # a constant read only as blobs is shown as the ops' blobs, not as a weight of the graph
        only_b = {v for v in self.before.values.values() if _blob_only(v)}
        only_a = {v for v in self.after.values.values() if _blob_only(v)}
        vpairs = {vb: va for vb, va in vpairs.items() if vb not in only_b and va not in only_a}
        paired_after = set(vpairs.values())
        for vb, va in vpairs.items():
            if vb.const is not None or va.const is not None:
                if vb.const is None or va.const is None:
                    continue  # folded to / from a constant: the op change says it
                if vb.const is not va.const and (vb.const.shape != va.const.shape or vb.const.dtype != va.const.dtype
                                                 or self._sum(vb.const) != self._sum(va.const)):
                    d0, d1 = self._describe_array(vb.const), self._describe_array(va.const)
                    out.append(Change("weight", "~", va.name, "", f"{d0} → {d1}", d0, d1))
            elif vb.type != va.type and not self._io_value(vb, va):
                out.append(Change("type", "~", va.name, "", f"{vb.type} → {va.type}", str(vb.type), str(va.type)))
        for vb in self.before.values.values():
            if vb.const is not None and vb not in vpairs and vb not in only_b:
                d = self._describe_array(vb.const)
                out.append(Change("weight", "-", vb.name, "", d, d, None))
        for va in self.after.values.values():
            if va.const is not None and va not in paired_after and va not in only_a:
                d = self._describe_array(va.const)
                out.append(Change("weight", "+", va.name, "", d, None, d))
        return out

    def _io_value(self, vb: Value, va: Value) -> bool:
        """True for a graph input/output on both sides (its type change is an io change)."""
        b, a = self.before, self.after
        return (b.is_input(vb) and a.is_input(va)) or (b.is_output(vb) and a.is_output(va))

    def _io_changes(self) -> list[Change]:
        out: list[Change] = []
        for side, xs, ys in (("input", self.before.inputs, self.after.inputs), ("output", self.before.outputs, self.after.outputs)):
            start = len(out)
            bt = {v.name: v.type for v in xs}
            at = {v.name: v.type for v in ys}
            for name in at.keys() - bt.keys():
                out.append(Change("io", "+", name, "", f"graph {side} {name}: {at[name]}", None, str(at[name])))
            for name in bt.keys() - at.keys():
                out.append(Change("io", "-", name, "", f"graph {side} {name}: {bt[name]}", str(bt[name]), None))
            for name in bt.keys() & at.keys():
                if bt[name] != at[name]:
                    out.append(Change("io", "~", name, "", f"graph {side} {name}: {bt[name]} → {at[name]}", str(bt[name]), str(at[name])))
            if len(out) == start and [v.name for v in xs] != [v.name for v in ys]:
                out.append(Change("io", "~", side, "", f"graph {side}s reordered: {[v.name for v in xs]} → {[v.name for v in ys]}"))
        return out

    def _op_change(self, kind: str, mark: str, o: Op, graph: Graph) -> Change:
        ins = ", ".join(_vname(v) for v in _runtime(o))
        outs = ", ".join(v.name for v in o.outputs)
        return Change(kind, mark, o.name, o.qualified_type, f"({ins}) -> {outs}", None, None, *_neighbourhood(o, graph))


_ABSENT = object()


def _runtime(o: Op) -> list[Value | None]:
    """The op's inputs as the diff shows them: its runtime inputs in order, blobs apart
    (the op's ``blobs`` line shows those), as they read before blobs became a view."""
    return [v for _, v in o.runtime_inputs()]


def _blob_only(v: Value) -> bool:
    """True for a constant that is read, and only as a blob (by ops or from their subgraphs)."""
    if v.const is None or not v.is_used() or v.is_graph_output() or v.is_graph_input():
        return False
    if any(s not in op.blob_slots for op, s in v.uses()):
        return False
    for capturer in v.capturers():
        for _, sub in capturer.subgraphs():
            for inner in sub.walk():
                if any(x is v and s not in inner.blob_slots for s, x in enumerate(inner.inputs)):
                    return False
    return True


def _vname(v: Value | None) -> str:
    return "∅" if v is None else v.name


def _neighbourhood(o: Op, graph: Graph) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ins = []
    for v in _runtime(o):
        if v is None:
            continue
        if v.const is not None:
            ins.append(f"{v.name} (const {v.type})")
            continue
        p = v.producer() if v.graph is not None else None
        ins.append(f"{v.name} ({p.op_type} {p.name})" if p is not None else f"{v.name} (graph input)")
    outs = []
    for v in o.outputs:
        for c in v.consumers():
            outs.append(f"{c.name} ({c.op_type})")
        if graph.is_output(v):
            outs.append(f"{v.name} (graph output)")
    return tuple(ins), tuple(dict.fromkeys(outs))


def _attr_equal(x: Any, y: Any) -> bool:
    if x is _ABSENT or y is _ABSENT:
        return x is y
    from ..ir import Graph

    if isinstance(x, Graph) or isinstance(y, Graph):
        return isinstance(x, Graph) and isinstance(y, Graph) and [o.op_type for o in x.topological_order()] == [o.op_type for o in y.topological_order()]
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        try:
            return bool(np.array_equal(np.asarray(x), np.asarray(y)))
        except (TypeError, ValueError):
            return False
    try:
        return bool(x == y)
    except (TypeError, ValueError):
        return False


def _show(x: Any) -> str:
    if x is _ABSENT:
        return "(absent)"
    if isinstance(x, float):
        return f"{x:.7g}"
    if isinstance(x, list) and x and all(isinstance(i, float) for i in x):
        return "[" + ", ".join(f"{i:.7g}" for i in x) + "]"
    if isinstance(x, np.ndarray):
        return f"array {x.dtype}[{','.join(map(str, x.shape))}]"
    from ..ir import Graph

    if isinstance(x, Graph):
        return f"<subgraph {x.name}: {len(x)} ops>"
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _jsonable(x: Any) -> Any:
    if x is _ABSENT:
        return None
    if isinstance(x, (int, float, str, bool)) or x is None:
        return x
    if isinstance(x, (list, tuple)) and all(isinstance(i, (int, float, str, bool)) for i in x):
        return list(x)
    if isinstance(x, bytes):
        return x.decode(errors="replace")
    return _show(x)
