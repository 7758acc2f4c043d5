"""Kernels: tensor sequences — SequenceEmpty/Construct/Insert/At/Erase/Length, SplitToSequence,
ConcatFromSequence.

A sequence value is a Python list of numpy arrays (the executor passes lists through
unplanned). Kernels never mutate an input list: each returns a new one. Tensors entering a
list are copied, because a runtime input may be a planned arena buffer that a later op
overwrites; a tensor leaving a list (SequenceAt) is copied into the output buffer, because
a later in-place kernel may write to that buffer.

torch.onnx emits these for scripted loops that collect per-step tensors (greedy decoders:
SequenceEmpty before the Loop, SequenceInsert in its body, ConcatFromSequence after it) and
for ``torch.split``/``unbind`` over a dynamic count (SplitToSequence, SequenceAt).
"""

from __future__ import annotations

import numpy as np

from .registry import OpContext, kernel


def _position(ctx: OpContext, pos: np.ndarray | None, length: int, default: int, insert: bool) -> int:
    """A sequence position from its (possibly negative) tensor; ``insert`` allows ``length`` itself."""
    if pos is None or pos.size == 0:
        return default
    p = int(pos.reshape(-1)[0])
    hi = length if insert else length - 1
    if not -length <= p <= hi:
        raise IndexError(f"{ctx.op_type} node {ctx.name!r}: position {p} is outside [{-length}, {hi}] "
                         f"for a sequence of {length} tensors")
    return p + length if p < 0 else p


def _owned(x: np.ndarray) -> np.ndarray:
    return np.array(x, copy=True)


@kernel("SequenceEmpty", since=11)
def sequence_empty(ctx: OpContext) -> list:
    """An empty sequence (its element type is the ``dtype`` attribute, which a list does not carry)."""
    return []


@kernel("SequenceConstruct", since=11)
def sequence_construct(ctx: OpContext, *tensors: np.ndarray) -> list:
    return [_owned(t) for t in tensors]


@kernel("SequenceInsert", since=11)
def sequence_insert(ctx: OpContext, seq: list, tensor: np.ndarray, position: np.ndarray | None = None) -> list:
    """A new sequence with ``tensor`` inserted at ``position`` (default: appended)."""
    out = list(seq)
    out.insert(_position(ctx, position, len(seq), len(seq), insert=True), _owned(tensor))
    return out


@kernel("SequenceAt", since=11)
def sequence_at(ctx: OpContext, seq: list, position: np.ndarray) -> np.ndarray:
    item = seq[_position(ctx, position, len(seq), 0, insert=False)]
    out = ctx.out(0, item.shape, item.dtype)
    np.copyto(out, item)
    return out


@kernel("SequenceErase", since=11)
def sequence_erase(ctx: OpContext, seq: list, position: np.ndarray | None = None) -> list:
    """A new sequence without the tensor at ``position`` (default: the last)."""
    out = list(seq)
    del out[_position(ctx, position, len(seq), len(seq) - 1, insert=False)]
    return out


@kernel("SequenceLength", since=11)
def sequence_length(ctx: OpContext, seq: list) -> np.ndarray:
    return np.array(len(seq), dtype=np.int64)


@kernel("SplitToSequence", since=11)
def split_to_sequence(ctx: OpContext, x: np.ndarray, split: np.ndarray | None = None) -> list:
    """Split ``x`` along ``axis``: into size-1 slices (squeezed unless ``keepdims``) when ``split``
    is omitted, chunks of a scalar ``split`` (the last may be shorter), or the sizes it lists."""
    axis = int(ctx.attr("axis", 0)) % x.ndim
    length = x.shape[axis]
    if split is None:
        pieces = np.split(x, length, axis=axis) if length else []
        if not int(ctx.attr("keepdims", 1)):
            pieces = [np.squeeze(p, axis=axis) for p in pieces]
        return [_owned(p) for p in pieces]
    if split.ndim == 0:
        step = int(split)
        if step <= 0:
            raise ValueError(f"SplitToSequence node {ctx.name!r}: split size {step} must be positive")
        bounds = list(range(step, length, step))
    else:
        sizes = [int(s) for s in split.reshape(-1)]
        if sum(sizes) != length or any(s < 0 for s in sizes):
            raise ValueError(f"SplitToSequence node {ctx.name!r}: split sizes {sizes} do not add up to "
                             f"axis {axis} of length {length}")
        bounds = list(np.cumsum(sizes)[:-1])
    return [_owned(p) for p in np.split(x, bounds, axis=axis)]


@kernel("ConcatFromSequence", since=11)
def concat_from_sequence(ctx: OpContext, seq: list) -> np.ndarray:
    """Concatenate (or, with ``new_axis=1``, stack) the sequence's tensors along ``axis``."""
    if not seq:
        raise ValueError(f"ConcatFromSequence node {ctx.name!r}: the input sequence is empty")
    axis = int(ctx.attr("axis"))
    if int(ctx.attr("new_axis", 0)):
        rank = seq[0].ndim + 1
        return np.stack(seq, axis=axis % rank)
    return np.concatenate(seq, axis=axis % seq[0].ndim)


__all__ = ["sequence_empty", "sequence_construct", "sequence_insert", "sequence_at", "sequence_erase",
           "sequence_length", "split_to_sequence", "concat_from_sequence"]
