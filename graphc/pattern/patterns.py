"""Pattern vocabulary: value variables, op patterns, output selectors and attribute captures.

Patterns are plain Python objects built with the op builder ``P``::

    x, w = var("x"), const("w")
    pat = P.Relu(P.Conv(x, w, var("b", optional=True), name="conv"), name="relu")

``P.Conv(...)`` is ``op("Conv", ...)``: positional arguments are the input patterns (a
value pattern, another op pattern meaning its output 0, ``pat[i]`` for output i, or
``...`` as the last one for "any further inputs"). Keywords: ``name`` (capture the
matched op), ``attrs`` (attribute constraints), ``domain``, ``outputs`` (required output
count), ``shared`` (an inner op whose outputs may be read outside the match).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import numpy as np

from ..domains import canonical_domain

if TYPE_CHECKING:
    from .matcher import Match

__all__ = [
    "Pattern", "ValuePattern", "OpPattern", "OutputPattern", "Capture", "Condition",
    "var", "const", "op", "capture", "P", "COMMUTATIVE",
]

#: standard op types whose inputs may be matched in any order
COMMUTATIVE = frozenset({"Add", "Mul", "Max", "Min", "Sum", "Mean", "And", "Or", "Xor", "Equal"})

#: a condition: fn(match) -> True/None (accept) or False (refuse with the ``where`` reason);
#: ``fail(reason)`` (raising Refuse) refuses with a reason of its own. Returning a string to
#: refuse still works but is deprecated.
ConditionFn = Callable[["Match"], "bool | str | None"]


@dataclass(frozen=True)
class Condition:
    fn: ConditionFn
    reason: str

    def __str__(self) -> str:
        return self.reason


_P = TypeVar("_P", bound="Pattern")


class Pattern:
    """Base of every pattern node. Patterns are immutable: ``where`` returns a new pattern."""

    conditions: tuple[Condition, ...]
    #: set by the matcher on first use (declared, never assigned here: ``where`` drops it from a copy)
    _all_conditions: list[Condition]

    def where(self: _P, fn: ConditionFn, reason: str | None = None) -> _P:
        """A copy of this pattern with one more condition, checked on a full match; ``reason``
        is what the tracer reports when it refuses. The pattern itself is unchanged, so
        ``pat = pat.where(...)`` (a bare ``pat.where(...)`` does nothing)."""
        new = copy.copy(self)
        new.__dict__.pop("_all_conditions", None)  # the matcher's collected conditions of the old pattern
        new.conditions = (*self.conditions, Condition(fn, reason or str(getattr(fn, "__name__", "condition"))))
        return new


class ValuePattern(Pattern):
    """Any value (or only constants), captured under ``name``; the same name binds one value."""

    def __init__(self, name: str | None = None, *, const: bool = False, optional: bool = False,
                 dtype: Any = None, rank: int | None = None):
        self.name = name
        self.const = const
        self.optional = optional
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.rank = rank
        self.conditions = ()

    def __repr__(self) -> str:
        kind = "const" if self.const else "var"
        return f"{kind}({self.name!r})" if self.name else f"{kind}()"


class OpPattern(Pattern):
    """An op of type ``op_type`` (or one of several) whose inputs match ``inputs``."""

    def __init__(self, op_type: str | tuple[str, ...], inputs: tuple[Any, ...], *, name: str | None = None,
                 attrs: dict[str, Any] | None = None, domain: str = "", outputs: int | None = None,
                 commutative: bool | None = None, shared: bool = False):
        self.op_types = (op_type,) if isinstance(op_type, str) else tuple(op_type)
        self.rest = bool(inputs) and inputs[-1] is Ellipsis
        self.inputs = tuple(_as_pattern(p) for p in (inputs[:-1] if self.rest else inputs))
        self.name = name
        self.attrs = dict(attrs or {})
        self.domain = canonical_domain(domain)
        self.outputs = outputs
        self.commutative = all(t in COMMUTATIVE for t in self.op_types) and not self.domain if commutative is None else commutative
        self.shared = shared
        self.conditions = ()

    @property
    def op_type(self) -> str:
        return "|".join(self.op_types)

    def __getitem__(self, index: int) -> OutputPattern:
        return OutputPattern(self, index)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"{self.op_type}{label}"


class OutputPattern(Pattern):
    """Output ``index`` of the op matched by ``op`` (for multi-output ops)."""

    def __init__(self, op: OpPattern, index: int):
        self.op = op
        self.index = index
        self.conditions = ()

    def __repr__(self) -> str:
        return f"{self.op!r}[{self.index}]"


class Capture:
    """In ``attrs``: bind the attribute's value (or ``default`` when absent) under ``name``."""

    _MISSING = object()

    def __init__(self, name: str, default: Any = _MISSING):
        self.name = name
        self.default = default

    @property
    def has_default(self) -> bool:
        return self.default is not Capture._MISSING


def _as_pattern(p: Any) -> Pattern:
    if isinstance(p, Pattern):
        return p
    if isinstance(p, str):
        return ValuePattern(p)
    raise TypeError(f"a pattern input must be a pattern (var, const, an op pattern) or a name, not {p!r}")


def var(name: str | None = None, *, optional: bool = False, dtype: Any = None, rank: int | None = None) -> ValuePattern:
    """Any value, captured as ``name``; ``optional`` also matches an omitted input."""
    return ValuePattern(name, optional=optional, dtype=dtype, rank=rank)


def const(name: str | None = None, *, optional: bool = False, dtype: Any = None, rank: int | None = None) -> ValuePattern:
    """A constant value (its array is ``match[name].const``), captured as ``name``."""
    return ValuePattern(name, const=True, optional=optional, dtype=dtype, rank=rank)


def capture(name: str, default: Any = Capture._MISSING) -> Capture:
    """An attribute capture for ``attrs={"alpha": capture("alpha", 0.01)}``."""
    return Capture(name, default)


def op(op_type: str | tuple[str, ...], *inputs: Any, **kwargs: Any) -> OpPattern:
    """An op pattern; ``P.Conv(x, w)`` is ``op("Conv", x, w)``."""
    return OpPattern(op_type, inputs, **kwargs)


class _OpBuilder:
    """``P.Conv(...)``: attribute access with an op type name returns that op's pattern builder."""

    def __getattr__(self, op_type: str) -> Callable[..., OpPattern]:
        if not op_type[:1].isupper():
            raise AttributeError(op_type)
        return functools.partial(op, op_type)

    def any(self, *op_types: str) -> Callable[..., OpPattern]:
        """``P.any("Relu", "Sigmoid")(x)``: an op of any of these types."""
        return functools.partial(op, tuple(op_types))


P = _OpBuilder()
