"""OrtTarget: lower a graph to an ONNX model onnxruntime runs, custom layers included."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .kernel_ops import kernel_source
from .kernel_registry import OrtKernelRegistry, default_registry

if TYPE_CHECKING:
    from graphc.ir import Graph, Op
    from graphc.passinfra import PassContext

    from .artifact import OrtArtifact

__all__ = ["OrtTarget"]
logger = logging.getLogger(__name__)


class OrtTarget:
    """The onnxruntime target.

    ``supports(op)``: onnxruntime has a kernel for the op at the opset the model will be
    stamped with and for its types (:class:`OrtKernelRegistry`), or, unless
    ``fallback=False``, graphc's own numpy kernel / ``onnx.reference`` runs it inside
    onnxruntime as a Python op. Everything else must be a registered custom layer.
    """

    name = "ort"

    def __init__(self, fallback: bool = True, registry: OrtKernelRegistry | None = None):
        self.fallback = fallback
        self._registry = registry

    @property
    def registry(self) -> OrtKernelRegistry:
        if self._registry is None:
            self._registry = default_registry()
        return self._registry

    # ------------------------------------------------------------- supports
    def native(self, op: Op) -> bool:
        """True when onnxruntime itself runs ``op`` (kernel registry, types, stamped opset)."""
        if op.domain not in ("", "ai.onnx.ml", "com.microsoft") and not op.domain.startswith("ai.onnx"):
            return False
        try:
            return self.registry.covers(op)
        except Exception:  # noqa: BLE001 - an op whose opset/schema onnx does not know
            return False

    def backing(self, op: Op) -> str | None:
        """Who runs ``op``: "onnxruntime", "numpy-kernel", "onnx-reference", or None."""
        if self.native(op):
            return "onnxruntime"
        if not self.fallback or op.has_subgraphs:
            return None
        return kernel_source(op.domain, op.op_type, op.opset)

    def supports(self, op: Op) -> bool:
        return self.backing(op) is not None

    # ------------------------------------------------------------- pipeline
    def pipeline(self) -> str:
        reg = self.registry
        return (f"canonicalize,inline-functions,lower-opset{{opset={reg.max_opsets['']},ir={reg.max_ir_version}}},"
                "legalize,[fold-constants,dce]*8,infer-shapes")

    # ---------------------------------------------------------------- lower
    def lower(self, graph: Graph, ctx: PassContext) -> OrtArtifact:
        from .artifact import OrtArtifact
        from .bundle import build_manifest
        from .lowering import lower_graph

        model, entries, classes = lower_graph(graph, self.native)
        manifest, sources = build_manifest(entries, classes, model,
                                           include_sources=bool(ctx.options.get("include_sources", True))
                                           if ctx is not None else True)
        for e in entries:
            logger.info("node %s (%s) lowered as %s", e["node"], e["source"]["op_type"], e["lowering"])
        return OrtArtifact(model, manifest, classes, sources)

    def load(self, path: Path, manifest: dict[str, Any], layers: Any = None, trust: bool = False) -> OrtArtifact:
        from .bundle import load_bundle

        return load_bundle(path, layers=layers, trust=trust)
