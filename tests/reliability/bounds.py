"""A time bound for fuzz cases that graphc's own error handling cannot swallow.

``Hang`` is a ``BaseException``: graphc turns ``Exception`` raised inside a pass or a kernel into a
``PassError``/``GraphcError``, and a hang bound built on ``Exception`` would then count a sleeping
kernel as a clean outcome. :func:`hung` also looks through an error's cause chain, in case some
code wraps even a ``BaseException``.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

__all__ = ["Hang", "time_bound", "hung"]


class Hang(BaseException):
    """Raised by :func:`time_bound` when the bound runs out."""


@contextmanager
def time_bound(seconds: int) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after ``seconds`` (SIGALRM)."""

    def alarm(signum, frame):
        raise Hang(f"no result within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def hung(error: BaseException) -> bool:
    """True when ``error`` is a :class:`Hang` or has one in its cause/context chain."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        if isinstance(e, Hang):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False
