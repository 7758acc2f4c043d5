"""Declaring passes: the @graph_pass decorator, PassInfo, PassResult and the pass registry."""

from __future__ import annotations

import importlib
import inspect
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..errors import PassError

if TYPE_CHECKING:
    from ..ir import Graph
    from .context import PassContext

__all__ = ["PassResult", "PassInfo", "PassRegistry", "PASSES", "graph_pass"]


@dataclass
class PassResult:
    """What a pass did: whether it changed the graph, and counters (per rule, ops added...)."""

    changed: bool = False
    stats: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to counter ``key``; a non-zero count marks the graph changed."""
        self.stats[key] = self.stats.get(key, 0) + n
        if n:
            self.changed = True


PassFn = Callable[..., "PassResult | bool | None"]


@dataclass(frozen=True)
class PassInfo:
    """A declared pass: name, one-line description, contracts and typed options.

    Contracts are property names: ``requires`` must hold before the pass runs (an earlier
    pass establishes it); ``uses`` is read when it holds (so a pass establishing it may not
    come *later* in a pipeline: that order is a mistake); ``establishes`` holds after it;
    ``invalidates`` no longer holds after it.
    """

    name: str
    description: str
    fn: PassFn
    requires: frozenset[str] = frozenset()
    establishes: frozenset[str] = frozenset()
    invalidates: frozenset[str] = frozenset()
    options: dict[str, tuple[type, Any]] = field(default_factory=dict)
    uses: frozenset[str] = frozenset()

    def parse_options(self, raw: dict[str, str]) -> dict[str, Any]:
        """Convert ``key=value`` strings to the option types the pass function declares."""
        out: dict[str, Any] = {}
        for key, text in raw.items():
            if key not in self.options:
                known = ", ".join(sorted(self.options)) or "none"
                raise PassError(f"pass {self.name!r} has no option {key!r} (options: {known})")
            typ, _ = self.options[key]
            out[key] = _convert(self.name, key, typ, text)
        return out

    def run(self, graph: Graph, ctx: PassContext, options: dict[str, Any]) -> PassResult:
        """Run the pass on ``graph``; a bool result becomes a PassResult."""
        res = self.fn(graph, ctx, **options)
        if isinstance(res, PassResult):
            return res
        return PassResult(changed=bool(res))


def _convert(pass_name: str, key: str, typ: type, text: str) -> Any:
    try:
        if typ is bool:
            if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("1", "true", "yes")
        return typ(text)
    except (TypeError, ValueError):
        raise PassError(f"pass {pass_name!r}: option {key}={text!r} is not a valid {typ.__name__}") from None


class PassRegistry:
    """Named passes. The default registry discovers the built-in ``passes`` package and the
    installed ``graphc.passes`` plugins (:mod:`.plugins`) lazily, on the first lookup."""

    def __init__(self, builtin_package: str | None = None, plugins: bool = False):
        self._passes: dict[str, PassInfo] = {}
        self._builtin_package = builtin_package
        self._plugins = plugins
        self._plugin_failures: list[str] = []
        self._loaded = builtin_package is None and not plugins
        self._loading = threading.RLock()  # threads compiling at once wait for one import of the built-ins
        self._started = self._loaded

    def add(self, info: PassInfo) -> None:
        """Register ``info`` under its name (a different pass of the same name is refused)."""
        if info.name in self._passes and self._passes[info.name].fn is not info.fn:
            raise PassError(f"a pass named {info.name!r} is already registered")
        self._passes[info.name] = info

    def _load(self) -> None:
        if self._loaded:
            return
        with self._loading:
            if not self._started:  # re-entry from the import itself (same thread) falls through
                self._started = True
                if self._builtin_package:
                    importlib.import_module(self._builtin_package)
                if self._plugins:
                    from .entry_points import load_installed_plugins

                    self._plugin_failures = load_installed_plugins()
                self._loaded = True

    def ensure_loaded(self) -> None:
        """Import the built-in passes and the installed plugins now (they load on first lookup otherwise)."""
        self._load()

    def remove(self, name: str) -> None:
        """Forget the pass ``name`` (tests and plugins that registered one temporarily)."""
        self._passes.pop(name, None)

    def get(self, name: str) -> PassInfo:
        """The pass ``name``; an unknown name is a PassError suggesting close names."""
        self._load()
        try:
            return self._passes[name]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(name, self._passes, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            failed = "".join(f" Note: {m}." for m in self._plugin_failures)
            raise PassError(f"unknown pass {name!r}.{hint} `graphc passes` lists them; a pass of your own "
                            f"needs --plugins FILE.py|module (docs/writing-passes.md).{failed}") from None

    def names(self) -> list[str]:
        """Every registered pass name, sorted."""
        self._load()
        return sorted(self._passes)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._passes


PASSES = PassRegistry(builtin_package="passes", plugins=True)


def graph_pass(
    name: str,
    description: str,
    *,
    requires: tuple[str, ...] = (),
    establishes: tuple[str, ...] = (),
    invalidates: tuple[str, ...] = (),
    uses: tuple[str, ...] = (),
    registry: PassRegistry | None = None,
) -> Callable[[PassFn], PassFn]:
    """Declare ``fn(graph, ctx, **options) -> PassResult | bool`` as the pass ``name``.

    Keyword-only parameters with defaults become the pass's typed options, settable in
    a pipeline string as ``name{key=value}``.

    Example::

        @graph_pass("dce", "remove ops whose outputs nobody reads")
        def dce(graph, ctx):
            ...
            return PassResult(changed=True, stats={"removed": 3})
    """

    def declare(fn: PassFn) -> PassFn:
        opts = {}
        for p in inspect.signature(fn).parameters.values():
            if p.kind == p.KEYWORD_ONLY:
                typ = type(p.default) if p.default is not inspect.Parameter.empty else str
                opts[p.name] = (typ, p.default)
        info = PassInfo(name, description, fn, frozenset(requires), frozenset(establishes), frozenset(invalidates), opts,
                        frozenset(uses))
        (registry or PASSES).add(info)
        fn.pass_info = info  # type: ignore[attr-defined]
        return fn

    return declare
