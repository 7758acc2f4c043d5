"""Instruments chosen by --show-diffs / --dump-dir / --check-numerics on compile and optimize."""

from __future__ import annotations

import argparse

from rich.console import Console

__all__ = ["stage_instruments"]


def stage_instruments(args: argparse.Namespace, out: Console) -> list:
    """The instruments the stage-inspection flags ask for (empty when none is given)."""
    found = []
    if getattr(args, "show_diffs", False):
        from ..diff.instrument import DiffPrinter

        found.append(DiffPrinter(out))
    if getattr(args, "dump_dir", None):
        from ..diff.instrument import StageDumper

        found.append(StageDumper(args.dump_dir))
    if getattr(args, "check_numerics", False):
        from ..diff.instrument import NumericsCheck

        found.append(NumericsCheck())
    return found
