"""The Target protocol, the Artifact protocol, and the target registry."""

from __future__ import annotations

import importlib
import json
import os
import zipfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .errors import GraphcError, ModelFormatError

if TYPE_CHECKING:
    from .ir import Graph, Op
    from .passinfra import PassContext

__all__ = ["Target", "Artifact", "TARGETS", "TargetRegistry", "get_target", "read_manifest", "describe_runs", "MANIFEST"]

MANIFEST = "manifest.json"
#: the largest manifest.json read
MANIFEST_LIMIT = 64 << 20


@runtime_checkable
class Artifact(Protocol):
    """A compiled model: runs feeds, saves itself, and can be described."""

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once; return a dict output name -> fresh array the caller owns."""
        ...

    def save(self, path: str | os.PathLike) -> None:
        """Write the artifact (atomically) to ``path``."""
        ...


@runtime_checkable
class Target(Protocol):
    """Where a graph is lowered to. A pass asks the target only ``supports(op)``.

    Optional members, looked up with ``getattr``: ``buffer_hints(op)`` (plan-buffers' in-place/view
    declarations) and ``minimal_pipeline()`` (lowering prerequisites only, the pipeline graphc.diff's
    numeric checker compiles each stage with). Library code (``graphc/``, ``passes/``) reaches a
    target only through this registry, by name, never by importing ``targets``.
    """

    name: str

    def supports(self, op: Op) -> bool:
        """True when the target runs ``op`` natively (without a custom layer)."""
        ...

    def pipeline(self) -> str:
        """The target's default ordered pass pipeline, as pipeline text."""
        ...

    def lower(self, graph: Graph, ctx: PassContext) -> Artifact:
        """Turn the pipeline's result into an artifact."""
        ...

    def load(self, path: Path, manifest: dict[str, Any], layers: Any = None, trust: bool = False) -> Artifact:
        """Rebuild an artifact this target saved."""
        ...


class TargetRegistry:
    """Targets by name; built-ins are imported lazily from ``module:Class`` strings."""

    def __init__(self) -> None:
        self._factories: dict[str, Any] = {
            "numpy": "targets.numpy.target:NumpyTarget",
            "ort": "targets.ort.target:OrtTarget",
        }

    def register(self, name: str, factory: Any) -> None:
        """Make ``factory`` (a class or a ``module:Class`` string) available as target ``name``."""
        self._factories[name] = factory

    def names(self) -> list[str]:
        """The registered target names, sorted."""
        return sorted(self._factories)

    def create(self, name: str, **options: Any) -> Target:
        """Build the target ``name`` with ``options``; unknown names are a GraphcError listing the known ones."""
        factory = self._factories.get(name)
        if factory is None:
            raise GraphcError(f"unknown target {name!r}; choose one of: {', '.join(self.names())}")
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module), attr)
        return factory(**_accepted(factory, options))


def _accepted(factory: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The options ``factory`` takes by name (all of them if it takes ``**kwargs``)."""
    import inspect

    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return dict(options)
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return dict(options)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in options.items() if k in names}


TARGETS = TargetRegistry()


def get_target(target: str | Target, **options: Any) -> Target:
    """The target named ``target`` built with the options its constructor takes, or ``target`` itself."""
    return TARGETS.create(target, **options) if isinstance(target, str) else target


def describe_runs(rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The part of an artifact's ``describe()`` every target shares, from (node, op type, how
    it runs) rows: ``ops`` (count), ``op_types`` (histogram, most frequent first) and ``runs``
    (how it runs -> op type -> count, sorted)."""
    by_kind: dict[str, Counter] = {}
    for _, op_type, kind in rows:
        by_kind.setdefault(kind, Counter())[op_type] += 1
    return {
        "ops": len(rows),
        "op_types": dict(Counter(t for _, t, _ in rows).most_common()),
        "runs": {k: dict(sorted(c.items())) for k, c in sorted(by_kind.items())},
    }


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a saved artifact (a folder or a zip holding manifest.json).

    Reads only regular files (``path`` itself when it is not a folder, ``manifest.json``
    inside the folder, not a link leaving it), at most :data:`MANIFEST_LIMIT` bytes."""
    from .archive import read_folder_file, read_member, require_regular_file
    from .manifest_schema import COMMON, check_manifest

    path = Path(path)
    try:
        if path.is_dir():
            data = read_folder_file(path, MANIFEST, MANIFEST_LIMIT)
            if data is None:
                raise ModelFormatError(f"{path}: the folder has no {MANIFEST}; is it a graphc artifact?")
        else:
            require_regular_file(path)
            if not zipfile.is_zipfile(path):
                raise ModelFormatError(f"{path} is not a graphc artifact (expected a folder or zip with {MANIFEST})")
            data = read_member(path, MANIFEST, MANIFEST_LIMIT)
            assert data is not None  # read_member raises on a missing member unless missing_ok
        manifest = json.loads(data.decode())
    except (OSError, ValueError, RecursionError, zipfile.BadZipFile) as e:
        raise ModelFormatError(f"{path}: cannot read the artifact manifest ({e})") from e
    if not isinstance(manifest, dict) or "target" not in manifest:
        raise ModelFormatError(f"{path}: the manifest does not say which target wrote it")
    check_manifest(path, manifest, COMMON)
    return manifest
