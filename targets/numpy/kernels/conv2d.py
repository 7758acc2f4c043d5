"""Prepared 2-D convolutions: layouts and weights chosen once at lowering (the ``prepare`` hook).

:func:`prepare_conv` turns a Conv/FusedConv node with constant weights and a static
4-D input shape into a :class:`Conv2dPlan`; the Conv kernels then run the plan on each
call with per-arena scratch buffers (:meth:`OpContext.scratch`), no weight reshapes and
no allocations. Paths, picked by shape (thresholds measured on this repository's light
models, single-threaded OpenBLAS; see docs/performance.md):

* ``pointwise``: 1x1, no padding: the (strided) image already is the patch matrix; one
  GEMM per image straight into the output. The bias rides in the GEMM (a weight column
  times a row of ones) when copying the input is cheaper than a pass over the output; with a
  FusedConv activation and compiled kernels it rides in the compiled activation pass instead.
* ``patch``: kernel = stride, no padding, one group (the patchify stems of ViT, ConvNeXt,
  Swin): the patches are one rearranging copy of the input and one GEMM per image.
* ``winograd``: 3x3, stride 1, dilation 1, one group, at least ``WINOGRAD_MIN_TILES``
  2x2 output tiles and ``WINOGRAD_MIN_CHANNELS`` input and output channels: Winograd
  F(2x2, 3x3) in float32. Weights are transformed once (``U = G g G^T``, 16 matrices
  M x C); per call the input tiles are transformed with adds only (``B^T d B``) over
  contiguous parity-phase rows, multiplied by 16 batched GEMMs and transformed back
  (``A^T m A``): 2.25x fewer multiplies, worth it where the GEMMs dominate the
  memory-bound transforms. When compiled kernels are available (:func:`targets.numpy.kernels.jit.available`)
  both transforms are one compiled pass each (:mod:`targets.numpy.kernels.winograd_jit`, the output's with
  the bias and the activation, :mod:`targets.numpy.kernels.store_jit`), the 16 GEMMs one call of the compiled
  GEMM (:mod:`targets.numpy.kernels.gemm_jit`, ``WINOGRAD_GEMM_JIT``) and Winograd is chosen from
  ``WINOGRAD_JIT_MIN_CHANNELS`` channels and ``WINOGRAD_JIT_MIN_WORK`` tiles x C x M instead.
* ``phase``: every other case with at most ``MAX_PHASES`` stride positions (any
  dilation, group, depthwise; larger strides take the general kernel). The padded
  image is split into ``stride_h * stride_w`` phase images (one strided copy each; a small
  buffer, up to ``ZEROED_PHASES_MAX_BYTES``, is private to its geometry and zeroed once, a
  larger one is shared scratch whose border is zeroed per call; in a zeroed buffer the phases
  of an evenly split input, e.g. stride 2 on even sizes, take one copy together), so every
  kernel tap becomes one contiguous slice of a flat phase image. With one group, at least
  ``IMPLICIT_MIN_CHANNELS`` channels and ``IMPLICIT_MIN_COLUMNS`` GEMM columns per image (smaller
  maps are faster by im2col), a CBLAS at hand (:mod:`targets.numpy.kernels.blas`) and no compiled GEMM
  (one-group float32 plans use im2col and :mod:`targets.numpy.kernels.gemm_jit` when compiled kernels are
  available, ``PHASE_GEMM_JIT``) it is an implicit GEMM: one accumulating BLAS call per tap reads
  those slices in place (no im2col), onto an accumulator preset with the bias. Otherwise im2col is ``k*k`` slice copies into a
  patch matrix (with a row of ones for the bias) and one (grouped, batched for
  depthwise) GEMM; exact taps of an unpadded stride-1 input are copied from the input
  itself, without a phase image (``direct``). When the output is wide enough the GEMM runs over whole phase rows
  ("wide rows": a few wasted columns, cropped by the store, which also applies a Relu or
  Clip activation in the same pass, and with compiled kernels any FusedConv activation:
  :func:`targets.numpy.kernels.store_jit.crop_store`); otherwise the taps are copied exactly.

* ``depthwise``: group = channels = output channels in float32/float64, when compiled kernels are
  available (:func:`targets.numpy.kernels.jit.available`): one compiled loop
  (:func:`targets.numpy.kernels.depthwise_jit.depthwise_conv`) copies each input plane into a small
  zero-padded buffer (split into stride phases at stride 2), runs each kernel row as one loop
  over the plane and applies bias, residual and activation before the cropping store. Small float32
  maps (at most ``DW_BLOCKED_MAX_PIXELS`` output pixels, or ``DW_BLOCKED_SMALL_KERNEL_MAX_PIXELS`` with
  up to 9 taps; strides up to 2) run channel-blocked instead (``plan.blocked``:
  :func:`targets.numpy.kernels.depthwise_jit.depthwise_blocked`, 16 channels per vector). Without
  numba (or ``GRAPHC_JIT=0``), and for depth multipliers, depthwise convs take the ``phase`` path.
* ``small``: one group, at most ``SMALL_CONV_MAX_MACS`` multiply-adds per image, compiled kernels
  available: :func:`targets.numpy.kernels.conv_jit.small_conv` (patch matrix and products in one
  compiled call; the numpy paths cost several µs of per-call overhead on such maps, e.g. MTCNN's
  12x12 P-Net). Residual and activation follow as on the other paths.
* ``conv1d``: one group over a height-1 image (a 1-D conv) with a height-1 kernel, at most
  ``CONV1D_MAX_COLUMNS`` output columns and ``CONV1D_MAX_MACS`` multiply-adds, compiled kernels available
  (checked before ``stem`` and ``small``): :func:`targets.numpy.kernels.conv1d_jit.conv1d_columns`, one
  dot product per output over a row of its taps (a streaming VAD's STFT and encoder on 1-3 frames).

* ``stem``: one group, at most ``STEM_MAX_CHANNELS`` input and ``STEM_MAX_OUTPUTS`` output channels, strides
  1 or 2, not 1x1, above ``SMALL_CONV_MAX_MACS``, compiled kernels available (the first conv of image models,
  3 -> 16..64 channels): :func:`targets.numpy.kernels.stem_jit.stem_conv`, a direct convolution over the
  zero-padded image split into its stride phases, four output channels per pass, bias and activation in the
  store (im2col + GEMM had K = 27..147: a thin GEMM behind a copy K times the image).

* ``gemv``: one group, float32, 1x1 kernel over a 1x1 map (squeeze-excitation convs), compiled kernels
  available: :func:`targets.numpy.kernels.gemv_jit.gemv_conv`, dot products, bias and activation in one call.

A 1-D convolution (N, C, L) is prepared as the 2-D one over a height-1 image (N, C, 1, L): the
plan records the node's own shapes (:attr:`Conv2dPlan.node_shapes`) and the kernels run it on
unit-height views, so audio front ends take the same prepared paths.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from graphc.ir import TensorType

from . import blas, conv_jit, jit
from ._window import conv_geometry
from ._numeric import relu_into
from .epilogue import HALF_SILU, apply_activation, compiled_epilogue, fused_conv_activation, needs_scratch
from .registry import OpContext

#: activations the numpy im2col store applies while cropping (same pass); with compiled kernels the crop applies
#: every activation of :data:`targets.numpy.kernels.store_jit.STORE_ACTIVATIONS` (:func:`store_jit.crop_store`)
_STORE_ACTIVATIONS = ("Relu", "Clip")

__all__ = ["Conv2dPlan", "DeferredConv", "prepare_conv", "winograd_weights", "WINOGRAD_MIN_TILES", "WIDE_WASTE"]

#: Winograd is used when the output has at least this many 2x2 tiles (below, the 16 GEMMs are too thin)
WINOGRAD_MIN_TILES = 49
#: Winograd also needs this many input and output channels (below, its add-only transforms, memory-bound
#: numpy passes, cost more than the GEMM time it saves)
WINOGRAD_MIN_CHANNELS = 256
#: with compiled transforms (:mod:`targets.numpy.kernels.winograd_jit`, one pass each) Winograd needs this many
#: input and output channels ...
WINOGRAD_JIT_MIN_CHANNELS = 16
#: ... and tiles * C * M at least this (one process, thread clock, 3x3 + Relu vs the phase paths: 16->16 on
#: 12x12, 9216, 0.98x; 64->64 on 4x4, 16384, 0.88x; MTCNN R-Net 28->48 on 9x9, 33600, 0.9x; 64->64 on 10x10,
#: 102400, 1.25x; yolov8n/resnet50 shapes 1.3-1.9x)
WINOGRAD_JIT_MIN_WORK = 1 << 16
#: the compiled Winograd path runs its 16 GEMMs by the compiled GEMM (:func:`winograd_jit.winograd_gemm`) instead
#: of np.matmul (OpenBLAS pinned to AVX2) on AVX-512 CPUs (:func:`gemm_jit.supported`): yolov8n's Winograd
#: shapes, thread clock, one BLAS thread: sum 4.85 -> 2.76 ms
WINOGRAD_GEMM_JIT = True
#: one-group float32 plans of the phase path run im2col + the compiled GEMM (kernels/gemm_jit.py, AVX-512 CPUs:
#: :func:`gemm_jit.supported`; no implicit GEMM then). Whole models, one process, 41 alternating calls,
#: one BLAS thread, np.matmul/implicit -> compiled: yolov8n_320 13.69 -> 12.55 ms (implicit kept: 12.63),
#: resnet50_half 12.82 -> 12.18
PHASE_GEMM_JIT = True
#: implicit GEMM (per-tap accumulating BLAS calls, no im2col) when the BLAS allows it (see kernels/blas.py)
IMPLICIT_GEMM = True
#: ... and the input has at least this many channels (each tap's GEMM has K = C; thinner ones lose to im2col)
IMPLICIT_MIN_CHANNELS = 32
#: ... and at least this many GEMM columns per image (on smaller maps im2col + one GEMM is faster: OpenBLAS,
#: AVX2, one thread, 3x3 convs at 120-575 columns 7-40% faster by im2col, within 2% from 840 to 1680)
IMPLICIT_MIN_COLUMNS = 1024
#: pointwise plans with a bias and a FusedConv activation add the bias in the compiled activation pass
#: (epilogue.compiled_epilogue) instead of folding it into the GEMM or a pass of its own
POINTWISE_EPILOGUE = True
#: one-group float32 pointwise convs run their GEMM in the compiled kernel (:mod:`targets.numpy.kernels.gemm_jit`,
#: AVX-512 through LLVM) instead of numpy's OpenBLAS (pinned to AVX2 here): GEMMs alone, thread clock, every 1x1
#: shape of mobilenetv2, efficientnet_b0, resnet50_half and squeezenet1_1 (M 16-1280, K 16-1152, N 49-12544)
#: 1.2-2.5x faster (sums 1.64-1.83x per model); only on AVX-512 CPUs (:func:`gemm_jit.supported`)
GEMM_JIT = True
#: "wide rows" im2col is used when (computed columns / needed columns) is at most this
WIDE_WASTE = 1.2
#: one-group convolutions over a height-1 image (1-D convs) with at most this many output columns ...
CONV1D_MAX_COLUMNS = 64
#: ... and multiply-adds per image take the compiled ``conv1d`` path (thread clock, alone: a VAD's STFT
#: 1->258 k256/128 on 3 frames 39 -> 8 us, its encoder's 129->128 k3 on 3 frames 31 -> 7 us; 40->64 k5 on
#: 49 columns 25 us, half the small path's time). Not 1x1 convs with an activation: on squeeze-excitation
#: convs (1x1 maps) the pointwise GEMV and its compiled epilogue were as fast or up to 1.4 us faster
CONV1D_MAX_MACS = 1 << 20
#: grouped im2col runs whole groups in blocks whose patch matrix is about this size (stays in L2)
IM2COL_BLOCK_BYTES = 1 << 20
#: the phase path splits the padded input into strides[0] * strides[1] images: at most this many
MAX_PHASES = 16
#: phase buffers up to this size are private to their geometry and zeroed once (smaller maps are bound by
#: numpy's per-call cost, and zeroing the borders took three calls per phase); larger ones are shared scratch
ZEROED_PHASES_MAX_BYTES = 1 << 18
#: float32 depthwise convs at strides up to 2 run channel-blocked (:mod:`targets.numpy.kernels.depthwise_jit`)
#: with at most this many output pixels, or with at most DW_BLOCKED_SMALL_KERNEL_MAX_PIXELS of them and at
#: most 9 taps. Measured per shape (mobilenetv2/v3, efficientnet_b0, thread clock, alternating, aligned
#: buffers): 7x7 outputs took 0.50-0.69 of the plane loop's time, 14x14 ones 0.83-1.02 with 3x3 kernels
#: but 1.1-1.25 with 5x5, 28x28 ones 1.4-1.8 (the pack and unpack transposes outweigh the blocked loop)
DW_BLOCKED_MAX_PIXELS = 64
DW_BLOCKED_SMALL_KERNEL_MAX_PIXELS = 196
#: the compiled ``depthwise`` and ``small`` paths are chosen when jit.available() (tools/bench_depthwise.py
#: patches this to time them against the numpy paths with every other compiled kernel kept)
CONV_JIT = True
#: one-group convolutions of at most this many multiply-adds per image take the compiled ``small`` path
#: (MTCNN P-Net's 3x3 convs 6-7 -> 2-3 us, R-Net's 2x2 48->64 at 110K 11 -> 8 us; its 3x3 at 366K was
#: slower compiled: 16 -> 19 us). Not 1x1 convs with an activation (squeeze-excitation convs on 1x1 maps):
#: the pointwise GEMV with its compiled bias + activation pass was 1-2 us faster there
SMALL_CONV_MAX_MACS = 1 << 17
#: one-group float32 1x1 convolutions over 1x1 maps (squeeze-excitation convs) take the compiled ``gemv`` path
#: (:mod:`targets.numpy.kernels.gemv_jit`: dot products, bias and activation in one call; mobilenetv3_small's
#: 14 such nodes 110 -> 77 us of node thread time, 16->8 + Relu 6 -> 3 us)
GEMV_JIT = True
#: one-group convolutions with at most this many input channels, strides 1 or 2 take the compiled ``stem``
#: path (:mod:`targets.numpy.kernels.stem_jit`) ... (one process, thread clock, 3x3 + Relu vs the phase path:
#: 8 -> 32 at 56x56 1.6x, at 112x112/2 1.9x; 16 -> 32 at 56x56 0.91x)
STEM_MAX_CHANNELS = 8
#: ... and at most this many output channels (measured up to 128: 3 -> 128 at 56x56 1.7x, 3 -> 96 3x3/2 at
#: 224 1.7x, 3 -> 64 7x7/2 at 224 2.0x; beyond, the per-output passes over the image were not measured)
STEM_MAX_OUTPUTS = 128

# Winograd F(2x2, 3x3) matrices (Lavin & Gray): Y = A^T [(G g G^T) * (B^T d B)] A
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def winograd_weights(w: np.ndarray) -> np.ndarray:
    """(M, C, 3, 3) weights -> (16, M, C) transformed weights ``U[4i+j] = (G g G^T)[i, j]``, float64 math."""
    u = np.einsum("ia,mcab,jb->ijmc", _G, w.astype(np.float64), _G)
    return np.ascontiguousarray(u.reshape(16, w.shape[0], w.shape[1]).astype(w.dtype))


@dataclass
class Conv2dPlan:
    """How one 2-D Conv node runs for input shape ``x_shape`` (built once by :func:`prepare_conv`)."""

    path: str  # "pointwise" | "patch" | "winograd" | "phase" | "depthwise" | "small" | "stem" | "gemv" | "conv1d"
    x_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    group: int
    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    #: pointwise/phase: (group, M/group, C/group * kh * kw [+ 1 bias column when folded]); winograd: (16, M, C)
    weights: np.ndarray
    bias: np.ndarray | None  # (M, 1) in the output dtype; depthwise and small: (M,)
    folded: bool = False  # the bias is the weights' last column (the patch matrix has a row of ones)
    implicit: bool = False  # phase path without im2col: weights are (taps, M, C), one BLAS call per tap
    activation: tuple[str, list[float]] | None = None
    # phase im2col layout
    phase_shape: tuple[int, int] = (0, 0)  # rows, cols of one phase image
    phase_len: int = 0  # flat length of one phase image buffer (with slack for wide reads)
    taps: list[tuple[int, int]] = field(default_factory=list)  # (phase index, flat offset) per tap
    #: im2col copies: per phase, its taps as a grid (phase, first offset, rows, row step, cols, col step);
    #: the patch matrix (and the im2col weights) order taps grid by grid
    tap_grids: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)
    tap_order: list[int] = field(default_factory=list)  # kernel tap index of each patch-matrix tap
    block_groups: int = 1  # groups per im2col block (grouped convs run in cache-sized blocks)
    wide: bool = False
    #: exact taps of an unpadded stride-1 input: they are copied from the input itself (no phase image)
    direct: bool = False
    length: int = 0  # GEMM columns per image (Ho * phase cols when wide, else Ho * Wo)
    #: per phase image: (first interior row, rows, first interior col, cols, input row slice, input col slice)
    phase_copies: list[tuple[int, int, int, int, slice, slice]] = field(default_factory=list)
    #: scratch key of the private zero-bordered phase buffer: everything that decides which positions are written
    zeroed_key: tuple = ()
    #: every phase interior in one copy when the phases split one input window (see :func:`_phase_grid`):
    #: (phase rows, phase cols, rows, cols, window's first row and column, phase row and column of its first
    #: element, phase index steps, that phase's first flat interior offset, interior row/column steps); or None
    phase_grid: tuple[int, ...] | None = None
    #: (input, output) shapes of the node when they are not ``x_shape``/``out_shape``: a 1-D convolution
    #: run as the 2-D one over a height-1 image (its arrays are viewed with the unit height inserted)
    node_shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    #: depthwise path: the compiled loop, its int64 geometry (strides, dilations, top and left pads) and
    #: epilogue (activation code, params as x's dtype: two parameters, 0 and 1)
    compiled: Any = None
    geometry: np.ndarray | None = None
    act_code: int = 0
    act_params: np.ndarray | None = None
    #: pointwise path: the compiled bias + activation pass f(y, bias) over (rows, columns) (the GEMM adds no bias)
    epilogue: Any = None
    #: pointwise path: the weights packed for the compiled GEMM (gemm_jit.pack_weights; its dispatcher in compiled)
    packed: np.ndarray | None = None
    padded_len: int = 0  # depthwise path: elements of its zero-padded plane buffer; small path: its patch matrix
    acc_len: int = 0  # depthwise path: elements of its accumulator (an output row or plane)
    #: depthwise path: the channel-blocked loop (weights (C/16, KH, KW, 16), bias padded to the blocks)
    blocked: bool = False
    #: compiled winograd path: elements of its V plane stride, split buffer and product plane stride
    winograd_sizes: tuple[int, int, int] = (0, 0, 0)
    #: compiled winograd path: the 16 GEMMs in one compiled call (winograd_jit.winograd_gemm over the weights
    #: packed in ``packed``) or None (np.matmul)
    winograd_gemm: Any = None
    #: phase path: the compiled crop + activation store (:func:`store_jit.crop_store`, code and params in
    #: act_code and act_params) or None
    crop_store: Any = None

    @property
    def in_shape(self) -> tuple[int, ...]:
        """The node's input shape this plan runs."""
        return self.node_shapes[0] if self.node_shapes else self.x_shape

    @property
    def result_shape(self) -> tuple[int, ...]:
        """The node's output shape."""
        return self.node_shapes[1] if self.node_shapes else self.out_shape

    # ------------------------------------------------------------------ running
    def run(self, ctx: OpContext, x: np.ndarray, out: np.ndarray, z: np.ndarray | None,
            activation: bool = True) -> np.ndarray:
        """Convolve ``x`` into ``out`` (N, M, Ho, Wo), then bias, ``z`` and (unless not ``activation``)
        the activation. ``out`` must not share memory with ``x`` or ``z``."""
        act = self.activation if activation else None
        fuse = z is None and act is not None and (act[0] in _STORE_ACTIVATIONS or self.act_code > 0)
        done = False
        if self.path == "depthwise":
            return self._depthwise(ctx, x, out, z, activation)
        if self.path == "small":
            self._small(ctx, x, out)
        elif self.path == "conv1d":
            done = self._conv1d(ctx, x, out, act is not None and z is None)
        elif self.path == "stem":
            done = self._stem(ctx, x, out, act is not None and z is None)
        elif self.path == "gemv" and z is None and x.flags.c_contiguous and out.flags.c_contiguous \
                and x.shape == self.x_shape and out.shape == self.out_shape:
            code = self.act_code if act is not None and self.act_code > 0 else 0
            self.compiled(x, self.weights, self.bias, out, code, self.act_params)
            if code > 0 or act is None:
                return out
            done = False
        elif self.path == "gemv":
            raise ValueError(f"gemv plan for {self.x_shape} -> {self.out_shape} called with {x.shape}, z or "
                             "non-contiguous arrays")
        elif self.path == "pointwise" and self.epilogue is not None and act is not None and out.flags.c_contiguous:
            assert self.bias is not None  # the epilogue is only prepared with one
            self._pointwise(ctx, x, out, bias=False)
            if z is not None:
                np.add(out, z, out=out)
            self.epilogue(out.reshape(-1, self.out_shape[2] * self.out_shape[3]), self.bias.reshape(-1))
            return out
        elif self.path == "pointwise":
            self._pointwise(ctx, x, out)
        elif self.path == "patch":
            self._patch(ctx, x, out)
        elif self.path == "winograd" and self.compiled is not None:
            for i in range(x.shape[0]):
                done = self._winograd_jit(ctx, x[i], out[i], fuse)
        elif self.path == "winograd":
            for i in range(x.shape[0]):
                self._winograd(ctx, x[i], out[i])
        else:
            for i in range(x.shape[0]):
                done = self._phase(ctx, x[i], out[i], fuse)
        if z is not None:
            np.add(out, z, out=out)
        if act is not None and not done:
            self.activate(out, ctx)
        return out

    def activate(self, out: np.ndarray, ctx: OpContext | None = None) -> np.ndarray:
        """Apply the FusedConv activation (if any) to ``out`` in place (``ctx`` lends the scratch
        buffer graphc::FusedConv's SiLU/HardSwish epilogues need)."""
        if self.activation is not None:
            name, params = self.activation
            tmp = None
            if ctx is not None and needs_scratch(name):
                tmp = ctx.scratch("conv-epilogue", out.shape, out.dtype)
            apply_activation(out, name, params, tmp)
        return out

    def _store(self, acc: np.ndarray, out: np.ndarray, fuse: bool) -> bool:
        """out (M, Ho, Wo) = activation(acc (M, Ho, Q)[:, :, :Wo]) when ``fuse`` allows it in the same pass
        (True), else out = the crop (False)."""
        wo = out.shape[2]
        if fuse and self.crop_store is not None and self.act_code > 0 and out.flags.c_contiguous \
                and acc.flags.c_contiguous and acc.dtype == out.dtype == np.float32 and acc.shape[:2] == out.shape[:2] \
                and acc.shape[2] >= wo:
            self.crop_store(acc.reshape(-1, acc.shape[2]), out.reshape(-1, wo), self.act_code, self.act_params)
            return True
        src = acc[:, :, :wo]
        if fuse and self.activation is not None:
            name, params = self.activation
            t = out.dtype.type
            if name == "Relu":
                relu_into(out, src)
                return True
            if name == "Clip":
                np.clip(src, t(params[0]), t(params[1]), out=out)
                return True
        np.copyto(out, src)
        return False

    def _depthwise(self, ctx: OpContext, x: np.ndarray, out: np.ndarray, z: np.ndarray | None,
                   activation: bool) -> np.ndarray:
        """The compiled depthwise loop: convolution, bias, ``z`` and the activation in one pass."""
        assert self.geometry is not None and self.act_params is not None  # set by prepare_conv
        if x.shape != self.x_shape or out.shape != self.out_shape or (z is not None and z.shape != out.shape):
            raise ValueError(f"depthwise plan for {self.x_shape} -> {self.out_shape} called with {x.shape}")
        x = np.ascontiguousarray(x)
        dst = out if out.flags.c_contiguous else ctx.scratch("dw-out", out.shape, out.dtype)
        geometry = self.geometry
        if z is not None:
            z = np.ascontiguousarray(z)
            geometry = geometry.copy()
            geometry[6] = 1
        acc = ctx.scratch("dw-acc", (self.acc_len,), x.dtype)
        padded = ctx.scratch("dw-padded", (self.padded_len,), x.dtype)
        code = self.act_code if activation else 0
        self.compiled(x, self.weights, self.bias, dst if z is None else z, dst, acc, padded, geometry, code,
                      self.act_params)
        if dst is not out:
            np.copyto(out, dst)
        if activation and self.activation is not None and code < 0:
            self.activate(out, ctx)
        return out

    def _small(self, ctx: OpContext, x: np.ndarray, out: np.ndarray) -> None:
        """The compiled small convolution (bias included) into ``out``."""
        assert self.geometry is not None  # set by prepare_conv
        if x.shape != self.x_shape or out.shape != self.out_shape:
            raise ValueError(f"small-conv plan for {self.x_shape} -> {self.out_shape} called with {x.shape}")
        x = np.ascontiguousarray(x)
        dst = out if out.flags.c_contiguous else ctx.scratch("small-out", out.shape, out.dtype)
        col = ctx.scratch("small-col", (self.padded_len,), x.dtype)
        self.compiled(x, self.weights, self.bias, dst, col, self.geometry)
        if dst is not out:
            np.copyto(out, dst)

    def _stem(self, ctx: OpContext, x: np.ndarray, out: np.ndarray, fuse: bool) -> bool:
        """The compiled few-channel convolution (bias included; the activation too when ``fuse`` and the
        store applies it: then True) into ``out``."""
        assert self.geometry is not None and self.act_params is not None  # set by prepare_conv
        if x.shape != self.x_shape or out.shape != self.out_shape:
            raise ValueError(f"stem plan for {self.x_shape} -> {self.out_shape} called with {x.shape}")
        x = np.ascontiguousarray(x)
        dst = out if out.flags.c_contiguous else ctx.scratch("stem-out", out.shape, out.dtype)
        padded = ctx.scratch(self.zeroed_key, (self.padded_len,), x.dtype, zero=True)
        acc = ctx.scratch("stem-acc", (4, self.acc_len), x.dtype)
        code = self.act_code if fuse and self.act_code > 0 else 0
        self.compiled(x, self.weights, self.bias, dst, padded, acc, self.geometry, code, self.act_params)
        if dst is not out:
            np.copyto(out, dst)
        return code > 0

    def _conv1d(self, ctx: OpContext, x: np.ndarray, out: np.ndarray, fuse: bool) -> bool:
        """The compiled height-1 convolution (bias included; the activation too when ``fuse`` and the kernel
        has it: then True) into ``out``."""
        assert self.geometry is not None and self.act_params is not None  # set by prepare_conv
        if x.shape != self.x_shape or out.shape != self.out_shape:
            raise ValueError(f"conv1d plan for {self.x_shape} -> {self.out_shape} called with {x.shape}")
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        dst = out if out.flags.c_contiguous else ctx.scratch("conv1d-out", out.shape, out.dtype)
        col = ctx.scratch("conv1d-col", (self.padded_len,), x.dtype)
        code = self.act_code if fuse and self.act_code > 0 else 0
        self.compiled(x, self.weights, self.bias, dst, col, self.geometry, code, self.act_params)
        if dst is not out:
            np.copyto(out, dst)
        return code > 0

    def _patch(self, ctx: OpContext, x: np.ndarray, out: np.ndarray) -> None:
        """Non-overlapping patches (kernel = stride): one rearranging copy, then one GEMM per image."""
        n, c = x.shape[:2]
        kh, kw = self.kernel
        ho, wo = self.out_shape[2:]
        m = self.weights.shape[1]
        cols = ctx.scratch("conv-patches", (n, c, kh, kw, ho, wo), x.dtype)
        src = x[:, :, :ho * kh, :wo * kw].reshape(n, c, ho, kh, wo, kw)
        np.copyto(cols, src.transpose(0, 1, 3, 5, 2, 4))
        res = out.reshape(n, m, ho * wo)
        np.matmul(self.weights[0], cols.reshape(n, c * kh * kw, ho * wo), out=res)
        if self.bias is not None:
            np.add(res, self.bias, out=res)

    def _pointwise(self, ctx: OpContext, x: np.ndarray, out: np.ndarray, bias: bool = True) -> None:
        """1x1 convolution as one GEMM per image; the bias too unless not ``bias`` (then unfolded plans skip it)."""
        n, c = x.shape[:2]
        g, mg, ck = self.weights.shape
        cg = c // g
        length = self.out_shape[2] * self.out_shape[3]
        res = out.reshape(n, g, mg, length)
        if self.folded:
            # bias as a weight column times a row of ones: the GEMM adds it (one copy of x, no pass over out)
            xs = ctx.scratch("conv-x1", (n, g, cg + 1, length), x.dtype)
            xs[:, :, cg, :] = 1
            sh, sw = self.strides
            src = x[:, :, ::sh, ::sw] if (sh, sw) != (1, 1) else x
            grid = (n, g, cg) + self.out_shape[2:]  # split axes only: both sides stay views
            xs[:, :, :cg, :].reshape(grid)[...] = src.reshape(grid)
            np.matmul(self.weights, xs, out=res)
            return
        if self.strides != (1, 1):
            xs = ctx.scratch("conv-strided", (n, c) + self.out_shape[2:], x.dtype)
            np.copyto(xs, x[:, :, ::self.strides[0], ::self.strides[1]])
            x = xs
        if self.packed is not None and x.flags.c_contiguous and out.flags.c_contiguous \
                and x.shape == (n, c) + self.out_shape[2:] and out.shape == self.out_shape:
            self.compiled(self.packed, x.reshape(n, c, length), out.reshape(n, mg, length))
        else:
            np.matmul(self.weights, x.reshape(n, g, cg, length), out=res)
        if self.bias is not None and bias:
            np.add(res, self.bias.reshape(g, mg, 1), out=res)

    def _load_phases(self, ctx: OpContext, x: np.ndarray) -> np.ndarray:
        """The zero-padded image ``x`` (C, H, W) split into its stride phases: (phases, C, phase_len).

        Each phase is one strided copy of ``x`` into its interior. A buffer of at most
        ``ZEROED_PHASES_MAX_BYTES`` is private to the phase geometry (:attr:`zeroed_key`)
        and zero-filled once: every call writes the same interior, so the zeros around
        it stay. A larger one is shared scratch, and its zeros are written on every call
        (before the first interior row, after the last one, and the gutters between
        rows: one row's right padding runs into the next row's left padding). The
        geometry is :attr:`phase_copies`, computed once by :func:`_phase_copies`.
        """
        shape = (len(self.phase_copies), x.shape[0], self.phase_len)
        if shape[0] * shape[1] * shape[2] * x.itemsize <= ZEROED_PHASES_MAX_BYTES:
            buf = ctx.scratch(self.zeroed_key, shape, x.dtype, zero=True)
            if self.phase_grid is not None:
                self._grid_view(buf)[...] = self._grid_source(x)
                return buf
            for p, (a0, ny, b0, nx, ys, xs) in enumerate(self.phase_copies):
                if ny > 0 and nx > 0:
                    self._interior(buf, p, a0 * self.phase_shape[1] + b0, ny, nx)[...] = x[:, ys, xs]
            return buf
        buf = ctx.scratch("conv-phases", shape, x.dtype)
        for p, copy in enumerate(self.phase_copies):
            self._load_phase(buf, p, x, copy)
        return buf

    def _grid_view(self, buf: np.ndarray) -> np.ndarray:
        """The interiors of all phases of ``buf`` as one view (r, s, C, rows, cols): the phase whose first
        input row is ``r`` below the lowest one's and first column ``s`` right of the leftmost one's."""
        assert self.phase_grid is not None  # callers check it
        sh, sw, ny, nx, _, _, py0, px0, spy, spx, first, da, db = self.phase_grid
        c, plen, cols, item = buf.shape[1], self.phase_len, self.phase_shape[1], buf.itemsize
        start = (py0 * sw + px0) * c * plen + first
        step_r, step_s = spy * sw * c * plen + da * cols, spx * c * plen + db  # flat, per r and per s
        return np.ndarray((sh, sw, c, ny, nx), buf.dtype, buf, start * item,
                          (step_r * item, step_s * item, plen * item, cols * item, item))

    def _grid_source(self, x: np.ndarray) -> np.ndarray:
        """x (C, H, W) as the (r, s, C, rows, cols) view :meth:`_grid_view` receives (axes split, no copy)."""
        assert self.phase_grid is not None  # callers check it
        sh, sw, ny, nx, ymin, xmin = self.phase_grid[:6]
        window = x[:, ymin:ymin + ny * sh, xmin:xmin + nx * sw]
        return window.reshape(x.shape[0], ny, sh, nx, sw).transpose(2, 4, 0, 1, 3)

    def _load_phase(self, buf: np.ndarray, p: int, x: np.ndarray,
                    copy: tuple[int, int, int, int, slice, slice]) -> None:
        """Phase ``p`` of shared scratch ``buf``: its zeros, then its interior from ``x``."""
        a0, ny, b0, nx, ys, xs = copy
        c, cols = x.shape[0], self.phase_shape[1]
        flat = buf[p]
        if ny <= 0 or nx <= 0:
            flat[...] = 0
            return
        first, last = a0 * cols + b0, (a0 + ny - 1) * cols + b0 + nx
        flat[:, :first] = 0
        flat[:, last:] = 0
        if ny > 1 and cols > nx:
            self._interior(buf, p, first + nx, ny - 1, cols - nx)[...] = 0
        self._interior(buf, p, first, ny, nx)[...] = x[:, ys, xs]

    def _interior(self, buf: np.ndarray, p: int, first: int, rows: int, cols: int) -> np.ndarray:
        """(C, rows, cols) window of phase ``p`` of ``buf`` from flat offset ``first``, phase rows apart."""
        c, plen = buf.shape[1], self.phase_len
        item = buf.itemsize
        return np.ndarray((c, rows, cols), buf.dtype, buf, (p * c * plen + first) * item,
                          (plen * item, self.phase_shape[1] * item, item))

    def _implicit(self, ctx: OpContext, x: np.ndarray, out: np.ndarray, fuse: bool) -> bool:
        """Implicit GEMM: one accumulating BLAS call per kernel tap, reading the tap's rows in place."""
        c = x.shape[0]
        m = self.out_shape[1]
        ho, wo = self.out_shape[2:]
        length = self.length
        plen = self.phase_len
        phases = self._load_phases(ctx, x)
        acc = ctx.scratch("conv-acc", (m, length), out.dtype)
        beta = 0.0
        if self.bias is not None:
            np.copyto(acc, self.bias)  # the GEMMs accumulate onto the bias
            beta = 1.0
        for t, (p, off) in enumerate(self.taps):
            blas.sgemm(self.weights[t], phases, p * c * plen + off, plen, c, length, acc, beta)
            beta = 1.0
        return self._store(acc.reshape(m, ho, self.phase_shape[1]), out, fuse)

    def _phase(self, ctx: OpContext, x: np.ndarray, out: np.ndarray, fuse: bool) -> bool:
        """im2col from the stride phases, one (grouped) GEMM; True when the activation was applied.

        Grouped convolutions run ``block_groups`` groups at a time, so one block's phase
        images, patch matrix and GEMM result stay in cache from copy to store.
        """
        if self.implicit:
            return self._implicit(ctx, x, out, fuse)
        g, mg, _ = self.weights.shape
        cg = x.shape[0] // g
        gb = self.block_groups
        done = False
        for g0 in range(0, g, gb):
            g1 = min(g, g0 + gb)
            done = self._im2col_gemm(ctx, x[g0 * cg:g1 * cg], self.weights[g0:g1], out[g0 * mg:g1 * mg], fuse)
        return done

    def _im2col_gemm(self, ctx: OpContext, x: np.ndarray, weights: np.ndarray, out: np.ndarray,
                     fuse: bool) -> bool:
        """x (C, H, W) of ``len(weights)`` whole groups -> out (M, Ho, Wo) through one patch matrix."""
        c = x.shape[0]
        g, mg, ck = weights.shape
        k = len(self.taps)
        ho, wo = self.out_shape[2:]
        length = self.length
        cols_q = self.phase_shape[1]
        if self.direct and x.flags.c_contiguous:
            phases, plen = x, x.shape[1] * x.shape[2]  # the input is its only phase image, rows unpadded
        else:
            phases, plen = self._load_phases(ctx, x), self.phase_len
        # (group, C/group * taps [+ a row of ones for the folded bias], columns)
        cols = ctx.scratch("conv-cols", (g, ck, length), x.dtype)
        if self.folded:
            cols[:, ck - 1, :] = 1
        cg = c // g
        taps = cols[:, :cg * k, :].reshape(g, cg, k, length)
        item = x.dtype.itemsize
        inner = (length,) if self.wide else (ho, wo)
        inner_strides = (item,) if self.wide else (cols_q * item, item)
        t0 = 0
        for p, base, nr, rstep, nc, cstep in self.tap_grids:
            # every tap of one phase in one copy: a (group, C/group, rows, cols, ...) window view of the phase
            # (ndarray over the buffer: bounds-checked, and cheaper than as_strided)
            src = np.ndarray((g, cg, nr, nc) + inner, phases.dtype, phases, (p * c * plen + base) * item,
                             (cg * plen * item, plen * item, rstep * item, cstep * item) + inner_strides)
            taps[:, :, t0:t0 + nr * nc, :].reshape((g, cg, nr, nc) + inner)[...] = src
            t0 += nr * nc
        if self.wide:
            acc = ctx.scratch("conv-acc", (g, mg, length), out.dtype)
            if self.packed is not None:
                self.compiled(self.packed, cols, acc)
            else:
                np.matmul(weights, cols, out=acc)
            return self._store(acc.reshape(g * mg, ho, cols_q), out, fuse)
        if self.packed is not None and out.flags.c_contiguous:
            self.compiled(self.packed, cols, out.reshape(g, mg, length))
        else:
            np.matmul(weights, cols, out=out.reshape(g, mg, length))
        return False

    def _winograd_jit(self, ctx: OpContext, x: np.ndarray, out: np.ndarray, fuse: bool) -> bool:
        """F(2x2, 3x3) for one image with the compiled transforms: x (C, H, W) -> out (M, Ho, Wo); True when
        the activation (``fuse`` and one with a store code) was applied while storing."""
        assert self.bias is not None and self.act_params is not None  # set by prepare_conv
        c, m = self.x_shape[1], self.out_shape[1]
        ho, wo = self.out_shape[2:]
        if x.shape != self.x_shape[1:] or out.shape != (m, ho, wo):
            raise ValueError(f"winograd plan for {self.x_shape} -> {self.out_shape} called with {x.shape}")
        th, tw = -(-ho // 2), -(-wo // 2)
        transform_in, transform_out = self.compiled
        x = np.ascontiguousarray(x)
        cols = th * tw
        # the 16 planes of V and of the products a padded stride apart (winograd_jit.plane_stride)
        v_stride, split_len, prod_stride = self.winograd_sizes
        v = ctx.scratch("winograd-v", (16, v_stride), x.dtype)
        split = ctx.scratch("winograd-split", (split_len,), x.dtype)
        transform_in(x, v, split, th, tw, self.pads[0], self.pads[1])
        prod = ctx.scratch("winograd-prod", (16, prod_stride), out.dtype)
        if self.packed is not None:
            self.winograd_gemm(self.packed, v, prod, c, m, cols)
        else:
            np.matmul(self.weights, v[:, :c * cols].reshape(16, c, cols), out=prod[:, :m * cols].reshape(16, m, cols))
        code = self.act_code if fuse else 0
        dst = out if out.flags.c_contiguous else ctx.scratch("winograd-out", out.shape, out.dtype)
        tiles = ctx.scratch("winograd-tiles", (4 * cols,), out.dtype)
        transform_out(prod, self.bias.reshape(m), dst, tiles, th, tw, code, self.act_params)
        if dst is not out:
            np.copyto(out, dst)
        return code != 0

    def _winograd(self, ctx: OpContext, x: np.ndarray, out: np.ndarray) -> None:
        """F(2x2, 3x3) for one image: x (C, H, W) -> out (M, Ho, Wo).

        The padded image is split into its four (row, column) parity phases, each stored
        flat per channel with rows of ``tw + 1`` columns, so every transform step is an
        add/subtract of two contiguous (C, th * (tw + 1)) slices; the last column of each
        row is scratch that the GEMM carries along and the output step drops.
        """
        c = x.shape[0]
        m = self.weights.shape[1]
        ho, wo = self.out_shape[2:]
        th, tw = -(-ho // 2), -(-wo // 2)
        w1 = tw + 1
        length = th * w1
        dt = x.dtype
        phases = self._load_phases(ctx, x)  # (4, C, phase_len), rows of w1 = tw + 1 columns
        # rows: t_i = (B^T d)_i for each column parity; d_i is row parity i % 2, shifted i // 2 rows
        t = ctx.scratch("winograd-rows", (4, 2, c, length + 1), dt)
        t[:, :, :, length] = 0  # read by the shifted column slices, feeds only the dropped last column
        for px in range(2):
            r = [phases[(i % 2) * 2 + px, :, (i // 2) * w1:(i // 2) * w1 + length] for i in range(4)]
            np.subtract(r[0], r[2], out=t[0, px, :, :length])
            np.add(r[1], r[2], out=t[1, px, :, :length])
            np.subtract(r[2], r[1], out=t[2, px, :, :length])
            np.subtract(r[1], r[3], out=t[3, px, :, :length])
        # columns: V[4i+j] = (t_i B)_j; column j is parity j % 2 shifted j // 2
        v = ctx.scratch("winograd-v", (16, c, length), dt)
        for i in range(4):
            e0, o0 = t[i, 0, :, :length], t[i, 1, :, :length]
            e1, o1 = t[i, 0, :, 1:length + 1], t[i, 1, :, 1:length + 1]
            np.subtract(e0, e1, out=v[4 * i])
            np.add(o0, e1, out=v[4 * i + 1])
            np.subtract(e1, o0, out=v[4 * i + 2])
            np.subtract(o0, o1, out=v[4 * i + 3])
        prod = ctx.scratch("winograd-prod", (16, m, length), out.dtype)
        np.matmul(self.weights, v, out=prod)
        if self.bias is not None:  # element (1, 1) enters every output with coefficient 1
            np.add(prod[5], self.bias, out=prod[5])
        p = prod.reshape(4, 4, m, length)
        # rows of A^T m: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3
        s = ctx.scratch("winograd-s", (2, 4, m, length), out.dtype)
        np.add(p[0], p[1], out=s[0])
        np.add(s[0], p[2], out=s[0])
        np.subtract(p[1], p[2], out=s[1])
        np.subtract(s[1], p[3], out=s[1])
        for yy in range(2):
            ny = len(range(yy, ho, 2))
            a = s[yy].reshape(4, m, th, w1)[:, :, :ny]
            for xx in range(2):
                nx = len(range(xx, wo, 2))
                dst = out[:, yy::2, xx::2]
                if xx == 0:
                    np.add(a[0, :, :, :nx], a[1, :, :, :nx], out=dst)
                    np.add(dst, a[2, :, :, :nx], out=dst)
                else:
                    np.subtract(a[1, :, :, :nx], a[2, :, :, :nx], out=dst)
                    np.subtract(dst, a[3, :, :, :nx], out=dst)


class DeferredConv:
    """The prepared state of a convolution whose input shape is only known at run time.

    Models exported with dynamic axes (batch, image size) would otherwise never reach the
    prepared paths. :meth:`plan_for` makes the :class:`Conv2dPlan` for a concrete input
    shape on first use and keeps the last few; plans of different shapes share equal
    prepared weight arrays. Shared by every bound program of the node, hence the lock.
    """

    #: how many input shapes keep their plan
    MAX_SHAPES = 4

    def __init__(self, w: np.ndarray, b: np.ndarray | None):
        self.w, self.b = w, b
        self._plans: dict[tuple[int, ...], Conv2dPlan | None] = {}
        self._weights: list[np.ndarray] = []
        self._lock = threading.Lock()

    def plan_for(self, ctx: OpContext, x: np.ndarray) -> Conv2dPlan | None:
        """The plan for ``x``'s shape (None: the general kernel runs)."""
        try:  # a dict read is atomic: no lock on the hit (0.9 -> 0.3 us)
            return self._plans[x.shape]
        except KeyError:
            pass
        with self._lock:
            if x.shape in self._plans:
                return self._plans[x.shape]
        plan = prepare_conv(ctx, [TensorType(x.dtype, x.shape), self.w, self.b])
        if not isinstance(plan, Conv2dPlan):
            plan = None
        with self._lock:
            if plan is not None:  # the same path on another shape prepared the same weights: keep one copy
                same = next((a for a in self._weights if a.shape == plan.weights.shape
                             and np.array_equal(a, plan.weights)), None)
                if same is None:
                    self._weights.append(plan.weights)
                else:
                    plan.weights = same
            if len(self._plans) >= self.MAX_SHAPES:
                self._plans.pop(next(iter(self._plans)))
            self._plans[x.shape] = plan
        return plan


def _phase_copies(plan: Conv2dPlan, h: int, w: int, sh: int, sw: int) -> list[tuple[int, int, int, int, slice, slice]]:
    """Where each of the ``sh * sw`` phase images of the padded (h, w) input takes its interior from."""
    top, left = plan.pads[0], plan.pads[1]
    copies = []
    for py in range(sh):
        a0 = -(-(top - py) // sh) if top > py else 0  # first phase row inside the image
        y0 = a0 * sh + py - top
        for px in range(sw):
            b0 = -(-(left - px) // sw) if left > px else 0
            x0 = b0 * sw + px - left
            copies.append((a0, len(range(y0, h, sh)), b0, len(range(x0, w, sw)), slice(y0, None, sh),
                           slice(x0, None, sw)))
    return copies


def _set_phase_copies(plan: Conv2dPlan, h: int, w: int, sh: int, sw: int) -> None:
    """Fill ``plan.phase_copies`` and the :attr:`Conv2dPlan.zeroed_key` that names their geometry
    (``phase_shape`` and ``phase_len`` must be set: both are part of it)."""
    plan.phase_copies = _phase_copies(plan, h, w, sh, sw)
    interiors = tuple(copy[:4] for copy in plan.phase_copies)
    plan.zeroed_key = ("conv-phases-zeroed", plan.phase_shape, plan.phase_len, interiors)
    plan.phase_grid = _phase_grid(plan, sh, sw)


def _phase_grid(plan: Conv2dPlan, sh: int, sw: int) -> tuple[int, ...] | None:
    """The :attr:`Conv2dPlan.phase_grid` of ``plan.phase_copies``, or None: one phase, empty or unequal
    interiors, or first input rows (columns) of the phases that are not consecutive in phase order or its
    reverse (then the phases are not one split of an input window)."""
    copies = plan.phase_copies
    if len(copies) < 2 or len({(ny, nx) for _, ny, _, nx, _, _ in copies}) != 1 or copies[0][1] <= 0 \
            or copies[0][3] <= 0:
        return None
    if any((a0, b0) != (copies[p // sw * sw][0], copies[p % sw][2]) for p, (a0, _, b0, _, _, _) in enumerate(copies)):
        return None  # a phase row (column) whose interiors start at different rows (columns)
    rows = _consecutive([copies[py * sw][4].start for py in range(sh)])
    cols = _consecutive([copies[px][5].start for px in range(sw)])
    if rows is None or cols is None:
        return None
    (ymin, py0, spy), (xmin, px0, spx) = rows, cols
    a0, b0 = copies[py0 * sw][0], copies[px0][2]
    da = copies[(py0 + spy) * sw][0] - a0 if sh > 1 else 0
    db = copies[px0 + spx][2] - b0 if sw > 1 else 0
    if any(copies[(py0 + spy * r) * sw][0] != a0 + r * da for r in range(sh)) \
            or any(copies[px0 + spx * r][2] != b0 + r * db for r in range(sw)):
        return None  # interiors not evenly spaced: no single view
    return (sh, sw, copies[0][1], copies[0][3], ymin, xmin, py0, px0, spy, spx, a0 * plan.phase_shape[1] + b0,
            da, db)


def _consecutive(starts: list[int]) -> tuple[int, int, int] | None:
    """(lowest start, its index, index step) when ``starts`` are consecutive integers in index order (step 1)
    or reversed (step -1); None otherwise."""
    if len(starts) == 1:
        return starts[0], 0, 0
    for step in (1, -1):
        if all(b - a == step for a, b in zip(starts, starts[1:])):
            first = 0 if step == 1 else len(starts) - 1
            return starts[first], first, step
    return None


def _phase_layout(plan: Conv2dPlan, h: int, w: int) -> None:
    """Fill the phase-im2col fields of ``plan`` for an (h, w) input."""
    sh, sw = plan.strides
    dh, dw = plan.dilations
    kh, kw = plan.kernel
    top, left, bottom, right = plan.pads
    ho, wo = plan.out_shape[2:]
    rows = -(-(h + top + bottom) // sh)
    cols = -(-(w + left + right) // sw)
    plan.phase_shape = (rows, cols)
    plan.taps = [((ki * dh % sh) * sw + kj * dw % sw, (ki * dh // sh) * cols + kj * dw // sw)
                 for ki in range(kh) for kj in range(kw)]
    # the taps reading one phase form a grid: kernel rows (columns) in an arithmetic progression
    plan.tap_grids, plan.tap_order = [], []
    for py in range(sh):
        kis = [ki for ki in range(kh) if ki * dh % sh == py]
        for px in range(sw):
            kjs = [kj for kj in range(kw) if kj * dw % sw == px]
            if not kis or not kjs:
                continue
            rstep = ((kis[1] - kis[0]) * dh // sh) * cols if len(kis) > 1 else 0
            cstep = (kjs[1] - kjs[0]) * dw // sw if len(kjs) > 1 else 0
            base = (kis[0] * dh // sh) * cols + kjs[0] * dw // sw
            plan.tap_grids.append((py * sw + px, base, len(kis), rstep, len(kjs), cstep))
            plan.tap_order += [ki * kw + kj for ki in kis for kj in kjs]
    # depthwise GEMMs are tiny, so their wasted columns cost less than exact (short-row) tap copies
    c, m = plan.x_shape[1], plan.out_shape[1]
    depthwise = plan.group == c == m
    plan.wide = depthwise or ho * cols / (ho * wo) <= WIDE_WASTE
    plan.length = ho * cols if plan.wide else ho * wo
    # exact taps (not wide) on one unpadded phase read within (rows, cols) = (h, w): straight from x
    plan.direct = not plan.wide and (sh, sw) == (1, 1) and not any(plan.pads)
    reach = max(off for _, off in plan.taps) + ho * cols
    plan.phase_len = max(rows * cols, reach)
    _set_phase_copies(plan, h, w, sh, sw)
    group_bytes = (c // plan.group * kh * kw + 1) * plan.length * np.dtype(plan.weights.dtype).itemsize
    plan.block_groups = max(1, min(plan.group, IM2COL_BLOCK_BYTES // group_bytes))


def _weight_matrix(w: np.ndarray, bias: np.ndarray | None, group: int) -> np.ndarray:
    """(M, C/g, *K) weights as the GEMM's (g, M/g, C/g * prod(K)) matrix, plus a bias column if given."""
    m = w.shape[0]
    mat = w.reshape(group, m // group, -1)
    if bias is not None:
        mat = np.concatenate([mat, bias.reshape(group, m // group, 1)], axis=2)
    return np.ascontiguousarray(mat)


def _bias_vector(b: np.ndarray | None, m: int, dtype: np.dtype) -> np.ndarray:
    """A compiled plan's (m,) bias in the weights' dtype: zeros when the node has none."""
    return np.zeros(m, dtype) if b is None else np.ascontiguousarray(b.astype(dtype).reshape(m))


def _activation_params(activation: tuple[str, list[float]] | None, dtype: np.dtype) -> np.ndarray:
    """A compiled epilogue's (p0, p1, 0, 1) in ``dtype``: the activation's first two parameters (zeros if fewer)."""
    params = list(activation[1][:2]) if activation is not None else []
    params += [0.0] * (2 - len(params))
    return np.array([params[0], params[1], 0.0, 1.0], dtype)


def _fused_code(activation: tuple[str, list[float]] | None, fused: Sequence[int]) -> int:
    """The :data:`conv_jit.ACTIVATION_CODES` code a compiled kernel applies (0: none), or -1 when the kernel
    does not apply ``activation`` (one of ``fused``): the numpy epilogue follows."""
    code = conv_jit.activation_code(activation)
    return code if code == 0 or code in fused else -1


def _compiled_plan(path: str, weights: np.ndarray, bias: np.ndarray, activation: tuple[str, list[float]] | None,
                   x_shape: tuple[int, ...], out_shape: tuple[int, ...], geo: Any, group: int = 1) -> Conv2dPlan:
    """A Conv2dPlan of a compiled path with the node's geometry (the kernel fields are set by the caller)."""
    return Conv2dPlan(path, x_shape=x_shape, out_shape=out_shape, group=group, kernel=geo.kernel,
                      strides=geo.strides, dilations=geo.dilations, pads=geo.pads_begin + geo.pads_end,
                      weights=weights, bias=bias, activation=activation)


def _small_plan(w: np.ndarray, b: np.ndarray | None, activation: tuple[str, list[float]] | None,
                x_shape: tuple[int, ...], out_shape: tuple[int, ...], geo: Any) -> Conv2dPlan:
    """The ``small`` plan: (M, C * KH * KW) weights, an (M,) bias (zeros without one)."""
    m = w.shape[0]
    plan = _compiled_plan("small", np.ascontiguousarray(w.reshape(m, -1)), _bias_vector(b, m, w.dtype), activation,
                          x_shape, out_shape, geo)
    plan.compiled = conv_jit.small_conv.dispatcher()
    plan.geometry = np.array([*geo.kernel, *geo.strides, *geo.dilations, *geo.pads_begin], np.int64)
    plan.padded_len = w[0].size * out_shape[2] * out_shape[3]  # the patch matrix
    return plan


def _gemv_plan(w: np.ndarray, b: np.ndarray | None, activation: tuple[str, list[float]] | None,
               x_shape: tuple[int, ...], out_shape: tuple[int, ...], geo: Any) -> Conv2dPlan:
    """The ``gemv`` plan (float32): (M, C) weights, an (M,) bias (zeros without one), the activation's code
    (-1 when the kernel lacks it: the numpy epilogue follows)."""
    from . import gemv_jit  # imports numba: only once jit.available() said True

    m = w.shape[0]
    plan = _compiled_plan("gemv", np.ascontiguousarray(w.reshape(m, -1)), _bias_vector(b, m, w.dtype), activation,
                          x_shape, out_shape, geo)
    plan.compiled = gemv_jit.gemv_conv.dispatcher()
    plan.act_code = _fused_code(activation, gemv_jit.FUSED_ACTIVATIONS)
    plan.act_params = _activation_params(activation, w.dtype)
    return plan


def _stem_plan(w: np.ndarray, b: np.ndarray | None, activation: tuple[str, list[float]] | None,
               x_shape: tuple[int, ...], out_shape: tuple[int, ...], geo: Any) -> Conv2dPlan:
    """The ``stem`` plan: (M', C, KH, KW) weights and an (M',) bias, M' = M rounded up to a multiple of 4
    (zero rows; the bias zeros without one), the epilogue's code
    (-1 when the compiled store does not apply the activation: the numpy epilogue follows)."""
    from . import stem_jit  # imports numba: only once jit.available() said True

    m, m4 = w.shape[0], -(-w.shape[0] // 4) * 4  # the kernel runs blocks of four output channels
    bias = np.zeros(m4, w.dtype)
    bias[:m] = _bias_vector(b, m, w.dtype)
    weights = np.zeros((m4,) + w.shape[1:], w.dtype)
    weights[:m] = w
    plan = _compiled_plan("stem", weights, bias, activation, x_shape, out_shape, geo)
    plan.compiled = stem_jit.stem_conv.dispatcher()
    rows = stem_jit.chunk_rows(x_shape, out_shape, geo.kernel, geo.strides, geo.dilations, geo.pads_begin[1])
    plan.geometry = np.array([*geo.strides, *geo.dilations, *geo.pads_begin, rows], np.int64)
    plan.act_code = _fused_code(activation, stem_jit.FUSED_ACTIVATIONS[w.dtype.name])
    plan.act_params = _activation_params(activation, w.dtype)
    plan.padded_len = stem_jit.buffer_size(x_shape, out_shape, geo.kernel, geo.strides, geo.dilations,
                                           geo.pads_begin[0], geo.pads_begin[1])
    plan.acc_len = rows * stem_jit.row_pitch(x_shape, out_shape, geo.kernel, geo.strides, geo.dilations,
                                             geo.pads_begin[1])
    plan.zeroed_key = ("stem-padded", x_shape, geo.kernel, geo.strides, geo.dilations, geo.pads_begin)
    return plan


def _conv1d_fits(x_shape: tuple[int, ...], w: np.ndarray, geo: Any) -> bool:
    """True when a one-group convolution of ``x_shape`` (N, C, H, W) runs as the ``conv1d`` path: a height-1
    image, a height-1 kernel without vertical padding, few output columns and multiply-adds (not a 1x1
    kernel on a 1x1 map: the ``small`` and ``pointwise`` paths take those, as on every image model)."""
    cols = geo.out[1]
    return (x_shape[2] == 1 and geo.kernel[0] == 1 and (x_shape[3] > 1 or geo.kernel[1] > 1) and geo.pads_begin[0] == 0 and geo.pads_end[0] == 0
            and geo.out[0] == 1 and cols <= CONV1D_MAX_COLUMNS and w.shape[0] * w[0].size * cols <= CONV1D_MAX_MACS)


def _conv1d_plan(w: np.ndarray, b: np.ndarray | None, activation: tuple[str, list[float]] | None,
                 x_shape: tuple[int, ...], out_shape: tuple[int, ...], geo: Any) -> Conv2dPlan:
    """The ``conv1d`` plan: (M, C * KW) weights, an (M,) bias (zeros without one), the activation's code
    (-1 when the kernel lacks it: the numpy epilogue follows)."""
    from . import conv1d_jit  # imports numba: only once jit.available() said True

    m = w.shape[0]
    plan = _compiled_plan("conv1d", np.ascontiguousarray(w.reshape(m, -1)), _bias_vector(b, m, w.dtype), activation,
                          x_shape, out_shape, geo)
    plan.compiled = conv1d_jit.conv1d_columns.dispatcher()
    plan.geometry = np.array([geo.kernel[1], geo.strides[1], geo.dilations[1], geo.pads_begin[1]], np.int64)
    plan.act_code = _fused_code(activation, conv1d_jit.FUSED_ACTIVATIONS)
    plan.act_params = _activation_params(activation, w.dtype)
    plan.padded_len = w[0].size * out_shape[3]  # the patch matrix, one row per output column
    return plan


def _pointwise_epilogue(activation: tuple[str, list[float]] | None, bias: np.ndarray | None,
                        dtype: np.dtype) -> Any:
    """The compiled bias + activation pass ``f(y, bias)`` of a pointwise plan (bias per row of y), or None."""
    if activation is None or bias is None or not POINTWISE_EPILOGUE:
        return None
    run = compiled_epilogue(activation[0], activation[1], dtype)
    if run is None:
        return None
    from .epilogue_jit import BIAS_ROWS  # importable: compiled_epilogue found numba

    def epilogue(y: np.ndarray, b: np.ndarray) -> None:
        run(y, b, BIAS_ROWS)
    return epilogue


def _depthwise_plan(w: np.ndarray, b: np.ndarray | None, activation: tuple[str, list[float]] | None,
                    x_shape: tuple[int, ...], out_shape: tuple[int, ...], geo: Any) -> Conv2dPlan:
    """The ``depthwise`` plan: (C, KH, KW) weights, a (C,) bias (zeros without one), the epilogue's code."""
    from . import depthwise_jit  # imports numba: only once jit.available() said True

    c = w.shape[0]
    bias = _bias_vector(b, c, w.dtype)
    plan = _compiled_plan("depthwise", np.ascontiguousarray(w.reshape(c, *geo.kernel)), bias, activation,
                          x_shape, out_shape, geo, group=c)
    plan.compiled = depthwise_jit.depthwise_conv.dispatcher()
    plan.geometry = np.array([*geo.strides, *geo.dilations, *geo.pads_begin, 0], np.int64)
    plan.act_code = conv_jit.activation_code(activation)
    plan.act_params = _activation_params(activation, w.dtype)
    plan.padded_len = depthwise_jit.padded_size(x_shape, out_shape, geo.kernel, geo.strides, geo.dilations,
                                                geo.pads_begin[0], geo.pads_begin[1])
    plan.acc_len = depthwise_jit.row_buffer_size(x_shape, out_shape, geo.kernel, geo.strides, geo.dilations,
                                                 geo.pads_begin[1])
    pixels = out_shape[2] * out_shape[3]
    if w.dtype == np.float32 and max(geo.strides) <= 2 and (
            pixels <= DW_BLOCKED_MAX_PIXELS
            or (pixels <= DW_BLOCKED_SMALL_KERNEL_MAX_PIXELS and geo.kernel[0] * geo.kernel[1] <= 9)):
        plan.blocked = True
        plan.weights, plan.bias = depthwise_jit.pack_weights(plan.weights, bias)
        plan.compiled = depthwise_jit.depthwise_blocked.dispatcher()
        plan.padded_len, plan.acc_len = depthwise_jit.block_buffer_sizes(
            x_shape, out_shape, geo.kernel, geo.strides, geo.dilations, geo.pads_begin[0], geo.pads_begin[1])
    return plan


def _prepare_1d(ctx: OpContext, xt: Any, w: np.ndarray, b: Any) -> Conv2dPlan | DeferredConv | None:
    """A 1-D convolution's plan: the 2-D one over a height-1 image, with the node's shapes recorded."""
    shape = tuple(xt.shape)
    if not all(isinstance(d, int) for d in shape):
        return DeferredConv(w, b) if w.dtype.kind == "f" else None
    attrs = dict(ctx.attrs)
    for key in ("kernel_shape", "strides", "dilations"):
        if attrs.get(key) is not None and len(attrs[key]):
            if len(attrs[key]) != 1:
                return None  # the general kernel reports the mismatch at run time
            attrs[key] = [1, *attrs[key]]
    if attrs.get("pads") is not None and len(attrs["pads"]):
        if len(attrs["pads"]) != 2:
            return None
        attrs["pads"] = [0, attrs["pads"][0], 0, attrs["pads"][1]]
    flat = OpContext(ctx.name, ctx.op_type, attrs, ctx.opset, ctx.domain)
    n, c, length = shape
    plan = prepare_conv(flat, [TensorType(xt.dtype, (n, c, 1, length)), np.ascontiguousarray(w[:, :, None, :]), b])
    if not isinstance(plan, Conv2dPlan):
        return None
    plan.node_shapes = (shape, plan.out_shape[:2] + plan.out_shape[3:])
    return plan


def prepare_conv(ctx: OpContext, inputs: Sequence[Any]) -> Conv2dPlan | DeferredConv | None:
    """The ``prepare`` hook of Conv/FusedConv: a :class:`Conv2dPlan`, a :class:`DeferredConv`
    (a 4-D input with symbolic dims: plans are made per concrete shape at run time), or None
    (the general kernel runs).

    Prepared when the weights (and bias, if any) are constant float arrays of rank 4, the
    input is 4-D, and the dtypes agree (rank 3 and 3-D: see :func:`_prepare_1d`); FusedConv's
    residual ``Z`` may be a runtime input.
    """
    if len(inputs) < 2:
        return None
    xt, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    if isinstance(w, np.ndarray) and w.ndim == 3 and len(getattr(xt, "shape", None) or ()) == 3:
        return _prepare_1d(ctx, xt, w, b)
    if not isinstance(w, np.ndarray) or w.ndim != 4 or w.dtype.kind != "f":
        return None
    if b is not None and not isinstance(b, np.ndarray):
        return None
    shape = getattr(xt, "shape", None)
    if shape is None or len(shape) != 4 or getattr(xt, "dtype", None) is None or np.dtype(xt.dtype) != w.dtype:
        return None
    if not all(isinstance(d, int) for d in shape):  # symbolic dims: plan per concrete shape at run time
        return DeferredConv(w, b)
    n, c, h, wd = shape
    m = w.shape[0]
    group = int(ctx.attr("group", 1))
    if group <= 0 or c % group or m % group or w.shape[1] != c // group:
        return None  # the general kernel reports the mismatch at run time
    geo = conv_geometry(ctx, (h, wd), ctx.attr("kernel_shape") or w.shape[2:])
    if geo.kernel != tuple(w.shape[2:]) or any(p < 0 for p in geo.pads_begin + geo.pads_end):
        return None
    activation = fused_conv_activation(ctx) if ctx.op_type == "FusedConv" else None
    compiled = CONV_JIT and w.dtype in (np.float32, np.float64) and jit.available()
    if compiled and group == c == m:
        return _depthwise_plan(w, b, activation, tuple(shape), (n, m) + geo.out, geo)
    if compiled and GEMV_JIT and group == 1 and geo.kernel == (1, 1) and not geo.padded and (h, wd) == (1, 1) \
            and w.dtype == np.float32:
        return _gemv_plan(w, b, activation, tuple(shape), (n, m) + geo.out, geo)
    if compiled and group == 1 and _conv1d_fits(tuple(shape), w, geo) \
            and not (geo.kernel == (1, 1) and not geo.padded and activation is not None):
        return _conv1d_plan(w, b, activation, tuple(shape), (n, m) + geo.out, geo)
    if compiled and group == 1 and c <= STEM_MAX_CHANNELS and m <= STEM_MAX_OUTPUTS and max(geo.strides) <= 2 \
            and geo.kernel != (1, 1) and m * w[0].size * geo.out[0] * geo.out[1] > SMALL_CONV_MAX_MACS:
        return _stem_plan(w, b, activation, tuple(shape), (n, m) + geo.out, geo)
    pointwise = geo.kernel == (1, 1) and not geo.padded
    if compiled and group == 1 and m * w[0].size * geo.out[0] * geo.out[1] <= SMALL_CONV_MAX_MACS \
            and not (pointwise and activation is not None):
        return _small_plan(w, b, activation, tuple(shape), (n, m) + geo.out, geo)
    if activation is not None and activation[0] == "SiLU" and w.dtype == np.float32 and (len(inputs) < 4 or inputs[3] is None):
        # the plan computes x / 2 (halving is exact) and the epilogue skips its halving pass
        w, b = w * w.dtype.type(0.5), None if b is None else b * b.dtype.type(0.5)
        activation = (HALF_SILU, [])
    bias = None if b is None else np.ascontiguousarray(b.astype(w.dtype).reshape(m, 1))
    out_shape = (n, m) + geo.out
    mg, cg = m // group, c // group
    common: dict[str, Any] = dict(x_shape=tuple(shape), out_shape=out_shape, group=group, kernel=geo.kernel,
                  strides=geo.strides, dilations=geo.dilations, pads=geo.pads_begin + geo.pads_end,
                  bias=bias, activation=activation)
    tiles = -(-geo.out[0] // 2) * -(-geo.out[1] // 2)
    if geo.kernel == (1, 1) and not geo.padded:
        epilogue = _pointwise_epilogue(activation, bias, w.dtype)
        # fold the bias into the GEMM when copying x (C rows) is cheaper than a pass over the output (M rows)
        # and no compiled activation pass adds it for free
        gemm = GEMM_JIT and compiled and group == 1 and w.dtype == np.float32
        if gemm:
            from . import gemm_jit  # imports numba: only once jit.available() said True

            gemm = gemm_jit.supported()  # AVX-512: on AVX2 alone the compiled tile loses to OpenBLAS
        fold = epilogue is None and bias is not None and (geo.strides != (1, 1) or c < m) and not gemm
        plan = Conv2dPlan("pointwise", weights=_weight_matrix(w, bias if fold else None, group), folded=fold,
                          **common)
        plan.epilogue = epilogue
        if gemm:
            plan.packed = gemm_jit.pack_weights(w.reshape(m, c))
            plan.compiled = gemm_jit.gemm.dispatcher()
        return plan
    if geo.kernel == geo.strides and not geo.padded and geo.dilations == (1, 1) and group == 1:
        # patchify stems (ViT, ConvNeXt, Swin): kernel = stride, the taps never overlap
        return Conv2dPlan("patch", weights=_weight_matrix(w, None, group), **common)
    if geo.strides[0] * geo.strides[1] > MAX_PHASES:
        return None  # one phase image per stride position: the general kernel is cheaper
    compiled = jit.available()
    min_tiles, min_channels = (1, WINOGRAD_JIT_MIN_CHANNELS) if compiled else (WINOGRAD_MIN_TILES,
                                                                               WINOGRAD_MIN_CHANNELS)
    if (geo.kernel == (3, 3) and geo.strides == (1, 1) and geo.dilations == (1, 1) and group == 1
            and tiles >= min_tiles and min(c, m) >= min_channels and w.dtype == np.float32
            and (not compiled or tiles * c * m >= WINOGRAD_JIT_MIN_WORK)):
        plan = Conv2dPlan("winograd", weights=winograd_weights(w), **common)
        if compiled:
            from . import store_jit, winograd_jit  # import numba: only once jit.available() said True

            plan.compiled = (winograd_jit.winograd_input.dispatcher(), winograd_jit.winograd_output.dispatcher())
            plan.bias = np.zeros((m, 1), w.dtype) if bias is None else bias
            plan.act_code, plan.act_params = store_jit.store_activation(activation)
            cols = tiles
            plan.winograd_sizes = (winograd_jit.plane_stride(c * cols), winograd_jit.split_size(geo.out),
                                   winograd_jit.plane_stride(m * cols))
            if WINOGRAD_GEMM_JIT and winograd_jit.gemm_jit.supported():  # AVX-512 (see gemm_jit.supported)
                plan.packed = winograd_jit.pack_weights(plan.weights)
                plan.winograd_gemm = winograd_jit.winograd_gemm.dispatcher()
            return plan
        # the input as four parity phases, rows of tw + 1 columns, room for the shifted reads
        th, tw = -(-geo.out[0] // 2), -(-geo.out[1] // 2)
        plan.phase_shape = (th + 1, tw + 1)
        plan.phase_len = (th + 1) * (tw + 1) + 1
        _set_phase_copies(plan, h, wd, 2, 2)
        return plan
    plan = Conv2dPlan("phase", weights=w, **common)
    _phase_layout(plan, h, wd)
    if compiled and plan.wide and w.dtype == np.float32 and activation is not None:
        from . import store_jit  # imports numba: only once jit.available() said True

        plan.act_code, plan.act_params = store_jit.store_activation(activation)
        if plan.act_code > 0:
            plan.crop_store = store_jit.crop_store.dispatcher()
    gemm = PHASE_GEMM_JIT and compiled and group == 1 and w.dtype == np.float32
    if gemm:
        from . import gemm_jit  # imports numba: only once jit.available() said True

        gemm = gemm_jit.supported()  # AVX-512: on AVX2 alone the compiled tile loses to OpenBLAS
    if (group == 1 and plan.wide and c >= IMPLICIT_MIN_CHANNELS and plan.length >= IMPLICIT_MIN_COLUMNS
            and w.dtype == np.float32 and IMPLICIT_GEMM and blas.available() and not gemm):
        plan.implicit = True
        plan.weights = np.ascontiguousarray(w.transpose(2, 3, 0, 1).reshape(-1, m, c))
    else:
        plan.folded = bias is not None
        taps = w.reshape(m, c // group, -1)[:, :, plan.tap_order]
        plan.weights = _weight_matrix(taps, bias, group)
        if gemm:
            plan.packed = gemm_jit.pack_weights(plan.weights[0])
            plan.compiled = gemm_jit.gemm.dispatcher()
    return plan
