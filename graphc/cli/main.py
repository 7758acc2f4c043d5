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


def error_text(message: str, prefix: str = "graphc: error: ") -> str:
    """An error for stderr. A message that lists things in indented lines (the unsupported
    ops, the scaffold command to run) keeps its lines, each indented two spaces under the
    first so a command in it can be copied whole; any other message is one line (its lines
    joined with '; '), including the ``[pass ...]`` context the pass manager appends. Control
    characters from the model (an ESC in a node name) are written as escapes (:mod:`graphc.printable`)."""
    from ..printable import escape_controls

    message = escape_controls(message, keep="\n")
    lines = [line.rstrip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return prefix.rstrip()
    body = lines[:-1] if len(lines) > 1 and lines[-1].lstrip().startswith("[pass ") else lines
    if any(line[:1].isspace() for line in body[1:]):
        return "\n".join([prefix + lines[0].strip()] + ["  " + line for line in lines[1:]])
    text = lines[0].strip()
    for part in lines[1:]:
        text += (" " if text.endswith(":") else "; ") + part.strip()
    return prefix + text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (errors go to stderr as :func:`error_text` lays them out)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        load_plugins(args)
        return int(args.func(args) or 0)
    except GraphcError as e:
        if args.debug:
            raise
        print(error_text(str(e)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("graphc: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as e:
        if args.debug:
            raise
        print(error_text(f"{type(e).__name__}: {str(e).strip()}"), file=sys.stderr)
        return 1
