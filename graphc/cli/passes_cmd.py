"""graphc passes: list the registered passes with their contracts and options."""

from __future__ import annotations

import argparse

from rich.table import Table

from .common import add_plugins_argument, console


def add_parser(sub) -> None:
    p = sub.add_parser("passes", help="list the passes with their contracts")
    add_plugins_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..passinfra import PASSES

    table = Table(title="graphc passes")
    table.add_column("pass", no_wrap=True)
    table.add_column("description", overflow="fold")
    table.add_column("contract and options", overflow="fold")
    for name in PASSES.names():
        info = PASSES.get(name)
        contract = [f"{label}: {', '.join(sorted(items))}" for label, items in
                    (("requires", info.requires), ("establishes", info.establishes), ("invalidates", info.invalidates)) if items]
        if info.options:
            contract.append("options: " + ", ".join(f"{k}={d!r}" for k, (_, d) in info.options.items()))
        table.add_row(name, info.description, "\n".join(contract))
    console().print(table)
    return 0
