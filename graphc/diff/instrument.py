"""Stage instruments: print each pass's diff, dump each stage as ONNX, check numerics per pass.

They plug into ``PassContext.instruments`` (``graphc optimize --show-diffs --dump-dir D
--check-numerics`` builds them). Each acts only after a pass that reported a change, so
a pipeline of no-op passes costs nothing but the first snapshot.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from rich.console import Console
from rich.rule import Rule as RichRule

from ..errors import GraphcError
from ..passinfra import Instrument, PassContext

if TYPE_CHECKING:
    from ..ir import Graph
    from ..passinfra import PassInfo, PassResult

__all__ = ["DiffPrinter", "StageDumper", "NumericsCheck", "NumericsError", "seeded_inputs"]
logger = logging.getLogger(__name__)


class DiffPrinter(Instrument):
    """After each pass that changed the graph, print its diff on ``console`` (skipped when the
    diff shows nothing, as when a pass only records names the source left empty)."""

    def __init__(self, console: Console | None = None, neighbourhood: bool = True) -> None:
        self.console = console or Console()
        self.neighbourhood = neighbourhood
        self._last: Graph | None = None

    def run_begin(self, graph: Graph, ctx: PassContext, total: int) -> None:
        self._last = graph.copy()

    def after_pass(self, info: PassInfo, graph: Graph, ctx: PassContext, result: PassResult) -> None:
        if not result.changed or self._last is None:
            return
        from .core import GraphDiff
        from .render import render

        diff = GraphDiff(self._last, graph)
        self._last = graph.copy()
        if diff.empty:  # e.g. canonicalize only naming ops the source left unnamed
            return
        stats = ", ".join(f"{k}={v}" for k, v in sorted(result.stats.items()))
        self.console.print(RichRule(f"[bold]{info.name}[/]" + (f" ({stats})" if stats else ""), align="left"))
        render(diff, self.console, self.neighbourhood)


class StageDumper(Instrument):
    """Write the input graph as ``00_input.onnx`` and each changed stage as ``NN_<pass>.onnx``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.count = 0
        self.written: list[Path] = []

    def _dump(self, graph: Graph, label: str) -> None:
        from ..model_io import save_model

        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.count:02d}_{label}.onnx"
        save_model(graph, path)
        self.written.append(path)
        self.count += 1

    def run_begin(self, graph: Graph, ctx: PassContext, total: int) -> None:
        self._dump(graph, "input")

    def after_pass(self, info: PassInfo, graph: Graph, ctx: PassContext, result: PassResult) -> None:
        if result.changed:
            self._dump(graph, info.name)


class NumericsError(GraphcError):
    """A pass changed the model's outputs beyond tolerance."""


Runner = Callable[[Any, dict[str, np.ndarray], PassContext], dict[str, np.ndarray]]


class NumericsCheck(Instrument):
    """Run the graph on seeded inputs before the pipeline and after each changing pass;
    raise NumericsError naming the first pass whose outputs differ beyond tolerance.

    The default runner compiles a copy with the numpy target and its minimal pipeline;
    pass ``runner(graph, feeds, ctx) -> {output: array}`` to use another executor.
    """

    def __init__(self, seed: int = 0, rtol: float = 1e-4, atol: float = 1e-5, runner: Runner | None = None) -> None:
        self.seed = seed
        self.rtol = rtol
        self.atol = atol
        self.runner = runner or run_on_numpy
        self.feeds: dict[str, np.ndarray] = {}
        self.reference: dict[str, np.ndarray] = {}
        self.checked: list[str] = []

    def run_begin(self, graph: Graph, ctx: PassContext, total: int) -> None:
        self.feeds = seeded_inputs(graph, self.seed)
        try:
            self.reference = self.runner(graph, self.feeds, ctx)
        except GraphcError as e:
            raise NumericsError(f"--check-numerics cannot run the input model: {e}") from e

    def after_pass(self, info: PassInfo, graph: Graph, ctx: PassContext, result: PassResult) -> None:
        if not result.changed:
            return
        try:
            outputs = self.runner(graph, self.feeds, ctx)
        except GraphcError as e:
            raise NumericsError(f"pass {info.name!r} left a graph that no longer runs: {e}") from e
        problem = self._compare(outputs)
        if problem:
            kept = ", ".join(self.checked) or "(none)"
            raise NumericsError(
                f"pass {info.name!r} changed the model's outputs beyond tolerance (rtol={self.rtol}, atol={self.atol}, "
                f"seed={self.seed}): {problem}. Passes checked before it: {kept}. "
                f"Run `graphc explain`/`graphc blame` on the ops it rewrote, or drop it from --passes."
            )
        self.checked.append(info.name)
        self.reference = outputs

    def _compare(self, outputs: dict[str, np.ndarray]) -> str:
        for name, want in self.reference.items():
            if name not in outputs:
                return f"output {name!r} disappeared"
            got = np.asarray(outputs[name])
            want = np.asarray(want)
            if got.shape != want.shape:
                return f"output {name!r} has shape {got.shape}, was {want.shape}"
            if want.dtype.kind in "fc":
                bad = ~np.isclose(got, want, rtol=self.rtol, atol=self.atol, equal_nan=True)
            else:
                bad = got != want
            if np.any(bad):
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if want.dtype.kind in "fciub" else float("nan")
                return (f"output {name!r} differs at {int(bad.sum())} of {bad.size} elements "
                        f"(max abs error {err:.3g}; at index {idx}: was {want[idx]!r}, now {got[idx]!r})")
        return ""


def seeded_inputs(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic random feeds for the graph's runtime inputs (unknown dims become 1)."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for v in graph.inputs:
        if v.const is not None:
            continue
        if v.type.shape is None or v.type.dtype is None:
            raise NumericsError(f"--check-numerics needs the type of graph input {v.name!r} (it is {v.type})")
        shape = tuple(d if isinstance(d, int) else 1 for d in v.type.shape)
        dt = np.dtype(v.type.dtype)
        if dt.kind == "f":
            feeds[v.name] = rng.standard_normal(shape).astype(dt)
        elif dt.kind == "b":
            feeds[v.name] = rng.random(shape) < 0.5
        elif dt.kind in "iu":
            feeds[v.name] = rng.integers(0, 4, shape).astype(dt)
        else:
            raise NumericsError(f"--check-numerics cannot make inputs of type {v.type} (graph input {v.name!r})")
    return feeds


def numpy_check_pipeline() -> str | None:
    """The numpy target's minimal pipeline (lowering prerequisites, no optimizing rewrites)."""
    try:
        from targets.numpy import target as numpy_target  # type: ignore[import-not-found]
    except ImportError:
        return None
    minimal = getattr(numpy_target, "MINIMAL_PIPELINE", None)
    if minimal:
        return minimal
    from ..passinfra import parse_pipeline
    from ..passinfra.pipeline import FixedPoint, format_pipeline

    steps = []
    for s in parse_pipeline(numpy_target.NumpyTarget().pipeline()):
        if isinstance(s, FixedPoint):
            inner = tuple(p for p in s.steps if not p.name.startswith("fuse-"))
            if inner:
                steps.append(FixedPoint(inner, s.max_iterations))
        elif not s.name.startswith("fuse-"):
            steps.append(s)
    return format_pipeline(steps)


def run_on_numpy(graph: Graph, feeds: dict[str, np.ndarray], ctx: PassContext) -> dict[str, np.ndarray]:
    """Compile a copy of ``graph`` for the numpy target and run it on ``feeds``."""
    from ..compiler import compile as graphc_compile

    art = graphc_compile(graph.copy(), target="numpy", layers=ctx.layers, passes=numpy_check_pipeline())
    return art.run(dict(feeds))
