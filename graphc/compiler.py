"""compile() and load(): the two calls most users need."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, Iterable

import onnx

from .errors import GraphcError
from .ir import Graph
from .model_io import as_graph
from .passinfra import Instrument, PassContext, PassManager
from .passinfra.gc_pause import gc_paused
from .target import Artifact, Target, get_target, read_manifest, TARGETS

__all__ = ["compile", "load", "run_pipeline", "LOAD_OPTIONS", "PIPELINE_OPTIONS"]

#: options that reach the model loader (framework models: a Caffe net's weights, a GraphDef's outputs...)
LOAD_OPTIONS = frozenset({"weights", "inputs", "outputs", "structure_only", "input_shapes"})
#: options the passes and lowering read from ``PassContext.options`` whatever the target:
#: ``model_path`` (quoted by error messages), ``include_sources`` (the ort bundle keeps layer sources),
#: ``memory_budget`` (bytes),
#: ``evaluate`` (``evaluate(op, inputs) -> outputs``, the evaluator fold-constants runs constant
#: standard-domain ops with; default onnx.reference)
PIPELINE_OPTIONS = frozenset({"model_path", "include_sources", "evaluate", "memory_budget"})


def _target_options(tgt: Target) -> frozenset[str] | None:
    """The keyword options ``tgt``'s constructor takes (None: it takes any)."""
    try:
        params = inspect.signature(type(tgt)).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _check_options(options: dict[str, Any], tgt: Target) -> None:
    """Unknown options are an error, not silently dropped."""
    taken = _target_options(tgt)
    if taken is None:
        return
    known = LOAD_OPTIONS | PIPELINE_OPTIONS | taken
    unknown = sorted(set(options) - known)
    if unknown:
        raise GraphcError(f"unknown option(s) {', '.join(unknown)} for target {getattr(tgt, 'name', tgt)!r}; "
                          f"the options are: {', '.join(sorted(known))}")


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

    opts = dict(options or {})
    tgt = get_target(target, **opts)  # the target takes the options it knows (fallback, ...)
    _check_options(opts, tgt)
    registry = resolve_registry(layers)
    load_opts = {k: v for k, v in opts.items() if k in LOAD_OPTIONS}
    graph = as_graph(model, layers=registry, **load_opts)  # framework frontends let registered layers take ops
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
    ``passes`` overrides the target's pipeline. Keyword options: the loader's for a framework
    model (:data:`LOAD_OPTIONS`: ``weights=``, ``outputs=``, ``structure_only=``), the target's
    constructor's (``fallback=False``, ``memory_budget=``, the ort target's ``mode=``...) and
    :data:`PIPELINE_OPTIONS` (``memory_budget=``, ``evaluate=`` the constant-folding evaluator);
    they reach the passes through ``PassContext.options``. Any other
    option is a GraphcError naming the known ones.
    """
    with gc_paused():  # loading, passes and lowering build a large object graph: see graphc.passinfra.gc_pause
        graph, ctx, tgt = run_pipeline(model, target, layers=layers, passes=passes,
                                       instruments=instruments, options=options)
        return tgt.lower(graph, ctx)


def load(path: str | os.PathLike, layers: Any = None, trust: bool = False) -> Artifact:
    """Load a saved artifact. No pickle; no code runs except layer modules you name."""
    from .layers import resolve_registry

    p = Path(path)
    manifest = read_manifest(p)
    return TARGETS.create(manifest["target"]).load(p, manifest, resolve_registry(layers), trust)
