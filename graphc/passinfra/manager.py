"""PassManager: checks a pipeline's contracts, then runs it with instruments around each pass."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import GraphcError, PassError
from .context import PassContext
from .declare import PASSES, PassInfo, PassRegistry, PassResult
from .gc_pause import gc_paused
from .pipeline import FixedPoint, PassStep, Step, format_pipeline, parse_pipeline

if TYPE_CHECKING:
    from ..ir import Graph

__all__ = ["PassManager"]


class PassManager:
    """Run an ordered pipeline of passes over a graph.

    >>> pm = PassManager("canonicalize,[fold-constants,dce]*4,infer-shapes")
    >>> str(pm)
    'canonicalize,[fold-constants,dce]*4,infer-shapes'
    >>> graph = pm.run(graph, PassContext())   # doctest: +SKIP

    The contracts are checked before anything runs: a pass whose ``requires`` is not
    established by an earlier pass (or was invalidated since) is refused with the
    passes that would establish it.
    """

    def __init__(self, pipeline: str | list[str] | list[Step], registry: PassRegistry | None = None,
                 initial_properties: frozenset[str] = frozenset()):
        self.registry = registry or PASSES
        if isinstance(pipeline, str) or (pipeline and isinstance(pipeline[0], str)):
            pipeline = parse_pipeline(pipeline)
        self.steps: list[Step] = list(pipeline)  # type: ignore[arg-type]
        self._resolved = [(s, self._resolve(s)) for s in self.steps]
        self.check_contracts(set(initial_properties))

    def __str__(self) -> str:
        return format_pipeline(self.steps)

    def _resolve(self, step: Step) -> list[tuple[PassInfo, dict]]:
        steps = step.steps if isinstance(step, FixedPoint) else (step,)
        out = []
        for s in steps:
            info = self.registry.get(s.name)
            out.append((info, info.parse_options(s.options)))
        return out

    def pass_names(self) -> list[str]:
        """The pass names of the pipeline, in run order (fixed-point groups flattened)."""
        return [info.name for _, infos in self._resolved for info, _ in infos]

    def check_contracts(self, props: set[str]) -> None:
        """Raise PassError explaining the first pass whose requirements are not met, or that
        runs before the pass establishing a property it uses (naming both passes)."""
        done: list[str] = []
        invalidated_by: dict[str, str] = {}
        flat = [info for _, infos in self._resolved for info, _ in infos]
        for i, info in enumerate(flat):
            missing = sorted(info.requires - props)
            if missing:
                raise PassError(self._explain_missing(info, missing, done, invalidated_by))
            for prop in sorted(info.uses - props):
                later = next((f for f in flat[i + 1:] if prop in f.establishes), None)
                if later is not None:
                    raise PassError(
                        f"pipeline {self}: pass {info.name!r} uses {prop!r}, which pass {later.name!r} "
                        f"establishes only after it; put {later.name!r} before {info.name!r} "
                        f"(or drop {later.name!r} if the model's declared types are enough)")
            props -= info.invalidates
            for p in info.invalidates:
                invalidated_by[p] = info.name
            props |= info.establishes
            done.append(info.name)

    def _explain_missing(self, info: PassInfo, missing: list[str], done: list[str], invalidated_by: dict[str, str]) -> str:
        lines = [f"pipeline {self}: pass {info.name!r} requires {', '.join(map(repr, missing))}, which does not hold there."]
        for prop in missing:
            makers = [n for n in self.registry.names() if prop in self.registry.get(n).establishes]
            if prop in invalidated_by:
                lines.append(f"  {prop!r} was invalidated by {invalidated_by[prop]!r}; run one of {makers} again after it.")
            else:
                lines.append(f"  No earlier pass establishes {prop!r}; put one of {makers} before {info.name!r}.")
        lines.append(f"  Passes before it: {', '.join(done) or '(none)'}")
        return "\n".join(lines)

    def run(self, graph: Graph, ctx: PassContext | None = None) -> Graph:
        """Run the pipeline on ``graph`` in place and return it (the cyclic garbage collector is
        paused meanwhile: see :mod:`.gc_pause`)."""
        with gc_paused():
            return self._run(graph, ctx or PassContext())

    def _run(self, graph: Graph, ctx: PassContext) -> Graph:
        total = sum(len(infos) for _, infos in self._resolved)
        for ins in ctx.instruments:
            ins.run_begin(graph, ctx, total)
        for step, infos in self._resolved:
            if isinstance(step, FixedPoint):
                self._run_fixed_point(step, infos, graph, ctx)
            else:
                info, opts = infos[0]
                self._run_one(info, opts, graph, ctx)
        for ins in ctx.instruments:
            ins.run_end(graph, ctx)
        return graph

    def _run_fixed_point(self, group: FixedPoint, infos, graph: Graph, ctx: PassContext) -> None:
        last_changed: list[str] = []
        for _ in range(group.max_iterations):
            last_changed = [info.name for info, opts in infos if self._run_one(info, opts, graph, ctx).changed]
            if not last_changed:
                return
        raise PassError(
            f"fixed-point group {group} did not converge in {group.max_iterations} iterations: "
            f"{', '.join(last_changed)} still changed the graph in the last one. Raise the cap "
            "(`*N`) if the rewrite needs more rounds, or look for two rules undoing each other."
        )

    def _run_one(self, info: PassInfo, opts: dict, graph: Graph, ctx: PassContext) -> PassResult:
        for ins in ctx.instruments:
            ins.before_pass(info, graph, ctx)
        ctx.focus(None)
        start = time.perf_counter()
        try:
            result = info.run(graph, ctx, opts)
        except GraphcError as e:
            raise _annotate(e, info, ctx) from e
        except Exception as e:  # noqa: BLE001 - a pass bug becomes a PassError naming it
            node = ctx.node
            raise PassError(_where(info, ctx) + f": {type(e).__name__}: {e}", pass_name=info.name,
                            node=node.name if node is not None else None,
                            op_type=node.qualified_type if node is not None else None) from e
        result.seconds = time.perf_counter() - start
        ctx.properties -= info.invalidates
        ctx.properties |= info.establishes
        ctx.history.append(info.name)
        for ins in ctx.instruments:
            ins.after_pass(info, graph, ctx, result)
        return result


def _where(info: PassInfo, ctx: PassContext) -> str:
    node = f" at node {ctx.node.name!r} ({ctx.node.op_type})" if ctx.node is not None else ""
    before = ", ".join(ctx.history) or "(none)"
    return f"pass {info.name!r} failed{node} (after: {before})"


def _annotate(e: GraphcError, info: PassInfo, ctx: PassContext) -> GraphcError:
    """``e`` with the pass (and the node it was at) as context in its message and fields;
    an error whose ``pass_name`` is already set is complete and passes through."""
    if e.pass_name:
        return e
    node = ctx.node
    return e.with_message(f"{e}\n  [{_where(info, ctx).replace(' failed', '')}]", pass_name=info.name,
                          node=node.name if node is not None else None,
                          op_type=node.qualified_type if node is not None else None)
