"""Where a pass's numeric change starts: the intermediates of the graph before and after it, compared.

A pass that only reorders floating-point work (folding constants, fusing) changes values by
a rounding error, which an op such as Softmax or Exp can amplify far beyond any tolerance:
pre-softmax logits of 6.8e9 one float32 ulp apart give visibly different probabilities.
:func:`first_divergence` tells the two cases apart. It walks the graph after the pass in
topological order and compares every value that has a counterpart of the same name before it:

1. A value that differs beyond tolerance, produced by an op the pass created or changed
   (or fed by a value that already diverged), diverges; the first such op is to blame.
2. A value that differs, produced by an op the pass left as it was whose inputs all agree
   within tolerance (constant inputs included), is rounding amplified by that op:
   recorded, not blamed.
3. Values without a counterpart (new names) are not compared; the ops reading them are
   "changed" by case 1's definition, so their outputs are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..ir import Graph, Op, Value

__all__ = ["Divergence", "Amplified", "Comparison", "with_all_outputs", "first_divergence", "max_rel_diff"]


@dataclass(frozen=True)
class Divergence:
    """The first op whose output moved beyond tolerance for a reason other than rounding."""

    op: str
    op_type: str
    value: str
    detail: str


@dataclass(frozen=True)
class Amplified:
    """An unchanged op that turned rounding differences in its inputs into a larger output difference."""

    op: str
    op_type: str
    value: str
    max_abs: float


@dataclass
class Comparison:
    """The outcome of :func:`first_divergence`: the blamed op (if any), the values that diverged
    (``bad``, by name) and the amplifications that were not blamed."""

    first: Divergence | None = None
    bad: set[str] = field(default_factory=set)
    amplified: list[Amplified] = field(default_factory=list)


def with_all_outputs(graph: Graph) -> Graph:
    """A copy of ``graph`` whose outputs also include every named tensor an op produces."""
    g = graph.copy()
    seen = {id(v) for v in g.outputs}
    for op in g.topological_order():
        for v in op.outputs:
            if v.name and id(v) not in seen and v.type.kind == "tensor":
                g.add_output(v)
                seen.add(id(v))
    return g


def first_divergence(before: Graph, after: Graph, vals_before: dict[str, np.ndarray],
                     vals_after: dict[str, np.ndarray], rtol: float, atol: float) -> Comparison:
    """Compare the intermediates of ``before`` and ``after`` (value name -> array); see the module docstring."""
    out = Comparison()
    for op in after.topological_order():
        same = _unchanged(op, before)
        inputs_bad = any(v is not None and (v.name in out.bad or _constant_moved(v, before, rtol, atol))
                         for v in op.inputs)
        for v in op.outputs:
            if v.name not in vals_after or v.name not in vals_before:
                continue
            problem = describe_difference(vals_after[v.name], vals_before[v.name], rtol, atol)
            if not problem:
                continue
            if same and not inputs_bad:
                out.amplified.append(Amplified(op.name, op.qualified_type, v.name,
                                               _max_abs(vals_after[v.name], vals_before[v.name])))
                continue
            out.bad.add(v.name)
            if out.first is None:
                out.first = Divergence(op.name, op.qualified_type, v.name, problem)
    return out


def _constant_moved(v: Value, before: Graph, rtol: float, atol: float) -> bool:
    """Whether constant ``v`` holds another value than the constant of its name before the pass."""
    if v.const is None:
        return False
    old = before.values.get(v.name)
    return old is None or old.const is None or bool(describe_difference(v.const, old.const, rtol, atol))


def _unchanged(op: Op, before: Graph) -> bool:
    """Whether ``before`` has this op as it is: same name, type, attributes, inputs and outputs."""
    old = before.ops.get(op.name)
    if old is None or (old.domain, old.op_type) != (op.domain, op.op_type):
        return False
    if [v.name if v is not None else "" for v in old.inputs] != [v.name if v is not None else "" for v in op.inputs]:
        return False
    if [v.name for v in old.outputs] != [v.name for v in op.outputs]:
        return False
    return old.attrs.keys() == op.attrs.keys() and all(_same_attr(old.attrs[k], op.attrs[k]) for k in op.attrs)


def _same_attr(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and bool(np.all(a == b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # graphs and other attribute objects: compare by identity
        return a is b


def describe_difference(got: Any, want: Any, rtol: float, atol: float) -> str:
    """Why ``got`` is not ``want`` within tolerance, or "" when it is."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"has shape {got.shape}, was {want.shape}"
    if want.dtype.kind in "fc":
        bad = ~np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    else:
        bad = got != want
    if not np.any(bad):
        return ""
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    err = _max_abs(got, want)
    return (f"differs at {int(bad.sum())} of {bad.size} elements (max abs error {err:.3g}; "
            f"at index {idx}: was {want[idx]!r}, now {got[idx]!r})")


def _max_abs(got: np.ndarray, want: np.ndarray) -> float:
    if np.asarray(want).dtype.kind not in "fciub":
        return float("nan")
    diff = np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))
    return float(np.nanmax(diff)) if diff.size else 0.0


def max_rel_diff(got: Any, want: Any) -> float:
    """The largest difference relative to the reference's magnitude (max |got - want| / max |want|)."""
    got, want = np.asarray(got), np.asarray(want)
    if want.dtype.kind not in "fc" or got.shape != want.shape or not want.size:
        return 0.0
    scale = float(np.nanmax(np.abs(want.astype(np.float64))))
    err = _max_abs(got, want)
    return err / scale if scale > 0 else err
