"""Direct float32 GEMM calls into the BLAS numpy is linked against (OpenBLAS), with leading dimensions and beta.

``np.matmul`` cannot accumulate (``C += A @ B``) or read a matrix whose rows are a
fixed stride apart inside a larger buffer without copying it first. The convolution
kernels need both for implicit-GEMM convolution: every kernel tap's input rows are a
strided window of one padded image, multiplied and accumulated straight into the
result, so no im2col patch matrix is ever written. :func:`sgemm` is that call; it is
available only when the numpy build bundles a recognised CBLAS (the scipy-openblas
wheels do), otherwise :func:`available` is False and callers keep their numpy path.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from typing import Any

import numpy as np

__all__ = ["available", "sgemm"]

_ROW_MAJOR, _NO_TRANS = 101, 111
#: CBLAS sgemm symbols to look for, and whether their integers are 64-bit (ILP64)
_SYMBOLS = (("scipy_cblas_sgemm64_", True), ("cblas_sgemm64_", True), ("scipy_cblas_sgemm", False),
            ("cblas_sgemm", False))


@functools.lru_cache(maxsize=1)
def _sgemm() -> Any:
    """The ctypes CBLAS sgemm function of numpy's bundled BLAS, or None."""
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name, ilp64 in _SYMBOLS:
            fn = getattr(lib, name, None)
            if fn is None:
                continue
            n = ctypes.c_int64 if ilp64 else ctypes.c_int
            e, p, f = ctypes.c_int, ctypes.c_void_p, ctypes.c_float
            fn.argtypes = [e, e, e, n, n, n, f, p, n, p, n, f, p, n]
            fn.restype = None
            if _selftest(fn):
                return fn
    return None


def _selftest(fn: Any) -> bool:
    """Check the symbol computes a small strided product correctly before trusting it."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    big = rng.standard_normal((4, 9)).astype(np.float32)
    c = np.ones((3, 5), np.float32)
    fn(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, 3, 5, 4, 1.0, a.ctypes.data, 4, big.ctypes.data + 4 * 2, 9, 1.0,
       c.ctypes.data, 5)
    return bool(np.allclose(c, a @ big[:, 2:7] + 1, rtol=1e-5, atol=1e-5))


def available() -> bool:
    """True when :func:`sgemm` can run (a CBLAS was found and passed its self-test)."""
    return _sgemm() is not None


def sgemm(a: np.ndarray, b: np.ndarray, b_offset: int, ldb: int, k: int, n: int, c: np.ndarray,
          beta: float) -> None:
    """``c = a @ B + beta * c`` with ``B`` the (k, n) matrix whose row ``i`` is ``b.flat[b_offset + i * ldb:][:n]``.

    ``a`` (M, k) and ``c`` (M, n) are C-contiguous float32; ``b`` is a C-contiguous
    float32 buffer that must contain every row of ``B`` (checked).
    """
    fn = _sgemm()
    if fn is None:
        raise RuntimeError("no CBLAS sgemm found in numpy's bundled libraries")
    m = a.shape[0]
    if a.dtype != np.float32 or b.dtype != np.float32 or c.dtype != np.float32:
        raise ValueError("sgemm takes float32 arrays")
    if not (a.flags.c_contiguous and b.flags.c_contiguous and c.flags.c_contiguous):
        raise ValueError("sgemm takes C-contiguous arrays")
    if a.shape != (m, k) or c.shape != (m, n) or b_offset < 0 or ldb < n \
            or b_offset + (k - 1) * ldb + n > b.size:
        raise ValueError(f"sgemm shapes do not fit: a {a.shape}, k={k}, n={n}, c {c.shape}, "
                         f"B rows at {b_offset} + i*{ldb} in a buffer of {b.size}")
    fn(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, m, n, k, 1.0, a.ctypes.data, k, b.ctypes.data + 4 * b_offset, ldb,
       float(beta), c.ctypes.data, n)
