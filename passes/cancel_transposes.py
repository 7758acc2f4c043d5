"""cancel-transposes: sink Transposes through element-wise ops so inverse pairs meet and cancel.

The Keras and TensorFlow frontends wrap each NCHW op (Conv, pools, ...) of an NHWC model in
Transposes, so the element-wise ops between two convs run in NHWC between a Transpose to NHWC and
one back. This pass moves a Transpose below the element-wise op it feeds (the op then runs in the
Transpose's input layout) until it meets its inverse, and removes the pair.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from graphc.ir import Graph, Op, TensorType, Value
from graphc.passinfra import PassContext, PassResult, graph_pass

__all__ = ["cancel_transposes", "UNARY", "BINARY"]

#: element-wise ops of one tensor (extra inputs, as Clip's bounds, must be scalars)
UNARY = frozenset({"Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu",
                   "Softplus", "Softsign", "Clip", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor",
                   "Ceil", "Round", "Erf", "Sin", "Cos", "Identity", "Cast", "Not", "Sign", "Mish", "Gelu",
                   "ThresholdedRelu", "Shrink"})
#: element-wise ops of two broadcast tensors
BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater",
                    "And", "Or", "Xor", "Mod"})

_MAX_ROUNDS = 64


@graph_pass("cancel-transposes", "sink Transposes through element-wise ops; remove Transpose pairs that cancel",
            uses=("shapes-known",))
def cancel_transposes(graph: Graph, ctx: PassContext) -> PassResult:
    """In the main graph, repeat until nothing changes:

    1. ``Transpose(q)(Transpose(p)(x))`` becomes ``x`` when the permutations compose to the
       identity, else one ``Transpose(p∘q)(x)``;
    2. an element-wise op reading a Transpose(p) read by nothing else runs on the Transpose's
       input instead, and one Transpose(p) follows it: for unary ops (scalar extra inputs), for
       binary ops whose other input is a constant that does not widen the output (reshaped to
       the output rank and permuted by the inverse of p) or another such Transpose with the same p.

    The value an op wrote keeps its name and layout (a graph output stays what it was); ops
    inside subgraphs are left alone.
    """
    result = PassResult()
    for _ in range(_MAX_ROUNDS):
        changed = False
        for op in graph.topological_order():
            if op.graph is not graph:
                continue  # removed earlier in this round
            ctx.focus(op)
            if op.op_type == "Transpose" and op.domain == "" and _cancel(graph, op, result):
                changed = True
            elif op.domain == "" and (op.op_type in UNARY or op.op_type in BINARY) and _sink(graph, op, result):
                changed = True
        if not changed:
            break
    return result


class _Transposed(NamedTuple):
    """A value written by a plain Transpose: the Transpose, its permutation and its input."""

    op: Op
    perm: list[int]
    source: Value


def _perm(op: Op) -> list[int] | None:
    """The Transpose's permutation, or None when its rank is unknown (no perm, unknown input rank)."""
    perm = op.attrs.get("perm")
    if perm is not None:
        return [int(p) for p in perm]
    rank = op.inputs[0].type.rank if op.inputs and op.inputs[0] is not None else None
    return None if rank is None else list(range(rank - 1, -1, -1))


def _transposed(v: Value | None) -> _Transposed | None:
    """How ``v`` is a Transpose of another value (a plain Transpose, known permutation), or None."""
    op = v.producer() if v is not None else None
    if op is None or op.op_type != "Transpose" or op.domain != "" or not op.inputs or op.inputs[0] is None:
        return None
    perm = _perm(op)
    return None if perm is None else _Transposed(op, perm, op.inputs[0])


def _only_reader(v: Value | None, op: Op) -> bool:
    """``op`` reads ``v`` and nothing else does (no other op, subgraph or graph output)."""
    return (v is not None and not v.is_graph_output() and not v.capturers()
            and all(user is op for user, _ in v.uses()))


def _drop_if_dead(graph: Graph, op: Op) -> None:
    """Remove ``op`` (and its input constants nobody else reads) once its outputs are unread."""
    if op.graph is not graph or any(v.is_used() for v in op.outputs):
        return
    inputs = [v for v in op.inputs if v is not None and v.graph is graph]
    graph.remove_op(op)
    for v in inputs:
        if v.is_const and not v.is_used() and not v.is_graph_input():
            graph.remove_value(v)


def _cancel(graph: Graph, op: Op, result: PassResult) -> bool:
    """Rule 1 on the Transpose ``op``."""
    first, q = _transposed(op.inputs[0]), _perm(op)
    if first is None or q is None or len(first.perm) != len(q):
        return False
    composed = [first.perm[i] for i in q]
    identity = composed == list(range(len(composed)))
    out = op.outputs[0]
    if identity and not out.is_graph_output():
        graph.replace_all_uses(out, first.source)
        graph.remove_op(op)
        result.count("pairs_cancelled")
    elif identity:  # a graph output: keep its name, an Identity writes it
        graph.detach_op(op)
        graph.add_op("Identity", [first.source], [out], name=op.name)
        result.count("pairs_cancelled")
    else:
        graph.set_input(op, 0, first.source)
        op.attrs["perm"] = composed
        result.count("transposes_merged")
    _drop_if_dead(graph, first.op)
    return True


def _sink(graph: Graph, op: Op, result: PassResult) -> bool:
    """Rule 2 on the element-wise ``op``."""
    if len(op.outputs) != 1 or op.has_subgraphs:
        return False
    planned = _unary_inputs(op) if op.op_type in UNARY else _binary_inputs(graph, op)
    if planned is None:
        return False
    perm, new_inputs, dropped = planned
    out = op.outputs[0]
    shape = out.type.shape
    inner_shape = tuple(shape[i] for i in np.argsort(perm)) if shape is not None else None
    attrs, kinds, name, old_inputs = dict(op.attrs), dict(op.attr_kinds), op.name, list(op.inputs)
    graph.detach_op(op)
    inner = graph.add_op(op.op_type, new_inputs, 1, attrs, name=name, attr_kinds=kinds)
    inner.outputs[0].type = TensorType(out.type.dtype, inner_shape)
    graph.add_op("Transpose", [inner.outputs[0]], [out], {"perm": list(perm)}, name=f"{name}_transpose")
    for t in dropped:
        _drop_if_dead(graph, t)
    for v in old_inputs:  # a constant replaced by its permuted copy
        if v is not None and v.graph is graph and v.is_const and not v.is_used() and not v.is_graph_input():
            graph.remove_value(v)
    result.count("transposes_sunk")
    return True


_Plan = tuple[list[int], list["Value | None"], list[Op]]


def _unary_inputs(op: Op) -> _Plan | None:
    """(perm, the op's new inputs, the Transposes it stops reading) for a unary op, or None."""
    t = _transposed(op.inputs[0]) if op.inputs else None
    if t is None or not _only_reader(op.inputs[0], op) or not all(_scalar(v) for v in op.inputs[1:]):
        return None
    return t.perm, [t.source, *op.inputs[1:]], [t.op]


def _binary_inputs(graph: Graph, op: Op) -> _Plan | None:
    """(perm, the op's new inputs, the Transposes it stops reading) for a binary op, or None."""
    if len(op.inputs) != 2:
        return None
    a, b = op.inputs
    ta, tb = _transposed(a), _transposed(b)
    ta = ta if ta is not None and (_only_reader(a, op) or a is b) else None
    tb = tb if tb is not None and (_only_reader(b, op) or a is b) else None
    if ta is not None and tb is not None:
        return (ta.perm, [ta.source, tb.source], [ta.op, tb.op]) if ta.perm == tb.perm else None
    for t, other, slot in ((ta, b, 0), (tb, a, 1)):
        if t is None or other is None or other.const is None:
            continue
        read = a if slot == 0 else b
        array, shape = other.const, read.shape if read is not None else None
        if array.ndim > len(t.perm) or shape is None or any(
                n != 1 and d != n for d, n in zip(shape[len(shape) - array.ndim:], array.shape)):
            return None  # the constant would widen the output: the Transpose would move onto a larger tensor
        full = array.reshape((1,) * (len(t.perm) - array.ndim) + array.shape)
        moved = graph.add_constant(np.ascontiguousarray(full.transpose(np.argsort(t.perm))), f"{other.name}_transposed")
        inputs: list[Value | None] = [t.source, moved] if slot == 0 else [moved, t.source]
        return t.perm, inputs, [t.op]
    return None


def _scalar(v: Value | None) -> bool:
    """An omitted input or a one-element constant (Clip's bounds)."""
    return v is None or (v.const is not None and v.const.size == 1)
