"""A model's vital statistics: inputs/outputs, opsets, op histogram, parameters, untyped ops."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .domains import display_domain
from .ir import Graph

__all__ = ["summarize", "human_bytes"]


def summarize(graph: Graph) -> dict[str, Any]:
    """JSON-ready facts about ``graph`` as loaded (run ``infer-shapes`` first to fill ``untyped``).

    Keys: ``inputs``/``outputs`` (name -> type text; initializers listed as inputs by old
    IR versions are counted as parameters instead), ``opsets``, ``op_types`` (histogram,
    most frequent first), ``parameters`` and ``parameter_bytes`` (constant elements and
    bytes), ``untyped`` (ops with an output whose element type or rank is unknown).
    """
    consts = graph.constants()
    runtime_inputs = [v for v in graph.inputs if v.const is None]
    histogram = Counter(op.qualified_type for op in graph)
    untyped = [
        {"node": op.name, "op_type": op.qualified_type,
         "outputs": [v.name for v in op.outputs if v.type.dtype is None or v.type.shape is None]}
        for op in graph.topological_order()
        if any(v.type.dtype is None or v.type.shape is None for v in op.outputs)
    ]
    model = graph.model
    return {
        "inputs": {v.name: str(v.type) for v in runtime_inputs},
        "outputs": {v.name: str(v.type) for v in graph.outputs},
        "opsets": {display_domain(d): n for d, n in sorted((model.opset_imports if model else {}).items())},
        "ir_version": model.ir_version if model else None,
        "ops": len(graph),
        "op_types": dict(histogram.most_common()),
        "parameters": int(sum(v.const.size for v in consts if v.const is not None)),
        "parameter_bytes": int(sum(v.const.nbytes for v in consts if v.const is not None)),
        "untyped": untyped,
    }


def human_bytes(n: int) -> str:
    """A byte count a reader takes in at a glance: 512 bytes, 12.5 KiB, 3.75 MiB, 1.2 GiB."""
    if n < 1024:
        return f"{n} bytes"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}" if n < 100 * size else f"{n / size:.0f} {unit}"
    return f"{n} bytes"
