"""Built-in instruments: timing, verify-each, snapshots, progress."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .context import Instrument, PassContext

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress, TaskID

    from ..ir import Graph
    from .declare import PassInfo, PassResult

__all__ = ["Timing", "VerifyEach", "Snapshots", "Progress"]


class Timing(Instrument):
    """Records (pass name, seconds, changed, stats) for every pass run."""

    def __init__(self) -> None:
        self.records: list[tuple[str, float, bool, dict[str, int]]] = []

    def after_pass(self, info: PassInfo, graph: Graph, ctx: PassContext, result: PassResult) -> None:
        self.records.append((info.name, result.seconds, result.changed, dict(result.stats)))


class VerifyEach(Instrument):
    """Runs Graph.verify() after every pass; a broken invariant names the pass."""

    def after_pass(self, info: PassInfo, graph: Graph, ctx: PassContext, result: PassResult) -> None:
        from ..errors import VerifyError

        try:
            graph.verify()
        except VerifyError as e:
            raise VerifyError(f"after pass {info.name!r}: {e}") from e


class Snapshots(Instrument):
    """Keeps a copy of the graph before the run and after each pass that changed it."""

    def __init__(self, only_changed: bool = True) -> None:
        self.only_changed = only_changed
        self.stages: list[tuple[str, Graph]] = []

    def run_begin(self, graph: Graph, ctx: PassContext, total: int) -> None:
        self.stages.append(("input", graph.copy()))

    def after_pass(self, info: PassInfo, graph: Graph, ctx: PassContext, result: PassResult) -> None:
        if result.changed or not self.only_changed:
            self.stages.append((info.name, graph.copy()))


class Progress(Instrument):
    """A rich progress bar over the passes of a run (for the CLI on long pipelines)."""

    def __init__(self, console=None) -> None:
        self.console = console
        self._progress: RichProgress | None = None
        self._task: TaskID | None = None

    def run_begin(self, graph: Graph, ctx: PassContext, total: int) -> None:
        from rich.progress import Progress as RichProgress

        progress = self._progress = RichProgress(console=self.console, transient=True)
        progress.start()
        self._task = progress.add_task("passes", total=total)

    def before_pass(self, info: PassInfo, graph: Graph, ctx: PassContext) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=info.name)

    def after_pass(self, info: PassInfo, graph: Graph, ctx: PassContext, result: PassResult) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def run_end(self, graph: Graph, ctx: PassContext) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
