"""The graphc command line: one module per subcommand, each with add_parser() and run(args)."""

from __future__ import annotations

from .main import main

__all__ = ["main"]
