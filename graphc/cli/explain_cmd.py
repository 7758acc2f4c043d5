"""graphc explain MODEL --rule NAME [--node NAME] [--passes P]: why a rewrite rule does (not) match."""

from __future__ import annotations

import argparse

from .common import add_layers_argument, add_model_argument, add_plugins_argument, console, layers_from, model_source
from ..printable import escape_controls

DEFAULT_PASSES = "canonicalize,legalize,infer-shapes"  # legalize binds --layers ops, so their output_shapes type them


def add_parser(sub) -> None:
    p = sub.add_parser("explain", help="explain why a rewrite rule matches or not (best partial match, first failed condition)")
    add_model_argument(p)
    p.add_argument("--rule", required=True, help="rule name (e.g. conv-bn, matmul-add, conv-activation)")
    p.add_argument("--node", help="the op to try the rule at (default: every op of the rule's root type)")
    p.add_argument("--passes", default=DEFAULT_PASSES, help=f"passes to run first (default: {DEFAULT_PASSES}; '' for none)")
    add_layers_argument(p)
    add_plugins_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..model_io import load_model
    from ..passinfra import PassContext, PassManager
    from ..pattern import RULES, explain

    rule = RULES.get(args.rule)
    graph = load_model(model_source(args))
    ctx = PassContext(layers=layers_from(args))
    if args.passes:
        PassManager(args.passes).run(graph, ctx)
    report = explain(rule, graph, args.node, ctx)
    out = console()
    out.print(f"[dim]rule applied by pass {RULES.pass_of(rule.name)!r}[/]", highlight=False)
    out.print(escape_controls(str(report), keep="\n"), highlight=False, markup=False)
    return 0
