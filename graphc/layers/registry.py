"""LayerRegistry: custom layers by (domain, op_type, opset); the default registry and decorator."""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import sys
from dataclasses import dataclass
from typing import Callable, Iterator

from ..domains import canonical_domain
from ..errors import LayerError
from .base import Layer

__all__ = ["LayerRegistry", "LayerEntry", "BUILTIN_LAYERS", "DEFAULT_LAYERS", "register_layer",
           "is_builtin", "is_builtin_path", "user_layer"]
logger = logging.getLogger("graphc.layers")


@dataclass(frozen=True)
class LayerEntry:
    """One registration: ``cls`` implements ``domain::op_type`` for opsets since..until."""
    domain: str
    op_type: str
    cls: type[Layer]
    since_version: int = 1
    until_version: int | None = None

    def covers(self, opset: int) -> bool:
        """True when this registration applies at ``opset``."""
        return self.since_version <= opset and (self.until_version is None or opset <= self.until_version)

    @property
    def import_path(self) -> str:
        """``module:QualName`` of the layer class (what manifests record)."""
        return f"{self.cls.__module__}:{self.cls.__qualname__}"

    @property
    def display_name(self) -> str:
        """How messages name the layer: ``my_layers.py:Interp`` for a class from a layer file
        (not the hashed module name graphc imported the file under), else the import path."""
        return display_name(self.cls)


def display_name(cls: type) -> str:
    """``FILE.py:QualName`` for a class of a layer file loaded by path, else ``module:QualName``."""
    origin = getattr(sys.modules.get(cls.__module__), "__graphc_origin__", None)
    if not origin:
        return f"{cls.__module__}:{cls.__qualname__}"
    return f"{_readable_file(origin)}:{cls.__qualname__}"


def readable_import_path(import_path: str, source_file: str | None) -> str:
    """A manifest's ``module:QualName`` as messages show it: ``FILE.py:QualName`` when the module is the
    hashed name graphc imported ``source_file`` under (``graphc_layers_<stem>_<hash>``), else as is."""
    module, _, qual = import_path.partition(":")
    if module.startswith("graphc_layers_") and source_file and source_file.endswith(".py"):
        return f"{_readable_file(source_file)}:{qual}"
    return import_path


def _readable_file(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


class LayerRegistry:
    """Registered layers. Registries compose (``parents``) and can be scoped::

        reg = LayerRegistry()
        reg.register("Interp", domain="caffe")(Interp)
        with DEFAULT_LAYERS.scope(reg):    # lookups see reg's layers first
            graphc.compile(...)
    """

    def __init__(self, parents: tuple[LayerRegistry, ...] = ()):
        self._entries: dict[tuple[str, str], list[LayerEntry]] = {}
        self._parents = list(parents)
        self._scoped: list[LayerRegistry] = []
        self._capturing: list[LayerRegistry] = []  # registrations go to the innermost capture

    def register(self, op_type: str, domain: str = "", since_version: int = 1,
                 until_version: int | None = None) -> Callable[[type[Layer]], type[Layer]]:
        """Class decorator registering a Layer subclass for ``domain::op_type``."""

        def add(cls: type[Layer]) -> type[Layer]:
            if not (isinstance(cls, type) and issubclass(cls, Layer)):
                raise LayerError(f"register_layer({op_type!r}): {cls!r} is not a graphc.Layer subclass")
            d = canonical_domain(domain)
            cls.op_key = (d, op_type)
            dest = self._capturing[-1] if self._capturing else self
            dest._entries.setdefault((d, op_type), []).insert(0, LayerEntry(d, op_type, cls, since_version, until_version))
            return cls

        return add

    def add(self, cls: type[Layer], op_type: str, domain: str = "", since_version: int = 1) -> None:
        """Register ``cls`` for ``domain::op_type`` (the non-decorator form of register)."""
        self.register(op_type, domain, since_version)(cls)

    def unregister(self, op_type: str, domain: str = "") -> None:
        """Remove this registry's layers for ``domain::op_type`` (scopes and parents keep theirs)."""
        self._entries.pop((canonical_domain(domain), op_type), None)

    def _chain(self) -> Iterator[LayerRegistry]:
        for r in reversed(self._scoped):
            yield from r._chain()
        yield self
        for p in self._parents:
            yield from p._chain()

    def lookup(self, domain: str, op_type: str, opset: int = 1) -> LayerEntry | None:
        """The layer registered for this op at ``opset``, nearest scope first."""
        d = canonical_domain(domain)
        for reg in self._chain():
            for e in reg._entries.get((d, op_type), ()):
                if e.covers(opset):
                    return e
        return None

    def entries(self) -> list[LayerEntry]:
        """The visible registration of every op, nearest scope first, sorted by (domain, op_type)."""
        seen: dict[tuple[str, str], LayerEntry] = {}
        for reg in self._chain():
            for key, es in reg._entries.items():
                seen.setdefault(key, es[0])
        return [seen[k] for k in sorted(seen)]

    def closest(self, op_type: str, n: int = 3) -> list[str]:
        """Registered names (``domain::op_type``) whose op type is most like ``op_type``."""
        scored = []
        for e in self.entries():
            name = f"{e.domain}::{e.op_type}" if e.domain else e.op_type
            ratio = difflib.SequenceMatcher(None, op_type.lower(), e.op_type.lower()).ratio()
            if ratio >= 0.6:
                scored.append((-ratio, name))
        return [name for _, name in sorted(scored)[:n]]

    def add_entry(self, entry: LayerEntry) -> None:
        """Register an existing entry (a layer another registry already holds)."""
        self._entries.setdefault((entry.domain, entry.op_type), []).insert(0, entry)

    @contextlib.contextmanager
    def capture(self, into: LayerRegistry) -> Iterator[LayerRegistry]:
        """Within the block, layers registered on this registry go into ``into`` instead
        (how ``--layers`` modules fill a fresh registry without touching the default one)."""
        self._capturing.append(into)
        try:
            yield into
        finally:
            self._capturing.remove(into)

    @contextlib.contextmanager
    def scope(self, *registries: LayerRegistry) -> Iterator[LayerRegistry]:
        """Within the block, lookups see ``registries`` before this one."""
        self._scoped.extend(registries)
        try:
            yield self
        finally:
            del self._scoped[len(self._scoped) - len(registries):]


#: layers graphc ships for framework ops ONNX cannot express (:mod:`graphc.layers.builtin`, e.g.
#: SSD's ``caffe::DetectionOutput``); filled when :mod:`graphc.layers` is imported
BUILTIN_LAYERS = LayerRegistry()

#: the registry behind ``@graphc.register_layer``; it sees the built-in layers (its parent), so
#: does every registry composed over it (``load_layer_modules``, ``--layers``)
DEFAULT_LAYERS = LayerRegistry(parents=(BUILTIN_LAYERS,))


def is_builtin(entry: LayerEntry) -> bool:
    """Whether ``entry`` is one of graphc's built-in layers (not a user's)."""
    return any(e is entry for es in BUILTIN_LAYERS._entries.values() for e in es)


def is_builtin_path(import_path: str) -> bool:
    """Whether ``module:QualName`` names one of graphc's built-in layers (an artifact's record)."""
    return any(e.import_path == import_path for es in BUILTIN_LAYERS._entries.values() for e in es)


def user_layer(layers: LayerRegistry | None, domain: str, op_type: str, opset: int = 1) -> LayerEntry | None:
    """The layer a user registered for ``domain::op_type`` in ``layers``, ignoring graphc's built-ins
    (how frontends decide that a registered layer claims a type they import themselves)."""
    entry = layers.lookup(domain, op_type, opset) if layers is not None else None
    return None if entry is None or is_builtin(entry) else entry


def register_layer(op_type: str, domain: str = "", since_version: int = 1,
                   until_version: int | None = None, registry: LayerRegistry | None = None):
    """Register a Layer subclass in the default (or given) registry."""
    return (registry or DEFAULT_LAYERS).register(op_type, domain, since_version, until_version)
