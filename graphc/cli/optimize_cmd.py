"""graphc optimize MODEL -o OUT.onnx [--passes P]: run passes, write plain ONNX."""

from __future__ import annotations

import argparse

from .stage_instruments import add_stage_arguments
from .common import (add_model_argument, add_plugins_argument, add_weights_argument, console, load_options, model_source,
                     output_path)

DEFAULT_PIPELINE = "canonicalize,[fold-constants,dce]*8,infer-shapes"
#: pass counters that record bookkeeping, not a change a diff shows (canonicalize naming unnamed ops)
BOOKKEEPING = frozenset({"named"})


def add_parser(sub) -> None:
    p = sub.add_parser("optimize", help="run graph passes and write an ONNX model")
    add_model_argument(p)
    p.add_argument("-o", "--output", required=True, help="output .onnx path")
    p.add_argument("--passes", default=DEFAULT_PIPELINE, help=f"pipeline (default: {DEFAULT_PIPELINE})")
    p.add_argument("--verify", action="store_true", help="verify IR invariants after every pass")
    add_plugins_argument(p)
    add_weights_argument(p)
    add_stage_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..model_io import load_model, save_model
    from ..passinfra import PassContext, PassManager
    from ..passinfra.instruments import Progress, Timing, VerifyEach
    from .stage_instruments import stage_instruments, stage_reports

    out = console()
    source = model_source(args)
    output_path(args.output)
    graph = load_model(source, **load_options(args, source))
    before = len(graph)
    timing = Timing()
    stages = stage_instruments(args, out)
    instruments = [timing, *stages]
    if args.verify:
        instruments.append(VerifyEach())
    if len(graph) > 2000 and not any(isinstance(i, Progress) for i in stages):
        instruments.append(Progress(out))
    PassManager(args.passes).run(graph, PassContext(instruments=instruments))
    save_model(graph, args.output)
    counts = [(n, sum(v for k, v in s.items() if k not in BOOKKEEPING)) for n, _, c, s in timing.records if c]
    changed = ", ".join(f"{n} ({k})" for n, k in counts if k) or "nothing"
    out.print(f"[bold]{args.output}[/]: {before} -> {len(graph)} ops; changed by: {changed}")
    for report in stage_reports(stages):
        out.print(report, highlight=False, markup=False)
    return 0
