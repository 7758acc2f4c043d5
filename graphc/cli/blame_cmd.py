"""graphc blame MODEL --passes P --node NAME: which passes and rules made an op."""

from __future__ import annotations

import argparse

from .common import add_layers_argument, add_model_argument, add_plugins_argument, console, layers_from, model_source
from ..printable import escape_controls


def add_parser(sub) -> None:
    p = sub.add_parser("blame", help="print the provenance chain of an op after running passes")
    add_model_argument(p)
    p.add_argument("--passes", required=True, help="the pipeline to run (e.g. canonicalize,fuse-conv-bn)")
    p.add_argument("--node", required=True, help="op name in the resulting graph (or a name it replaced)")
    add_layers_argument(p)
    add_plugins_argument(p)
    p.set_defaults(func=run)


def blame_lines(graph, node: str) -> list[str]:
    """The provenance chain of op ``node`` (or of the ops that replaced an op of that name)."""
    from ..errors import GraphcError

    ops = [graph.op(node)] if node in graph.ops else [
        o for o in graph.topological_order() if any(node in e.get("replaced", ()) for e in o.provenance)
    ]
    if not ops:
        raise GraphcError(f"no op named {node!r} after the passes, and no op records replacing one "
                          "(`graphc inspect` lists op names)")
    lines = []
    for o in ops:
        if o.name != node:
            lines.append(f"{node!r} was replaced; it lives on in {o.op_type} {o.name!r}")
        lines.append(f"{o.qualified_type} {o.name!r}")
        if not o.provenance:
            lines.append("  from the source model (no pass created it)")
        for i, e in enumerate(o.provenance, 1):
            lines.append(f"  {i}. pass {e.get('pass')!r}, rule {e.get('rule')!r}: replaced {', '.join(e.get('replaced', ()))}")
    return lines


def run(args: argparse.Namespace) -> int:
    from ..model_io import load_model
    from ..passinfra import PassContext, PassManager

    graph = load_model(model_source(args))
    PassManager(args.passes).run(graph, PassContext(layers=layers_from(args)))
    text = escape_controls("\n".join(blame_lines(graph, args.node)), keep="\n")  # names from the model
    console().print(text, highlight=False, markup=False)
    return 0
