"""OrtTarget: lower a graph to an ONNX model onnxruntime runs, custom layers included."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphc.domains import ONNX_DOMAIN_NAME, is_onnx_domain
from graphc.errors import GraphcError

from .deviations import KERNEL, WIDEN_WEIGHTS, Deviation, deviation_for
from .kernel_ops import ONNX_REFERENCE, kernel_source
from .kernel_registry import OrtKernelRegistry, default_registry
from .probe import SessionProbe, refused_nodes

if TYPE_CHECKING:
    from graphc.ir import Graph, Op
    from graphc.passinfra import PassContext

    from .artifact import OrtArtifact
    from .deviation_check import DeviationCheck
    from .partitioned import PartitionedArtifact

__all__ = ["OrtTarget"]
logger = logging.getLogger(__name__)


class OrtTarget:
    """The onnxruntime target.

    ``supports(op)``: onnxruntime has a kernel for the op at the opset the model will be
    stamped with and for its types (:class:`OrtKernelRegistry`), or, unless
    ``fallback=False``, graphc's own numpy kernel / ``onnx.reference`` runs it inside
    onnxruntime as a Python op. Everything else must be a registered custom layer.

    Nodes onnxruntime lists but refuses when the session is created are re-lowered to
    graphc's kernels by :meth:`lower`; nodes in a configuration where onnxruntime departs
    from the spec (:data:`targets.ort.deviations.DEVIATIONS`, each entry confirmed on the
    installed onnxruntime by ``deviations``, default the cached
    :func:`targets.ort.deviation_check.default_check`) are routed around it from the start.
    """

    name = "ort"

    #: how many times ``lower`` re-lowers nodes onnxruntime refused at session creation
    MAX_RELOWER_ROUNDS = 8

    def __init__(self, fallback: bool = True, registry: OrtKernelRegistry | None = None,
                 deviations: DeviationCheck | None = None, mode: str = "partitioned"):
        from .partitioned import MODES

        if mode not in MODES:
            raise GraphcError(f"unknown ort mode {mode!r}; choose one of: {', '.join(MODES)}")
        self.fallback = fallback
        #: "partitioned": onnxruntime regions with Python nodes run in-process between them;
        #: "single": one model, Python nodes as onnxruntime-extensions ops inside it
        self.mode = mode
        self._registry = registry
        self._deviations = deviations
        #: single-node session answers, shared by every lowering of this target
        self.probe = SessionProbe()

    @property
    def registry(self) -> OrtKernelRegistry:
        if self._registry is None:
            self._registry = default_registry()
        return self._registry

    def deviation(self, op: Op) -> Deviation | None:
        """The declared deviation ``op`` is in and the installed onnxruntime shows (None without the fallback:
        onnxruntime's kernels only)."""
        if not self.fallback:
            return None
        if self._deviations is None:
            from .deviation_check import default_check

            self._deviations = default_check()
        return deviation_for(op, self._deviations.present)

    # ------------------------------------------------------------- supports
    def native(self, op: Op) -> bool:
        """True when onnxruntime itself runs ``op``: its kernel registry covers the op, types and
        stamped opset, and, when graphc's kernel may stand in (``fallback``), the node is not a
        configuration where onnxruntime departs from the spec (:mod:`targets.ort.deviations`)."""
        if not is_onnx_domain(op.domain) and op.domain not in ("ai.onnx.ml", "com.microsoft") and not op.domain.startswith(ONNX_DOMAIN_NAME):
            return False
        try:
            covered = self.registry.covers(op)
        except Exception:  # noqa: BLE001 - an op whose opset/schema onnx does not know
            return False
        if covered and (dev := self.deviation(op)) is not None and dev.remedy == KERNEL:
            return kernel_source(op.domain, op.op_type, op.opset) is None
        return covered

    def backing(self, op: Op) -> str | None:
        """Who runs ``op``: "onnxruntime", "numpy-kernel", "onnx-reference", or None."""
        if self.native(op):
            return "onnxruntime"
        if not self.fallback:
            return None
        source = kernel_source(op.domain, op.op_type, op.opset)
        if op.has_subgraphs and (source != ONNX_REFERENCE or (op.graph is not None and op.graph.captures(op))):
            return None  # see lowering._self_contained_subgraphs
        if source == ONNX_REFERENCE and _runs_a_loop(op):
            return None  # onnx.reference inside a Python op would run it outside the loop guard's count
        return source

    def supports(self, op: Op) -> bool:
        return self.backing(op) is not None

    # ------------------------------------------------------------- pipeline
    def pipeline(self) -> str:
        reg = self.registry
        return (f"canonicalize,inline-functions,lower-opset{{opset={reg.max_opsets['']},ir={reg.max_ir_version}}},"
                "legalize,[fold-constants,dce]*8,infer-shapes,cancel-transposes")

    # ---------------------------------------------------------------- lower
    def lower(self, graph: Graph, ctx: PassContext) -> OrtArtifact | PartitionedArtifact:
        """Lower ``graph`` and open it in onnxruntime.

        When onnxruntime refuses the session because of nodes it claims to implement
        (an attribute value or type combination its kernel rejects at creation), those
        nodes are re-lowered to graphc's own kernels (when graphc has one and the
        fallback is on) and the session is tried again, at most
        :attr:`MAX_RELOWER_ROUNDS` times. Each such node's manifest entry says why.
        """
        from .artifact import SessionRefused
        from .budget import check_compile_budget

        check_compile_budget(graph, ctx.options.get("memory_budget") if ctx is not None else None)
        refused: dict[str, str] = {}
        for _ in range(self.MAX_RELOWER_ROUNDS + 1):
            try:
                return self._lower_once(graph, ctx, refused)
            except SessionRefused as e:
                if not self.fallback or e.model is None:
                    raise
                candidates = [op.name for op in graph.walk()
                              if op.layer is None and op.name not in refused and self.native(op) and _relowerable(op)]
                culprits = refused_nodes(e.model, e.detail, candidates, self.probe)
                if not culprits:
                    raise
                for name, why in culprits.items():
                    logger.info("onnxruntime refused node %s (%s); re-lowering it to graphc's kernel", name, why)
                refused.update(culprits)
        raise SessionRefused(f"still refused after re-lowering {len(refused)} node(s): {sorted(refused)}")

    def _lower_once(self, graph: Graph, ctx: PassContext, refused: dict[str, str]) -> OrtArtifact | PartitionedArtifact:
        from .artifact import OrtArtifact, SessionRefused
        from .bundle import build_manifest
        from .lowering import lower_graph
        from .partitioned import PARTITIONED, PartitionedArtifact, partition_manifest

        def native(op: Op) -> bool:
            return op.name not in refused and self.native(op)

        model, entries, classes = lower_graph(graph, native)
        ops = {op.name: op for op in graph.walk()}
        for e in entries:
            if e["node"] in refused:
                e["reason"] = f"onnxruntime refused the node: {refused[e['node']]}"
            elif e["node"] in ops and (dev := self.deviation(ops[e["node"]])) is not None:
                e["reason"] = f"onnxruntime departs from the spec here: {dev.reason} ({dev.case})"
        widened = self._widen_weights(model, graph)
        manifest, sources = build_manifest(entries, classes, model,
                                           include_sources=bool(ctx.options.get("include_sources", True))
                                           if ctx is not None else True)
        if widened:
            manifest["widened_weights"] = widened
        if ctx is not None and ctx.options.get("memory_budget") is not None:
            manifest["options"] = {"memory_budget": int(ctx.options["memory_budget"])}
        for e in entries:
            logger.info("node %s (%s) lowered as %s", e["node"], e["source"]["op_type"], e["lowering"])
        try:
            manifest["mode"] = self.mode
            if self.mode == PARTITIONED:
                schedule = partition_manifest(graph, manifest)
                if schedule is not None:
                    manifest["partition"] = schedule
                    return PartitionedArtifact(model, manifest, classes, sources)
            return OrtArtifact(model, manifest, classes, sources)
        except SessionRefused as e:
            e.model = model
            raise

    def _widen_weights(self, model, graph: Graph) -> list[str]:
        """Apply the ``widen-weights`` remedy to the top-level nodes whose deviation is present; their names."""
        from .widen_weights import widen_signed_weights

        names = [op.name for op in graph.topological_order()
                 if (dev := self.deviation(op)) is not None and dev.remedy == WIDEN_WEIGHTS]
        if names:
            widen_signed_weights(model, names)
            logger.info("int8 weights of %d node(s) re-expressed as uint8 (u8s8 saturation): %s", len(names), names)
        return names

    def load(self, path: Path, manifest: dict[str, Any], layers: Any = None, trust: bool = False) -> OrtArtifact:
        from .loader import load_bundle

        return load_bundle(path, layers=layers, trust=trust)


def _runs_a_loop(op: Op) -> bool:
    """True when ``op`` is a Loop or holds one in its subgraphs (at any depth)."""
    if op.op_type == "Loop" and is_onnx_domain(op.domain):
        return True
    return any(inner.op_type == "Loop" and is_onnx_domain(inner.domain) for _, g in op.subgraphs() for inner in g.walk())


def _relowerable(op: Op) -> bool:
    """graphc has a kernel for ``op`` and every value it touches can cross into a Python op."""
    from .pyops import py_type_ok

    if op.has_subgraphs or kernel_source(op.domain, op.op_type, op.opset) is None:
        return False
    values = [v for v in list(op.inputs) + list(op.outputs) if v is not None]
    return all(v.type.kind == "tensor" and v.type.dtype is not None and py_type_ok(v.type.dtype) for v in values)
