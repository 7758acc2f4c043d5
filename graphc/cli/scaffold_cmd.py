"""graphc scaffold MODEL --target T -o my_layers.py: a layer skeleton per op the target cannot run."""

from __future__ import annotations

import argparse

from .common import (add_layers_argument, add_model_argument, add_weights_argument, console, layers_from, load_options,
                     model_source, output_path)

#: what scaffold runs before looking: the compile-time view of constants and shapes
SCAFFOLD_PIPELINE = "canonicalize,legalize,[fold-constants,dce]*8,infer-shapes"


def add_parser(sub) -> None:
    p = sub.add_parser("scaffold", help="write a custom-layer skeleton for every op the target cannot run")
    add_model_argument(p)
    p.add_argument("--target", default="numpy", help="the target to check support against (default: numpy)")
    p.add_argument("-o", "--output", required=True, help="the Python file to write (e.g. my_layers.py)")
    p.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    add_layers_argument(p)
    add_weights_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..atomic import atomic_write_bytes
    from ..errors import GraphcError
    from ..layers.scaffold import scaffold_source
    from ..layers.unsupported import find_unsupported
    from ..model_io import load_model
    from ..passinfra import PassContext, PassManager
    from ..target import get_target

    out = console()
    source = model_source(args)
    target = get_target(args.target)
    layers = layers_from(args)
    graph = load_model(source, **load_options(args, source, structure_only=True))  # a Caffe net needs no weights
    PassManager(SCAFFOLD_PIPELINE).run(graph, PassContext(target=None, layers=layers))
    items = find_unsupported(graph, target, layers)
    if not items:
        out.print(f"every op of {source} runs on target {args.target!r} (or has a registered layer): nothing to write")
        return 0
    dest = output_path(args.output)
    if dest.exists() and not args.force:
        raise GraphcError(f"{dest} exists; pass --force to overwrite it or choose another -o path")
    model_name = f"--example {args.example}" if getattr(args, "example", None) else str(source)
    text = scaffold_source(items, target.name, model_name, str(dest))
    atomic_write_bytes(dest, text.encode())
    names = ", ".join(i.qualified for i in items)
    out.print(f"wrote {dest}: {len(items)} layer skeleton{'s' if len(items) != 1 else ''} ({names}). "
              f"Fill in forward(), then compile with --layers {dest}")
    return 0
