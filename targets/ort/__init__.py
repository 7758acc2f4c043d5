"""The onnxruntime target: ONNX models (plus custom ops) that plain onnxruntime runs.

``graphc.compile(model, target="ort")`` returns an :class:`~targets.ort.artifact.OrtArtifact`;
its ``save(path)`` writes a bundle that :func:`load_bundle` (or ``graphc.load``) runs again.
"""

from __future__ import annotations

from typing import Any

from .kernel_registry import OrtKernelRegistry, default_registry
from .target import OrtTarget

__all__ = ["OrtTarget", "load_bundle", "OrtKernelRegistry", "default_registry"]


def load_bundle(path: Any, layers: Any = None, trust: bool = False):
    """Load an ort bundle; see :func:`targets.ort.loader.load_bundle`."""
    from .loader import load_bundle as load

    return load(path, layers=layers, trust=trust)
