"""Resource limits that apply when the caller sets none."""

from __future__ import annotations

import os

from .errors import GraphcError, ModelFormatError

__all__ = ["default_memory_budget", "memory_budget", "stricter_budget"]

_FALLBACK_BUDGET = 8 << 30  # when the machine's memory cannot be read


def default_memory_budget() -> int:
    """Bytes a plan may use when no ``memory_budget`` is given: ``GRAPHC_MEMORY_BUDGET`` if
    set, else half of the machine's physical memory (8 GiB where that cannot be read)."""
    text = os.environ.get("GRAPHC_MEMORY_BUDGET")
    if text:
        try:
            return int(text)
        except ValueError:
            raise GraphcError(f"GRAPHC_MEMORY_BUDGET={text!r} is not a number of bytes") from None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, OSError, ValueError):
        return _FALLBACK_BUDGET


def memory_budget(given: int | None) -> int:
    """``given`` when the caller set one, else :func:`default_memory_budget`."""
    return int(given) if given is not None else default_memory_budget()


def stricter_budget(recorded: object, given: int | None) -> int | None:
    """The budget a loaded artifact runs under: the stricter of the one it ``recorded`` at compile
    time (its manifest) and the caller's (``given``, else ``GRAPHC_MEMORY_BUDGET``, else half the
    memory). An artifact can lower the user's limit, never raise it. None when neither is set."""
    if recorded is None:
        return given
    if isinstance(recorded, bool) or not isinstance(recorded, (int, float)) or not recorded >= 0 \
            or recorded != recorded or recorded == float("inf"):
        raise ModelFormatError(f"the manifest's options.memory_budget {recorded!r} is not a number of bytes")
    return min(int(recorded), memory_budget(given))
