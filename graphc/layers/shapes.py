"""A bound layer op's output types at compile time (what the ``infer-shapes`` pass asks of a layer).

Static input shapes run the layer's ``output_shapes``/``output_dtypes`` through a
:class:`~graphc.layers.runtime.LayerRunner` plan; symbolic ones give the element types only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ir import TensorType
from .base import Layer
from .binding import LayerBinding, construct_layer
from .runtime import LayerRunner
from .slots import split_inputs

if TYPE_CHECKING:
    from ..ir import Op

__all__ = ["layer_output_types"]


def layer_output_types(op: Op) -> list[TensorType | None] | None:
    """Output types of a bound layer op from its runtime inputs' static types, or None if unknown.

    Used by the ``infer-shapes`` pass. Errors in the layer's ``output_shapes`` are
    reported as LayerError naming the node.
    """
    binding: LayerBinding = op.layer
    runtime, blobs, slots = split_inputs(op)
    if any(v is not None and v.type.dtype is None for v in runtime):
        return None
    if any(v is not None and not v.type.is_static for v in runtime):
        return _dtypes_only(binding, runtime, blobs, slots, len(op.outputs))
    runner = LayerRunner(op.name, op.qualified_type, binding.cls, binding.params, blobs, slots,
                         num_outputs=len(op.outputs))
    sig = tuple(None if v is None else (v.type.static_shape, np.dtype(v.type.dtype))
                for v in runtime)
    plan = runner.prepare(sig)
    return [TensorType(dt, shape) for shape, dt in zip(plan.output_shapes, plan.output_dtypes)]


def _dtypes_only(binding: LayerBinding, runtime: list, blobs: list, slots: list, n_outputs: int) -> list[TensorType | None] | None:
    """Output element types (shapes unknown) when some input shape is symbolic."""
    in_dtypes = [np.dtype(v.type.dtype) for v in runtime if v is not None]
    if binding.cls.output_dtypes is Layer.output_dtypes:
        dtypes = [in_dtypes[0] if in_dtypes else None] * n_outputs
    else:
        try:
            layer = construct_layer(binding.cls, binding.params, blobs, slots)
            dtypes = [np.dtype(d) for d in layer.output_dtypes(in_dtypes)]
        except Exception:  # noqa: BLE001 - the layer may need its blobs; types stay unknown then
            return None
    return [TensorType(d, None) if d is not None else None for d in dtypes]
