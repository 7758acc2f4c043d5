"""Entry point: builds the argument parser from the command modules and reports errors cleanly."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from ..errors import GraphcError
from .common import load_plugins

__all__ = ["main", "COMMANDS"]

#: subcommand name -> module under graphc.cli defining add_parser(subparsers) and run(args) -> int
COMMANDS = {
    "compile": "compile_cmd",
    "run": "run_cmd",
    "optimize": "optimize_cmd",
    "inspect": "inspect_cmd",
    "passes": "passes_cmd",
    "diff": "diff_cmd",
    "scaffold": "scaffold_cmd",
    "explain": "explain_cmd",
    "blame": "blame_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per available command module."""
    parser = argparse.ArgumentParser(prog="graphc", description="graph-rewriting compiler for neural-network models")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f"graphc.cli.{module}")
        except ModuleNotFoundError as e:
            if e.name != f"graphc.cli.{module}":
                raise
            continue
        mod.add_parser(sub)
    for command in sub.choices.values():  # `graphc compile ... --debug` works as well as `graphc --debug compile`
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks and debug logs")
    return parser


def one_line(message: str) -> str:
    """A multi-line error message as one line (its lines joined with '; ')."""
    parts = [part.strip() for part in message.splitlines() if part.strip()]
    text = parts[0] if parts else ""
    for part in parts[1:]:
        text += (" " if text.endswith(":") else "; ") + part
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (errors print one line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        load_plugins(args)
        return int(args.func(args) or 0)
    except GraphcError as e:
        if args.debug:
            raise
        print(f"graphc: error: {one_line(str(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("graphc: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as e:
        if args.debug:
            raise
        print(f"graphc: error: {type(e).__name__}: {one_line(str(e))}", file=sys.stderr)
        return 1
