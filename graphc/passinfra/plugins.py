"""Loading user passes and rules: ``--plugins FILE.py|module`` and the ``graphc.passes`` entry points.

A plugin is a module that declares passes (``@graph_pass``) and rules
(``register_rules``) when it is imported; they go into the default registries
(``PASSES``, ``RULES``), where pipelines, ``graphc passes``, ``explain --rule`` and
``blame`` find them.

* :func:`load_pass_plugins` imports the modules or ``.py`` files the user names (the
  CLI's ``--plugins``). A file is imported once per process under a name derived from its
  resolved path.
* Installed packages declare plugins in the entry-point group ``graphc.passes``
  (``[project.entry-points."graphc.passes"] my = "my_pkg.passes"``). The default pass
  registry imports them, after the built-in passes, the first time a pass or rule is
  looked up; a plugin that fails to import is reported as a warning and named by the
  "unknown pass" error instead of stopping every command.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Sequence

from ..errors import PassError

from .entry_points import ENTRY_POINT_GROUP, installed_plugins, load_installed_plugins

__all__ = ["ENTRY_POINT_GROUP", "load_pass_plugins", "installed_plugins", "load_installed_plugins", "plugin_module_name"]
logger = logging.getLogger("graphc.passes")


def load_pass_plugins(names: Sequence[str]) -> list[str]:
    """Import the pass/rule modules ``names`` (module names or ``.py`` paths); returns the
    names of the passes and rules they registered (sorted; empty for a plugin imported before).

    Raises PassError naming the plugin when it cannot be imported.
    """
    from ..pattern.registry import RULES
    from .declare import PASSES

    PASSES.ensure_loaded()  # built-ins and installed plugins first: a user plugin may build on them
    before = set(PASSES.names()) | set(RULES.names())
    added: set[str] = set()
    for name in names:
        fresh = _import_plugin(str(name))
        now = (set(PASSES.names()) | set(RULES.names())) - before - added
        if fresh and not now:
            logger.warning("pass plugin %s registered no passes or rules (use @graph_pass / register_rules)", name)
        added |= now
    return sorted(added)


def _is_path(name: str) -> bool:
    return name.endswith(".py") or "/" in name or "\\" in name


def plugin_module_name(path: Path) -> str:
    """The ``sys.modules`` name a plugin file is imported under (stable per resolved path)."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"graphc_plugin_{stem}_{digest}"


def _import_plugin(name: str) -> bool:
    """Import plugin ``name``; False when it was imported before (nothing new to register)."""
    if _is_path(name):
        return _import_file(Path(name))
    if name in sys.modules:
        return False
    try:
        importlib.import_module(name)
    except (Exception, SystemExit) as e:  # noqa: BLE001 - user code (an exit() in it must not end graphc)
        raise PassError(f"cannot import pass plugin {name!r}: {type(e).__name__}: {e}. "
                        "Give an importable module name or a path to a .py file") from e
    return True


def _import_file(path: Path) -> bool:
    if not path.is_file():
        raise PassError(f"pass plugin file {str(path)!r} does not exist (give a .py file or a module name)")
    modname = plugin_module_name(path)
    if modname in sys.modules:
        return False
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise PassError(f"cannot import pass plugin file {str(path)!r}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as e:  # noqa: BLE001 - user code
        sys.modules.pop(modname, None)
        raise PassError(f"cannot import pass plugin file {str(path)!r}: {type(e).__name__}: {e}") from e
    return True
