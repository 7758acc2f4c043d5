"""The ort target's memory budget: the numpy target's ``memory_budget`` (``GRAPHC_MEMORY_BUDGET``,
default half the memory; :mod:`graphc.limits`) applied to what graphc can see of an onnxruntime run.

* at compile, :func:`check_compile_budget`: the planner's sizes (:func:`graphc.planning.plan_graph`)
  of the graph's statically known values; one value over the budget, or the values alive at once
  (the liveness lower bound, no in-place reuse counted) plus the graph outputs over it, is a PlanError;
* at run, :class:`RunSizes`: when an input has a free dimension or is an integer tensor (a shape
  given as data), ONNX shape inference with the feeds
  (:mod:`graphc.predicted_sizes`) sizes the values it can before onnxruntime runs, and the same two
  checks apply over the model's node order;
* after the run, :func:`check_outputs`: what onnxruntime returned (it allocates its outputs itself,
  so this check comes after the fact; it keeps an over-budget result from the caller).

onnxruntime's own workspace (kernel scratch, its arena's slack) is not counted: its arena limit
(``OrtArenaCfg.max_mem``) exists only for an allocator shared through the process-wide environment
(``create_and_register_allocator`` + ``session.use_env_allocators``), registered once per process, so it
cannot carry one artifact's budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import onnx

from graphc.errors import PlanError
from graphc.limits import RunBudget, memory_budget
from graphc.predicted_sizes import SizeCache

if TYPE_CHECKING:
    from graphc.ir import Graph

__all__ = ["check_compile_budget", "RunSizes", "check_outputs"]

_ADVICE = "raise memory_budget (GRAPHC_MEMORY_BUDGET) or reduce the input"
#: outputs up to this many bytes in all are not checked after a run
_UNCHECKED = 1 << 20


def check_compile_budget(graph: Graph, budget: int | None) -> None:
    """PlanError when a statically sized value of ``graph``, or the values alive at once plus the graph
    outputs, exceed ``budget`` bytes (None: the default budget)."""
    from graphc.planning import plan_graph

    limit = memory_budget(budget)
    plan = plan_graph(graph)
    if plan.largest_tensor_bytes > limit:
        raise PlanError(f"a single tensor {plan.largest_tensor} needs {plan.largest_tensor_bytes} bytes, over the "
                        f"memory budget of {limit} bytes (ort target); {_ADVICE}")
    if plan.lower_bound_bytes + plan.output_bytes > limit:
        raise PlanError(f"values alive at once need {plan.lower_bound_bytes} bytes and the graph outputs "
                        f"{plan.output_bytes} more, over the memory budget of {limit} bytes (ort target, counting "
                        f"no in-place reuse); {_ADVICE}")


class RunSizes:
    """The run-time check of one onnxruntime model: a no-op when every graph input is of fixed shape and
    none is an integer tensor (then the compile checked the sizes)."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.dynamic = any(_free(vi) or _integer(vi) for vi in model.graph.input)
        self._cache = SizeCache(model) if self.dynamic else None
        nodes = list(model.graph.node)
        self._producer = {o: (i, n) for i, n in enumerate(nodes) for o in n.output if o}
        outputs = {o.name for o in model.graph.output}
        #: value -> index of its last reader (graph outputs: past the last node)
        self._end: dict[str, int] = {name: len(nodes) for name in outputs}
        if self.dynamic:
            for i, n in enumerate(nodes):
                for name in list(n.input) + _captured(n):
                    if name and name not in outputs:
                        self._end[name] = i  # nodes in order: the last reader wins
        self._n = len(nodes)

    def check(self, feeds: Mapping[str, Any], run: RunBudget) -> None:
        """PlanError before the run when a predicted value, or the predicted values alive at one node,
        exceed the ``run``'s memory budget."""
        if self._cache is None:
            return
        sizes = self._cache.sizes(feeds)
        if not sizes:
            return
        budget = run.memory
        delta = [0] * (self._n + 2)
        for name, (shape, nbytes) in sizes.items():
            if name not in self._producer:
                continue
            i, node = self._producer[name]
            if nbytes > budget:
                raise PlanError(f"{node.op_type} node {node.name!r}: its output {name!r} of shape {list(shape)} "
                                f"will need {nbytes} bytes (predicted from the feeds), over the memory budget of "
                                f"{budget} bytes; {_ADVICE}")
            delta[i] += nbytes
            delta[max(i, self._end.get(name, i)) + 1] -= nbytes
        live = 0
        for step, d in enumerate(delta[:self._n + 1]):
            live += d
            if live > budget:
                at = self.model.graph.node[min(step, self._n - 1)]
                raise PlanError(f"{at.op_type} node {at.name!r}: the values alive there will need {live} bytes "
                                f"(predicted from the feeds), over the memory budget of {budget} bytes; {_ADVICE}")


def check_outputs(names: list[str], outputs: list[Any], run: RunBudget) -> None:
    """PlanError when what onnxruntime returned is over the ``run``'s memory budget, one output or all
    together (outputs of 1 MiB or less in all are not checked: the budget is not even read)."""
    sizes = [a.nbytes if isinstance(a, np.ndarray) else 0 for a in outputs]
    if sum(sizes) <= _UNCHECKED:
        return
    budget = run.memory
    total = 0
    for name, a, n in zip(names, outputs, sizes):
        total += n
        if n > budget:
            raise PlanError(f"output {name!r} of shape {list(a.shape)} is {n} bytes, over the memory budget of "
                            f"{budget} bytes (checked after onnxruntime ran: it allocates its outputs); {_ADVICE}")
    if total > budget:
        raise PlanError(f"the outputs are {total} bytes together, over the memory budget of {budget} bytes "
                        f"(checked after onnxruntime ran); {_ADVICE}")


def _free(vi: onnx.ValueInfoProto) -> bool:
    """True when input ``vi`` is a tensor with a dimension not fixed (or no shape at all)."""
    if not vi.type.HasField("tensor_type"):
        return False
    t = vi.type.tensor_type
    return not t.HasField("shape") or any(not d.HasField("dim_value") for d in t.shape.dim)


def _integer(vi: onnx.ValueInfoProto) -> bool:
    """True when input ``vi`` is an integer tensor (it may give a shape as data: Expand's, Reshape's)."""
    if not vi.type.HasField("tensor_type"):
        return False
    return vi.type.tensor_type.elem_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32)


def _captured(node: onnx.NodeProto) -> list[str]:
    """Names a node's subgraphs read (conservatively: every input of every node in them)."""
    names: list[str] = []
    for attr in node.attribute:
        for g in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)):
            for n in g.node:
                names.extend(n.input)
                names.extend(_captured(n))
    return names
