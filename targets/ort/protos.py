"""Walking ONNX protos: every graph nested in a model's node attributes."""

from __future__ import annotations

from typing import Iterator

import onnx

__all__ = ["graphs_of", "graphs_of_node", "initializers_of"]


def graphs_of(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """``graph`` and every graph nested in its nodes' attributes (If/Loop/Scan bodies), outer first."""
    yield graph
    for node in graph.node:
        for sub in graphs_of_node(node):
            yield from graphs_of(sub)


def graphs_of_node(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The graphs held directly by ``node``'s attributes."""
    subs: list[onnx.GraphProto] = []
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            subs.append(a.g)
        elif a.type == onnx.AttributeProto.GRAPHS:
            subs.extend(a.graphs)
    return subs


def initializers_of(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    """Initializers by name, of ``graph`` and its nested graphs (an inner one shadows an outer one)."""
    return {t.name: t for g in graphs_of(graph) for t in g.initializer}
