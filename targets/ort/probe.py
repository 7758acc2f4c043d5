"""Ask onnxruntime whether it builds a session for one node, and find the nodes it refuses.

onnxruntime's kernel registry says which (op, opset, types) it has kernels for, but a
kernel can still refuse a node when the session is created: an attribute value it does
not implement (RNN/GRU/LSTM ``layout=1``), a type combination the registry entry lists
but the kernel lacks (QuantizeLinear-28 with int4), a locale the machine lacks
(StringNormalizer). The message names the node only sometimes. :func:`refused_nodes`
reads the name from the message when there is one and otherwise asks a
:class:`SessionProbe`, which builds one tiny single-node session per node signature
and remembers the answer.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable

import onnx
from onnx import helper

from .protos import graphs_of, initializers_of

__all__ = ["SessionProbe", "refused_nodes", "named_in"]

_NAME_PATTERNS = (
    re.compile(r"node with name '([^']+)'"),
    re.compile(r"\(node:'([^']+)'"),
    re.compile(r"Node \(([^)]+)\) Op \("),
    re.compile(r"node\. Name:'([^']+)'"),
)


def named_in(message: str) -> list[str]:
    """Node names an onnxruntime error message mentions, in order."""
    names: list[str] = []
    for pattern in _NAME_PATTERNS:
        names.extend(n for n in pattern.findall(message) if n not in names)
    return names


class SessionProbe:
    """Whether onnxruntime creates a session for a single node; answers cached by signature.

    The signature is the one-node model itself with its value names normalized (op,
    domain, opset, attributes, input types and ranks, constant inputs), so two nodes
    that differ only in names share one probe. One probe object lives per target.
    """

    def __init__(self) -> None:
        self._answers: dict[str, str | None] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def refusal(self, model: onnx.ModelProto, node: onnx.NodeProto) -> str | None:
        """onnxruntime's message refusing ``node`` (of ``model``) alone, or None if it accepts it
        (or the node cannot be probed on its own: an input of unknown type, a subgraph)."""
        probe = _one_node_model(model, node)
        if probe is None:
            return None
        key = hashlib.sha256(probe.SerializeToString(deterministic=True)).hexdigest()
        if key not in self._answers:
            self._answers[key] = _session_error(probe)
        return self._answers[key]


def refused_nodes(model: onnx.ModelProto, message: str, candidates: Iterable[str],
                  probe: SessionProbe) -> dict[str, str]:
    """The candidate nodes of ``model`` that made onnxruntime refuse it: node name -> reason.

    A candidate the message names is taken at its word; otherwise each candidate node is
    probed alone.
    """
    candidates = set(candidates)
    named = [n for n in named_in(message) if n in candidates]
    if named:
        return {n: message.splitlines()[0][:300] for n in named}
    found: dict[str, str] = {}
    for node in (n for g in graphs_of(model.graph) for n in g.node):
        if node.name in candidates:
            why = probe.refusal(model, node)
            if why is not None:
                found[node.name] = why.splitlines()[0][:300]
    return found


def _types(graph: onnx.GraphProto) -> dict[str, onnx.TypeProto]:
    known: dict[str, onnx.TypeProto] = {}
    for g in graphs_of(graph):
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            if vi.type.WhichOneof("value") is not None:
                known[vi.name] = vi.type
    return known


def _one_node_model(model: onnx.ModelProto, node: onnx.NodeProto) -> onnx.ModelProto | None:
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
        return None
    graph = model.graph
    known = _types(graph)
    inits = initializers_of(graph)
    inputs, initializers, names = [], [], []
    for i, name in enumerate(node.input):
        if not name:
            names.append("")
            continue
        alias = f"in{i}"
        names.append(alias)
        if name in inits:
            t = onnx.TensorProto()
            t.CopyFrom(inits[name])
            t.name = alias
            initializers.append(t)
        elif name in known:
            inputs.append(helper.make_value_info(alias, known[name]))
        else:
            return None
    outputs = []
    for i, name in enumerate(node.output):
        if not name:
            continue
        tp = onnx.TypeProto()
        if name in known:
            tp.CopyFrom(known[name])
            if tp.HasField("tensor_type"):
                tp.tensor_type.ClearField("shape")
        outputs.append(helper.make_value_info(f"out{i}", tp))
    one = onnx.NodeProto()
    one.CopyFrom(node)
    one.name = "probe"
    del one.input[:]
    one.input.extend(names)
    del one.output[:]
    one.output.extend(f"out{i}" if n else "" for i, n in enumerate(node.output))
    g = helper.make_graph([one], "probe", inputs, outputs, initializer=initializers)
    return helper.make_model(g, opset_imports=list(model.opset_import), ir_version=model.ir_version)


def _session_error(model: onnx.ModelProto) -> str | None:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
    try:
        ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - the refusal is the answer
        return str(e).strip() or type(e).__name__
    return None
