"""Graph -> ONNX model for onnxruntime, plus the manifest entry of every custom op.

Standard ops onnxruntime runs stay ONNX (the exporter writes them). Every other op (in the
main graph, or in an If/Loop/Scan body of a node that stays ONNX) becomes one of, in order
of preference:

1. ``function``: a custom-layer node whose layer's ``to_onnx(builder)`` returns standard
   ops: a model-local FunctionProto in domain ``graphc.layers`` and a call to it
   (no Python at run time);
2. ``python-op``: a custom-layer node run by its layer's ``forward`` as an
   onnxruntime-extensions Python op (domain ``ai.onnx.contrib``, params as one JSON
   string attribute ``config``, blobs as initializer inputs);
3. ``numpy-kernel`` / ``onnx-reference``: a standard op onnxruntime lacks (or refuses, or
   computes unlike the spec: see ``targets/ort/target.py`` and ``deviations.py``), run the
   same way by graphc's own kernel; an op with self-contained subgraphs runs whole in
   ``onnx.reference``, its subgraphs in the manifest entry (``subgraphs``).
"""

from __future__ import annotations

import base64
import re
from typing import Any

import numpy as np
import onnx
from onnx import helper

from graphc.domains import is_onnx_domain
from graphc.errors import LayerError, UnsupportedOpError
from graphc.exporters.onnx import to_onnx
from graphc.ir import Graph, Op
from graphc.layers.serialize import encode_params
from graphc.layers.slots import split_inputs

from .function_builder import FUNCTION_DOMAIN, FunctionBuilder
from .kernel_ops import ONNX_REFERENCE, kernel_source
from .protos import graphs_of
from .pyops import CONTRIB_DOMAIN, py_type_ok

__all__ = ["lower_graph", "FUNCTION", "PYTHON_OP"]

FUNCTION = "function"
PYTHON_OP = "python-op"


def lower_graph(graph: Graph, native) -> tuple[onnx.ModelProto, list[dict[str, Any]], dict[str, type]]:
    """Export ``graph``; return (model, custom-op manifest entries, layer classes by import path).

    ``native(op) -> bool`` says whether onnxruntime runs a standard op itself. Ops inside
    the subgraphs (If/Loop/Scan bodies) of nodes that stay ONNX are lowered the same way
    as top-level ones: onnxruntime runs custom ops in subgraphs too.
    """
    model = to_onnx(graph)
    by_name: dict[str, list[onnx.NodeProto]] = {}
    for g in graphs_of(model.graph):
        for n in g.node:
            if n.name:
                by_name.setdefault(n.name, []).append(n)
    entries: list[dict[str, Any]] = []
    classes: dict[str, type] = {}
    used_domains = set()
    for op in _ops_to_lower(graph, native):
        nodes = by_name.get(op.name, [])
        if len(nodes) != 1:
            why = "an unnamed node; run canonicalize first" if not nodes else "a node whose name is not unique"
            raise UnsupportedOpError(f"node {op.name!r} ({op.qualified_type}): cannot lower {why}")
        node = nodes[0]
        if op.layer is not None:
            entry = _lower_layer(op, node, model)
            classes[op.layer.import_path] = op.layer.cls
        else:
            entry = _lower_kernel(op, node)
        entries.append(entry)
        used_domains.add(node.domain)
    _fix_opsets(model, used_domains)
    return model, entries, classes


def _stays_onnx(op: Op, native) -> bool:
    """True when ``op`` is exported as itself (onnxruntime runs it): a standard op, or one of
    onnxruntime's own ``com.microsoft`` contrib ops (ORT-optimized transformer models)."""
    return op.layer is None and (is_onnx_domain(op.domain) or op.domain in ("ai.onnx.ml", "com.microsoft")) and native(op)


def _ops_to_lower(graph: Graph, native):
    """Ops that are not plain ONNX for onnxruntime, in the main graph and in the subgraphs of ops
    that stay ONNX (an op lowered whole keeps its subgraphs inside it)."""
    for op in graph.topological_order():
        if not _stays_onnx(op, native):
            yield op
            continue
        for _, sub in op.subgraphs():
            yield from _ops_to_lower(sub, native)


def _slot_info(op: Op, node: onnx.NodeProto) -> tuple[dict[str, Any], list[np.ndarray]]:
    _, blobs, blob_slots = split_inputs(op)
    runtime_slots = [s for s in range(len(op.inputs)) if s not in set(blob_slots)]
    node_slots = [i for i, n in enumerate(node.input) if n]
    return {"node_slots": node_slots, "runtime_slots": runtime_slots, "blob_slots": list(blob_slots),
            "n_slots": len(node.input)}, blobs


def _dtypes(op: Op, node: onnx.NodeProto, blobs: list[np.ndarray], slots: dict[str, Any]) -> tuple[list, list, list]:
    """Input dtypes (node input order), output dtypes (names) and static output shapes."""
    by_slot: dict[int, np.dtype | None] = {}
    for s, b in zip(slots["blob_slots"], blobs):
        by_slot[s] = b.dtype
    runtime = [v for v in op.inputs if v is None or v.const is None]
    for s, v in zip(slots["runtime_slots"], runtime):
        if v is not None:
            by_slot[s] = v.type.dtype
    ins = [by_slot.get(s) for s in slots["node_slots"]]
    outs = [v.type.dtype for v in op.outputs]
    shapes = [list(v.type.static_shape) if v.type.is_static else None for v in op.outputs]
    where = f"node {op.name!r} ({op.qualified_type})"
    for kind, dts in (("input", ins), ("output", outs)):
        for i, dt in enumerate(dts):
            if dt is None:
                raise LayerError(f"{where}: the element type of {kind} {i} is unknown, so it cannot become an "
                                 "onnxruntime custom op; declare the type in the model or fix the layer's "
                                 "output_dtypes()")
            if not py_type_ok(dt):
                raise LayerError(f"{where}: {kind} {i} is {np.dtype(dt).name}, which onnxruntime-extensions "
                                 "cannot pass to Python; use the numpy target for this model")
    return ([_dtype_str(d) for d in ins if d is not None],  # (none is None: checked above)
            [_dtype_str(d) for d in outs if d is not None], shapes)


def _dtype_str(dt: np.dtype) -> str:
    return "object" if np.dtype(dt) == object else np.dtype(dt).name


def _lower_layer(op: Op, node: onnx.NodeProto, model: onnx.ModelProto) -> dict[str, Any]:
    binding = op.layer
    config = binding.config or encode_params(binding.params)
    slots, blobs = _slot_info(op, node)
    entry: dict[str, Any] = {
        "node": op.name, "source": {"op_type": op.op_type, "domain": op.domain, "opset": op.opset},
        "layer": binding.import_path, "params": config, "slots": slots,
    }
    fn = _try_function(op, node, model, blobs, slots, config)
    if fn is not None:
        entry.update(lowering=FUNCTION, op_type=fn, domain=FUNCTION_DOMAIN)
        return entry
    ins, outs, shapes = _dtypes(op, node, blobs, slots)
    entry.update(lowering=PYTHON_OP, op_type=op.op_type, domain=CONTRIB_DOMAIN,
                 input_dtypes=ins, output_dtypes=outs, output_shapes=shapes)
    _rewrite(node, op.op_type, CONTRIB_DOMAIN, config)
    return entry


def _try_function(op: Op, node: onnx.NodeProto, model: onnx.ModelProto, blobs: list[np.ndarray],
                  slots: dict[str, Any], config: str) -> str | None:
    cls = op.layer.cls
    if getattr(cls, "to_onnx", None) is None or cls.to_onnx is _base_to_onnx():
        return None
    runtime_names = [node.input[s] if s < len(node.input) else "" for s in slots["runtime_slots"]]
    if any(not n for n in runtime_names):
        return None  # a function cannot take an omitted input
    n_in, n_blob = len(runtime_names), len(slots["blob_slots"])
    opset = next((o.version for o in model.opset_import if is_onnx_domain(o.domain)), 21)
    builder = FunctionBuilder([f"x{i}" for i in range(n_in)], [f"blob{i}" for i in range(n_blob)], opset)
    try:
        layer = op.layer.build(blobs, slots["blob_slots"])
        outputs = layer.to_onnx(builder)
    except Exception as e:  # noqa: BLE001 - user code
        raise LayerError(f"node {op.name!r} ({op.qualified_type}), layer {op.layer.import_path}: to_onnx() "
                         f"failed: {type(e).__name__}: {e}") from e
    if outputs is None:
        return None
    outputs = [outputs] if isinstance(outputs, str) else list(outputs)
    if len(outputs) != len(node.output):
        raise LayerError(f"node {op.name!r} ({op.qualified_type}): to_onnx() returned {len(outputs)} outputs, "
                         f"the node has {len(node.output)}")
    name = re.sub(r"[^A-Za-z0-9_]", "_", f"{op.op_type}_{op.name}")
    function = builder.function(name, outputs, attributes=["config"])
    if _has_loop(function.node):
        raise LayerError(f"node {op.name!r} ({op.qualified_type}), layer {op.layer.import_path}: to_onnx() writes "
                         "a Loop; inside a model-local function onnxruntime would run it outside graphc's limit of "
                         "loop iterations per run (GRAPHC_MAX_LOOP_ITERATIONS): unroll it, or compute the value in "
                         "forward() (the layer then runs as a Python op)")
    model.functions.append(function)
    blob_names = [node.input[s] for s in slots["blob_slots"]]
    del node.input[:]
    node.input.extend(runtime_names + blob_names)
    _rewrite(node, name, FUNCTION_DOMAIN, config)
    return name


def _has_loop(nodes: Any) -> bool:
    """True when a Loop is among ``nodes`` or inside their subgraphs, at any depth."""
    for n in nodes:
        if n.op_type == "Loop" and is_onnx_domain(n.domain):
            return True
        for a in n.attribute:
            if any(_has_loop(g.node) for g in ([a.g] if a.HasField("g") else []) + list(a.graphs)):
                return True
    return False


def _base_to_onnx():
    from graphc.layers.base import Layer

    return Layer.to_onnx


def _lower_kernel(op: Op, node: onnx.NodeProto) -> dict[str, Any]:
    source = kernel_source(op.domain, op.op_type, op.opset)
    where = f"node {op.name!r} ({op.qualified_type}, opset {op.opset})"
    if source is None:
        raise UnsupportedOpError(f"{where}: neither onnxruntime nor graphc implements it; register a layer "
                                 "(`graphc scaffold`)")
    subgraphs = _self_contained_subgraphs(op, node, source, where)
    try:
        config = encode_params({k: v for k, v in op.attrs.items() if k not in subgraphs})
    except LayerError as e:
        raise UnsupportedOpError(f"{where}: its attributes cannot be serialized for a Python op ({e})") from e
    slots, blobs = _slot_info(op, node)
    ins, outs, shapes = _dtypes(op, node, blobs, slots)
    entry = {
        "node": op.name, "source": {"op_type": op.op_type, "domain": op.domain, "opset": op.opset},
        "lowering": source, "op_type": op.op_type, "domain": CONTRIB_DOMAIN, "params": config,
        "attr_kinds": {k: int(v) for k, v in op.attr_kinds.items()}, "slots": slots,
        "input_dtypes": ins, "output_dtypes": outs, "output_shapes": shapes,
    }
    if subgraphs:
        entry["subgraphs"] = subgraphs
    _rewrite(node, op.op_type, CONTRIB_DOMAIN, config)
    return entry


def _self_contained_subgraphs(op: Op, node: onnx.NodeProto, source: str, where: str) -> dict[str, str]:
    """Graph attributes of a node graphc runs as a Python op: name -> base64 GraphProto.

    Only ``onnx.reference`` runs a node with graph attributes on its own, and only when the
    subgraphs read nothing from the enclosing graph (FlexAttention's score_mod, ...).
    """
    if not op.has_subgraphs:
        return {}
    assert op.graph is not None  # an op being lowered is in the graph
    if source != ONNX_REFERENCE or op.graph.captures(op) or any(
            a.type == onnx.AttributeProto.GRAPHS for a in node.attribute):
        raise UnsupportedOpError(f"{where}: onnxruntime lacks a kernel for it and graphc runs an op with "
                                 "subgraphs as a Python op only when the subgraphs read no outer value; use the "
                                 "numpy target")
    return {a.name: base64.b64encode(a.g.SerializeToString()).decode("ascii")
            for a in node.attribute if a.type == onnx.AttributeProto.GRAPH}


def _rewrite(node: onnx.NodeProto, op_type: str, domain: str, config: str) -> None:
    node.op_type = op_type
    node.domain = domain
    if domain == CONTRIB_DOMAIN:
        kept = [n for n in node.input if n]
        del node.input[:]
        node.input.extend(kept)
    del node.attribute[:]
    node.attribute.append(helper.make_attribute("config", config))


def _fix_opsets(model: onnx.ModelProto, used: set[str]) -> None:
    present = {o.domain for o in model.opset_import}
    for d in sorted(used - present):
        model.opset_import.append(helper.make_opsetid(d, 1))
    node_domains = {n.domain for g in graphs_of(model.graph) for n in g.node} | {f.domain for f in model.functions}
    for f in model.functions:
        node_domains |= {n.domain for n in f.node}
    keep = [o for o in model.opset_import if is_onnx_domain(o.domain) or o.domain in node_domains]
    del model.opset_import[:]
    model.opset_import.extend(keep)

