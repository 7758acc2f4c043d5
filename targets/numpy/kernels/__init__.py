"""Native numpy kernels, one module per op family; importing this package fills KERNELS."""

from __future__ import annotations

from .registry import KERNELS, KernelSpec, KernelTable, OpContext, kernel, register_all

__all__ = ["KERNELS", "KernelSpec", "KernelTable", "OpContext", "kernel", "FAMILIES"]

#: Kernel family modules, imported once when the numpy target is first used.
FAMILIES = (
    "targets.numpy.kernels.elementwise",
    "targets.numpy.kernels.activations",
    "targets.numpy.kernels.reductions",
    "targets.numpy.kernels.shape_ops",
    "targets.numpy.kernels.indexing",
    "targets.numpy.kernels.conv",
    "targets.numpy.kernels.pooling",
    "targets.numpy.kernels.normalization",
    "targets.numpy.kernels.linalg",
    "targets.numpy.kernels.resize",
    "targets.numpy.kernels.quantize",
    "targets.numpy.kernels.quantized_linear",
    "targets.numpy.kernels.quantized_ops",
    "targets.numpy.kernels.recurrent",
    "targets.numpy.kernels.control_flow",
    "targets.numpy.kernels.detection",
    "targets.numpy.kernels.signal",
    "targets.numpy.kernels.sequence",
    "targets.numpy.kernels.sampling",
    "targets.numpy.kernels.attention",
    "targets.numpy.kernels.rotary",
    "targets.numpy.kernels.group_query_attention",
    "targets.numpy.kernels.losses",
    "targets.numpy.kernels.legacy",
)

register_all(FAMILIES)
