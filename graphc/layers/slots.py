"""A layer's argument list in ONNX slot order, rebuilt from its runtime inputs and blobs.

``op.inputs`` is in ONNX slot order at every stage (``fold-blobs`` only records which
slots are blobs), so graphc itself never reassembles slots. A layer is called with its
runtime inputs and holds ``blobs`` / ``blob_slots``; a layer that wants its full
argument list back uses :func:`merge_slots`::

    # Resize(X, roi=None, scales=<const>), runtime inputs [X, None], blob_slots [2]:
    merge_slots([x_array, None], [scales], [2])  ->  [x_array, None, scales]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..ir import Op, Value

__all__ = ["split_inputs", "merge_slots"]


def split_inputs(op: Op) -> tuple[list[Value | None], list[np.ndarray], list[int]]:
    """Runtime inputs, blobs and blob slots of ``op`` as a layer sees them, whether or not
    ``fold-blobs`` ran: every input holding constant data is a blob (after ``fold-blobs``
    exactly ``op.blob_slots``); the runtime inputs are the other slots, in order (``None``
    for an omitted optional input).
    """
    runtime: list[Value | None] = []
    blobs: list[np.ndarray] = []
    slots: list[int] = []
    for s, v in enumerate(op.inputs):
        if v is not None and v.const is not None:
            blobs.append(np.asarray(v.const))
            slots.append(s)
        else:
            runtime.append(v)
    return runtime, blobs, slots


def merge_slots(runtime: Sequence[Any], blobs: Sequence[Any], blob_slots: Sequence[int]) -> list[Any]:
    """Blobs placed at ``blob_slots``, the ``runtime`` entries filling the other slots in order.

    Slots nobody fills (a blob slot past the runtime entries' end leaves a gap) hold None.
    """
    n = len(runtime) + len(blobs)
    if blob_slots:
        n = max(n, max(blob_slots) + 1)
    out: list[Any] = [None] * n
    taken = set()
    for slot, blob in zip(blob_slots, blobs):
        out[slot] = blob
        taken.add(slot)
    it = iter(runtime)
    for slot in range(n):
        if slot not in taken:
            out[slot] = next(it, None)
    return out
