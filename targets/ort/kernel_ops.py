"""graphc's own implementations of ops onnxruntime lacks, run inside onnxruntime as Python ops.

Two sources, in order: graphc's native numpy kernels (``targets.numpy.kernels.KERNELS``)
and the numpy target's declared fallback, ``onnx.reference`` (``targets.numpy.fallback``).
Both are graphc's own code, so a bundle that uses them loads without naming any
module. A node is described by plain data (:class:`KernelNode`) so the same call is
rebuilt from a bundle's manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import onnx
from onnx import helper

from graphc.attributes import encode_attribute
from graphc.limits import current_budget
from graphc.predicted_sizes import SizeCache

__all__ = ["KernelNode", "kernel_source", "kernel_call", "NUMPY_KERNEL", "ONNX_REFERENCE"]

NUMPY_KERNEL = "numpy-kernel"
ONNX_REFERENCE = "onnx-reference"


@dataclass
class KernelNode:
    """One standard-op node graphc runs itself: what the Python op needs to rebuild the call."""

    name: str
    op_type: str
    domain: str
    opset: int
    attrs: dict[str, Any]
    attr_kinds: dict[str, int] = field(default_factory=dict)
    n_outputs: int = 1


def kernel_source(domain: str, op_type: str, opset: int) -> str | None:
    """Which of graphc's implementations runs ``domain::op_type`` at ``opset``, or None."""
    from targets.numpy.fallback import has_fallback
    from targets.numpy.kernels import KERNELS

    if KERNELS.lookup(domain, op_type, opset) is not None:
        return NUMPY_KERNEL
    if has_fallback(domain, op_type):
        return ONNX_REFERENCE
    return None


def kernel_call(node: KernelNode, source: str) -> Callable[[Sequence[np.ndarray | None]], tuple[Any, ...]]:
    """A function of the node's inputs in original slot order (None for omitted) -> its outputs."""
    if source == NUMPY_KERNEL:
        return _numpy_call(node)
    if source == ONNX_REFERENCE:
        return _reference_call(node)
    raise ValueError(f"unknown kernel source {source!r}")


def _numpy_call(node: KernelNode) -> Callable[[Sequence[np.ndarray | None]], tuple[Any, ...]]:
    from targets.numpy.kernels import KERNELS, OpContext

    spec = KERNELS.lookup(node.domain, node.op_type, node.opset)
    if spec is None:
        raise LookupError(f"no numpy kernel for {node.op_type} at opset {node.opset}")
    fn = spec.fn

    def call(args: Sequence[np.ndarray | None]) -> tuple[Any, ...]:
        ctx = OpContext(node.name, node.op_type, node.attrs, node.opset, node.domain, outs=[None] * node.n_outputs)
        with np.errstate(all="ignore"):
            res = fn(ctx, *args)
        return tuple(res) if isinstance(res, (tuple, list)) else (res,)

    return call


def _check_predicted(node: KernelNode, sizes: SizeCache, feeds: dict[str, np.ndarray]) -> None:
    """PlanError before onnx.reference runs when an output ONNX shape inference predicts from ``feeds`` is over
    the run's memory budget (with the values of run-time size alive), as the numpy target's fallback does."""
    budget = current_budget()
    for name, (shape, nbytes) in sizes.sizes(feeds).items():
        if nbytes > 1 << 20:
            budget.check_allocation(node.name, node.op_type, shape, nbytes,
                                    what=f"output {name[3:]} (predicted before onnx.reference runs)")


def _reference_call(node: KernelNode) -> Callable[[Sequence[np.ndarray | None]], tuple[Any, ...]]:
    from onnx.reference import ReferenceEvaluator

    attrs = [encode_attribute(k, v, node.attr_kinds.get(k)) for k, v in node.attrs.items()]
    outputs = [f"out{i}" for i in range(node.n_outputs)]
    state: dict[int, tuple[Any, list[str], SizeCache]] = {}

    def evaluator(n_inputs: int, present: tuple[bool, ...]) -> tuple[Any, list[str]]:
        key = hash(present)
        if key not in state:
            names = [f"in{i}" if p else "" for i, p in enumerate(present)]
            proto = helper.make_node(node.op_type, names, outputs, domain=node.domain or None)
            proto.attribute.extend(attrs)
            graph = helper.make_graph([proto], f"ref_{node.name}", [onnx.ValueInfoProto(name=n) for n in names if n],
                                      [onnx.ValueInfoProto(name=o) for o in outputs])
            opsets = [helper.make_opsetid(node.domain, node.opset)]
            if node.domain:
                opsets.append(helper.make_opsetid("", onnx.defs.onnx_opset_version()))
            model = helper.make_model(graph, opset_imports=opsets)
            state[key] = (ReferenceEvaluator(model), [n for n in names if n], SizeCache(model))
        return state[key][:2]

    def call(args: Sequence[np.ndarray | None]) -> tuple[Any, ...]:
        present = tuple(a is not None for a in args)
        ev, names = evaluator(len(args), present)
        feeds = dict(zip(names, [a for a in args if a is not None]))
        _check_predicted(node, state[hash(present)][2], feeds)
        with np.errstate(all="ignore"):
            got = ev.run(None, feeds)
        return tuple(np.asarray(g) if np.isscalar(g) else g for g in got)

    return call
