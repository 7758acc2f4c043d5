"""A fed input checked against the type its graph declares (shared by the numpy and ort targets).

Both targets refuse a wrong dtype, rank or fixed dimension, and a symbolic dimension that two
inputs give different sizes, with the same :class:`graphc.errors.InputError` naming the input;
an array in the other byte order of the declared dtype (``>f4`` for float32) is converted by value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError
from .ir import TensorType

__all__ = ["check_input"]


def check_input(name: str, t: TensorType, x: Any, symbols: dict[str, tuple[int, str]]) -> Any:
    """``x`` as a contiguous array of type ``t`` (input ``name``), or InputError.

    ``symbols`` maps each symbolic dimension to (size, input that set it) across one run's
    inputs; pass the same dict for every input of the run. Sequences and optionals pass through.
    """
    if t.kind != "tensor":  # sequences / optionals pass through as given
        return x
    want = np.dtype(t.dtype) if t.dtype is not None else None
    if isinstance(x, np.ndarray):
        arr = x
        if want is not None and arr.dtype != want and arr.dtype.newbyteorder("=") == want.newbyteorder("="):
            arr = arr.astype(want)  # the declared type in the other byte order (>f4): same values, native order
        if want is not None and arr.dtype != want and not (want == object and arr.dtype.kind in "SU"):
            raise InputError(f"input {name!r}: expected dtype {want.name} ({t}), got {arr.dtype.name} "
                             f"with shape {arr.shape}; convert it with .astype(np.{want.name})")
        if want == object and arr.dtype.kind in "SU":
            arr = arr.astype(object)
    else:
        try:
            arr = np.asarray(x, dtype=want)
        except (TypeError, ValueError) as e:
            raise InputError(f"input {name!r}: cannot convert {type(x).__name__} to {t}: {e}") from e
    if t.shape is not None:
        if arr.ndim != len(t.shape):
            raise InputError(f"input {name!r}: expected rank {len(t.shape)} ({t}), got shape {arr.shape} "
                             f"(rank {arr.ndim})")
        for i, (d, got) in enumerate(zip(t.shape, arr.shape)):
            if isinstance(d, int) and d != got:
                raise InputError(f"input {name!r}: expected shape {tuple(t.shape)} ({t}), got {arr.shape} "
                                 f"(dimension {i} is {got}, not {d})")
            if isinstance(d, str):
                seen = symbols.setdefault(d, (got, name))
                if seen[0] != got:
                    raise InputError(f"input {name!r}: dimension {i} ({d!r}) is {got}, but input {seen[1]!r} "
                                     f"gave {d!r} = {seen[0]}")
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr
