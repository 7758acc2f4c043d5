"""Matching patterns against a graph: backtracking over input orders, captures, conditions.

``match_at(pattern, op)`` yields every :class:`Match` of ``pattern`` rooted at ``op``;
``find_matches(pattern, graph)`` walks the graph (the match-only API). A matcher built
with a :class:`Trace` records, for the tracer, the failure that got furthest.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping, NoReturn

import numpy as np

from .patterns import Capture, OpPattern, OutputPattern, Pattern, ValuePattern

if TYPE_CHECKING:
    from ..ir import Graph, Op, Value

__all__ = ["Match", "Refuse", "fail", "Trace", "Failure", "match_at", "find_matches", "walk"]

_MISSING = object()


class Refuse(Exception):
    """Raise from a condition or a replacement to decline a match, saying why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def fail(reason: str) -> NoReturn:
    """Decline the match being checked (in a condition) or rewritten (in a replacement), saying why.

    ``fail("the bias is not 1-D")`` raises :class:`Refuse`; ``graphc explain`` reports the reason.
    """
    raise Refuse(reason)


class Match(Mapping[str, Any]):
    """A successful match: ``m["w"]`` is a captured value, op or attribute value.

    ``root`` is the op the pattern's root matched; ``ops`` every matched op, root first;
    ``ctx`` the PassContext the rule runs under (None outside a pass).
    """

    def __init__(self, graph: Graph, root: Op, ops: tuple[Op, ...], captures: dict[str, Any], ctx: Any = None):
        self.graph = graph
        self.root = root
        self.ops = ops
        self.captures = captures
        self.ctx = ctx

    def __getitem__(self, name: str) -> Any:
        try:
            return self.captures[name]
        except KeyError:
            raise KeyError(f"the pattern captures no {name!r} (captures: {', '.join(sorted(self.captures))})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.captures)

    def __len__(self) -> int:
        return len(self.captures)

    def array(self, name: str) -> np.ndarray:
        """The constant array of the captured value ``name``."""
        v = self[name]
        if v is None or v.const is None:
            raise KeyError(f"capture {name!r} is not a constant value")
        return v.const

    def __repr__(self) -> str:
        return f"Match(root={self.root.name!r}, ops={[o.name for o in self.ops]})"


@dataclass
class _State:
    """Bindings so far; copied on every bind so backtracking is free."""

    ops: dict[int, Op] = field(default_factory=dict)  # id(pattern) -> op
    order: tuple[Op, ...] = ()
    patterns: dict[int, OpPattern] = field(default_factory=dict)
    caps: dict[str, Any] = field(default_factory=dict)

    def bind_op(self, p: OpPattern, op: Op) -> _State:
        caps = dict(self.caps)
        if p.name:
            caps[p.name] = op
        return _State({**self.ops, id(p): op}, self.order + (op,), {**self.patterns, id(p): p}, caps)

    def bind(self, name: str | None, value: Any) -> _State:
        if not name:
            return self
        return _State(self.ops, self.order, self.patterns, {**self.caps, name: value})

    @property
    def progress(self) -> int:
        return len(self.ops) + len(self.caps)


@dataclass
class Failure:
    """Why a match attempt stopped: how far it got (bound ops) and the reason."""

    progress: int
    reason: str
    matched: tuple[Op, ...]
    captures: dict[str, Any]


class Trace:
    """Collects the furthest failure of match attempts (the "why didn't it match" tracer)."""

    def __init__(self) -> None:
        self.best: Failure | None = None

    def fail(self, st: _State, reason: str, bonus: int = 0) -> None:
        progress = st.progress + bonus
        if self.best is None or progress > self.best.progress:
            self.best = Failure(progress, reason, st.order, dict(st.caps))


def walk(p: Pattern, seen: set[int] | None = None) -> Iterator[Pattern]:
    """Every pattern node under ``p`` once, children before parents."""
    seen = set() if seen is None else seen
    if id(p) in seen:
        return
    seen.add(id(p))
    if isinstance(p, OpPattern):
        for q in p.inputs:
            yield from walk(q, seen)
    elif isinstance(p, OutputPattern):
        yield from walk(p.op, seen)
        return
    yield p


class _Matcher:
    def __init__(self, pattern: OpPattern, graph: Graph, ctx: Any, trace: Trace | None):
        self.pattern = pattern
        self.graph = graph
        self.ctx = ctx
        self.trace = trace
        self._conds: list | None = None

    @property
    def conditions(self) -> list:
        """Every condition of the pattern tree, collected on the first complete match (most roots never get there)."""
        if self._conds is None:  # patterns are immutable: collected once per pattern, kept on it
            conds = self.pattern.__dict__.get("_all_conditions")
            if conds is None:
                conds = self.pattern._all_conditions = [c for p in walk(self.pattern) for c in p.conditions]
            self._conds = conds
        return self._conds

    def fail(self, st: _State, reason: str, bonus: int = 0) -> None:
        if self.trace is not None:
            self.trace.fail(st, reason, bonus)

    # ------------------------------------------------------------------ values
    def value(self, v: Value | None, p: Pattern, st: _State) -> Iterator[_State]:
        if isinstance(p, ValuePattern):
            yield from self._value_var(v, p, st)
            return
        op_p, index = (p.op, p.index) if isinstance(p, OutputPattern) else (p, 0)
        assert isinstance(op_p, OpPattern)
        if v is None:
            self.fail(st, f"an input is omitted where the output of {op_p.op_type} was expected")
            return
        prod = v.producer() if v.graph is not None else None
        if prod is None:
            kind = "a constant" if v.is_const else "a graph input"
            self.fail(st, f"{v.name!r} is {kind}, not the output of {op_p.op_type}")
            return
        if prod.graph is not self.graph:
            self.fail(st, f"{v.name!r} comes from an enclosing graph")
            return
        if prod.outputs.index(v) != index:
            self.fail(st, f"{v.name!r} is output {prod.outputs.index(v)} of {prod.name!r}, the pattern wants output {index}")
            return
        yield from self.op(prod, op_p, st)

    def _value_var(self, v: Value | None, p: ValuePattern, st: _State) -> Iterator[_State]:
        label = repr(p.name) if p.name else "an input"
        if v is None:
            if p.optional:
                yield st.bind(p.name, None)
            else:
                self.fail(st, f"{label} is omitted")
            return
        if p.name and p.name in st.caps:
            if st.caps[p.name] is v:
                yield st
            else:
                bound = st.caps[p.name]
                self.fail(st, f"{label} must be the same value in both places: {getattr(bound, 'name', bound)!r} vs {v.name!r}")
            return
        if p.const and v.const is None:
            prod = v.producer()
            src = f"computed by {prod.op_type} {prod.name!r}" if prod is not None else "a graph input"
            self.fail(st, f"{label} must be a constant, but {v.name!r} is {src}")
            return
        if p.dtype is not None and v.dtype != p.dtype:
            self.fail(st, f"{label} must be {p.dtype.name}, {v.name!r} is {v.type}")
            return
        if p.rank is not None and v.type.rank != p.rank:
            got = "of unknown rank (run infer-shapes first)" if v.type.rank is None else f"of rank {v.type.rank}"
            self.fail(st, f"{label} must have rank {p.rank}, {v.name!r} is {got}")
            return
        yield st.bind(p.name, v)

    # --------------------------------------------------------------------- ops
    def op(self, o: Op, p: OpPattern, st: _State) -> Iterator[_State]:
        if id(p) in st.ops:
            if st.ops[id(p)] is o:
                yield st
            else:
                self.fail(st, f"{p!r} is already bound to {st.ops[id(p)].name!r}, found {o.name!r}")
            return
        if any(b is o for b in st.order):
            self.fail(st, f"op {o.name!r} would match two pattern nodes")
            return
        if o.op_type not in p.op_types or o.domain != p.domain:
            self.fail(st, f"expected {p.op_type}, found {o.qualified_type} {o.name!r}")
            return
        if p.outputs is not None and len(o.outputs) != p.outputs:
            self.fail(st, f"{o.op_type} {o.name!r} has {len(o.outputs)} outputs, the pattern wants {p.outputs}")
            return
        attrs_ok = self._attrs(o, p, st)
        if attrs_ok is None:
            return
        st = attrs_ok
        st = st.bind_op(p, o)
        actual = list(o.inputs)
        while actual and actual[-1] is None:
            actual.pop()
        n = len(p.inputs)
        if len(actual) > n and not p.rest:
            self.fail(st, f"{o.op_type} {o.name!r} has {len(actual)} inputs, the pattern names {n}")
            return
        actual = (actual + [None] * n)[:n]
        orders = _orders(n) if p.commutative and not p.rest else [tuple(range(n))]
        for order in orders:
            yield from self.seq([actual[j] for j in order], p.inputs, st)

    def _attrs(self, o: Op, p: OpPattern, st: _State) -> _State | None:
        for key, want in p.attrs.items():
            got = _attr_value(o, key)
            if isinstance(want, Capture):
                if got is _MISSING:
                    if not want.has_default:
                        self.fail(st, f"{o.op_type} {o.name!r} has no attribute {key!r}")
                        return None
                    got = want.default
                st = st.bind(want.name, got)
            elif callable(want):
                if got is _MISSING or not want(got):
                    self.fail(st, f"attribute {key}={_show(got)} of {o.name!r} is refused by the pattern")
                    return None
            elif got is _MISSING or not _equal(got, want):
                self.fail(st, f"attribute {key}={_show(got)} of {o.name!r}, the pattern wants {want!r}")
                return None
        return st

    def seq(self, values: list[Value | None], pats: tuple[Pattern, ...], st: _State) -> Iterator[_State]:
        if not pats:
            yield st
            return
        for s in self.value(values[0], pats[0], st):
            yield from self.seq(values[1:], pats[1:], s)

    # ---------------------------------------------------------------- complete
    def at(self, root: Op) -> Iterator[Match]:
        for st in self.op(root, self.pattern, _State()):
            if not self._exclusive(st):
                continue
            m = Match(self.graph, root, st.order, st.caps, self.ctx)
            if self._conditions(m, st):
                yield m

    def _exclusive(self, st: _State) -> bool:
        inside = set(st.order)
        for key, o in st.ops.items():
            if o is st.order[0] or st.patterns[key].shared:
                continue
            for v in o.outputs:
                outside = [c for c in v.consumers() if c not in inside]
                if outside or self.graph.is_output(v):
                    who = f"{outside[0].op_type} {outside[0].name!r}" if outside else "a graph output"
                    self.fail(st, f"{v.name!r} (from {o.name!r}) is also read by {who} outside the pattern", bonus=1)
                    return False
        return True

    def _conditions(self, m: Match, st: _State) -> bool:
        for i, cond in enumerate(self.conditions):
            try:
                verdict = cond.fn(m)
            except Refuse as r:
                verdict = r.reason
            else:
                if isinstance(verdict, str):
                    warnings.warn(f"condition {cond.reason!r} returned a string to refuse; call fail(reason) "
                                  "(graphc.pattern.fail) instead", DeprecationWarning, stacklevel=2)
            if verdict is False or isinstance(verdict, str):
                self.fail(st, verdict if isinstance(verdict, str) else cond.reason, bonus=2 + i)
                return False
        return True


def _orders(n: int) -> list[tuple[int, ...]]:
    if n <= 4:
        return list(itertools.permutations(range(n)))
    return [tuple(range(n)), tuple(reversed(range(n)))]


def _attr_value(o: Op, key: str) -> Any:
    if key in o.attrs:
        return o.attrs[key]
    return _schema_default(o.op_type, o.domain, o.opset if o.graph is not None else 21, key)


@functools.lru_cache(maxsize=4096)
def _schema_default(op_type: str, domain: str, opset: int, key: str) -> Any:
    import onnx
    from onnx import helper

    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:  # noqa: BLE001 - no schema: no default
        return _MISSING
    attr = schema.attributes.get(key)
    if attr is None or not attr.default_value.name:
        return _MISSING
    value = helper.get_attribute_value(attr.default_value)
    return value.decode() if isinstance(value, bytes) else value


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, (np.ndarray, list, tuple)) or isinstance(b, (np.ndarray, list, tuple)):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
        except (TypeError, ValueError):
            return False
    return a == b


def _show(v: Any) -> str:
    return "(absent)" if v is _MISSING else repr(v)


def match_at(pattern: OpPattern, op: Op, ctx: Any = None, trace: Trace | None = None) -> Iterator[Match]:
    """Every match of ``pattern`` whose root is ``op`` (conditions included)."""
    assert op.graph is not None, f"op {op.name!r} is not in a graph"
    return _Matcher(pattern, op.graph, ctx, trace).at(op)


def find_matches(pattern: OpPattern, graph: Graph, ctx: Any = None) -> Iterator[Match]:
    """The first match rooted at each op of ``graph``, in topological order (nothing is rewritten).

    >>> for m in find_matches(P.Relu(P.Conv(var("x"), const("w"), name="conv")), graph):  # doctest: +SKIP
    ...     print(m["conv"].name, m["w"].shape)
    """
    matcher = _Matcher(pattern, graph, ctx, None)
    for o in list(graph.topological_order()):
        if o.op_type in pattern.op_types and o.graph is graph:
            m = next(matcher.at(o), None)
            if m is not None:
                yield m
