"""Shape arithmetic memoized per bound program.

Models exported with dynamic axes compute their Reshape/Expand/Slice arguments at run
time: ``Shape`` -> ``Gather`` -> ``Unsqueeze`` -> ``Concat`` chains that are a third or
more of a transformer's steps, each costing a kernel call for a handful of integers.
Those steps' outputs are a pure function of the *shapes* read by their ``Shape``/``Size``
ancestors (and of constants), so a bound program keeps them: a ``Shape`` step whose input
has the shape it had last time returns its previous result, and a step all of whose
``Shape`` ancestors matched returns its previous outputs without running. Anything else
(a new shape, an output too large to keep) runs as usual and refreshes the memo.
Memoized arrays are read-only copies: no kernel, arena reuse or caller can change them.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .lowering import NONE_SLOT, Program

__all__ = ["ShapeMemo", "shape_roles"]

#: ops whose outputs are not a function of their inputs' values alone
_IMPURE = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                     "Bernoulli", "Dropout"})
#: outputs larger than this many elements are recomputed every run rather than kept
MAX_ELEMENTS = 4096


def shape_roles(program: Program) -> dict[int, tuple[int, ...]]:
    """Step index -> the ``Shape``/``Size`` steps its outputs derive from (a source maps to itself).

    A step qualifies when it runs a native kernel without subgraphs, is not random, and
    every runtime argument is a constant or the output of a qualifying step.
    """
    constants = {slot for slot, _ in program.presets}
    derived_from: dict[int, tuple[int, ...]] = {}  # slot -> source steps
    roles: dict[int, tuple[int, ...]] = {}
    for i, step in enumerate(program.steps):
        op = step.op
        if step.kind != "native" or step.subprograms or op.op_type in _IMPURE:
            continue
        if op.domain == "" and op.op_type in ("Shape", "Size"):
            sources: tuple[int, ...] = (i,)
        else:
            slots = [s for s in step.args if s != NONE_SLOT]
            if not slots or not all(s in constants or s in derived_from for s in slots):
                continue
            sources = tuple(sorted({a for s in slots for a in derived_from.get(s, ())}))
            if not sources:
                continue  # constants only: constant folding's job
        roles[i] = sources
        for s in step.outs:
            derived_from[s] = sources
    return roles


class ShapeMemo:
    """The memo of one bound program (used by one run at a time, like the program)."""

    def __init__(self, roles: dict[int, tuple[int, ...]]):
        self.roles = roles
        self._keys: dict[int, tuple[int, ...]] = {}  # source step -> the input shape its result is for
        self._outputs: dict[int, tuple[np.ndarray, ...]] = {}
        self._matched: set[int] = set()  # sources whose input shape is unchanged in this run

    def start_run(self) -> None:
        self._matched.clear()

    def recall(self, i: int, vals: Sequence[Any], args: Sequence[int]) -> tuple[np.ndarray, ...] | None:
        """Step ``i``'s remembered outputs if they still hold for this run, else None (run it)."""
        sources = self.roles[i]
        if sources == (i,):  # Shape / Size: compare the input's shape
            x = vals[args[0]]
            if getattr(x, "shape", None) is not None and self._keys.get(i) == x.shape and i in self._outputs:
                self._matched.add(i)
                return self._outputs[i]
            return None
        if i in self._outputs and all(s in self._matched for s in sources):
            return self._outputs[i]
        return None

    def remember(self, i: int, vals: Sequence[Any], args: Sequence[int], outs: Sequence[int]) -> None:
        """Keep step ``i``'s fresh outputs (read-only copies) when they are small arrays."""
        results = [vals[s] for s in outs]
        if not all(type(r) is np.ndarray and r.size <= MAX_ELEMENTS for r in results):
            self._outputs.pop(i, None)
            return
        kept = []
        for r in results:
            r = r.copy()
            r.flags.writeable = False
            kept.append(r)
        self._outputs[i] = tuple(kept)
        if self.roles[i] == (i,):
            self._keys[i] = vals[args[0]].shape
