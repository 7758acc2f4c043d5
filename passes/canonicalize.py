"""canonicalize: Constant ops become constant values, Identity ops go, every op gets a name."""

from __future__ import annotations

import logging

import numpy as np

from graphc.ir import Graph, Op
from graphc.passinfra import PassContext, PassResult, graph_pass

__all__ = ["canonicalize", "constant_op_value"]
logger = logging.getLogger(__name__)


@graph_pass("canonicalize", "Constant ops -> constant values, drop Identity, name every op",
            establishes=("canonical",))
def canonicalize(graph: Graph, ctx: PassContext) -> PassResult:
    """Rewrite, in every (sub)graph:

    1. ``y = Constant(value=...)``: y becomes a constant value and the op goes, unless y is
       a graph output (ONNX outputs may not be initializers), which keeps the op.
    2. ``y = Identity(x)`` with y not a graph output: readers of y read x; the op goes.
    3. ``y = Identity(x)`` with y a graph output and x an op's private result (not an
       input, constant or other output): x takes y's name; the op goes. Otherwise kept.
    4. Ops the source left unnamed keep their generated names from now on.
    """
    result = PassResult()
    _canonicalize(graph, ctx, result)
    return result


def _canonicalize(graph: Graph, ctx: PassContext, result: PassResult) -> None:
    for op in graph.walk("post"):
        ctx.focus(op)
        if op.anonymous:
            op.anonymous = False
            result.count("named")
        assert op.graph is not None  # walk() yields ops of a graph
        if op.domain == "" and op.op_type == "Constant":
            _fold_constant_op(op.graph, op, result)
        elif op.domain == "" and op.op_type == "Identity":
            _eliminate_identity(op.graph, op, result)


def constant_op_value(op: Op) -> np.ndarray | None:
    """The array a Constant op produces, or None if its attribute is not understood."""
    a = op.attrs
    if "value" in a:
        return np.asarray(a["value"])
    if "sparse_value" in a:
        return a["sparse_value"].to_dense()
    for key, dtype in (("value_float", np.float32), ("value_int", np.int64)):
        if key in a:
            return np.array(a[key], dtype=dtype)
    for key, dtype in (("value_floats", np.float32), ("value_ints", np.int64)):
        if key in a:
            return np.array(a[key], dtype=dtype).reshape(-1)
    if "value_string" in a:
        return np.array(a["value_string"], dtype=object)
    if "value_strings" in a:
        return np.array(a["value_strings"], dtype=object).reshape(-1)
    return None


def _fold_constant_op(graph: Graph, op: Op, result: PassResult) -> None:
    out = op.outputs[0]
    if graph.is_output(out):
        return  # case 1, kept: an output cannot be an initializer
    data = constant_op_value(op)
    if data is None:
        return
    graph.fold_to_constants(op, [data])
    result.count("constants")


def _eliminate_identity(graph: Graph, op: Op, result: PassResult) -> None:
    if not op.inputs or op.inputs[0] is None:
        return
    x, y = op.inputs[0], op.outputs[0]
    if not graph.is_output(y):
        graph.replace_all_uses(y, x)
        graph.remove_op(op)
        result.count("identity")
        return
    producer = x.producer() if x.graph is graph else None
    if producer is None or graph.is_output(x) or graph.is_input(x):
        return  # case 3 does not apply: x is an input, constant, outer value or another output
    name = y.name
    graph.replace_all_uses(y, x)
    graph.remove_op(op)
    graph.rename_value(x, name)
    result.count("identity")
