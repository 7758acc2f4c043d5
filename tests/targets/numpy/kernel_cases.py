"""Running one single-node ONNX node-suite case straight through its numpy kernel."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np
import onnx
import pytest

from graphc.attributes import decode_attribute
from targets.numpy.kernels import KERNELS, OpContext
from tests.node_cases import NodeCase, node_cases, outputs_match

__all__ = ["opset_of", "single_node_cases", "check_kernel_on_case"]


def opset_of(model: onnx.ModelProto, domain: str) -> int:
    """The opset ``model`` imports for ``domain`` (1 when absent)."""
    for o in model.opset_import:
        if o.domain in (domain, "ai.onnx" if domain == "" else domain):
            return o.version
    return 1


def single_node_cases(op_types: Iterable[str]) -> list[Any]:
    """pytest params of the suite's single-node tensor cases whose op is in ``op_types``."""
    wanted = set(op_types)
    return [pytest.param(c, id=c.name) for c in node_cases()
            if len(c.model.graph.node) == 1 and c.tensor_only and c.model.graph.node[0].op_type in wanted]


def check_kernel_on_case(case: NodeCase, subgraph_runner: Callable[..., Any] | None = None) -> None:
    """Run the case's node through its kernel; assert the outputs match and the inputs are untouched."""
    node = case.model.graph.node[0]
    opset = opset_of(case.model, node.domain)
    spec = KERNELS.lookup(node.domain, node.op_type, opset)
    assert spec is not None, f"no kernel for {node.op_type} at opset {opset}"
    attrs = {a.name: decode_attribute(a) for a in node.attribute}
    ctx = OpContext(node.name or case.name, node.op_type, attrs, opset, node.domain,
                    outs=[None] * len(node.output), subgraph_runner=subgraph_runner)
    feeds = dict(zip([i.name for i in case.model.graph.input], case.inputs))
    args = [feeds.get(n) if n else None for n in node.input]
    snapshot = [None if a is None else a.copy() for a in args]
    with np.errstate(all="ignore"):
        res = spec.fn(ctx, *args)
    res = list(res) if isinstance(res, (tuple, list)) else [res]
    res = [r for r, name in zip(res, node.output) if name]
    assert len(res) == len(case.outputs)
    for i, (e, a) in enumerate(zip(case.outputs, res)):
        why = outputs_match(e, a, case.rtol, case.atol)
        assert why is None, f"output {i}: {why}"
    for before, after in zip(snapshot, args):
        if before is not None:
            np.testing.assert_array_equal(before, after, err_msg="kernel mutated an input")
