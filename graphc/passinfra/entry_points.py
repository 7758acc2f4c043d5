"""Installed pass plugins: the ``graphc.passes`` entry points, imported by the default pass registry.

Kept apart from :mod:`.plugins` (which also reads the rule registry) so that the pass
registry can load entry points without importing :mod:`graphc.pattern`.
"""

from __future__ import annotations

import logging
from types import ModuleType

__all__ = ["ENTRY_POINT_GROUP", "installed_plugins", "load_installed_plugins"]
logger = logging.getLogger("graphc.passes")

#: the entry-point group installed packages declare their pass modules in
ENTRY_POINT_GROUP = "graphc.passes"


def installed_plugins() -> list:
    """The entry points (``importlib.metadata.EntryPoint``) of group ``graphc.passes`` of the
    installed distributions, by name."""
    import importlib.metadata

    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def load_installed_plugins() -> list[str]:
    """Import every installed ``graphc.passes`` plugin; returns one message per plugin that failed
    (each also logged as a warning). An entry point names a module (imported for what it
    registers) or a callable taking no arguments (called once)."""
    failures = []
    for ep in installed_plugins():
        dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, ModuleType):
                obj()
        except (Exception, SystemExit) as e:  # noqa: BLE001 - an installed package's code
            message = (f"pass plugin {ep.name!r} = {ep.value!r} (package {dist!r}) failed to load: "
                       f"{type(e).__name__}: {e}")
            logger.warning("%s; its passes are unavailable (fix or uninstall the package)", message)
            failures.append(message)
    return failures
