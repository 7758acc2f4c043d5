"""The "why didn't it match" tracer: the best partial match of a rule and its first failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import GraphcError
from .matcher import Failure, Trace, match_at
from .patterns import OpPattern, OutputPattern, Pattern, ValuePattern
from .rewrite import Rule, rewrite

if TYPE_CHECKING:
    from ..ir import Graph

__all__ = ["Explanation", "NodeReport", "explain", "describe"]


@dataclass
class NodeReport:
    """One candidate root: matched (and would the replacement rewrite?) or the furthest failure."""

    node: str
    op_type: str
    matched: bool
    rewrites: bool = False
    declined: str = ""
    failure: Failure | None = None

    def lines(self) -> list[str]:
        head = f"node {self.node!r} ({self.op_type}): "
        if self.matched and self.rewrites:
            return [head + "matches; the rule rewrites it"]
        if self.matched:
            return [head + "matches, but the replacement declined", f"  reason: {self.declined}"]
        out = [head + "no match"]
        if self.failure is not None:
            got = ", ".join(f"{o.name} ({o.op_type})" for o in self.failure.matched) or "(nothing)"
            out.append(f"  matched so far: {got}")
            out.append(f"  first failure: {self.failure.reason}")
        return out


@dataclass
class Explanation:
    """What ``explain`` found for a rule over one node or a whole graph."""

    rule: Rule
    reports: list[NodeReport] = field(default_factory=list)
    scope: str = "graph"

    @property
    def matched(self) -> list[str]:
        return [r.node for r in self.reports if r.matched and r.rewrites]

    @property
    def best(self) -> NodeReport | None:
        """The report of the failed candidate that got furthest (first in graph order on ties)."""
        failed = [r for r in self.reports if not r.matched and r.failure is not None]
        return max(failed, key=lambda r: r.failure.progress, default=None)  # type: ignore[union-attr]

    @property
    def first_failure(self) -> str | None:
        best = self.best
        return best.failure.reason if best is not None and best.failure is not None else None

    def lines(self) -> list[str]:
        r = self.rule
        out = [f"rule {r.name!r}" + (f": {r.description}" if r.description else ""), f"  pattern: {describe(r.pattern)}"]
        if self.scope != "graph":
            for rep in self.reports:
                out += ["  " + line for line in rep.lines()]
            return out
        roots = " or ".join(r.pattern.op_types)
        if not self.reports:
            return out + [f"  no op of type {roots} in the graph: the pattern's root never occurs"]
        hits = self.matched
        out.append(f"  {len(self.reports)} candidate {roots} op(s); {len(hits)} match and rewrite"
                   + (f": {', '.join(hits[:10])}" + (" ..." if len(hits) > 10 else "") if hits else ""))
        for rep in self.reports:
            if rep.matched and not rep.rewrites:
                out += ["  " + line for line in rep.lines()]
        best = self.best
        if best is not None:
            out.append("  best partial match:")
            out += ["    " + line for line in best.lines()]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def explain(rule: Rule, graph: Graph, node: str | None = None, ctx: Any = None) -> Explanation:
    """Why ``rule`` does (not) match at op ``node``, or across the whole ``graph``.

    Nothing in ``graph`` changes: a full match is rewritten on a copy to learn whether
    the replacement would decline.
    """
    if node is not None:
        if node not in graph.ops:
            raise GraphcError(f"the graph has no op named {node!r} (`graphc inspect` lists op names)")
        op = graph.op(node)
        if op.op_type not in rule.pattern.op_types:
            rep = NodeReport(op.name, op.op_type, False,
                             failure=Failure(0, f"the pattern's root is {rule.pattern.op_type}, the node is {op.op_type}", (), {}))
        else:
            rep = _report(rule, graph, op.name, ctx)
        return Explanation(rule, [rep], scope=node)
    reports = [_report(rule, graph, o.name, ctx) for o in graph.topological_order() if o.op_type in rule.pattern.op_types]
    return Explanation(rule, reports)


def _report(rule: Rule, graph: Graph, name: str, ctx: Any) -> NodeReport:
    op = graph.op(name)
    trace = Trace()
    if next(match_at(rule.pattern, op, ctx, trace), None) is None:
        return NodeReport(name, op.op_type, False, failure=trace.best)
    scratch = graph.copy()
    for m in match_at(rule.pattern, scratch.op(name), ctx):
        done, why = rewrite(rule, m, "explain")
        if done:
            return NodeReport(name, op.op_type, True, rewrites=True)
        declined = why
    return NodeReport(name, op.op_type, True, rewrites=False, declined=declined)


def describe(p: Pattern, seen: set[int] | None = None) -> str:
    """A one-line rendering of a pattern: ``Relu(Conv(x, const w, b?))``."""
    seen = set() if seen is None else seen
    if isinstance(p, ValuePattern):
        text = ("const " if p.const else "") + (p.name or "_")
        return text + ("?" if p.optional else "")
    if isinstance(p, OutputPattern):
        return f"{describe(p.op, seen)}[{p.index}]"
    assert isinstance(p, OpPattern)
    label = f"{p.op_type}" + (f" {p.name}" if p.name else "")
    if id(p) in seen:
        return label
    seen.add(id(p))
    args = [describe(q, seen) for q in p.inputs] + (["..."] if p.rest else [])
    return f"{label}({', '.join(args)})"
