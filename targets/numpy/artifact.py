"""NumpyArtifact: a compiled model that runs in-process; saved as one zip file.

The saved file holds ``manifest.json`` (target, graphc version, input/output specs,
plan figures, options, and every custom layer's import path and params) and
``model.onnx`` (the lowered graph: custom-layer params as attributes, blobs as
initializers; tensors are data, never pickles). Loading re-reads the ONNX, binds the
layers from the registry the caller gives — it never imports a module the manifest
names unless ``trust=True`` — and plans again. A layer whose source file changed since
the save (the manifest records each layer's source sha256) is refused unless
``trust=True``, as an onnxruntime bundle's is.
"""

from __future__ import annotations

import io
import json
import logging
import shlex
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from graphc.errors import LayerError, ModelFormatError
from graphc.layers.registry import readable_import_path
from graphc.manifest_schema import COMMON, DIMS, OPTIONAL_STR, REQUIRED, check_manifest
from graphc.target import describe_runs
from graphc.ir import Graph, Op

from .executor import Executor
from .lowering import lower_program

if TYPE_CHECKING:
    from .target import NumpyTarget

__all__ = ["NumpyArtifact", "load_artifact", "describe_saved", "FORMAT_VERSION"]
logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MODEL_MEMBER = "model.onnx"
_SPEC = {"name": str, "dtype": OPTIONAL_STR, "shape": DIMS}
#: what load_artifact and describe_saved read from the manifest, checked first (graphc.manifest_schema)
MANIFEST_SCHEMA = {
    **COMMON,
    "options": {"fallback": bool, "memory_budget": (int, float, type(None))},
    "layers": [{REQUIRED: ("node", "op_type", "import_path", "module"), "node": str, "op_type": str, "domain": str,
                "opset": int, "import_path": str, "module": str, "override": bool, "params": dict,
                "sha256": OPTIONAL_STR}],
    "inputs": [_SPEC], "outputs": [_SPEC], "fallback_ops": [str], "plan": (dict, type(None)),
}


class NumpyArtifact:
    """A graph lowered for the numpy target: ``run(feeds) -> {output: array}``, ``save(path)``."""

    target_name = "numpy"

    def __init__(self, graph: Graph, *, target: NumpyTarget, fallback: bool = True,
                 debug: bool = False, memory_budget: int | None = None):
        from graphc.planning import check_budget, plan_graph, read_plan

        self.graph = graph
        self.target = target  # the NumpyTarget that built it (this module never imports the target's)
        self.fallback = fallback
        self.debug = debug
        self.memory_budget = memory_budget
        plan = read_plan(graph)
        if plan is None:
            plan = plan_graph(graph, hints=self.target.buffer_hints)
            check_budget(plan, memory_budget)
        self.plan = plan
        self.program = lower_program(graph, fallback)
        self.executor = Executor(graph, self.program, plan, hints=self.target.buffer_hints, debug=debug,
                                 memory_budget=memory_budget)

    def __repr__(self) -> str:
        return f"NumpyArtifact({len(self.program.steps)} ops, inputs={self.input_names}, outputs={self.output_names})"

    # ---------------------------------------------------------------- running
    @property
    def input_names(self) -> list[str]:
        return self.executor.input_names

    @property
    def output_names(self) -> list[str]:
        return [name for name, _ in self.program.outputs]

    def run(self, feeds: dict[str, Any]) -> dict[str, Any]:
        """Run once; ``feeds`` maps input names to arrays. Returns fresh arrays the caller owns.

        Safe to call from many threads at once (each run gets its own arena).
        """
        return self.executor.run(feeds)

    # ---------------------------------------------------------------- describing
    def input_specs(self) -> list[dict[str, Any]]:
        return [_spec(v) for _, v in self.program.inputs]

    def output_specs(self) -> list[dict[str, Any]]:
        return [_spec(v) for v in self.graph.outputs]

    def op_kinds(self) -> list[tuple[str, str, str]]:
        """(op name, qualified op type, native / fallback / layer / layer-override) for every op."""
        return list(self.target.describe_ops(self.graph))

    def describe(self) -> dict[str, Any]:
        """What ``graphc inspect`` shows: op counts, how each op type runs, the layers, the plan figures."""
        return _description(self.op_kinds(), self.input_specs(), self.output_specs(), self.plan.stats(),
                            {"fallback": self.fallback, "memory_budget": self.memory_budget},
                            _layer_records(self.graph))

    # ---------------------------------------------------------------- saving
    def manifest(self) -> dict[str, Any]:
        import graphc

        return {
            "target": "numpy",
            "format": FORMAT_VERSION,
            "graphc_version": graphc.__version__,
            "inputs": self.input_specs(),
            "outputs": self.output_specs(),
            "plan": self.plan.stats(),
            "options": {"fallback": self.fallback, "memory_budget": self.memory_budget},
            "layers": _layer_records(self.graph),
            "fallback_ops": sorted({t for _, t, k in self.op_kinds() if k == "fallback"}),
        }

    def save(self, path: str | Any) -> None:
        """Write the artifact as one zip file, atomically (a reader sees the old file or the new one)."""
        from graphc.atomic import atomic_write_bytes
        from graphc.exporters.onnx import to_onnx

        model = to_onnx(self.graph)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            z.writestr("manifest.json", json.dumps(self.manifest(), indent=1, sort_keys=True))
            z.writestr(MODEL_MEMBER, model.SerializeToString())
        atomic_write_bytes(Path(path), buf.getvalue())


def _description(kinds: list[tuple[str, str, str]], inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
                 plan: dict[str, Any] | None, options: dict[str, Any], layers: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``describe()`` dict from (op name, qualified type, how it runs) rows and the artifact's facts."""
    return {
        "target": "numpy",
        **describe_runs(kinds),
        "overrides": [{"node": n, "op_type": t} for n, t, k in kinds if k == "layer-override"],
        "layers": [{"node": r["node"], "op_type": f"{r['domain']}::{r['op_type']}" if r["domain"] else r["op_type"],
                    "runs": "layer-override" if r.get("override") else "layer", "import_path": r["import_path"],
                    "layers_arg": r["module"], "params": r.get("params") or {}} for r in layers],
        "inputs": inputs,
        "outputs": outputs,
        "plan": plan,
        "options": options,
    }


def describe_saved(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Describe a saved artifact from its manifest and model.onnx, like :meth:`NumpyArtifact.describe`,
    without importing or binding its layers (and without planning): the plan figures are the
    ones recorded at save time, how each op runs is what the compile decided."""
    from graphc.model_io import load_model

    if manifest.get("target") != "numpy":
        raise ModelFormatError(f"{path}: written by target {manifest.get('target')!r}, not numpy")
    check_manifest(Path(path), manifest, MANIFEST_SCHEMA)
    path = Path(path)
    data = _read_model_member(Path(path))
    graph = load_model(data)
    records = manifest.get("layers") or []
    layer_kind = {r.get("node"): "layer-override" if r.get("override") else "layer" for r in records}
    fallback = set(manifest.get("fallback_ops") or [])
    kinds = [(op.name, op.qualified_type,
              layer_kind.get(op.name) or ("fallback" if op.qualified_type in fallback else "native"))
             for op in graph.walk()]
    return _description(kinds, list(manifest.get("inputs") or []), list(manifest.get("outputs") or []),
                        manifest.get("plan"), dict(manifest.get("options") or {}), records)


def _spec(v: Any) -> dict[str, Any]:
    t = v.type
    return {"name": v.name, "dtype": None if t.dtype is None else np.dtype(t.dtype).name,
            "shape": None if t.shape is None else list(t.shape)}


def _layer_records(graph: Graph) -> list[dict[str, Any]]:
    """One record per custom-layer op: which class implements it, with which params."""
    from graphc.layers.loading import layer_source_digest
    from graphc.layers.serialize import encode_params

    out = []
    for op in graph.walk():
        b = op.layer
        if b is None:
            continue
        out.append({
            "node": op.name, "op_type": op.op_type, "domain": op.domain, "opset": op.opset,
            "import_path": b.import_path, "module": _module_arg(b),
            "override": bool(b.override), "params": json.loads(b.config or encode_params(b.params)),
            "sha256": layer_source_digest(b.cls),
        })
    return out


def _module_arg(binding: Any) -> str:
    """What to pass to ``--layers`` for this layer: its module name, or its .py file when loaded from a path."""
    from graphc.layers.loading import layer_argument

    return layer_argument(binding.import_path.partition(":")[0])


# ------------------------------------------------------------------------- loading
def _read_model_member(path: Path) -> bytes:
    """The artifact's model.onnx: a zip member, or a regular file inside a folder artifact."""
    from graphc.archive import read_folder_file, read_member

    data = read_folder_file(path, MODEL_MEMBER) if path.is_dir() else read_member(path, MODEL_MEMBER)
    if data is None:
        raise ModelFormatError(f"{path}: the artifact has no {MODEL_MEMBER}")
    return data


def load_artifact(path: Path, manifest: dict[str, Any], target: NumpyTarget, layers: Any = None,
                  trust: bool = False) -> NumpyArtifact:
    """Rebuild a saved NumpyArtifact for ``target`` (its debug flag and budget; the manifest's options
    override fallback and can only lower the budget); layers come from ``layers`` (a registry),
    modules are imported only if ``trust``."""
    from graphc.layers import resolve_registry
    from graphc.limits import stricter_budget
    from graphc.model_io import load_model

    if manifest.get("target") != "numpy":
        raise ModelFormatError(f"{path}: written by target {manifest.get('target')!r}, not numpy")
    check_manifest(Path(path), manifest, MANIFEST_SCHEMA)
    if int(manifest.get("format", 0)) > FORMAT_VERSION:
        raise ModelFormatError(f"{path}: artifact format {manifest.get('format')} is newer than this graphc "
                               f"understands ({FORMAT_VERSION}); upgrade graphc")
    data = _read_model_member(Path(path))
    graph = load_model(data)
    records = manifest.get("layers") or []
    registry = resolve_registry(layers)
    if records and trust:
        modules = sorted({r["module"] for r in records})
        registry = _trusted_registry(registry, modules)
    _bind_layers(graph, records, registry, path, trust)
    options = manifest.get("options") or {}
    if not isinstance(options, dict):
        raise ModelFormatError(f"{path}: the manifest's options are not an object")
    tgt = type(target)(fallback=bool(options.get("fallback", True)), debug=target.debug,
                       memory_budget=stricter_budget(options.get("memory_budget"), target.memory_budget))
    from graphc.passinfra import PassContext, PassManager

    ctx = PassContext(target=tgt, layers=registry, options=dict(tgt.options()))
    PassManager("fold-blobs,plan-buffers").run(graph, ctx)
    return NumpyArtifact(graph, target=tgt, **tgt.options())


def _trusted_registry(registry: Any, modules: list[str]) -> Any:
    from graphc.layers import LayerRegistry
    from graphc.layers.loading import load_layer_modules

    return LayerRegistry(parents=(registry, load_layer_modules(modules)))  # the caller's registry still wins


def _bind_layers(graph: Graph, records: list[dict[str, Any]], registry: Any, path: Path, trust: bool = False) -> None:
    """Bind each recorded node to the caller's registered layer of the same import path; a layer
    whose source file changed since the artifact was saved is refused unless ``trust``."""
    from graphc.layers.binding import LayerBinding
    from graphc.layers.serialize import decode_params, encode_params

    ops: dict[str, Op] = {op.name: op for op in graph.walk()}
    missing: dict[str, list[str]] = {}
    for r in records:
        op = ops.get(r.get("node", ""))
        if op is None:
            raise ModelFormatError(f"{path}: the manifest names layer node {r.get('node')!r}, which model.onnx lacks")
        entry = registry.lookup(op.domain, op.op_type, op.opset) if registry is not None else None
        if entry is None or entry.import_path.partition(":")[2] != r["import_path"].partition(":")[2] \
                or (entry.import_path != r["import_path"] and not r["import_path"].startswith("graphc_layers_")):
            shown = readable_import_path(r["import_path"], r["module"])
            missing.setdefault(r["module"], []).append(f"{r['node']} ({r['op_type']} -> {shown})")
            continue
        _check_source(path, r, entry, trust)
        params = decode_params(json.dumps(r.get("params") or {}))
        op.layer = LayerBinding(entry, params, bool(r.get("override")), encode_params(params))
    if missing:
        mods = sorted(missing)
        nodes = "; ".join(f"{m}: {', '.join(ns[:3])}{' ...' if len(ns) > 3 else ''}" for m, ns in missing.items())
        flags = " ".join(f"--layers {shlex.quote(m)}" for m in mods)
        raise LayerError(
            f"{path} uses custom layers from module(s) {', '.join(mods)} that were not given ({nodes}). "
            f"Pass them: `graphc run {shlex.quote(str(path))} {flags}` or graphc.load(path, layers=[{', '.join(map(repr, mods))}]). "
            "graphc never imports modules named in an artifact by itself (`--trust`, or trust=True, allows it)."
        )


def _check_source(path: Path, record: dict[str, Any], entry: Any, trust: bool) -> None:
    """Refuse (or, with ``trust``, warn about) a layer whose source differs from the one the artifact was built with."""
    from graphc.layers.loading import check_source_unchanged, layer_source_digest

    check_source_unchanged(
        f"{path}: layer {entry.display_name} (node {record.get('node')!r}) changed since the artifact was saved",
        record.get("sha256") or "", layer_source_digest(entry.cls), trust,
        "compile the artifact again with the current layers")
