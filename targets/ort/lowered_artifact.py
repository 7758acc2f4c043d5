"""What both ort artifacts hold and do alike: the lowered model with its manifest, layer classes and
sources; the run's memory budget; the Python-run nodes; ``describe`` and ``save``.

:class:`~targets.ort.artifact.OrtArtifact` (one onnxruntime session) and
:class:`~targets.ort.partitioned.PartitionedArtifact` (regions with Python stages between them)
differ in how they run, not in what they are: a bundle either writes is the same folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx

from .lowering import FUNCTION

__all__ = ["LoweredArtifact"]


class LoweredArtifact:
    """The lowered model ``model`` and its ``manifest``; ``classes`` maps each layer import path the
    manifest names to the layer class, ``sources`` are the layer modules' source bytes a bundle ships."""

    target_name = "ort"

    def __init__(self, model: onnx.ModelProto, manifest: dict[str, Any], classes: dict[str, type],
                 sources: dict[str, bytes] | None = None):
        self.model = model
        self.manifest = manifest
        self.classes = dict(classes)
        self.sources = dict(sources or {})
        #: bytes a run may use (None: the default budget); set from the compile's option or, at load, the
        #: stricter of the manifest's and the user's
        self.memory_budget: int | None = (manifest.get("options") or {}).get("memory_budget")

    @property
    def python_ops(self) -> list[str]:
        """Names of the nodes run by Python (inside onnxruntime, or between its regions)."""
        return [e["node"] for e in self.manifest.get("custom_ops", []) if e["lowering"] != FUNCTION]

    def describe(self) -> dict[str, Any]:
        """What ``graphc inspect`` shows: ops by type and how each runs, layers, moved nodes, the schedule."""
        from .describe import describe_lowered

        return describe_lowered(self.model, self.manifest)

    def save(self, path: str | Path) -> None:
        """Write the bundle (a folder, or a zip when ``path`` ends in .zip), atomically."""
        from .bundle import save_bundle

        save_bundle(Path(path), self.model, self.manifest, self.sources)
