"""Resource limits that apply when the caller sets none: the memory budget, and the loop
iterations one run may make (all loops of the run together, nested ones included)."""

from __future__ import annotations

import os
import weakref
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Iterator

from .errors import GraphcError, ModelFormatError, PlanError

__all__ = ["default_memory_budget", "memory_budget", "stricter_budget", "max_loop_iterations", "RunBudget",
           "begin_run", "end_run", "run_budget", "current_budget", "DEFAULT_MAX_LOOP_ITERATIONS"]

_FALLBACK_BUDGET = 8 << 30  # when the machine's memory cannot be read
#: loop iterations per run when ``GRAPHC_MAX_LOOP_ITERATIONS`` is not set
DEFAULT_MAX_LOOP_ITERATIONS = 10_000_000


def default_memory_budget() -> int:
    """Bytes a plan may use when no ``memory_budget`` is given: ``GRAPHC_MEMORY_BUDGET`` if
    set, else half of the least of the machine's physical memory (16 GiB where that cannot be
    read), the process's address-space limit and its container's memory limit."""
    text = os.environ.get("GRAPHC_MEMORY_BUDGET")
    if text:
        try:
            return int(text)
        except ValueError:
            raise GraphcError(f"GRAPHC_MEMORY_BUDGET={text!r} is not a number of bytes") from None
    return min([_physical_memory(), *_process_memory_limits()]) // 2


def _physical_memory() -> int:
    """The machine's physical memory in bytes (twice the fallback budget where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 2 * _FALLBACK_BUDGET


def _process_memory_limits() -> list[int]:
    """The limits below the machine's memory that this process runs under: its address-space
    limit (``ulimit -v``) and its container's memory limit (cgroup v2 ``memory.max``, v1
    ``memory.limit_in_bytes``); those that are set, in bytes."""
    limits = []
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft > 0:
            limits.append(int(soft))
    except (ImportError, OSError, ValueError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        value = _read_limit_file(path)
        if value is not None:
            limits.append(value)
    return limits


def _read_limit_file(path: str) -> int | None:
    """The number of bytes in a cgroup limit file; None when absent, unlimited (``max``) or absurd."""
    try:
        with open(path, encoding="ascii") as f:
            text = f.read(64).strip()
    except (OSError, ValueError):
        return None
    if not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value < 1 << 60 else None  # cgroup v1 writes ~2^63 for "no limit"


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


class RunBudget:
    """The limits of one run, both read lazily (most runs need neither):

    * loop iterations: every Loop of the run spends from the same count, so nested loops
      cannot multiply the limit (9e6 inside 9e6 is 8.1e13 iterations, not 9e6);
    * memory: the bound :meth:`check_allocation` applies to values whose size only the run
      knows (``memory``: the artifact's budget, None for :func:`default_memory_budget`), each
      one together with the others of its kind still alive (:meth:`hold`).
    """

    __slots__ = ("_limit", "_memory", "_memory_given", "spent", "_held")

    def __init__(self, limit: int | None = None, memory: int | None = None) -> None:
        self._limit = None if limit is None else int(limit)
        self._memory_given = memory
        self._memory: int | None = None
        self.spent = 0
        #: (weak reference, bytes) of the checked allocations of this run (:meth:`hold`)
        self._held: list[tuple[weakref.ref, int]] = []

    @property
    def limit(self) -> int:
        """Loop iterations the run may make (``GRAPHC_MAX_LOOP_ITERATIONS``, read on first use)."""
        if self._limit is None:
            self._limit = max_loop_iterations()
        return self._limit

    @property
    def memory(self) -> int:
        """Bytes one value of run-time size may take (read on first use)."""
        if self._memory is None:
            self._memory = memory_budget(self._memory_given)
        return self._memory

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

    def check_allocation(self, node: str, op_type: str, shape: tuple[int, ...], nbytes: int,
                         what: str = "its output") -> None:
        """PlanError before allocating ``nbytes`` for a value whose size only the run knew (a shape fed
        as data, a symbolic dimension) when that is over the memory budget: the planner checks what it
        can predict at compile time; this is the same check at the moment of need. ``what`` names the
        allocation in the message (a kernel's scratch: ``"its scratch 'conv-cols'"``)."""
        if nbytes > self.memory:
            raise PlanError(f"{op_type} node {node!r}: {what} of shape {list(shape)} needs {nbytes} bytes, over "
                            f"the memory budget of {self.memory} bytes; raise memory_budget (GRAPHC_MEMORY_BUDGET) "
                            "or reduce the input")
        live = self.live_bytes()
        if live + nbytes > self.memory:
            raise PlanError(f"{op_type} node {node!r}: {what} of shape {list(shape)} needs {nbytes} bytes while "
                            f"{live} bytes of earlier values of run-time size are still live, together over the "
                            f"memory budget of {self.memory} bytes; raise memory_budget (GRAPHC_MEMORY_BUDGET) "
                            "or reduce the input")

    def hold(self, array: object, nbytes: int) -> None:
        """Count ``array`` (``nbytes``, allocated after :meth:`check_allocation`) as live until it is freed:
        later checks add it to their own size, so values under the budget each but alive at once do not
        pass it together. Objects that cannot be weakly referenced are not counted."""
        try:
            self._held.append((weakref.ref(array), int(nbytes)))
        except TypeError:
            pass

    def live_bytes(self) -> int:
        """Bytes of the :meth:`hold`-counted allocations still alive (the dead ones are forgotten)."""
        self._held = [(ref, n) for ref, n in self._held if ref() is not None]
        return sum(n for _, n in self._held)


#: the budget of the run in progress in this context (set by :func:`begin_run`)
_RUN: ContextVar[RunBudget | None] = ContextVar("graphc_run_budget", default=None)


def begin_run(memory: int | None = None) -> Token[RunBudget | None] | None:
    """Open a run's budget (for :func:`end_run`); None inside a run already open, whose budget the
    inner run then shares (a layer running another artifact spends from its caller's)."""
    if _RUN.get() is not None:
        return None
    return _RUN.set(RunBudget(memory=memory))


def end_run(token: Token[RunBudget | None] | None) -> None:
    """Close the budget :func:`begin_run` opened (nothing for a nested run)."""
    if token is not None:
        _RUN.reset(token)


@contextmanager
def run_budget(memory: int | None = None) -> Iterator[RunBudget]:
    """:func:`begin_run` / :func:`end_run` as a context manager; yields the run's budget."""
    token = begin_run(memory)
    try:
        yield current_budget()
    finally:
        end_run(token)


def current_budget() -> RunBudget:
    """The budget of the run in progress; outside any run (a kernel called directly) a fresh one."""
    return _RUN.get() or RunBudget()
