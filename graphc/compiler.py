"""compile() and load(): the two calls most users need."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import onnx

from .ir import Graph
from .model_io import as_graph
from .passinfra import Instrument, PassContext, PassManager
from .target import Artifact, Target, get_target, read_manifest, TARGETS

__all__ = ["compile", "load", "run_pipeline"]


def run_pipeline(
    model: str | os.PathLike | bytes | onnx.ModelProto | Graph,
    target: str | Target = "numpy",
    *,
    layers: Any = None,
    passes: str | None = None,
    instruments: Iterable[Instrument] = (),
    options: dict[str, Any] | None = None,
) -> tuple[Graph, PassContext, Target]:
    """Load ``model`` and run the target's pipeline (or ``passes``); return the result."""
    from .layers import resolve_registry

    tgt = get_target(target, **dict(options or {}))  # the target takes the options it knows (fallback, ...)
    registry = resolve_registry(layers)
    graph = as_graph(model, layers=registry)  # framework frontends let registered layers take ops
    opts = dict(options or {})
    if isinstance(model, (str, os.PathLike)):
        opts.setdefault("model_path", os.fspath(model))  # error messages quote the exact command to run
    ctx = PassContext(target=tgt, layers=registry, options=opts,
                      instruments=list(instruments))
    PassManager(passes or tgt.pipeline()).run(graph, ctx)
    return graph, ctx, tgt


def compile(  # noqa: A001 - the public name the product uses
    model: str | os.PathLike | bytes | onnx.ModelProto | Graph,
    target: str | Target = "numpy",
    *,
    layers: Any = None,
    passes: str | None = None,
    instruments: Iterable[Instrument] = (),
    **options: Any,
) -> Artifact:
    """Compile ``model`` for ``target`` and return a runnable artifact.

    ``layers`` is a LayerRegistry (default: the one behind ``@register_layer``);
    ``passes`` overrides the target's pipeline; other keyword options reach the passes
    and the target through ``PassContext.options`` (e.g. ``fallback=False``).
    """
    graph, ctx, tgt = run_pipeline(model, target, layers=layers, passes=passes,
                                   instruments=instruments, options=options)
    return tgt.lower(graph, ctx)


def load(path: str | os.PathLike, layers: Any = None, trust: bool = False) -> Artifact:
    """Load a saved artifact. No pickle; no code runs except layer modules you name."""
    from .layers import resolve_registry

    p = Path(path)
    manifest = read_manifest(p)
    return TARGETS.create(manifest["target"]).load(p, manifest, resolve_registry(layers), trust)
