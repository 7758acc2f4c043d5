"""lower-opset: re-stamp a model at an older ai.onnx opset / IR version when its ops allow it."""

from __future__ import annotations

import logging

import onnx

from graphc.errors import UnsupportedOpError
from graphc.ir import Graph
from graphc.passinfra import PassContext, PassResult, graph_pass

__all__ = ["lower_opset", "changed_since"]
logger = logging.getLogger(__name__)


@graph_pass("lower-opset", "re-stamp the model at opset N / IR version M when no op changed since N")
def lower_opset(graph: Graph, ctx: PassContext, *, opset: int = 0, ir: int = 0) -> PassResult:
    """Lower the model to ai.onnx ``opset`` and IR version ``ir`` (0: leave as is).

    1. The model imports ai.onnx at or below ``opset``: nothing to do.
    2. Every ai.onnx op (in every subgraph) has the same schema at ``opset`` as at the
       model's opset (``get_schema(op, max_inclusive_version=v).since_version`` is at
       most ``opset``): the opset import is re-stamped; the ops are untouched.
    3. Some ai.onnx op's schema changed after ``opset`` (ops already bound to a custom
       layer and custom-domain ops do not count): refused with an UnsupportedOpError
       listing each such op type, the version its schema changed in and its node
       names, so the user re-exports at ``opset`` or upgrades the runtime.
    4. ``ir_version`` above ``ir`` is re-stamped to ``ir``.
    """
    result = PassResult()
    model = graph.root.model
    if model is None:
        return result
    current = model.opset_imports.get("", 0)
    if opset and current > opset:
        changed = changed_since(graph, current, opset)
        if changed:
            lines = [f"  {op_type} (changed in opset {since}): nodes {', '.join(names[:5])}"
                     + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                     for (op_type, since), names in sorted(changed.items())]
            raise UnsupportedOpError(
                f"the model uses ai.onnx opset {current} but the target accepts at most {opset}, and these ops "
                f"changed after opset {opset}:\n" + "\n".join(lines)
                + f"\nRe-export the model at opset {opset}, or install a runtime that accepts opset {current}.")
        model.opset_imports[""] = opset
        result.count("opset-restamped")
        logger.info("re-stamped ai.onnx opset %d -> %d (no op changed in between)", current, opset)
    if ir and model.ir_version > ir:
        model.ir_version = ir
        result.count("ir-restamped")
    return result


def changed_since(graph: Graph, current: int, target: int) -> dict[tuple[str, int], list[str]]:
    """ai.onnx ops whose schema at ``current`` was introduced after ``target``: (op, since) -> node names."""
    changed: dict[tuple[str, int], list[str]] = {}
    for op in graph.walk():
        if op.domain != "" or op.layer is not None:
            continue
        try:
            since = onnx.defs.get_schema(op.op_type, max_inclusive_version=current).since_version
        except onnx.defs.SchemaError:
            continue  # unknown to onnx: legalize reports it
        if since > target:
            changed.setdefault((op.op_type, since), []).append(op.name)
    return changed
