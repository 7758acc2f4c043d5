"""NumpyTarget: runs graphs in-process with numpy kernels over one planned arena.

Options (``graphc.compile(model, "numpy", fallback=False, debug=True, memory_budget=1 << 30)``):

* ``fallback`` (default True): ops without a native kernel may run through
  ``onnx.reference`` (the declared table in :mod:`targets.numpy.fallback`); False makes
  ``legalize`` report them as unsupported.
* ``debug`` (default False, or ``GRAPHC_DEBUG_ARENA=1``): poison output buffers before
  each op so a kernel relying on stale contents fails loudly.
* ``memory_budget`` (bytes): plan-buffers refuses an arena or tensor above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .fallback import has_fallback
from .kernels import KERNELS

if TYPE_CHECKING:
    from graphc.ir import Graph, Op
    from graphc.passinfra import PassContext

    from .artifact import NumpyArtifact

__all__ = ["NumpyTarget", "PIPELINE", "MINIMAL_PIPELINE"]

#: the numpy target's default pipeline
PIPELINE = ("canonicalize,inline-functions,legalize,eliminate-dropout,[fold-constants,dce]*8,infer-shapes,"
            "cancel-transposes,"
            "fuse-conv-bn,fuse-conv-affine,fuse-matmul-add,fuse-silu,fuse-activation,fold-blobs,dce,plan-buffers")

#: lowering prerequisites only, no optimizing rewrites (graphc.diff's numeric checker runs stages with it)
MINIMAL_PIPELINE = "canonicalize,inline-functions,legalize,infer-shapes,fold-blobs,plan-buffers"


class NumpyTarget:
    """The in-process numpy target (see the module docstring for its options)."""

    name = "numpy"

    def __init__(self, fallback: bool = True, debug: bool = False, memory_budget: int | None = None):
        self.fallback = bool(fallback)
        self.debug = bool(debug)
        self.memory_budget = memory_budget

    def __repr__(self) -> str:
        return f"NumpyTarget(fallback={self.fallback}, debug={self.debug}, memory_budget={self.memory_budget})"

    # ------------------------------------------------------------ questions
    def supports(self, op: Op) -> bool:
        """A native kernel covers (domain, op_type, opset), or the fallback table lists it and fallback is on."""
        if KERNELS.lookup(op.domain, op.op_type, op.opset) is not None:
            return True
        return self.fallback and has_fallback(op.domain, op.op_type)

    def buffer_hints(self, op: Op) -> tuple[Mapping[int, int], bool, bool]:
        """(in-place {output: input}, output 0 views input 0, joins its inputs in place) from the op's kernel spec."""
        spec = KERNELS.lookup(op.domain, op.op_type, op.opset)
        if spec is None:
            return {}, False, False
        return spec.inplace, spec.view, spec.joins

    def pipeline(self) -> str:
        return PIPELINE

    def minimal_pipeline(self) -> str:
        """Lowering prerequisites only (:data:`MINIMAL_PIPELINE`); graphc.diff's numeric checker runs stages with it."""
        return MINIMAL_PIPELINE

    # ------------------------------------------------------------- lowering
    def options(self, ctx_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """This target's settings, overridden by compile options of the same names."""
        opts = {"fallback": self.fallback, "debug": self.debug, "memory_budget": self.memory_budget}
        for k in opts:
            if ctx_options and ctx_options.get(k) is not None:
                opts[k] = ctx_options[k]
        return opts

    def lower(self, graph: Graph, ctx: PassContext) -> NumpyArtifact:
        """Bind every op to its kernel over the planned arena; return the runnable artifact."""
        from .artifact import NumpyArtifact

        return NumpyArtifact(graph, target=self, **self.options(ctx.options))

    def load(self, path: Path, manifest: dict[str, Any], layers: Any = None, trust: bool = False) -> NumpyArtifact:
        """Rebuild a saved artifact (no code runs except the layer modules named by ``layers``)."""
        from .artifact import load_artifact

        return load_artifact(Path(path), manifest, self, layers, trust)

    def describe_ops(self, graph: Graph) -> Sequence[tuple[str, str, str]]:
        """(op name, op type, how it runs: native / fallback / layer / layer-override / unsupported)."""
        from .lowering import op_kind

        rows = []
        for op in graph.walk():
            kind = op_kind(op, self.fallback) or "unsupported"
            if kind == "layer" and getattr(op.layer, "override", False):
                kind = "layer-override"
            rows.append((op.name, op.qualified_type, kind))
        return rows

