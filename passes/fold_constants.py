"""fold-constants: evaluate ops whose inputs are all constant; fold Shape/Size of static shapes."""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import numpy as np

from graphc import limits
from graphc.domains import is_onnx_domain
from graphc.evaluate import reference_evaluate
from graphc.ir import Graph, Op
from graphc.passinfra import PassContext, PassResult, graph_pass
from passes.infer_shapes import predicted_output_types

__all__ = ["fold_constants"]
logger = logging.getLogger(__name__)

#: ops whose result is not a function of their inputs
_NONDETERMINISTIC = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}


@graph_pass("fold-constants", "evaluate ops whose inputs are all constant",
            requires=("canonical",), establishes=("constants-folded",))
def fold_constants(graph: Graph, ctx: PassContext, *, max_elements: int = 1 << 26) -> PassResult:
    """Replace by constant values, in topological order, in the graph and in its subgraphs (If
    branches, Loop and Scan bodies; an op there reading only constants, its own or the outer
    graph's, folds like any other):

    1. a standard-domain op whose inputs are all constants (or omitted), with no
       subgraph, deterministic, and whose outputs hold at most ``max_elements`` each;
    2. ``Shape``/``Size`` of a value whose shape is fully static.
    Refuses (leaves the op) when evaluation raises: the target will report it at run.
    An op whose outputs ONNX shape inference predicts above ``max_elements`` or above
    ``ctx.options["memory_budget"]`` bytes (or, for ops that create data from shapes,
    cannot predict) is not evaluated at all, so folding never allocates past the budget;
    the planner then reports the budget with its figures.
    Graph outputs are never turned into constants.
    The evaluator is ``ctx.options["evaluate"]`` (the target's kernels) or onnx.reference.
    """
    evaluate: Callable[[Op, Sequence[Any]], list[Any]] = ctx.options.get("evaluate") or reference_evaluate
    budget = limits.memory_budget(ctx.options.get("memory_budget"))  # once per run: it reads the environment
    result = PassResult()
    for op in graph.walk("pre"):  # an outer constant folds before the subgraph ops reading it
        ctx.focus(op)
        owner = op.graph
        assert owner is not None  # walk() yields ops of a graph
        if any(owner.is_output(v) for v in op.outputs):
            continue
        values = _static_shape_result(op) if op.op_type in ("Shape", "Size") and op.domain == "" else None
        if values is None and _foldable(op):
            if _may_exceed(op, max_elements, budget):
                result.stats["not-folded:too-large"] = result.stats.get("not-folded:too-large", 0) + 1
                continue
            try:
                values = evaluate(op, [None if v is None else v.const for v in op.inputs])
            except Exception as e:  # noqa: BLE001 - leave it to run time, where errors are reported
                logger.debug("not folding %s (%s): %s", op.name, op.op_type, e)
                continue
        if values is None or len(values) != len(op.outputs):
            continue
        if any(not isinstance(x, np.ndarray) and not np.isscalar(x) for x in values):
            continue
        values = [np.asarray(x) for x in values]
        if any(x.size > max_elements for x in values):
            continue
        owner.fold_to_constants(op, values)
        result.count("folded")
        result.count(f"folded:{op.op_type}")
    if result.changed:
        for op in graph.walk("post"):
            if op.has_subgraphs:
                assert op.graph is not None
                op.graph.refresh_captures(op)  # a subgraph may no longer read an outer value
    return result


#: ops whose output size is set by input *values* (shapes, repeats, pads): never folded blind
_SIZE_FROM_DATA = {"ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad", "OneHot", "EyeLike",
                   "Reshape", "CenterCropPad", "Col2Im"}


def _may_exceed(op: Op, max_elements: int, budget: int) -> bool:
    """True unless shape inference shows every output fits ``max_elements`` and the budget."""
    predicted = predicted_output_types(op)
    for i, v in enumerate(op.outputs):
        t = predicted[i] if predicted is not None and i < len(predicted) else None
        if t is None or not t.is_static:
            if op.op_type in _SIZE_FROM_DATA:
                return True
            continue
        elements = int(np.prod(t.static_shape, dtype=np.int64))
        itemsize = np.dtype(t.dtype).itemsize if t.dtype is not None else 8
        if elements > max_elements or elements * itemsize > budget:
            return True
    return False


def _foldable(op: Op) -> bool:
    if not is_onnx_domain(op.domain) or op.op_type in _NONDETERMINISTIC or op.layer is not None:
        return False
    if any(True for _ in op.subgraphs()):
        return False
    present = [v for v in op.inputs if v is not None]
    return bool(present) and all(v.const is not None for v in present) or (not present and op.op_type in ("ConstantOfShape", "Range", "EyeLike"))


def _static_shape_result(op: Op) -> list[np.ndarray] | None:
    x = op.inputs[0] if op.inputs else None
    if x is None or not x.type.is_static:
        return None
    shape = np.array(x.type.shape, dtype=np.int64)
    if op.op_type == "Size":
        return [np.array(int(np.prod(shape)), dtype=np.int64)]
    rank = len(shape)
    start = op.attrs.get("start", 0)
    end = op.attrs.get("end", rank)
    start = max(0, min(rank, start + rank if start < 0 else start))
    end = max(0, min(rank, end + rank if end < 0 else end))
    return [shape[start:end]]
