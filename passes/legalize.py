"""legalize: bind ops to registered layers; report every op nobody can run, once."""

from __future__ import annotations

import logging

from graphc.frontends.builder import OVERRIDDEN_MAPPING
from graphc.ir import Graph, Op
from graphc.layers.binding import bind_layer
from graphc.layers.unsupported import UnsupportedOp, unsupported_error
from graphc.passinfra import PassContext, PassResult, graph_pass

__all__ = ["legalize"]
logger = logging.getLogger("graphc.layers")


@graph_pass("legalize", "bind ops to registered custom layers; fail once listing every unsupported op",
            establishes=("legalized",))
def legalize(graph: Graph, ctx: PassContext) -> PassResult:
    """For every op, in every (sub)graph:

    1. a layer is registered in ``ctx.layers`` for its (domain, op_type, opset): the op
       is bound to it (``op.layer = bind_layer(...)``, which validates and serializes
       the params). If ``ctx.target`` also runs the op natively the layer overrides the
       built-in: the binding says ``override=True`` and a WARNING is logged on
       ``graphc.layers``. So does a framework node a registered layer took from graphc's
       built-in import mapping (the frontend marks it, e.g. a Caffe ``Crop``);
    2. otherwise, the target runs it natively (or there is no target): left alone;
    3. otherwise it is unsupported. After the walk, if any op is unsupported, one
       UnsupportedOpError lists every (domain, op_type, opset) with the nodes using it,
       the closest registered layer names, and the ``graphc scaffold`` command.
    An op already bound to the same layer is left alone (the pass is idempotent); one
    bound earlier to a layer ``ctx.layers`` no longer has is unbound first.
    """
    result = PassResult()
    missing: dict[tuple[str, str, int], UnsupportedOp] = {}
    overrides: dict[str, list[str]] = {}
    _legalize(graph, ctx, result, missing, overrides)
    for name, nodes in sorted(overrides.items()):
        logger.warning("layer %s overrides %s on %d node(s): %s",
                       name, nodes[0], len(nodes) - 1, ", ".join(nodes[1:6]) + (" ..." if len(nodes) > 6 else ""))
    if missing:
        err = unsupported_error(list(missing.values()), ctx.target, ctx.layers, ctx.options.get("model_path"))
        err.pass_name = "legalize"  # the message is complete as it is: the pass manager adds no context
        raise err
    return result


def _legalize(graph: Graph, ctx: PassContext, result: PassResult,
              missing: dict[tuple[str, str, int], UnsupportedOp], overrides: dict[str, list[str]]) -> None:
    for op in graph.walk("post"):
        ctx.focus(op)
        _legalize_op(op, ctx, result, missing, overrides)


def _legalize_op(op: Op, ctx: PassContext, result: PassResult,
                 missing: dict[tuple[str, str, int], UnsupportedOp], overrides: dict[str, list[str]]) -> None:
    entry = ctx.layers.lookup(op.domain, op.op_type, op.opset) if ctx.layers is not None else None
    if entry is not None:
        if op.layer is not None and op.layer.entry is entry:
            return
        builtin = _builtin(ctx, op)
        op.layer = bind_layer(op, entry, override=builtin is not None)
        result.count("bound")
        if builtin is not None:
            result.count("overrides")
            overrides.setdefault(entry.display_name, [builtin]).append(op.name)
        return
    if op.layer is not None:  # bound by an earlier run against another registry
        op.layer = None
        result.count("unbound")
    if ctx.target is None or _native(ctx, op):
        return
    key = (op.domain, op.op_type, op.opset)
    missing.setdefault(key, UnsupportedOp(*key)).ops.append(op)


def _native(ctx: PassContext, op: Op) -> bool:
    return ctx.target is not None and bool(ctx.target.supports(op))


def _builtin(ctx: PassContext, op: Op) -> str | None:
    """What a layer bound to ``op`` overrides: the target's kernel, or the frontend's built-in
    mapping of a framework op (a Caffe Crop imported for a registered caffe::Crop layer)."""
    if ctx.target is None:
        return None
    if OVERRIDDEN_MAPPING in op.metadata:
        return f"graphc's built-in import of {op.metadata[OVERRIDDEN_MAPPING]} (as {op.qualified_type})"
    return f"the target's built-in {op.qualified_type}" if _native(ctx, op) else None
