"""Layer parameters as JSON: encode, decode, and check they survive the trip.

Parameters are JSON data (None, bool, int, float, str, lists, dicts with string
keys) or numpy arrays. Arrays are encoded inline as
``{"__ndarray__": <base64 bytes>, "dtype": "<f4", "shape": [2, 3]}``; non-finite
floats as ``{"__float__": "nan"}``. Tuples become lists and numpy scalars become
python numbers (:func:`normalize`), so what a layer gets back after loading equals
what was checked at compile time.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any, Mapping

import numpy as np

from ..errors import LayerError

__all__ = ["encode_params", "decode_params", "normalize", "params_equal", "check_round_trip", "NotSerializable"]

_ARRAY = "__ndarray__"
_FLOAT = "__float__"


class NotSerializable(LayerError):
    """A parameter value is neither JSON data nor a numpy array; ``path`` says where."""

    def __init__(self, path: str, value: Any):
        self.path = path
        self.value = value
        super().__init__(f"parameter {path} = {_short(value)} ({type(value).__name__}) is neither JSON data "
                         "(None, bool, int, float, str, list, dict with str keys) nor a numpy array")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def normalize(value: Any, path: str = "params") -> Any:
    """``value`` as plain JSON data and arrays (tuples -> lists, numpy scalars -> numbers).

    Raises :class:`NotSerializable` naming the offending entry.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic) and not isinstance(value, (np.object_, np.void)) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            raise NotSerializable(path, value)
        return value
    if isinstance(value, (list, tuple)):
        return [normalize(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise NotSerializable(f"{path} key {k!r}", k)
            out[k] = normalize(v, f"{path}[{k!r}]")
        return out
    raise NotSerializable(path, value)


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        return {_ARRAY: base64.b64encode(arr.tobytes()).decode("ascii"), "dtype": arr.dtype.str, "shape": list(arr.shape)}
    if isinstance(value, float) and not math.isfinite(value):
        return {_FLOAT: repr(value)}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if _ARRAY in value:
            data = base64.b64decode(value[_ARRAY])
            return np.frombuffer(data, dtype=np.dtype(value["dtype"])).reshape(value["shape"]).copy()
        if _FLOAT in value and len(value) == 1:
            return float(value[_FLOAT])
        return {k: _decode(v) for k, v in value.items()}
    return value


def encode_params(params: Mapping[str, Any]) -> str:
    """JSON text for ``params`` (see the module docstring for arrays and non-finite floats)."""
    return json.dumps(_encode(normalize(dict(params))), sort_keys=True, allow_nan=False)


def decode_params(text: str) -> dict[str, Any]:
    """The parameters :func:`encode_params` wrote (arrays come back as numpy arrays)."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise LayerError(f"layer parameters are not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise LayerError("layer parameters must be a JSON object")
    return _decode(data)


def params_equal(a: Any, b: Any) -> bool:
    """Deep equality where arrays compare by dtype, shape and values (NaN equals NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(params_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(params_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def check_round_trip(params: Mapping[str, Any], where: str) -> str:
    """Encode ``params``, decode them back, and insist they are equal; return the JSON text.

    ``where`` names the layer and node for the error message.
    """
    try:
        plain = normalize(dict(params))
        text = encode_params(plain)
    except NotSerializable as e:
        raise LayerError(f"{where}: {e}. Make get_config() return only JSON data and numpy arrays "
                         "(convert the value, or declare it as graphc.Param(list|int|float|str|bool|np.ndarray)).") from e
    back = decode_params(text)
    if not params_equal(plain, back):
        diff = sorted(k for k in plain if k not in back or not params_equal(plain[k], back[k]))
        raise LayerError(f"{where}: parameters {diff} do not survive JSON encoding unchanged; "
                         "use JSON data (lists, not tuples or sets) and numpy arrays of numbers")
    return text
