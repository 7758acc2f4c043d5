"""graphc passes: list the registered passes with their contracts and options."""

from __future__ import annotations

import argparse

from rich.table import Table

from .common import console


def add_parser(sub) -> None:
    p = sub.add_parser("passes", help="list the passes with their contracts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..passinfra import PASSES

    table = Table(title="graphc passes")
    for col in ("pass", "description", "requires", "establishes", "invalidates", "options"):
        table.add_column(col)
    for name in PASSES.names():
        info = PASSES.get(name)
        opts = ", ".join(f"{k}={d!r}" for k, (_, d) in info.options.items())
        table.add_row(name, info.description, ", ".join(sorted(info.requires)), ", ".join(sorted(info.establishes)),
                      ", ".join(sorted(info.invalidates)), opts)
    console().print(table)
    return 0
