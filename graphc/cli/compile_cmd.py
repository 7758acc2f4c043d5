"""graphc compile MODEL|--example NAME --target numpy|ort -o OUT: run the target's pipeline, save the artifact."""

from __future__ import annotations

import argparse

from ..printable import escape_controls
from .stage_instruments import add_stage_arguments
from .common import (add_layers_argument, add_model_argument, add_plugins_argument, add_weights_argument,
                     compile_input, console, layers_from, model_source, output_path)


def add_parser(sub) -> None:
    p = sub.add_parser("compile", help="compile a model for a target and save the artifact")
    add_model_argument(p)
    p.add_argument("--target", default="numpy", help="numpy (in-process) or ort (onnxruntime bundle); default numpy")
    p.add_argument("-o", "--output", required=True, help="artifact path to write (e.g. model.graphc)")
    add_layers_argument(p)
    p.add_argument("--passes", help="pipeline to run instead of the target's own")
    add_plugins_argument(p)
    add_weights_argument(p)
    p.add_argument("--no-fallback", action="store_true",
                   help="numpy target: refuse ops without a native kernel instead of running them through onnx.reference")
    p.add_argument("--memory-budget", type=int, metavar="BYTES", help="refuse a buffer plan whose arena or a tensor exceeds BYTES")
    p.add_argument("--ort-mode", choices=["partitioned", "single"],
                   help="ort target: 'partitioned' (default) runs onnxruntime regions with Python nodes in-process "
                        "between them; 'single' writes one model with Python nodes as onnxruntime-extensions ops")
    add_stage_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..compiler import compile as graphc_compile
    from ..summary import human_bytes
    from .stage_instruments import stage_instruments, stage_reports

    out = console()
    source = model_source(args)
    output_path(args.output)
    options = {}
    if args.no_fallback:
        options["fallback"] = False
    if args.memory_budget is not None:
        options["memory_budget"] = args.memory_budget
    if args.ort_mode is not None:
        options["mode"] = args.ort_mode
    layers = layers_from(args)
    model, more = compile_input(args, source, layers)  # --weights: structure and weights in files of different names
    options.update(more)
    stages = stage_instruments(args, out)
    art = graphc_compile(model, target=args.target, layers=layers, passes=args.passes, instruments=stages, **options)
    art.save(args.output)
    describe = getattr(art, "describe", None)
    summary = ""
    if describe is not None:
        info = describe()
        runs = ", ".join(f"{k} {sum(v.values())}" for k, v in info.get("runs", {}).items())
        plan = info.get("plan") or {}
        summary = f": {info.get('ops', '?')} ops ({runs})"
        if plan:
            summary += (f"; arena {human_bytes(plan['arena_bytes'])} "
                        f"(liveness lower bound {human_bytes(plan['lower_bound_bytes'])})")
    out.print(f"[bold]{args.output}[/] ({args.target}){summary}", highlight=False)
    for report in stage_reports(stages):
        out.print(escape_controls(report, keep="\n"), highlight=False, markup=False)
    return 0

