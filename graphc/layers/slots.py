"""Input slots of an op: runtime inputs, blobs (constant inputs) and the slot each came from.

``fold-blobs`` moves an op's constant inputs out of ``op.inputs`` into ``op.blobs``,
recording each blob's original input slot in ``op.blob_slots``; ``op.inputs`` keeps
the remaining (runtime) inputs in their original order. These helpers answer "which
argument sits in which slot" the same way before and after that pass::

    # Resize(X, roi=None, scales=<const>) after fold-blobs:
    #   op.inputs == [X, None], op.blobs == [scales], op.blob_slots == [2]
    full_inputs(op, [x_array, None])  ->  [x_array, None, scales]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..ir import Op, Value

__all__ = ["input_slots", "split_inputs", "full_inputs", "merge_slots"]


def input_slots(op: Op) -> list[int]:
    """The original input slot of each entry of ``op.inputs`` (slots not taken by blobs, in order)."""
    taken = set(op.blob_slots)
    out: list[int] = []
    slot = 0
    while len(out) < len(op.inputs):
        if slot not in taken:
            out.append(slot)
        slot += 1
    return out


def split_inputs(op: Op) -> tuple[list[Value | None], list[np.ndarray], list[int]]:
    """Runtime inputs, blobs and blob slots of ``op``, whether or not fold-blobs ran.

    Blobs are ``op.blobs`` plus any input still holding constant data (before
    fold-blobs: every constant input), ordered by slot. Runtime inputs are the other
    entries of ``op.inputs`` in order (``None`` for an omitted optional input).
    """
    runtime: list[Value | None] = []
    pairs = list(zip(op.blob_slots, op.blobs))
    for slot, v in zip(input_slots(op), op.inputs):
        if v is not None and v.const is not None:
            pairs.append((slot, v.const))
        else:
            runtime.append(v)
    pairs.sort(key=lambda p: p[0])
    return runtime, [np.asarray(b) for _, b in pairs], [s for s, _ in pairs]


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


def full_inputs(op: Op, runtime: Sequence[Any]) -> list[Any]:
    """``op``'s argument list in ORIGINAL slot order: ``op.blobs`` at ``op.blob_slots``,
    ``runtime`` (one array per entry of ``op.inputs``) filling the other slots in order."""
    return merge_slots(runtime, op.blobs, op.blob_slots)
