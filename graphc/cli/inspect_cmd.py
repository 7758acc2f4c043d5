"""graphc inspect MODEL|ARTIFACT [--plan] [--target T]: ops by type, how each runs, the buffer plan."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from .common import (add_layers_argument, add_model_argument, add_weights_argument, compile_input, console, layers_from,
                     load_options, model_source)
from ..printable import escape_controls, printable


def add_parser(sub) -> None:
    p = sub.add_parser("inspect", help="show a model's or artifact's ops, how each runs on a target, and its buffer plan")
    add_model_argument(p)
    p.add_argument("--target", default="numpy", help="target to compile a model for (default numpy)")
    p.add_argument("--plan", action="store_true", help="show the buffer plan: arena, sum of intermediates, liveness lower bound")
    p.add_argument("--no-fallback", action="store_true", help="compile without the onnx.reference fallback")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    add_layers_argument(p)
    add_weights_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..compiler import compile as graphc_compile

    source = model_source(args)
    if _is_artifact(source):
        return _inspect_artifact(source, args)
    out = console()
    layers = layers_from(args)
    summary = _model_summary(source, layers, load_options(args, source, structure_only=True))
    if not args.json:  # printed before compiling: a model the target can't run still gets its summary
        _print_summary(out, source, printable(summary))
    if summary.get("missing_weights"):  # a Caffe net read without its .caffemodel: the structure is all there is
        if args.json:
            out.print_json(json.dumps({"model": summary}))
        else:
            out.print(f"no weights: {escape_controls(str(summary['missing_weights']))}. Pass --weights "
                      "FILE.caffemodel to see how it compiles.", highlight=False, markup=False)
        return 0
    options: dict[str, Any] = {"fallback": False} if args.no_fallback else {}
    model, more = compile_input(args, source, layers)
    options.update(more)
    art = graphc_compile(model, target=args.target, layers=layers, **options)
    title = printable(f"{source} compiled for {args.target}")
    if not hasattr(art, "describe"):  # a target whose artifacts do not describe themselves: say which target
        out.print(f"[bold]{title}[/]", highlight=False)
        out.print_json(json.dumps({"target": args.target}))
        return 0
    info: dict[str, Any] = art.describe()
    if args.json:
        info = info if args.plan else {k: v for k, v in info.items() if k != "plan"}
        out.print_json(json.dumps({"model": summary, **info}))
        return 0
    _print(out, title, info, args.plan)
    return 0


#: describes a saved artifact of a built-in target from its manifest and model.onnx (module:function)
_SAVED_DESCRIBERS = {"numpy": "targets.numpy.artifact:describe_saved", "ort": "targets.ort.describe:describe_bundle"}


def _inspect_artifact(source: Path, args: argparse.Namespace) -> int:
    """Describe a saved artifact without loading it: no layer module is imported, no session built."""
    import importlib

    from ..target import read_manifest

    manifest = read_manifest(source)
    title = printable(f"{source} (artifact, {manifest['target']})")
    out = console()
    describer = _SAVED_DESCRIBERS.get(manifest["target"])
    if describer is None:  # another target's artifact: show its manifest
        out.print(f"[bold]{title}[/]", highlight=False)
        out.print_json(json.dumps(manifest, default=str))
        return 0
    module, _, name = describer.partition(":")
    info: dict[str, Any] = getattr(importlib.import_module(module), name)(source, manifest)
    if args.json:
        out.print_json(json.dumps(info if args.plan else {k: v for k, v in info.items() if k != "plan"}, default=str))
        return 0
    _print(out, title, info, args.plan)
    return 0


def _model_summary(source: Path, layers: Any, load: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model as loaded, after constant folding and shape inference (no target rewrites)."""
    from ..model_io import load_model
    from ..passinfra import PassContext, PassManager
    from ..summary import summarize

    graph = load_model(source, **(load or {}))
    loaded = summarize(graph)
    if graph.metadata.get("graphc.caffe.missing_weights"):
        loaded["missing_weights"] = graph.metadata["graphc.caffe.missing_weights"]
    PassManager("canonicalize,[fold-constants,dce]*4,infer-shapes").run(graph, PassContext(layers=layers))
    folded = summarize(graph)
    loaded["untyped"] = folded["untyped"]
    # weights computed from constants (ConstantOfShape in the light models) count once folded
    loaded["parameters"], loaded["parameter_bytes"] = folded["parameters"], folded["parameter_bytes"]
    return loaded


def _print_summary(out, source: Path, s: dict[str, Any]) -> None:
    out.print(f"[bold]{source}[/]: IR {s['ir_version']}, opsets "
              + ", ".join(f"{d} {n}" for d, n in s["opsets"].items()), highlight=False)
    io = Table(title="inputs and outputs")
    io.add_column("")
    io.add_column("name")
    io.add_column("type")
    for kind in ("inputs", "outputs"):
        for name, t in s[kind].items():
            io.add_row(kind[:-1], name, t)
    out.print(io)
    hist = ", ".join(f"{t} {n}" for t, n in s["op_types"].items())
    out.print(f"{s['ops']} ops: {hist}", highlight=False)
    out.print(f"parameters (constants, after folding): {s['parameters']:,} ({_fmt(s['parameter_bytes'])})", highlight=False)
    if s["untyped"]:
        names = ", ".join(f"{u['node']} ({u['op_type']})" for u in s["untyped"][:20])
        more = f" and {len(s['untyped']) - 20} more" if len(s["untyped"]) > 20 else ""
        out.print(f"[yellow]shape inference could not type[/] {len(s['untyped'])} ops: {names}{more}", highlight=False)
    else:
        out.print("shape inference typed every op", highlight=False)


def _is_artifact(path: Path) -> bool:
    import zipfile

    return (path.is_dir() and (path / "manifest.json").is_file()) or (path.is_file() and zipfile.is_zipfile(path))


def _print(out, title: str, info: dict[str, Any], plan: bool) -> None:
    """Print a target's description (``title`` already printable); every string of ``info`` is escaped here."""
    layers = [dict(r, params=_raw_params(r.get("params"))) for r in info.get("layers", [])]
    info = printable(info)
    if layers:
        info["layers"] = [dict(r, params=raw["params"]) for r, raw in zip(info["layers"], layers)]
    out.print(f"[bold]{title}[/]: {info.get('ops', '?')} ops", highlight=False)
    kind_of: dict[str, list[str]] = {}
    for kind, types in info.get("runs", {}).items():
        for t in types:
            kind_of.setdefault(t, []).append(kind)
    table = Table(title="ops by type")
    table.add_column("op type")
    table.add_column("count", justify="right")
    table.add_column("runs as")
    for t, n in info.get("op_types", {}).items():
        table.add_row(t, str(n), ", ".join(kind_of.get(t, ["?"])))
    out.print(table)
    totals = ", ".join(f"{k}: {sum(v.values())}" for k, v in info.get("runs", {}).items())
    out.print(f"runs: {totals}", highlight=False)
    for o in info.get("overrides", []):
        out.print(f"[yellow]override[/]: node {o['node']} ({o['op_type']}) runs a registered custom layer instead of "
                  "the built-in kernel", highlight=False)
    fallback = info.get("runs", {}).get("fallback")
    if fallback:
        out.print(f"fallback (onnx.reference): {', '.join(sorted(fallback))}; compile with --no-fallback to forbid it",
                  highlight=False)
    for m in info.get("moved", []):
        out.print(f"node {m['node']} ({m['op_type']}) runs as {m['runs']}: {m['reason']}", highlight=False)
    if info.get("layers"):
        _print_layers(out, info["layers"])
    if info.get("regions"):
        _print_regions(out, info["regions"])
    if plan and not info.get("plan"):
        out.print("plan: none recorded (onnxruntime plans its own memory)", highlight=False)
    if plan and info.get("plan"):
        p = info["plan"]
        out.print(
            f"plan: arena {_fmt(p['arena_bytes'])}, sum of intermediates {_fmt(p['intermediate_bytes'])}, "
            f"liveness lower bound {_fmt(p['lower_bound_bytes'])}, arena / lower bound = {p['ratio']:.3f}; "
            f"{p['planned_values']} tensors planned, {p['inplace_ops']} in place, {p['views']} views, "
            f"{p['fresh_values']} sized at run time", highlight=False)


def _print_layers(out, layers: list[dict[str, Any]]) -> None:
    """The custom layers an artifact needs: how each runs, its class, its params, what to pass to --layers."""
    for r in layers:
        params = escape(json.dumps(r.get("params"), sort_keys=True))  # the other fields are escaped already
        out.print(f"layer: node {r['node']} ({r['op_type']}) runs as {r.get('runs', 'layer')}: {r['import_path']} "
                  f"{params}", highlight=False)
    from graphc.layers.registry import is_builtin_path

    if any(is_builtin_path(r["import_path"]) for r in layers):
        out.print("graphc's built-in layers run with no --layers: " + ", ".join(dict.fromkeys(
            r["import_path"] for r in layers if is_builtin_path(r["import_path"]))), highlight=False)
    layers = [r for r in layers if not is_builtin_path(r["import_path"])]
    if not layers:
        return
    args = " ".join(f"--layers {a or 'FILE.py (the file it was compiled with; not recorded)'}"
                    for a in dict.fromkeys(r["layers_arg"] for r in layers))
    bundled = " (or --trust: import the copies of their source it carries)" if all(
        r.get("bundled_source") for r in layers) else ""
    out.print(f"it needs its layers to run: {args}{bundled}", highlight=False)


def _print_regions(out, regions: list[dict[str, Any]]) -> None:
    """A partitioned ort bundle's schedule: each stage, where it runs, its ops, the tensors crossing into it and out."""
    table = Table(title=f"schedule: {sum(r['runs_in'] == 'onnxruntime' for r in regions)} onnxruntime session(s), "
                        f"Python between them")
    for col in ("stage", "runs in", "ops", "reads", "hands on"):
        table.add_column(col, justify="right" if col == "stage" else "left")
    for r in regions:
        nodes = r["nodes"]
        ops = f"{len(nodes)}: {', '.join(nodes[:4])}{' ...' if len(nodes) > 4 else ''}"
        table.add_row(str(r["stage"]), r["runs_in"], ops, _boundary(r["inputs"]), _boundary(r["outputs"]))
    out.print(table)


def _boundary(values: list[dict[str, Any]]) -> str:
    parts = []
    for v in values:
        shape = "?" if v.get("shape") is None else "x".join(str(d) for d in v["shape"]) or "scalar"
        size = "" if v.get("bytes") is None else f", {_size(v['bytes'])}"
        parts.append(f"{v['name']} ({v.get('dtype') or '?'} {shape}{size})")
    return "\n".join(parts) or "-"


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _fmt(n: int) -> str:
    return f"{n} bytes ({n / (1 << 20):.2f} MiB)"


def _raw_params(params: Any) -> Any:
    """A layer's params with control characters escaped but no markup escape (they are printed as JSON)."""
    if isinstance(params, str):
        return escape_controls(params)
    if isinstance(params, dict):
        return {_raw_params(k): _raw_params(v) for k, v in params.items()}
    if isinstance(params, list):
        return [_raw_params(v) for v in params]
    return params
