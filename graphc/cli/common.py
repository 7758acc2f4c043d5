"""Argument helpers shared by the subcommands (model/--example, --layers, consoles)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import GraphcError

__all__ = ["add_model_argument", "model_source", "add_layers_argument", "add_plugins_argument", "add_weights_argument",
           "load_options", "compile_input", "output_path", "console", "err_console"]


def add_model_argument(p: argparse.ArgumentParser, required: bool = True) -> None:
    """MODEL and --example NAME (a light model shipped in the onnx wheel)."""
    p.add_argument("model", nargs="?", help="model file: .onnx, TensorFlow .pbtxt/.pb, Caffe .prototxt, Keras .keras/.json")
    p.add_argument("--example", metavar="NAME", help="a light model-zoo model shipped in the onnx wheel (e.g. squeezenet, resnet50)")


def model_source(args: argparse.Namespace) -> Path:
    """The model path named by MODEL or --example."""
    from ..examples import example_path

    if getattr(args, "example", None):
        if args.model:
            raise GraphcError(f"give a MODEL path or --example NAME, not both (got {args.model!r} and "
                              f"--example {args.example})")
        return example_path(args.example)
    if not args.model:
        raise GraphcError("give a MODEL path or --example NAME (see `graphc inspect --help`)")
    return Path(args.model)


def add_weights_argument(p: argparse.ArgumentParser) -> None:
    """Framework-model loading: --weights FILE (weights kept apart from the structure), --input-shape
    NAME=DIMS (repeatable), --inputs / --outputs NAMES (TensorFlow cuts)."""
    p.add_argument("--weights", metavar="FILE", help="weights for a Caffe .prototxt (a .caffemodel of any name; "
                   "default: <stem>.caffemodel beside it) or a Keras .json config (a .weights.h5)")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=DIMS",
                   help="a framework model's input shape instead of the declared one, ? for a free dim "
                        "(e.g. data=1,3,?,?: any image size); repeatable")
    p.add_argument("--inputs", metavar="NAMES", help="cut a TensorFlow graph at these tensors, comma-separated: "
                   "they become its inputs and what only feeds them (pre-processing) is left out")
    p.add_argument("--outputs", metavar="NAMES", help="a TensorFlow graph's outputs, comma-separated (node or node:1)")


def parse_input_shape(text: str) -> tuple[str, list[int | None]]:
    """``NAME=1,3,?,?`` -> ("NAME", [1, 3, None, None])."""
    name, sep, dims = text.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, [None if d.strip() in ("?", "") else int(d) for d in dims.split(",")]
    except ValueError:
        raise GraphcError(f"--input-shape {text!r}: write NAME=DIMS, dims comma-separated, ? for a free one "
                          f"(e.g. data=1,3,?,?)") from None


def load_options(args: argparse.Namespace, source: Path, structure_only: bool = False) -> dict:
    """load_model() options for ``source`` from --weights; ``structure_only`` lets a Caffe net
    without its weights load (scaffold, inspect)."""
    from ..formats import detect_format

    framework = detect_format(source).format
    options: dict = {}
    if getattr(args, "weights", None):
        if framework not in ("caffe", "keras"):
            raise GraphcError(f"--weights applies to a Caffe .prototxt or a Keras .json config, not to {source.name}")
        options["weights"] = args.weights
    if structure_only and framework == "caffe":
        options["structure_only"] = True
    if getattr(args, "input_shape", None):
        if framework not in ("caffe", "tensorflow", "keras", "keras-h5"):
            raise GraphcError(f"--input-shape applies to Caffe, TensorFlow and Keras models, not to {source.name} "
                              f"(an ONNX model's inputs take any size its dims allow)")
        options["input_shapes"] = dict(parse_input_shape(t) for t in args.input_shape)
    for flag in ("inputs", "outputs"):
        if getattr(args, flag, None):
            if framework != "tensorflow":
                raise GraphcError(f"--{flag} applies to a TensorFlow graph, not to {source.name}")
            options[flag] = [o.strip() for o in getattr(args, flag).split(",") if o.strip()]
    return options


def compile_input(args: argparse.Namespace, source: Path, layers: Any) -> tuple[Any, dict]:
    """What to hand compile() for ``source``: its path, or with loading options (--weights,
    --input-shape, --outputs) the graph loaded with them (and ``model_path`` for the messages
    that quote the command to run)."""
    options = load_options(args, source)
    if not options:
        return str(source), {}
    from ..model_io import load_model

    return load_model(source, layers=layers, **options), {"model_path": str(source)}


def output_path(text: str) -> Path:
    """The -o path, refused when its folder does not exist (graphc creates no directories you
    did not ask for: a typo in the folder name would otherwise go unnoticed)."""
    path = Path(text)
    parent = path.parent
    if not parent.is_dir():
        raise GraphcError(f"-o {text}: folder {str(parent)!r} does not exist; create it first (mkdir -p {parent}) "
                          "or choose another output path")
    return path


def add_layers_argument(p: argparse.ArgumentParser) -> None:
    """--layers FILE.py|module, repeatable."""
    p.add_argument("--layers", action="append", default=[], metavar="FILE.py|module",
                   help="import custom layers from a Python file or module (repeatable)")


def add_plugins_argument(p: argparse.ArgumentParser) -> None:
    """--plugins FILE.py|module, repeatable: modules declaring passes and rules (loaded by main())."""
    p.add_argument("--plugins", action="append", default=[], metavar="FILE.py|module",
                   help="import passes and rules (@graph_pass, register_rules) from a Python file or module "
                        "(repeatable); installed packages register theirs in the 'graphc.passes' entry-point group")


def load_plugins(args: argparse.Namespace) -> None:
    """Import the modules --plugins names (before the command looks up a pass or rule)."""
    if getattr(args, "plugins", None):
        from ..passinfra.plugins import load_pass_plugins

        load_pass_plugins(args.plugins)


def layers_from(args: argparse.Namespace):
    """The layer registry the --layers arguments name (the default registry without them)."""
    from ..layers import resolve_registry

    return resolve_registry(args.layers or None)


#: the width tables and rules are laid out to when the output is a file or a pipe (text lines never wrap)
PIPE_WIDTH = 160


def console() -> Console:
    """The stdout console (colors off when NO_COLOR is set); see :func:`_console`."""
    return _console(stderr=False)


def err_console() -> Console:
    """The stderr console; see :func:`_console`."""
    return _console(stderr=True)


def _console(stderr: bool) -> Console:
    """A console that never crops or wraps information. On a terminal, printed lines are not
    cut (the terminal folds them); to a file or pipe, lines are written whole (no wrapping at
    80 columns) and tables are laid out ``PIPE_WIDTH`` wide unless COLUMNS says otherwise."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and not os.environ.get("COLUMNS"):
        width = PIPE_WIDTH
    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), soft_wrap=True, width=width)
