"""Declared shapes of artifact manifests, checked at load before any field is used.

A manifest is data from the artifact, so a tampered or damaged one must fail as a
``ModelFormatError`` naming the field, not as a ``TypeError`` deep in the loader. A schema is
plain data:

* a type, or a tuple of types: ``isinstance`` (``bool`` is not accepted where ``int`` is asked);
* a dict ``{key: schema}``: a JSON object whose listed keys, when present, match (others are free);
  the keys under :data:`REQUIRED` must be present;
* a one-element list ``[schema]``: a JSON array whose items all match;
* :data:`MAP` ``(schema)`` via :func:`map_of`: an object whose values all match.

Each target declares its schema next to the code that reads the manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ModelFormatError

__all__ = ["check_manifest", "map_of", "COMMON", "NUMBER", "OPTIONAL_STR", "DIMS", "REQUIRED"]

#: the key of a dict schema listing the keys that must be present
REQUIRED = "__required__"
#: a number of bytes, a float from JSON included
NUMBER = (int, float)
OPTIONAL_STR = (str, type(None))
#: a shape: a list of ints and symbolic dims (strings), or null
DIMS = ([(int, str, type(None))], type(None))
#: the fields every target's manifest has
COMMON = {REQUIRED: ("target",), "target": str, "format": int}


class _MapOf:
    """An object whose values all match ``schema`` (keys are free)."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema


def map_of(schema: Any) -> _MapOf:
    """The schema of a JSON object whose every value matches ``schema``."""
    return _MapOf(schema)


def check_manifest(path: Path, manifest: dict[str, Any], schema: dict[str, Any]) -> None:
    """ModelFormatError naming the first field of ``manifest`` that does not match ``schema``."""
    _check(path, manifest, schema, "manifest")


def _check(path: Path, value: Any, schema: Any, where: str) -> None:
    if isinstance(schema, dict):
        _expect(path, value, dict, where)
        for key in schema.get(REQUIRED, ()):
            if key not in value:
                raise ModelFormatError(f"{path}: {where} in the manifest lacks {key!r}; the artifact is damaged or "
                                       "was edited: compile it again")
        for key, sub in schema.items():
            if key in value and key != REQUIRED:
                _check(path, value[key], sub, f"{where}.{key}")
    elif isinstance(schema, list):
        _expect(path, value, list, where)
        for i, item in enumerate(value):
            _check(path, item, schema[0], f"{where}[{i}]")
    elif isinstance(schema, _MapOf):
        _expect(path, value, dict, where)
        for key, item in value.items():
            _check(path, item, schema.schema, f"{where}.{key}")
    elif isinstance(schema, tuple) and any(isinstance(s, (dict, list, _MapOf)) for s in schema):
        errors = []
        for alternative in schema:
            try:
                _check(path, value, alternative, where)
                return
            except ModelFormatError as e:
                errors.append(e)
        raise errors[0]
    else:
        _expect(path, value, schema, where)


def _expect(path: Path, value: Any, types: Any, where: str) -> None:
    types = types if isinstance(types, tuple) else (types,)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        names = " or ".join("null" if t is type(None) else _json_name(t) for t in types)
        raise ModelFormatError(f"{path}: {where} in the manifest is {_json_name(type(value))} ({str(value)[:40]!r}), "
                               f"expected {names}; the artifact is damaged or was edited: compile it again")


def _json_name(t: type) -> str:
    return {dict: "an object", list: "an array", str: "a string", int: "an integer", float: "a number",
            bool: "a boolean", type(None): "null"}.get(t, t.__name__)
