"""Loading layer modules (``--layers FILE.py|package.module``) into a fresh registry.

The layers a module registers with ``@graphc.register_layer`` while it is imported
go into a new :class:`LayerRegistry` composed over ``DEFAULT_LAYERS`` — the default
registry is left as it was, so a later compile without ``--layers`` does not see
them. A module is imported once per process: its registrations are remembered on the
module (``__graphc_layers__``) and replayed into every later registry that names it.
A ``.py`` file is imported again when it changed on disk.

:func:`layer_argument` says what to pass to ``--layers`` to load a module again (a
file-loaded module's resolved path); :func:`load_layer_source` imports module source held
in memory (a bundle's own copy), writing nothing to disk.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import linecache
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

from ..errors import LayerError
from .registry import DEFAULT_LAYERS, LayerEntry, LayerRegistry

__all__ = ["load_layer_modules", "resolve_registry", "module_name_for_path", "layer_argument", "load_layer_source",
           "layer_source_digest"]
logger = logging.getLogger("graphc.layers")

_ATTR = "__graphc_layers__"
_STAMP = "__graphc_stamp__"
_ORIGIN = "__graphc_origin__"  # the resolved .py path a module was loaded from


def load_layer_modules(names: Sequence[str]) -> LayerRegistry:
    """A fresh registry (over DEFAULT_LAYERS) holding the layers ``names`` register.

    ``names`` are module names (``my_pkg.layers``) or paths to ``.py`` files.
    Raises LayerError naming the module when it cannot be imported.
    """
    reg = LayerRegistry(parents=(DEFAULT_LAYERS,))
    for name in names:
        for entry in _entries_of(str(name)):
            reg.add_entry(entry)
    return reg


def module_name_for_path(path: Path) -> str:
    """The ``sys.modules`` name a layer file is imported under (stable per resolved path)."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"graphc_layers_{stem}_{digest}"


def layer_argument(module_name: str) -> str:
    """What to pass to ``--layers`` (or ``layers=[...]``) to load module ``module_name`` again: the
    resolved path of the .py file it was loaded from, else the module name itself."""
    return getattr(sys.modules.get(module_name), _ORIGIN, None) or module_name


def layer_source(cls: type) -> tuple[str, bytes | None]:
    """(sha256 hex, source bytes) of the file defining layer class ``cls``; ("", None) when it has
    none (defined in a REPL, a notebook, ``python -c``) or when it is one of graphc's built-in layers
    (graphc's own code, versioned with graphc like its kernels: an upgrade must not orphan artifacts)."""
    import inspect

    if cls.__module__.startswith("graphc.layers.builtin"):
        return "", None
    try:
        path = inspect.getsourcefile(cls)
    except (TypeError, OSError):
        return "", None
    if not path or not Path(path).is_file():
        return "", None
    data = Path(path).read_bytes()
    return hashlib.sha256(data).hexdigest(), data


def check_source_unchanged(subject: str, recorded: str, current: str, trust: bool, redo: str) -> None:
    """Refuse (LayerError), or with ``trust`` warn about, a layer source whose sha256 ``current`` differs
    from the ``recorded`` one; ``subject`` says what changed ("layer X (node n) changed since ..."), ``redo``
    how to rebuild. Nothing to compare (an artifact older than the digest, a layer without a file): no check."""
    if not recorded or not current or recorded == current:
        return
    msg = f"{subject} (source sha256 {recorded[:12]}... then, {current[:12]}... now)"
    if not trust:
        raise LayerError(f"{msg}; {redo}, or pass --trust (trust=True) to run it with the changed module")
    logger.warning("%s; running it anyway (trust)", msg)


def layer_source_digest(cls: type) -> str:
    """The sha256 (hex) of :func:`layer_source`; artifacts record it to notice a changed layer."""
    return layer_source(cls)[0]


def load_layer_source(name: str, source: bytes, origin: str) -> LayerRegistry:
    """A fresh registry (over DEFAULT_LAYERS) holding the layers module source ``source`` registers,
    imported as module ``name`` from memory (nothing is written to disk).

    ``origin`` names the source in tracebacks. A module is imported once per ``name``: give a
    name that changes with the source (e.g. one holding its digest).
    """
    module = sys.modules.get(name)
    if module is None or not hasattr(module, _ATTR):
        text = source.decode("utf-8")
        module = ModuleType(name)
        module.__file__ = origin
        linecache.cache[origin] = (len(text), None, text.splitlines(True), origin)  # tracebacks show the lines
        sys.modules[name] = module
        captured = LayerRegistry()
        with DEFAULT_LAYERS.capture(captured):
            try:
                exec(compile(text, origin, "exec"), module.__dict__)  # noqa: S102 - the caller trusts this source
            except (Exception, SystemExit) as e:  # noqa: BLE001 - user code (an exit() in it must not end graphc)
                sys.modules.pop(name, None)
                raise LayerError(f"cannot import layer source {origin!r}: {type(e).__name__}: {e}") from e
        _remember(module, captured, origin)
    reg = LayerRegistry(parents=(DEFAULT_LAYERS,))
    for entry in getattr(module, _ATTR):
        reg.add_entry(entry)
    return reg


def _entries_of(name: str) -> list[LayerEntry]:
    is_path = name.endswith(".py") or "/" in name or "\\" in name
    if is_path:
        return _load_path(Path(name))
    module = sys.modules.get(name)
    if module is not None:
        if hasattr(module, _ATTR):
            return list(getattr(module, _ATTR))
        # imported before, outside graphc: its layers went to DEFAULT_LAYERS (our parent)
        return []
    captured = LayerRegistry()
    with DEFAULT_LAYERS.capture(captured):
        try:
            module = importlib.import_module(name)
        except (Exception, SystemExit) as e:  # noqa: BLE001 - user code (an exit() in it must not end graphc)
            raise LayerError(f"cannot import layer module {name!r}: {type(e).__name__}: {e}. "
                             "Give an importable module name or a path to a .py file") from e
    return _remember(module, captured, name)


def _load_path(path: Path) -> list[LayerEntry]:
    if not path.is_file():
        raise LayerError(f"layer file {str(path)!r} does not exist")
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    modname = module_name_for_path(path)
    module = sys.modules.get(modname)
    if module is not None and getattr(module, _STAMP, None) == stamp:
        return list(getattr(module, _ATTR, []))
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise LayerError(f"cannot import layer file {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    captured = LayerRegistry()
    with DEFAULT_LAYERS.capture(captured):
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as e:  # noqa: BLE001 - user code (an exit() in it must not end graphc)
            sys.modules.pop(modname, None)
            raise LayerError(f"cannot import layer file {str(path)!r}: {type(e).__name__}: {e}") from e
    setattr(module, _STAMP, stamp)
    setattr(module, _ORIGIN, str(path.resolve()))
    return _remember(module, captured, str(path))


def _remember(module: ModuleType, captured: LayerRegistry, name: str) -> list[LayerEntry]:
    entries = [e for es in captured._entries.values() for e in reversed(es)]
    setattr(module, _ATTR, entries)
    if not entries:
        logger.warning("layer module %s registered no layers (use @graphc.register_layer)", name)
    return list(entries)


def resolve_registry(layers: Any) -> LayerRegistry:
    """A registry from None (the default), a LayerRegistry, or module names / .py paths to import."""
    if layers is None:
        return DEFAULT_LAYERS
    if isinstance(layers, LayerRegistry):
        return layers
    names = [layers] if isinstance(layers, str) else list(layers)
    return load_layer_modules(names)
