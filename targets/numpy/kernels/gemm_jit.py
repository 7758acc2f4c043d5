"""Compiled float32 GEMM for pointwise (1x1) convolutions: ``out[M, N] = W[M, K] @ X[K, N]`` per image.

numpy's OpenBLAS is pinned to its AVX2 kernels here (``OPENBLAS_CORETYPE=Haswell``: 100-130 GFLOP/s on one
thread); this kernel uses the CPU's widest vectors through LLVM. Its microkernel keeps a tile of
:data:`MR` output rows by :data:`NR` columns (``NR // 16`` vectors of 16 floats per row: 24 accumulators for
6 x 64) in registers over the whole K loop: per step one broadcast weight per row, one load per vector of
the X row, one fused multiply-add per accumulator. numba cannot keep a local array in registers, so the
tile is written as LLVM vector IR (:func:`_make_tile`, numba intrinsics; the accumulators are stack slots that
LLVM promotes to registers). The weights are packed once (:func:`pack_weights`) into panels of MR rows,
K-major, so each step's MR weights are contiguous. Columns past the last full tile run in tiles of 32
and 16 (:func:`_make_tile`), the last < 16 through a zero-padded copy of the X tail.

Results are those of a float32 dot product in K order with fused multiply-adds; NaN and infinity propagate
as in BLAS (0 x NaN is NaN). Callers use it only where :func:`supported` (AVX-512)
says so. This module imports numba: import it only after :func:`targets.numpy.kernels.jit.available`
said True.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

from . import jit

__all__ = ["MR", "NR", "gemm", "pack_weights", "supported"]

#: output rows per register tile (weight panel height)
MR = 6
#: float32 lanes per vector and vectors per tile row: NR = 64 output columns per tile
_LANES = 16
_NV = 4
NR = _LANES * _NV


def _make_tile(nv: int) -> Any:
    """The register tile of MR rows by ``nv`` vectors of 16 columns, as a numba intrinsic."""

    @intrinsic
    def tile(typingctx: Any, wp: Any, woff: Any, x: Any, xoff: Any, ldx: Any, out: Any, ooff: Any, ldo: Any,
             kdim: Any, nrows: Any) -> Any:  # pragma: no cover - numba compiles it
        """``out[ooff + i * ldo + j] = sum_k wp[woff + k * MR + i] * x[xoff + k * ldx + j]`` for i < nrows,
        j < 16 nv (flat float32 arrays; the caller guarantees every index is in bounds)."""
        sig = types.void(wp, woff, x, xoff, ldx, out, ooff, ldo, kdim, nrows)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            wpv, woffv, xv, xoffv, ldxv, ov, ooffv, ldov, kv, nrv = args
            f32, i32, i64 = ir.FloatType(), ir.IntType(32), ir.IntType(64)
            vt = ir.VectorType(f32, _LANES)
            wptr = make_array(signature.args[0])(context, builder, wpv).data
            xptr = make_array(signature.args[2])(context, builder, xv).data
            optr = make_array(signature.args[5])(context, builder, ov).data
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt, vt]), "llvm.fma.v16f32")
            accs = [[cgutils.alloca_once(builder, vt) for _ in range(nv)] for _ in range(MR)]
            for row in accs:
                for acc in row:
                    builder.store(ir.Constant(vt, None), acc)
            undef = ir.Constant(vt, ir.Undefined)
            splat = ir.Constant(ir.VectorType(i32, _LANES), [0] * _LANES)
            with cgutils.for_range(builder, kv) as loop:
                k = loop.index
                xrow = builder.gep(xptr, [builder.add(xoffv, builder.mul(k, ldxv))])
                xs = [builder.load(builder.bitcast(builder.gep(xrow, [ir.Constant(i64, _LANES * v)]),
                                                   vt.as_pointer()), align=4) for v in range(nv)]
                wrow = builder.gep(wptr, [builder.add(woffv, builder.mul(k, ir.Constant(i64, MR)))])
                for i in range(MR):
                    w = builder.load(builder.gep(wrow, [ir.Constant(i64, i)]))
                    wb = builder.shuffle_vector(builder.insert_element(undef, w, ir.Constant(i32, 0)), undef, splat)
                    for v in range(nv):
                        builder.store(builder.call(fma, [wb, xs[v], builder.load(accs[i][v])]), accs[i][v])
            for i in range(MR):
                with builder.if_then(builder.icmp_signed("<", ir.Constant(i64, i), nrv)):
                    orow = builder.gep(optr, [builder.add(ooffv, builder.mul(ir.Constant(i64, i), ldov))])
                    for v in range(nv):
                        dst = builder.bitcast(builder.gep(orow, [ir.Constant(i64, _LANES * v)]), vt.as_pointer())
                        builder.store(builder.load(accs[i][v]), dst, align=4)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile = _make_tile(_NV)  # 64 columns: the main tile
_tile2 = _make_tile(2)  # 32 and 16 columns: the tail
_tile1 = _make_tile(1)


@functools.lru_cache(maxsize=None)
def supported() -> bool:
    """True when numba compiles for AVX-512 (``avx512f`` on the host, or in ``NUMBA_CPU_FEATURES`` when set).

    Without it the 16-lane tile is split into AVX2 halves whose 48 accumulators spill: measured with
    ``NUMBA_CPU_NAME=haswell`` and AVX2 features, 0.69x of OpenBLAS's Haswell kernels on mobilenetv2's and
    resnet50_half's 1x1 shapes (77-93 GFLOP/s), so callers keep np.matmul there.
    """
    from numba.core import config

    features = getattr(config, "CPU_FEATURES", None)  # set from the environment when numba loads
    if features is not None:
        return "+avx512f" in str(features).split(",")
    try:
        import llvmlite.binding as llvm

        return bool(llvm.get_host_cpu_features().get("avx512f", False))
    except Exception:  # noqa: BLE001 - no feature list (not x86): no AVX-512
        return False


def pack_weights(w: np.ndarray) -> np.ndarray:
    """(M, K) weights -> float32 (ceil(M / MR), K, MR) panels (rows past M are zero), C-contiguous."""
    m, k = w.shape
    panels = -(-m // MR)
    padded = np.zeros((panels * MR, k), np.float32)
    padded[:m] = w
    return np.ascontiguousarray(padded.reshape(panels, MR, k).transpose(0, 2, 1))


@jit.compiled
def gemm(wp, x, out):  # pragma: no cover - numba compiles it
    """``out[n] = W @ x[n]`` for float32 C-contiguous ``x`` (images, K, N) and ``out`` (images, M, N);
    ``wp``: :func:`pack_weights` of the (M, K) ``W`` (the caller checks the shapes: no bounds checks).
    Columns run in tiles of 64, then one of 32 and one of 16; the last < 16 through a zero-padded copy."""
    n_img, kdim, n = x.shape[0], x.shape[1], x.shape[2]
    m = out.shape[1]
    panels = wp.shape[0]
    xf = x.reshape(-1)
    of = out.reshape(-1)
    wf = wp.reshape(-1)
    full = n // NR
    j32 = full * NR
    j16 = j32 + 32 if n - j32 >= 32 else j32
    jt = j16 + 16 if n - j16 >= 16 else j16
    rem = n - jt
    xt = np.zeros(kdim * _LANES if rem > 0 else 0, np.float32)
    ot = np.empty(MR * _LANES, np.float32)
    for img in range(n_img):
        xb = img * kdim * n
        ob = img * m * n
        for jb in range(full):
            j0 = jb * NR
            for p in range(panels):
                _tile(wf, p * kdim * MR, xf, xb + j0, n, of, ob + p * MR * n + j0, n, kdim, min(MR, m - p * MR))
        if j16 > j32:
            for p in range(panels):
                _tile2(wf, p * kdim * MR, xf, xb + j32, n, of, ob + p * MR * n + j32, n, kdim, min(MR, m - p * MR))
        if jt > j16:
            for p in range(panels):
                _tile1(wf, p * kdim * MR, xf, xb + j16, n, of, ob + p * MR * n + j16, n, kdim, min(MR, m - p * MR))
        if rem > 0:
            for k in range(kdim):
                for j in range(rem):
                    xt[k * _LANES + j] = xf[xb + k * n + jt + j]
            for p in range(panels):
                rows = min(MR, m - p * MR)
                _tile1(wf, p * kdim * MR, xt, 0, _LANES, ot, 0, _LANES, kdim, rows)
                for i in range(rows):
                    for j in range(rem):
                        of[ob + (p * MR + i) * n + jt + j] = ot[i * _LANES + j]
