"""Feeds checked before onnxruntime sees them.

onnxruntime reads a big-endian array's bytes as native ones (``>f4`` [1, -2, 3] came back as
[4.6e-41, ...]), reports a wrong dtype or shape as a generic failure, and ignores inputs the
model does not take. :func:`check_feeds` gives each of those an ``InputError`` naming the input,
what the model takes and what it got, and converts the other byte order by value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from graphc.errors import InputError

from .tensors import BoundaryTypes

__all__ = ["FeedSpec", "feed_specs", "check_feeds"]


@dataclass(frozen=True)
class FeedSpec:
    """One session input: its name, the dtype the caller passes (None: not checked) and its shape
    (ints fixed, anything else free; None when the rank is unknown)."""

    name: str
    dtype: np.dtype | None
    shape: tuple[Any, ...] | None
    #: False for sequence, optional and map inputs: passed through as given
    tensor: bool = True


def feed_specs(session: Any, io: BoundaryTypes, model: onnx.ModelProto) -> list[FeedSpec]:
    """The specs of ``session``'s inputs: dtypes from the session (``io.views`` gives the caller's
    dtype of a retyped input), shapes from ``model``'s declared inputs (onnxruntime reports an
    unknown rank as ``[]``, a scalar's shape)."""
    declared = {vi.name: vi.type for vi in model.graph.input}
    specs = []
    for i in session.get_inputs():
        if not str(i.type).startswith("tensor("):
            specs.append(FeedSpec(i.name, None, None, tensor=False))
            continue
        specs.append(FeedSpec(i.name, io.views.get(i.name, io.inputs.get(i.name)), _declared_shape(declared.get(i.name))))
    return specs


def _declared_shape(t: onnx.TypeProto | None) -> tuple[int | None, ...] | None:
    """Fixed dims as ints, the others None; None when the rank itself is not declared."""
    if t is None or not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in t.tensor_type.shape.dim)


def check_feeds(specs: list[FeedSpec], feeds: Any) -> dict[str, Any]:
    """``feeds`` for exactly these inputs, each an array of the declared dtype (the other byte order
    converted) and of a shape that fits; InputError otherwise."""
    names = [s.name for s in specs]
    if not isinstance(feeds, dict):
        raise InputError(f"run() takes a dict input name -> array, got {type(feeds).__name__}; inputs: {names}")
    missing = [n for n in names if n not in feeds]
    if missing:
        raise InputError(f"missing input(s) {missing}; the model takes {names}")
    extra = [n for n in feeds if n not in names]
    if extra:
        raise InputError(f"unknown input name(s) {extra}; the model takes {names}")
    return {s.name: _check(s, feeds[s.name]) for s in specs}


def _check(spec: FeedSpec, x: Any) -> Any:
    if not spec.tensor:
        return x
    want = spec.dtype
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x, dtype=want if want is not None and want != object else None)
        except (TypeError, ValueError) as e:
            raise InputError(f"input {spec.name!r}: cannot convert {type(x).__name__} to {want}: {e}") from e
    if want is not None and x.dtype != want:
        if x.dtype.newbyteorder("=") == want.newbyteorder("="):
            x = x.astype(want)  # the declared type in the other byte order: same values, native order
        elif not (want == object and x.dtype.kind in "SU"):
            raise InputError(f"input {spec.name!r}: expected dtype {want.name}, got {x.dtype.name} with shape "
                             f"{x.shape}; convert it with .astype(np.{want.name})")
    if spec.shape is not None:
        if x.ndim != len(spec.shape):
            raise InputError(f"input {spec.name!r}: expected rank {len(spec.shape)} (shape {list(spec.shape)}), "
                             f"got shape {x.shape}")
        for k, (d, got) in enumerate(zip(spec.shape, x.shape)):
            if isinstance(d, int) and d >= 0 and d != got:
                raise InputError(f"input {spec.name!r}: expected shape {list(spec.shape)}, got {x.shape} "
                                 f"(dimension {k} is {got}, not {d})")
    return x
