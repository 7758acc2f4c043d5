"""inline-functions: replace calls of model-local functions (FunctionProto) by their bodies."""

from __future__ import annotations

from typing import Any

import onnx

from graphc.attributes import decode_attribute
from graphc.errors import ModelFormatError
from graphc.ir import Graph, Op, Value
from graphc.passinfra import PassContext, PassResult, graph_pass

__all__ = ["inline_functions"]

_MAX_DEPTH = 32


@graph_pass("inline-functions", "expand calls of model-local functions into their body ops",
            establishes=("functions-inlined",))
def inline_functions(graph: Graph, ctx: PassContext) -> PassResult:
    """For every op whose (domain, op_type) names a function of the model:

    1. the function body's nodes are added in its place, their values renamed
       ``<call op>/<name>`` so they cannot collide; formal inputs map to the call's
       actual inputs (an omitted one stays omitted), formal outputs to its outputs;
    2. attribute references (``ref_attr_name``) take the call's attribute value, or
       are dropped when the call does not set it (the schema default applies);
    3. calls inside the body are expanded the same way (depth capped at 32: a
       recursive function is a ModelFormatError).
    The functions stay in ModelInfo (exports keep them); calls in subgraphs are inlined too.
    """
    result = PassResult()
    model = graph.root.model
    if model is None or not model.functions:
        return result
    functions = {(f.domain, f.name): f for f in model.functions}
    _inline_in(graph, functions, ctx, result, 0)
    return result


def _inline_in(graph: Graph, functions: dict, ctx: PassContext, result: PassResult, depth: int) -> None:
    for op in graph.walk("post"):
        ctx.focus(op)
        fn = functions.get((op.domain, op.op_type))
        if fn is not None:
            if depth >= _MAX_DEPTH:
                raise ModelFormatError(f"function {op.domain}::{op.op_type} calls itself (through node {op.name!r})")
            assert op.graph is not None  # walk() yields ops of a graph
            _expand(op.graph, op, fn, functions, ctx, result, depth)
            result.count("inlined")


def _expand(graph: Graph, call: Op, fn: onnx.FunctionProto, functions: dict, ctx: PassContext,
            result: PassResult, depth: int) -> None:
    prefix = call.name
    env: dict[str, Value | None] = {}
    for i, name in enumerate(fn.input):
        env[name] = call.inputs[i] if i < len(call.inputs) else None
    out_names = dict(zip(fn.output, graph.detach_op(call)))
    created: list[Op] = []
    for node in fn.node:
        inputs = [env.get(n) if n else None for n in node.input]
        if any(n and n not in env for n in node.input):
            missing = [n for n in node.input if n and n not in env]
            raise ModelFormatError(f"function {fn.domain}::{fn.name}: node {node.name!r} reads undefined {missing}")
        outs: list[Any] = []
        for n in node.output:
            outs.append(out_names[n] if n in out_names else graph.add_value(graph.unique_name(f"{prefix}/{n or 'unused'}")))
        attrs, kinds = _bind_attributes(node, call, graph)
        new = graph.add_op(node.op_type, inputs, outs, attrs, domain=node.domain,
                           name=graph.unique_name(f"{prefix}/{node.name or node.op_type}", kind="op"), attr_kinds=kinds)
        new.provenance = [{"pass": "inline-functions", "replaced": [prefix]}]
        created.append(new)
        for n, v in zip(node.output, new.outputs):
            if n:
                env[n] = v
    for new in created:
        inner = functions.get((new.domain, new.op_type))
        if inner is not None:
            if depth + 1 >= _MAX_DEPTH:
                raise ModelFormatError(f"function {new.domain}::{new.op_type} calls itself (through {fn.name})")
            _expand(graph, new, inner, functions, ctx, result, depth + 1)


def _bind_attributes(node: onnx.NodeProto, call: Op, graph: Graph) -> tuple[dict[str, Any], dict[str, int]]:
    from graphc.frontends.onnx import graph_from_proto

    shell = Op(node.op_type, node.name)
    shell.graph = graph
    attrs: dict[str, Any] = {}
    kinds: dict[str, int] = {}
    for a in node.attribute:
        if a.ref_attr_name:
            if a.ref_attr_name in call.attrs:
                attrs[a.name] = call.attrs[a.ref_attr_name]
                kinds[a.name] = call.attr_kinds.get(a.ref_attr_name, a.type)
            continue
        attrs[a.name] = decode_attribute(a, lambda g: graph_from_proto(g, None, shell))
        kinds[a.name] = a.type
    return attrs, kinds
