"""Instruments chosen by --show-diffs / --dump-dir / --check-numerics on compile and optimize."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from ..passinfra import Instrument

__all__ = ["stage_instruments", "add_stage_arguments", "stage_reports"]


def add_stage_arguments(p: argparse.ArgumentParser) -> None:
    """--show-diffs, --dump-dir and --check-numerics, shared by compile and optimize."""
    p.add_argument("--show-diffs", action="store_true", help="print a diff for every pass that changed the graph")
    p.add_argument("--dump-dir", help="write the graph after each changing pass as ONNX into this folder")
    p.add_argument("--check-numerics", action="store_true",
                   help="run the model on seeded inputs after each changing pass (numpy target); name the first pass that changes the outputs")


def stage_instruments(args: argparse.Namespace, out: Console) -> list[Instrument]:
    """The instruments the stage-inspection flags ask for (empty when none is given)."""
    found: list[Instrument] = []
    if getattr(args, "show_diffs", False):
        from ..diff.instrument import DiffPrinter

        found.append(DiffPrinter(out))
    if getattr(args, "dump_dir", None):
        from ..diff.instrument import StageDumper

        found.append(StageDumper(args.dump_dir))
    if getattr(args, "check_numerics", False):
        from ..diff.instrument import NumericsCheck
        from ..passinfra.instruments import Progress

        found += [Progress(out), NumericsCheck()]  # the check runs the model after every changing pass: show progress
    return found


def stage_reports(instruments: list) -> list[str]:
    """What the instruments have to say after a successful run (--check-numerics: what it checked)."""
    return [i.summary() for i in instruments if callable(getattr(i, "summary", None))]
