"""Partitioned ort artifacts: onnxruntime regions, and the Python nodes between them run in-process.

``graphc.compile(model, target="ort")`` (``mode="partitioned"``, the default) lowers the
graph as the single-model mode does (:mod:`targets.ort.lowering`), then, when some
top-level node needs Python, cuts the top-level graph into stages
(:mod:`targets.ort.partition`): each onnxruntime stage is one session over its region's
model (:mod:`targets.ort.regions`), each Python stage runs its nodes directly, with the
same callables the Python ops would run (:mod:`targets.ort.pynodes`: the numpy
target's ``LayerRunner`` for layers, graphc's numpy kernels or ``onnx.reference`` for
standard ops), so no tensor goes through onnxruntime-extensions' per-element marshalling.

Python ops inside If/Loop/Scan bodies keep the Python-op path (a region holding such a
control-flow node runs it inside onnxruntime, through
:class:`~targets.ort.artifact.OrtArtifact`).

The manifest records the schedule (``partition``: per stage its kind, nodes, boundary
values with their types and sizes, checked at load by :mod:`targets.ort.schedule`);
``model.onnx`` stays the whole lowered model, the one single mode writes, so a bundle holds
its weights once and the regions' models are cut from it again at load.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from graphc.errors import GraphcError, InputError, LayerError
from graphc.frontends.types import type_from_proto, type_to_proto
from graphc.input_check import check_input
from graphc.ir import Graph, TensorType, Value
from graphc.limits import begin_run, current_budget, end_run

from .budget import RunSizes, check_outputs
from .lowered_artifact import LoweredArtifact
from .lowering import FUNCTION
from .partition import ONNXRUNTIME, PYTHON, Stage, boundary_bytes, form_stages
from .protos import graphs_of, initializers_of
from .pynodes import node_spec
from .pyops import PyOpSpec, check_string_output
from .regions import OnnxRegion, boundary_record, region_model
from .schedule import check_schedule

__all__ = ["PartitionedArtifact", "partition_manifest", "artifact_for", "MODES", "SINGLE", "PARTITIONED"]
logger = logging.getLogger(__name__)

SINGLE = "single"
PARTITIONED = "partitioned"
#: the ort target's modes: one model with Python ops inside it, or regions with Python between them
MODES = (SINGLE, PARTITIONED)


def partition_manifest(graph: Graph, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The schedule of ``graph`` (lowered with ``manifest``'s custom ops) as the manifest records it,
    or None when no top-level node needs Python (one session then, as in single mode) or a boundary
    value's type is unknown (logged; the artifact falls back to single mode)."""
    python = {e["node"] for e in manifest.get("custom_ops", []) if e["lowering"] != FUNCTION}
    if not python & set(graph.ops):
        return None
    stages = form_stages(graph, lambda op: op.name in python)
    for st in stages:
        unknown = [v.name for v in st.inputs + st.outputs if v.type.kind == "tensor" and v.type.dtype is None]
        if st.kind == ONNXRUNTIME and unknown:
            logger.warning("ort target: boundary value(s) %s have no known element type; running the model as one "
                           "session with Python ops inside (mode single)", unknown[:5])
            return None
    return {"stages": [_stage_record(i, st) for i, st in enumerate(stages)]}


def _stage_record(i: int, st: Stage) -> dict[str, Any]:
    return {"stage": i, "kind": st.kind, "nodes": st.nodes,
            "inputs": [_value_record(v) for v in st.inputs], "outputs": [_value_record(v) for v in st.outputs]}


def _value_record(v: Value) -> dict[str, Any]:
    t = v.type
    dtype = np.dtype(t.dtype).name if t.kind == "tensor" and t.dtype is not None else None
    if dtype == "object":
        dtype = "string"
    shape = list(t.shape) if t.kind == "tensor" and t.shape is not None else None
    return boundary_record(v.name, type_to_proto(t), dtype if t.kind == "tensor" else t.kind, shape,
                           boundary_bytes(v))


def artifact_for(model: onnx.ModelProto, manifest: dict[str, Any], classes: dict[str, type],
                 sources: dict[str, bytes] | None = None) -> Any:
    """The artifact running ``model`` as ``manifest`` says: partitioned when it records a schedule,
    else one :class:`~targets.ort.artifact.OrtArtifact` session."""
    if manifest.get("partition"):
        return PartitionedArtifact(model, manifest, classes, sources)
    from .artifact import OrtArtifact

    return OrtArtifact(model, manifest, classes, sources)


@dataclass
class _PyNode:
    name: str
    inputs: list[str]
    outputs: list[str]


@dataclass
class _InputSpec:
    name: str
    type: TensorType


class PartitionedArtifact(LoweredArtifact):
    """Runs a lowered model as onnxruntime regions with Python stages between them; ``save`` writes
    the bundle. Safe to run from many threads at once (each run takes its own set of layer runners).

    ``model`` is the whole lowered model (single mode's), ``manifest["partition"]`` the schedule.
    """

    def __init__(self, model: onnx.ModelProto, manifest: dict[str, Any], classes: dict[str, type],
                 sources: dict[str, bytes] | None = None):
        super().__init__(model, manifest, classes, sources)
        self._schedule: list[dict[str, Any]] = check_schedule(model, manifest)  # first: a bundle is outside input
        self._entries = {e["node"]: e for e in manifest.get("custom_ops", [])}
        self._inits = initializers_of(model.graph)
        top = {n.name: n for n in model.graph.node}
        self._regions: dict[int, OnnxRegion] = {}
        self._python: dict[int, list[_PyNode]] = {}
        for rec in self._schedule:
            if rec["kind"] == ONNXRUNTIME:
                self._regions[rec["stage"]] = self._region(rec)
            else:  # PYTHON (check_schedule allows no other kind)
                self._python[rec["stage"]] = [_PyNode(n, [i for i in top[n].input if i], list(top[n].output))
                                              for n in rec["nodes"]]
        read = {i for nodes in self._python.values() for n in nodes for i in n.inputs}
        top_inits = {t.name: t for t in model.graph.initializer}
        self._consts = {name: numpy_helper.to_array(top_inits[name]) for name in read if name in top_inits}
        self._inputs = [_InputSpec(vi.name, type_from_proto(vi.type)) for vi in model.graph.input
                        if vi.name not in top_inits]
        self.input_names = [s.name for s in self._inputs]
        self.output_names = [o.name for o in model.graph.output]
        self._live = self._live_after()
        self._region_outputs = {n for r in self._regions.values() for n in r.output_names}
        self._lock = threading.Lock()
        self._pool: list[dict[str, PyOpSpec]] = [self._runners()]  # builds every layer now: errors surface here
        self._sizes = RunSizes(model)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{r['kind']} {len(r['nodes'])}" for r in self._schedule)
        return f"PartitionedArtifact({kinds}; inputs={self.input_names}, outputs={self.output_names})"

    # ------------------------------------------------------------------ building
    def _region(self, rec: dict[str, Any]) -> OnnxRegion:
        rmodel = region_model(self.model, rec)
        nested = [self._entries[n.name] for g in list(graphs_of(rmodel.graph))[1:] for n in g.node
                  if n.name in self._entries and self._entries[n.name]["lowering"] != FUNCTION]
        return OnnxRegion(rec, rmodel, nested, self.classes, self.sources)

    def _runners(self) -> dict[str, PyOpSpec]:
        """One callable per Python node (a layer instance each: runs in parallel threads never share one)."""
        return {n.name: node_spec(self._entries[n.name], self.model, self._inits, self.classes)
                for nodes in self._python.values() for n in nodes}

    def _live_after(self) -> list[frozenset[str]]:
        """Per stage, the values a later stage reads or the caller gets: everything else a run holds
        (a stage's inputs, a Python stage's intermediates) is dropped once the stage is done."""
        live: set[str] = set(self.output_names)
        after: list[frozenset[str]] = []
        for rec in reversed(self._schedule):
            after.append(frozenset(live))
            live |= {r["name"] for r in rec["inputs"]}
        return after[::-1]

    # ------------------------------------------------------------------- running
    @property
    def regions(self) -> list[OnnxRegion]:
        """The onnxruntime regions (one session each), in run order."""
        return [self._regions[k] for k in sorted(self._regions)]

    def run(self, feeds: dict[str, Any]) -> dict[str, Any]:
        """Run once; return output name -> array (arrays the caller owns). A failing layer raises
        LayerError naming its node, and nothing else is returned."""
        vals = self._check_inputs(feeds)
        fed = {id(a) for a in vals.values()}
        with self._lock:
            runners = self._pool.pop() if self._pool else None
        if runners is None:
            runners = self._runners()
        token = begin_run(self.memory_budget)  # one budget for the whole run: every stage's loops and run-time sizes
        try:
            budget = current_budget()
            self._sizes.check(vals, budget)  # sizes predicted from the feeds, before any stage
            for rec, live in zip(self._schedule, self._live):
                stage = rec["stage"]
                if stage in self._regions:
                    region = self._regions[stage]
                    outs = region.run([vals[n] for n in region.input_names])
                    vals.update(zip(region.output_names, outs))
                else:
                    for node in self._python[stage]:
                        self._run_node(node, runners[node.name], vals)
                for name in [n for n in vals if n not in live]:
                    del vals[name]
        finally:
            end_run(token)
            with self._lock:
                self._pool.append(runners)
        out = self._outputs(vals, fed)
        check_outputs(list(out), list(out.values()), budget)
        return out

    def _check_inputs(self, feeds: dict[str, Any]) -> dict[str, Any]:
        missing = [s.name for s in self._inputs if s.name not in feeds]
        if missing:
            raise InputError(f"missing input(s) {missing}; the model takes {self.input_names}")
        extra = [n for n in feeds if n not in self.input_names]
        if extra:  # a misspelt name would otherwise run on nothing it meant to feed
            raise InputError(f"unknown input name(s) {extra}; the model takes {self.input_names}")
        symbols: dict[str, tuple[int, str]] = {}
        return {s.name: check_input(s.name, s.type, feeds[s.name], symbols) for s in self._inputs}

    def _run_node(self, node: _PyNode, spec: PyOpSpec, vals: dict[str, Any]) -> None:
        args = [vals[n] if n in vals else self._consts[n] for n in node.inputs]
        try:
            res = list(spec.call(args))
        except GraphcError as e:
            if f"{node.name!r}" in str(e):
                raise
            raise LayerError(f"node {node.name!r} ({spec.label}) failed: {e}") from e
        except Exception as e:  # noqa: BLE001 - user code and kernels never take the process down
            raise LayerError(f"node {node.name!r} ({spec.label}) failed: {type(e).__name__}: {e}") from e
        if len(res) != len(node.outputs):
            raise LayerError(f"node {node.name!r} ({spec.label}): returned {len(res)} outputs, the node has "
                             f"{len(node.outputs)}")
        for i, (name, r, dt) in enumerate(zip(node.outputs, res, spec.output_dtypes)):
            if isinstance(r, np.ndarray) and r.dtype != dt:
                raise LayerError(f"node {node.name!r} ({spec.label}): output {i} is {r.dtype.name} but the model "
                                 f"declares {np.dtype(dt).name}; make the layer's output_dtypes() and forward() agree")
            if isinstance(r, np.ndarray) and r.dtype == object:
                try:
                    check_string_output(i, r)  # what a Python op's output must be, so both modes agree
                except LayerError as e:
                    raise LayerError(f"node {node.name!r} ({spec.label}): {e}") from None
            if name:
                vals[name] = r

    def _outputs(self, vals: dict[str, Any], fed: set[int]) -> dict[str, Any]:
        """The graph outputs as arrays nobody else holds: a fed or constant array, one returned twice, or a
        Python node's view (of an input, say) is copied; a region's outputs are this run's own buffers."""
        out: dict[str, Any] = {}
        seen = set(fed)
        for name in self.output_names:
            a = vals[name] if name in vals else numpy_helper.to_array(self._inits[name])
            if isinstance(a, np.ndarray):
                if id(a) in seen or (a.base is not None and name not in self._region_outputs):
                    a = a.copy()
                seen.add(id(a))
            out[name] = a
        return out
