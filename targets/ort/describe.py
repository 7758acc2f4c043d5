"""Describe a saved ort bundle from its manifest and ``model.onnx``: no layer is imported and no
onnxruntime session is created (what ``graphc inspect BUNDLE`` shows).

How each node runs, in the manifest's words: ``native`` (onnxruntime's own kernel),
``function`` (a layer's ``to_onnx`` as a FunctionProto), ``python-op`` (a layer's
``forward`` inside onnxruntime), ``numpy-kernel`` / ``onnx-reference`` (graphc's kernel as a
Python op, where onnxruntime lacks, refuses or departs from the spec).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from graphc.domains import is_onnx_domain
from graphc.errors import ModelFormatError
from graphc.target import describe_runs

from .bundle import read_bundle_model
from .function_builder import FUNCTION_DOMAIN
from .protos import graphs_of
from .pyops import CONTRIB_DOMAIN

__all__ = ["describe_bundle", "describe_lowered", "describe_schedule", "NATIVE"]

#: how a node onnxruntime runs itself is described
NATIVE = "native"


def describe_bundle(path: str | Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Ops by type, how each runs, the layers the bundle needs (import path, ``--layers`` argument,
    params), nodes moved off onnxruntime and why, inputs and outputs, the onnxruntime range."""
    path = Path(path)
    if manifest.get("target") != "ort":
        raise ModelFormatError(f"{path}: written by the {manifest.get('target')!r} target, not 'ort'")
    return describe_lowered(read_bundle_model(path, manifest), manifest)


def describe_lowered(model: onnx.ModelProto, manifest: dict[str, Any]) -> dict[str, Any]:
    """:func:`describe_bundle` of a lowered model and its manifest in memory (an artifact's ``describe()``)."""
    entries = {e.get("node"): e for e in manifest.get("custom_ops", [])}
    rows = []
    for graph in graphs_of(model.graph):
        for node in graph.node:
            entry = entries.get(node.name) if node.domain in (CONTRIB_DOMAIN, FUNCTION_DOMAIN) else None
            if entry is None:
                rows.append((node.name, _qualified(node.domain, node.op_type), NATIVE))
            else:
                src = entry.get("source", {})
                rows.append((node.name, _qualified(src.get("domain", ""), src.get("op_type", node.op_type)),
                             str(entry.get("lowering", "?"))))
    return {
        "target": "ort",
        **describe_runs(rows),
        "layers": _layers(manifest),
        "moved": [{"node": e["node"], "op_type": _source_type(e), "runs": e.get("lowering"), "reason": e["reason"]}
                  for e in manifest.get("custom_ops", []) if e.get("reason")],
        "inputs": _specs(model.graph, inputs=True),
        "outputs": _specs(model.graph, inputs=False),
        "mode": manifest.get("mode", "single"),
        "regions": describe_schedule(manifest),
        "plan": None,  # onnxruntime plans its own memory
        "options": {"onnxruntime": manifest.get("onnxruntime", {}), "graphc_version": manifest.get("graphc_version")},
    }


def describe_schedule(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """A partitioned bundle's stages in run order: kind (``onnxruntime``: one session; ``python``),
    nodes, and the boundary tensors read and handed on (name, dtype, shape, bytes when static).
    Empty for a single-session bundle."""
    partition = manifest.get("partition")
    stages = partition.get("stages") if isinstance(partition, dict) else None
    if not isinstance(stages, list) or not all(isinstance(st, dict) for st in stages):
        return []  # none, or damaged: graphc.load says what is wrong (targets/ort/schedule.py)

    def values(st: dict[str, Any], key: str) -> list[dict[str, Any]]:
        got = st.get(key)
        records = [r for r in got if isinstance(r, dict)] if isinstance(got, list) else []
        return [{"name": str(r.get("name")), "dtype": r.get("dtype"),
                 "shape": r["shape"] if isinstance(r.get("shape"), list) else None,
                 "bytes": r["bytes"] if isinstance(r.get("bytes"), int) else None} for r in records]

    return [{"stage": st.get("stage"), "runs_in": str(st.get("kind")),
             "nodes": [str(n) for n in st["nodes"]] if isinstance(st.get("nodes"), list) else [],
             "inputs": values(st, "inputs"), "outputs": values(st, "outputs")} for st in stages]


def _layers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    modules = manifest.get("layer_modules", {})
    out = []
    for e in manifest.get("custom_ops", []):
        if not e.get("layer"):
            continue
        module = e["layer"].partition(":")[0]
        info = modules.get(module, {})
        try:
            params = json.loads(e.get("params") or "{}")
        except ValueError:
            params = e.get("params")
        # a bundle written before layers_arg was recorded does not name the .py file a graphc_layers_* module came from
        arg = info.get("layers_arg") or (None if module.startswith("graphc_layers_") else module)
        out.append({"node": e["node"], "op_type": _source_type(e), "runs": e.get("lowering"),
                    "import_path": e["layer"], "layers_arg": arg,
                    "bundled_source": bool(info.get("file")), "params": params})
    return out


def _source_type(entry: dict[str, Any]) -> str:
    src = entry.get("source", {})
    return _qualified(src.get("domain", ""), src.get("op_type", "?"))


def _qualified(domain: str, op_type: str) -> str:
    return f"{domain}::{op_type}" if not is_onnx_domain(domain) else op_type


def _specs(graph: onnx.GraphProto, inputs: bool) -> list[dict[str, Any]]:
    from graphc.frontends.types import type_from_proto

    inits = {t.name for t in graph.initializer}
    specs = []
    for vi in graph.input if inputs else graph.output:
        if inputs and vi.name in inits:
            continue
        t = type_from_proto(vi.type)
        dtype = getattr(t, "dtype", None)
        shape = getattr(t, "shape", None)
        specs.append({"name": vi.name, "dtype": None if dtype is None else np.dtype(dtype).name,
                      "shape": None if shape is None else list(shape)})
    return specs
