"""graphc diff A B [--no-color|--json]: what changed between two models."""

from __future__ import annotations

import argparse

from .common import console
from ..printable import escape_controls


def add_parser(sub) -> None:
    p = sub.add_parser("diff", help="show what changed between two models (ops, wiring, attributes, weights, types)")
    p.add_argument("before", help="the first model (.onnx)")
    p.add_argument("after", help="the second model (.onnx)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--no-color", action="store_true", help="plain text")
    mode.add_argument("--json", action="store_true", help="machine-readable JSON")
    p.add_argument("--no-context", action="store_true", help="leave out each change's producers and consumers")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..diff import GraphDiff, render, to_json_text
    from ..model_io import load_model

    diff = GraphDiff(load_model(args.before), load_model(args.after))
    if args.json:
        print(to_json_text(diff))  # noqa: T201 - CLI output
    elif args.no_color:
        print(escape_controls(diff.to_text(neighbourhood=not args.no_context), keep="\n"))  # noqa: T201 - CLI output
    else:
        render(diff, console(), neighbourhood=not args.no_context)
    return 0
