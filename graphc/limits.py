"""Resource limits that apply when the caller sets none: the memory budget, and the loop
iterations one run may make (all loops of the run together, nested ones included)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from .errors import GraphcError, ModelFormatError, PlanError

__all__ = ["default_memory_budget", "memory_budget", "stricter_budget", "max_loop_iterations", "IterationBudget",
           "run_iterations", "current_iterations", "DEFAULT_MAX_LOOP_ITERATIONS", "run_memory_budget",
           "check_allocation"]

_FALLBACK_BUDGET = 8 << 30  # when the machine's memory cannot be read
#: loop iterations per run when ``GRAPHC_MAX_LOOP_ITERATIONS`` is not set
DEFAULT_MAX_LOOP_ITERATIONS = 10_000_000


def default_memory_budget() -> int:
    """Bytes a plan may use when no ``memory_budget`` is given: ``GRAPHC_MEMORY_BUDGET`` if
    set, else half of the machine's physical memory (8 GiB where that cannot be read)."""
    text = os.environ.get("GRAPHC_MEMORY_BUDGET")
    if text:
        try:
            return int(text)
        except ValueError:
            raise GraphcError(f"GRAPHC_MEMORY_BUDGET={text!r} is not a number of bytes") from None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, OSError, ValueError):
        return _FALLBACK_BUDGET


def memory_budget(given: int | None) -> int:
    """``given`` when the caller set one, else :func:`default_memory_budget`."""
    return int(given) if given is not None else default_memory_budget()


def stricter_budget(recorded: object, given: int | None) -> int | None:
    """The budget a loaded artifact runs under: the stricter of the one it ``recorded`` at compile
    time (its manifest) and the caller's (``given``, else ``GRAPHC_MEMORY_BUDGET``, else half the
    memory). An artifact can lower the user's limit, never raise it. None when neither is set."""
    if recorded is None:
        return given
    if isinstance(recorded, bool) or not isinstance(recorded, (int, float)) or not recorded >= 0 \
            or recorded != recorded or recorded == float("inf"):
        raise ModelFormatError(f"the manifest's options.memory_budget {recorded!r} is not a number of bytes")
    return min(int(recorded), memory_budget(given))


def max_loop_iterations() -> int:
    """Loop iterations one run may make in total: ``GRAPHC_MAX_LOOP_ITERATIONS`` or 10,000,000."""
    raw = os.environ.get("GRAPHC_MAX_LOOP_ITERATIONS", "")
    try:
        return int(raw) if raw.strip() else DEFAULT_MAX_LOOP_ITERATIONS
    except ValueError:
        raise PlanError(f"GRAPHC_MAX_LOOP_ITERATIONS={raw!r} is not an integer") from None


class IterationBudget:
    """The loop iterations left to one run. Every Loop of the run spends from the same budget,
    so nested loops cannot multiply the limit (9e6 inside 9e6 is 8.1e13 iterations, not 9e6)."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = max_loop_iterations() if limit is None else int(limit)
        self.spent = 0

    def check_trip_count(self, node: str, trip: int) -> None:
        """PlanError when Loop ``node`` declares a trip count above what one whole run may make."""
        if trip > self.limit:
            raise PlanError(f"Loop node {node!r}: trip count M={trip} exceeds the limit of {self.limit} loop "
                            "iterations per run; raise GRAPHC_MAX_LOOP_ITERATIONS if this is intended")

    def spend(self, node: str, n: int = 1) -> None:
        """Count ``n`` iterations of Loop ``node``; PlanError once the run's total passes the limit."""
        self.spent += n
        if self.spent > self.limit:
            raise PlanError(f"Loop node {node!r}: still running after {self.limit} iterations, the limit of loop "
                            "iterations per run (nested loops count together); raise GRAPHC_MAX_LOOP_ITERATIONS "
                            "if this is intended")


#: the budget of the run in progress in this context (set by :func:`run_iterations`)
_RUN_ITERATIONS: ContextVar[IterationBudget | None] = ContextVar("graphc_run_iterations", default=None)


@contextmanager
def run_iterations() -> Iterator[IterationBudget]:
    """The iteration budget of a run: a fresh one at the outermost run, the enclosing run's
    inside it (a layer that runs another artifact spends from its caller's budget)."""
    current = _RUN_ITERATIONS.get()
    if current is not None:
        yield current
        return
    budget = IterationBudget()
    token = _RUN_ITERATIONS.set(budget)
    try:
        yield budget
    finally:
        _RUN_ITERATIONS.reset(token)


def current_iterations() -> IterationBudget:
    """The budget of the run in progress; outside any run (a kernel called directly) a fresh one."""
    return _RUN_ITERATIONS.get() or IterationBudget()


#: the memory budget of the run in progress in this context (set by :func:`run_memory_budget`)
_RUN_MEMORY: ContextVar[int | None] = ContextVar("graphc_run_memory", default=None)


@contextmanager
def run_memory_budget(budget: int | None) -> Iterator[int]:
    """Make ``budget`` (None: :func:`default_memory_budget`) the bound :func:`check_allocation`
    applies during a run; an enclosing run's stricter budget is kept."""
    own = memory_budget(budget)
    outer = _RUN_MEMORY.get()
    token = _RUN_MEMORY.set(own if outer is None else min(own, outer))
    try:
        yield _RUN_MEMORY.get()  # type: ignore[misc]
    finally:
        _RUN_MEMORY.reset(token)


def check_allocation(node: str, op_type: str, shape: tuple[int, ...], nbytes: int) -> None:
    """PlanError before allocating ``nbytes`` for a value whose size only the run knew (a shape
    fed as data, a symbolic dimension) when that is over the run's memory budget: the planner
    checks what it can predict at compile time; this is the same check at the moment of need."""
    budget = _RUN_MEMORY.get()
    if budget is None:
        budget = default_memory_budget()
    if nbytes > budget:
        raise PlanError(f"{op_type} node {node!r}: its output of shape {list(shape)} needs {nbytes} bytes, over the "
                        f"memory budget of {budget} bytes; raise memory_budget (GRAPHC_MEMORY_BUDGET) or reduce "
                        "the input")
