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
from .numerics import max_rel_diff

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

    def summary(self) -> str:
        """What was written, e.g. "wrote 4 stages to stages/ (12.5 MiB)": a dump of a large model is large."""
        from ..summary import human_bytes

        total = sum(p.stat().st_size for p in self.written if p.exists())
        return f"wrote {len(self.written)} stage{'s' if len(self.written) != 1 else ''} to {self.directory}/ " \
               f"({human_bytes(total)})"


class NumericsError(GraphcError):
    """A pass changed the model's outputs beyond tolerance."""


Runner = Callable[[Any, dict[str, np.ndarray], PassContext], dict[str, np.ndarray]]


class NumericsCheck(Instrument):
    """Run the graph on seeded inputs before the pipeline and after each changing pass;
    raise NumericsError naming the first pass whose outputs differ beyond tolerance.

    When outputs differ, the intermediates of the graph before and after the pass are
    compared (:mod:`.numerics`): a difference that starts as rounding and is amplified by an
    op the pass did not touch (Softmax over logits of 1e9) is recorded, not blamed; the
    error names the first op whose value moved for another reason. :meth:`summary` says
    what was checked. ``input_sets`` runs that many seeded input sets (seed, seed + 1, ...).

    The default runner compiles a copy with the numpy target and its minimal pipeline;
    pass ``runner(graph, feeds, ctx) -> {output: array}`` to use another executor.
    """

    def __init__(self, seed: int = 0, rtol: float = 1e-4, atol: float = 1e-5, runner: Runner | None = None,
                 input_sets: int = 1) -> None:
        self.seed = seed
        self.rtol = rtol
        self.atol = atol
        self.runner = runner or run_on_numpy
        self.input_sets = max(1, int(input_sets))
        self.feeds: list[dict[str, np.ndarray]] = []
        self.reference: list[dict[str, np.ndarray]] = []
        self.checked: list[str] = []
        self.max_rel = 0.0
        self.amplified: list[str] = []  # notes on rounding amplified by untouched ops (not blamed)
        self._last: Graph | None = None

    def run_begin(self, graph: Graph, ctx: PassContext, total: int) -> None:
        self.feeds = [seeded_inputs(graph, self.seed + i) for i in range(self.input_sets)]
        try:
            self.reference = [self.runner(graph, feeds, ctx) for feeds in self.feeds]
        except GraphcError as e:
            raise NumericsError(f"--check-numerics cannot run the input model: {e}") from e
        self._last = graph.copy()

    def after_pass(self, info: PassInfo, graph: Graph, ctx: PassContext, result: PassResult) -> None:
        if not result.changed:
            return
        try:
            outputs = [self.runner(graph, feeds, ctx) for feeds in self.feeds]
        except GraphcError as e:
            raise NumericsError(f"pass {info.name!r} left a graph that no longer runs: {e}",
                                pass_name=info.name, node=e.node, op_type=e.op_type) from e
        for i, (got, want) in enumerate(zip(outputs, self.reference)):
            problem = self._compare(got, want)
            if problem:
                self._explain(info, graph, ctx, i, problem)
        for got, want in zip(outputs, self.reference):
            self.max_rel = max([self.max_rel] + [max_rel_diff(got[k], v) for k, v in want.items() if k in got])
        self.checked.append(info.name)
        self.reference = outputs
        self._last = graph.copy()

    def summary(self) -> str:
        """What was checked, e.g. "checked 12 passes on 1 input set: max rel diff 3e-07"."""
        sets = f"{self.input_sets} input set{'s' if self.input_sets != 1 else ''}"
        text = f"checked {len(self.checked)} pass{'es' if len(self.checked) != 1 else ''} on {sets}: " \
               f"max rel diff {self.max_rel:.1g}" + (" (amplified rounding, below)" if self.amplified else "")
        return text + "".join(f"\n  {note}" for note in self.amplified)

    def _explain(self, info: PassInfo, graph: Graph, ctx: PassContext, index: int, problem: str) -> None:
        """Raise for a real divergence; return when the output difference is amplified rounding."""
        from .numerics import first_divergence, with_all_outputs

        comparison = None
        if self._last is not None:
            try:
                feeds = self.feeds[index]
                before = self.runner(with_all_outputs(self._last), feeds, ctx)
                after = self.runner(with_all_outputs(graph), feeds, ctx)
                comparison = first_divergence(self._last, graph, before, after, self.rtol, self.atol)
            except GraphcError:
                logger.debug("cannot compare the intermediates of pass %s", info.name, exc_info=True)
        outputs_bad = comparison is None or any(v.name in comparison.bad for v in graph.outputs)
        if not outputs_bad:
            for a in comparison.amplified:  # type: ignore[union-attr]
                note = (f"pass {info.name!r}: {a.op_type} {a.op!r} amplified rounding differences in its inputs "
                        f"to {a.max_abs:.3g} in {a.value!r} (not blamed: the op is unchanged)")
                if note not in self.amplified:
                    self.amplified.append(note)
            return
        kept = ", ".join(self.checked) or "(none)"
        where, node, op_type = "", None, None
        if comparison is not None and comparison.first is not None:
            f = comparison.first
            where = f" It starts at {f.op_type} {f.op!r} ({f.value!r} {f.detail})."
            node, op_type = f.op, f.op_type
        raise NumericsError(
            f"pass {info.name!r} changed the model's outputs beyond tolerance (rtol={self.rtol}, atol={self.atol}, "
            f"seed={self.seed + index}): {problem}.{where} Passes checked before it: {kept}. "
            f"Run `graphc explain`/`graphc blame` on the ops it rewrote, or drop it from --passes.",
            pass_name=info.name, node=node, op_type=op_type)

    def _compare(self, outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> str:
        from .numerics import describe_difference

        for name, want in reference.items():
            if name not in outputs:
                return f"output {name!r} disappeared"
            detail = describe_difference(outputs[name], want, self.rtol, self.atol)
            if detail:
                return f"output {name!r} {detail}"
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
    return check_pipeline("numpy")


def check_pipeline(target: str) -> str | None:
    """The minimal pipeline of the target registered as ``target`` (:data:`graphc.target.TARGETS`):
    its ``minimal_pipeline()`` when it has one, else its pipeline without the ``fuse-*`` passes;
    None when the target cannot be built (not installed). graphc.diff never imports a target module."""
    from ..target import get_target

    try:
        tgt = get_target(target)
    except (ImportError, GraphcError):
        return None
    minimal = getattr(tgt, "minimal_pipeline", None)
    if callable(minimal):
        return str(minimal())
    from ..passinfra import parse_pipeline
    from ..passinfra.pipeline import FixedPoint, Step, format_pipeline

    steps: list[Step] = []
    for s in parse_pipeline(tgt.pipeline()):
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
