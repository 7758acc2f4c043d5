"""plan-buffers: the pass that plans the root graph's intermediate tensors into one arena.

The planner itself is the library module :mod:`graphc.planning`; this pass runs it with the
target's buffer hints, checks the memory budget, and keeps the :class:`~graphc.planning.BufferPlan`
in memory in ``graph.meta["graphc.plan"]`` (never in ``graph.metadata``: it is not exported),
where the target's lowering reads it with :func:`~graphc.planning.read_plan`.
"""

from __future__ import annotations

import logging

from graphc.ir import Graph
from graphc.passinfra import PassContext, PassResult, graph_pass
from graphc.planning import check_budget, plan_graph, store_plan

__all__ = ["plan_buffers"]
logger = logging.getLogger(__name__)


@graph_pass("plan-buffers",
            "liveness over the schedule, one arena, greedy best-fit offsets (in-place, views, Concats joined)",
            establishes=("buffers-planned",))
def plan_buffers(graph: Graph, ctx: PassContext) -> PassResult:
    """Plan the root graph's intermediate tensors into one arena:

    1. liveness over ``graph.topological_order()``: a value lives from its producer's
       step to its last reader's (a subgraph capture counts as a read);
    2. a view op (the target's hint: Reshape, Squeeze, Flatten, ...) shares its input's
       buffer, which then lives as long as any view of it;
    3. an in-place op (hint ``{output: input}``, elementwise ops) reuses its input's
       buffer when the input dies at that op, the sizes match, and no other input of
       the op reads the same buffer;
    4. a concatenation the target's kernel can join in place (hint ``joins``: Concat
       along an axis with only size-1 dims before it, every input an arena tensor
       filling its own buffer) gets one buffer holding its inputs side by side: the
       producers write straight into their part and the Concat copies nothing; such a
       buffer is never reused in place;
    5. buffers sorted by size (largest first, longer lifetimes first among equal sizes),
       each placed at the offset of the smallest gap between already-placed buffers whose
       lifetimes overlap (best fit), else after them; while the arena is above the
       liveness lower bound, the placement is retried by lifetime length and by size x
       lifetime, keeping the smallest arena; offsets and sizes aligned to 64 bytes.
    Values of unknown size are left out (allocated when produced; the executor re-plans
    once concrete shapes are known). Graph inputs, outputs and constants are never in
    the arena, but the graph outputs count in the budget (a run hands them to the
    caller). With ``ctx.options["memory_budget"]`` (bytes), an arena, a single tensor, or the
    arena plus the outputs above it is a PlanError with the figures. The graph's ops and values are not changed,
    so the pass reports ``changed=False``.
    """
    hints = getattr(ctx.target, "buffer_hints", None) if ctx.target is not None else None
    plan = plan_graph(graph, hints=hints)
    check_budget(plan, ctx.options.get("memory_budget"))
    store_plan(graph, plan)
    logger.debug("plan: %s", plan.stats())
    # the ops and values are untouched: report no change, so stage instruments do not re-run or re-dump
    return PassResult(changed=False, stats={"arena_bytes": plan.arena_bytes, "planned": len(plan.offsets)})
