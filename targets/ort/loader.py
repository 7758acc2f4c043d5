"""Loading an ort bundle into a runnable artifact: one onnxruntime session, or regions with
Python stages between them when the manifest records a schedule.

Kept apart from :mod:`targets.ort.bundle` (which the artifacts use to save themselves) so
that reading a bundle does not import the artifacts that write one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphc.errors import ModelFormatError
from graphc.limits import stricter_budget

from .bundle import MODEL_FILE, read_bundle
from .partitioned import artifact_for

__all__ = ["load_bundle"]


def load_bundle(path: str | Path, layers: Any = None, trust: bool = False) -> Any:
    """Load an ort bundle (folder or zip) into a runnable :class:`~targets.ort.artifact.OrtArtifact`
    (or a partitioned artifact).

    ``layers``: a LayerRegistry, or module names / .py paths holding the layers the
    bundle's custom ops need. A needed layer module that the caller did not name is an
    error saying which one (and for which nodes); so is a layer whose source changed
    since the bundle was written. ``trust=True`` imports missing modules the manifest
    names (the bundle's own copy when they are not importable) and accepts changed
    sources with a warning.
    """
    path = Path(path)
    model, manifest, classes, sources = read_bundle(path, layers, trust)
    budget = stricter_budget((manifest.get("options") or {}).get("memory_budget"), None)  # the user's limit wins
    try:
        artifact = artifact_for(model, manifest, classes, sources)
        artifact.memory_budget = budget
        return artifact
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, StopIteration) as e:
        # the manifest's fields have the declared types (MANIFEST_SCHEMA), but do not fit the model or each
        # other: a dtype name numpy does not know, a node model.onnx lacks, a lowering no kernel source serves
        raise ModelFormatError(f"{path}: the manifest does not describe {MODEL_FILE} ({type(e).__name__}: {e}); "
                               "the bundle is damaged or was edited: compile it again") from e
