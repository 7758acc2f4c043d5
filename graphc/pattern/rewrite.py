"""Rules (pattern + replacement), the builder replacements use, and RuleSet: the rewrite engine.

A worked example (MatMul + constant Add -> Gemm)::

    from graphc.pattern import P, Rule, RuleSet, const, var

    def to_gemm(m, b):
        return b.Gemm(m["a"], m["B"], m["c"])          # replaces the Add's output

    rule = Rule("matmul-add", P.Add(P.MatMul(var("a", rank=2), const("B")), const("c")), to_gemm)
    RuleSet([rule], name="my-pass").apply(graph)        # -> PassResult(stats={"matmul-add": 1})

Before: ``t = MatMul(a, B); y = Add(c, t)`` (Add is commutative, so the order of its
inputs does not matter). After: ``y = Gemm(a, B, c)``; the new op keeps the name of
the value it replaces and records ``{"pass": "my-pass", "rule": "matmul-add",
"replaced": [<Add>, <MatMul>]}`` in ``op.provenance``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np

from ..errors import PassError
from ..passinfra.context import PassContext
from ..passinfra.declare import PassResult
from .matcher import Match, Refuse, find_matches, match_at
from .patterns import OpPattern

if TYPE_CHECKING:
    from ..ir import Graph, Op, Value

__all__ = ["Rule", "rule", "RuleSet", "Builder", "rewrite"]
logger = logging.getLogger(__name__)

ReplaceFn = Callable[[Match, "Builder"], "Value | list[Value] | tuple[Value, ...] | None"]


@dataclass
class Rule:
    """A rewrite: ``pattern`` and ``replace(match, builder)`` returning the new values for the
    root op's outputs (one value or a sequence; None for an output nothing reads, which is
    dropped), or decline with ``fail(reason)`` (returning None also declines).

    ``description`` is shown by ``graphc explain``.
    """

    name: str
    pattern: OpPattern
    replace: ReplaceFn
    description: str = ""

    def matches(self, graph: Graph, ctx: Any = None) -> Iterable[Match]:
        """The match-only API: every (first-per-root) match in ``graph``; nothing is rewritten."""
        return find_matches(self.pattern, graph, ctx)


def rule(name: str, pattern: OpPattern, description: str = "") -> Callable[[ReplaceFn], Rule]:
    """Decorator form: ``@rule("conv-bn", pattern)`` over the replacement function."""

    def wrap(fn: ReplaceFn) -> Rule:
        return Rule(name, pattern, fn, description or (fn.__doc__ or "").strip().split("\n")[0])

    return wrap


class Builder:
    """Builds the replacement ops of one match; ``b.Gemm(a, w, c, transB=1)`` is
    ``b.op("Gemm", [a, w, c], {"transB": 1})``. Every op it creates gets provenance."""

    def __init__(self, graph: Graph, match: Match):
        self.graph = graph
        self.match = match
        self.ops: list[Op] = []
        self.values: list[Value] = []
        self.hints: dict[Op, str] = {}  # op -> the name asked for (taken back once free)

    def op(self, op_type: str, inputs: Sequence[Value | None], attrs: dict[str, Any] | None = None, *,
           domain: str = "", outputs: int = 1, name: str | None = None,
           attr_kinds: dict[str, int] | None = None) -> Any:
        """Add an op; returns its output value (or the list of them when ``outputs > 1``)."""
        hint = name or f"{self.match.root.name}_{op_type}"
        new = self.graph.add_op(op_type, list(inputs), outputs, attrs=attrs, domain=domain,
                                name=self.graph.unique_name(hint, kind="op"), attr_kinds=attr_kinds)
        self.ops.append(new)
        self.hints[new] = hint
        return new.outputs[0] if outputs == 1 else list(new.outputs)

    def like(self, template: Op, inputs: Sequence[Value | None], **attrs: Any) -> Value:
        """A copy of ``template`` (type, domain, attributes) reading ``inputs``; ``attrs`` override."""
        merged = {**template.attrs, **attrs}
        kinds = {k: v for k, v in template.attr_kinds.items() if k not in attrs}
        return self.op(template.op_type, inputs, merged, domain=template.domain, attr_kinds=kinds,
                       outputs=len(template.outputs), name=template.name)

    def const(self, array: Any, name: str | None = None) -> Value:
        """A new constant value."""
        v = self.graph.add_constant(np.asarray(array), name or f"{self.match.root.name}_const")
        self.values.append(v)
        return v

    def __getattr__(self, op_type: str) -> Callable[..., Any]:
        if not op_type[:1].isupper():
            raise AttributeError(op_type)

        def build(*inputs: Value | None, **attrs: Any) -> Any:
            return self.op(op_type, inputs, attrs)

        return build

    def discard(self) -> None:
        """Remove everything built (the replacement declined)."""
        for o in reversed(self.ops):
            if o.graph is not None and not any(c for v in o.outputs for c in v.consumers()):
                self.graph.remove_op(o)
        for v in self.values:
            if v.graph is not None and not v.is_used():
                self.graph.remove_value(v)


@dataclass
class RuleSet:
    """Rules applied by one engine: a pass body, once or to a fixed point.

    ``apply(graph, ctx)`` sweeps the ops in topological order (recursing into subgraphs);
    at each op the first rule that matches and does not decline rewrites it. With
    ``max_iterations > 1`` sweeps repeat until one changes nothing; a set still changing
    after the cap raises PassError naming the rules that still fired.
    """

    rules: list[Rule]
    name: str = "rules"
    max_iterations: int = 1
    _by_type: dict[str, list[Rule]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        for r in self.rules:
            for t in r.pattern.op_types:
                self._by_type.setdefault(t, []).append(r)

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.rules + other.rules, self.name, max(self.max_iterations, other.max_iterations))

    def apply(self, graph: Graph, ctx: PassContext | None = None, *, pass_name: str | None = None,
              max_iterations: int | None = None) -> PassResult:
        """Rewrite ``graph`` in place; stats count rewrites per rule name."""
        ctx = ctx or PassContext()
        cap = max_iterations or self.max_iterations
        result = PassResult()
        for _ in range(cap):
            fired = PassResult()
            self._sweep(graph, ctx, pass_name or self.name, fired)
            for k, n in fired.stats.items():
                result.count(k, n)
            if not fired.changed or cap == 1:
                return result
        raise PassError(
            f"rule set {self.name!r} did not reach a fixed point in {cap} sweeps: "
            f"{', '.join(sorted(fired.stats))} still rewrote the graph in the last one. Raise the cap "
            "if the rewrite needs more rounds, or look for two rules undoing each other."
        )

    def _sweep(self, graph: Graph, ctx: PassContext, pass_name: str, result: PassResult) -> None:
        for o in graph.walk("post"):
            for r in self._by_type.get(o.op_type, ()):
                ctx.focus(o)
                if self._try(r, o, o.graph, ctx, pass_name):
                    result.count(r.name)
                    break

    def _try(self, r: Rule, root: Op, graph: Graph | None, ctx: PassContext, pass_name: str) -> bool:
        for m in match_at(r.pattern, root, ctx):
            if rewrite(r, m, pass_name)[0]:
                return True
        return False


def rewrite(r: Rule, m: Match, pass_name: str) -> tuple[bool, str]:
    """Run ``r``'s replacement on match ``m``: (True, "") when the graph was rewritten,
    (False, why) when the replacement declined (nothing is left behind)."""
    graph, root = m.graph, m.root
    b = Builder(graph, m)
    try:
        new = r.replace(m, b)
        if new is not None:
            new = [new] if not isinstance(new, (list, tuple)) else list(new)
            _check_outputs(r, root, new, b)
    except Refuse as e:
        b.discard()
        logger.debug("rule %s declined at %s: %s", r.name, root.name, e.reason)
        return False, e.reason
    if new is None:
        b.discard()
        return False, "the replacement function returned None (declined)"
    replaced = list(m.ops)
    for old, value in zip(root.outputs, new):
        if value is not None:
            graph.replace_all_uses(old, value)
    _remove_unread(graph, replaced)
    created = set(b.ops)
    for o in b.ops:  # a new op asked for a replaced op's name: it gets it now that it is free
        hint = b.hints[o]
        if hint != o.name and hint not in graph.ops and any(hint == r.name for r in replaced):
            graph.rename_op(o, hint)
    for old, value in zip(root.outputs, new):
        if value is not None and old.graph is None and value.producer() in created and value.name != old.name:
            graph.rename_value(value, old.name)
            if value.type.dtype is None and value.type.shape is None:
                value.type = old.type
    _record_provenance(b.ops, replaced, pass_name, r.name)
    return True, ""


def _remove_unread(graph: Graph, ops: list[Op]) -> None:
    """Remove the ops of ``ops`` nothing reads any more, consumers before producers, looking only at
    the matched ops (a matched op another op still reads stays). Linear in the match, never a sort
    of the whole graph: rewriting stays linear in the number of rewrites."""
    pending = list(dict.fromkeys(ops))
    removed = True
    while removed:
        removed = False
        for o in list(pending):
            if not any(v.is_used() for v in o.outputs):
                graph.remove_op(o)
                pending.remove(o)
                removed = True


def _check_outputs(r: Rule, root: Op, new: list, b: Builder) -> None:
    if len(new) != len(root.outputs):
        raise PassError(f"rule {r.name!r} returned {len(new)} values for {root.op_type} {root.name!r}, "
                        f"which has {len(root.outputs)} outputs; return one value per output")
    for old, value in zip(root.outputs, new):
        if value is None:
            if old.is_used():
                raise PassError(f"rule {r.name!r} returned None for output {old.name!r}, which is read; "
                                "return a value for it, or decline with fail(reason)")
            continue
        producer = value.producer() if value.graph is not None else None
        if graph_output_rename_needed(root, old, value, producer in set(b.ops)):
            raise Refuse(f"{old.name!r} is a graph output and the replacement {value.name!r} is not a new value")


def graph_output_rename_needed(root: Op, old: Value, value: Value, created: bool) -> bool:
    """True when replacing ``old`` (a graph output) by an existing value would rename an output."""
    g = root.graph
    return g is not None and g.is_output(old) and not created and value is not old


def _record_provenance(created: list[Op], replaced: list[Op], pass_name: str, rule_name: str) -> None:
    chain: list[dict[str, Any]] = []
    for o in replaced:
        for entry in o.provenance:
            if entry not in chain:
                chain.append(entry)
    entry = {"pass": pass_name, "rule": rule_name, "replaced": [o.name for o in replaced]}
    for o in created:
        o.provenance = [*chain, dict(entry)]
