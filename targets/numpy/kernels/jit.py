"""Compiled kernels: numba's ``njit`` for the loops numpy has no primitive for (depthwise and small
direct convolutions, one-pass epilogues), compiled on first use and cached on disk.

Numba is imported lazily, on the first call of a compiled kernel: a process that never runs one
pays nothing (importing numba costs about 0.13 s and 120 MB of resident memory, mostly LLVM;
see docs/performance.md). Set ``GRAPHC_JIT=0`` to run the numpy kernels instead (the tests run
both); :func:`available` is what prepare hooks ask before choosing a compiled path.

Floating-point flags: reassociation and contraction (FMA) are allowed, so loops vectorize;
``nnan``/``ninf`` are not, so NaN and infinity propagate as in the numpy kernels.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any, Callable

__all__ = ["available", "compiled", "CompiledKernel", "FASTMATH"]

#: LLVM fast-math flags of every compiled kernel (no ``nnan``/``ninf``: NaN/Inf semantics stay IEEE)
FASTMATH = frozenset({"contract", "reassoc", "nsz", "arcp"})

#: compiled kernels are used unless the environment says ``GRAPHC_JIT=0`` (tests patch this constant)
ENABLED = os.environ.get("GRAPHC_JIT", "1") != "0"


@functools.lru_cache(maxsize=None)
def _numba_importable() -> bool:
    try:
        import numba  # noqa: F401
    except Exception:  # noqa: BLE001 - a missing or broken numba means the numpy kernels run
        return False
    return True


def available() -> bool:
    """True when compiled kernels may be chosen: enabled, and numba imports."""
    return ENABLED and _numba_importable()


class CompiledKernel:
    """A Python function compiled by ``numba.njit`` on its first call (numba imported then)."""

    def __init__(self, func: Callable[..., Any]):
        self.func = func
        self._compiled: Callable[..., Any] | None = None
        self._lock = threading.Lock()
        functools.update_wrapper(self, func)

    def dispatcher(self) -> Callable[..., Any]:
        """The numba dispatcher (compiling it now if needed)."""
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    import numba

                    options: dict[str, Any] = dict(fastmath=set(FASTMATH), nogil=True, boundscheck=False, error_model="numpy")
                    try:
                        self._compiled = numba.njit(cache=True, **options)(self.func)
                    except RuntimeError:  # no writable cache location: compile per process
                        self._compiled = numba.njit(cache=False, **options)(self.func)
        return self._compiled

    def __call__(self, *args: Any) -> Any:
        fn = self._compiled
        if fn is None:
            fn = self.dispatcher()
        return fn(*args)


def compiled(func: Callable[..., Any]) -> CompiledKernel:
    """Decorate a kernel loop written in numba's Python subset: compiled lazily, cached on disk.

    Callers check :func:`available` first (at prepare time) and keep a numpy path for when it is
    False; calling a compiled kernel without numba raises ImportError.
    """
    return CompiledKernel(func)
