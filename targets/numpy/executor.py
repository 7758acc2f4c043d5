"""The numpy executor: runs a lowered :class:`Program` over a planned arena.

* :class:`BoundProgram` binds a program to one arena: every op gets a prebuilt
  :class:`OpContext` whose ``outs`` are views of the arena at the planned offsets, and a
  callable (the native kernel, a fallback :class:`ReferenceRunner`, or the layer's
  :class:`LayerRunner`). A bound program is used by one run at a time.
* :class:`Executor` checks the feeds (contiguous arrays whose dtypes and shapes already passed
  unchanged pass at once), takes a bound program from a pool (one per
  concurrent run, so threads never share buffers), runs it, and hands back outputs the
  caller owns. When the static plan left sizes unknown (symbolic or data-dependent
  shapes), the first run of each input shape signature records the shapes and the
  executor re-plans for that signature (cached).
* Subgraphs (If branches, Loop/Scan bodies) run on arenas of their own, planned once per shape
  signature of what the body reads (plans shared through the :class:`Program`, arenas per bound
  program); a warm call allocates in a body only the outputs that leave it.
* Shape arithmetic (``Shape`` -> ``Gather`` -> ``Concat`` ... chains of dynamic-axis
  exports) is memoized per bound program (:mod:`targets.numpy.shape_memo`): while the
  shapes it reads are unchanged, its steps return their previous outputs without running.
* Debug mode (``debug=True`` or ``GRAPHC_DEBUG_ARENA=1``) fills each op's output buffers
  with NaN (floats) or a byte pattern before the op, so a kernel that reads stale
  buffer contents fails loudly.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from operator import itemgetter
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from graphc.errors import GraphcError, InputError, PlanError
from graphc.input_check import check_input
from graphc.ir import Graph, Value
from graphc.limits import begin_run, current_budget, end_run

from .kernels import OpContext
from .lowering import NONE_SLOT, Program, Step
from .shape_memo import ShapeMemo, shape_roles

__all__ = ["Executor", "BoundProgram", "debug_arena_default"]

#: how many input-shape signatures keep their own plan
PLAN_CACHE_SIZE = 8
_GARBAGE = 0xA5
#: what a step without a single planned output buffer compares its kernel's result with (never equal)
_NO_BUFFER = object()
#: the same marker for a step whose single output may be a view (of its input or the arena): any array is stored
_VIEW_OUTPUT = object()


def debug_arena_default() -> bool:
    """True when ``GRAPHC_DEBUG_ARENA`` asks for poisoned buffers."""
    return os.environ.get("GRAPHC_DEBUG_ARENA", "") not in ("", "0", "false", "no")


def _poison(buf: np.ndarray) -> None:
    if buf.dtype.kind in "fc":
        buf.fill(np.nan)
    else:
        buf.reshape(-1).view(np.uint8).fill(_GARBAGE)


class BoundProgram:
    """A program bound to its own arena and runners. Not thread-safe: one run at a time."""

    def __init__(self, program: Program, plan: Any = None, shapes: Mapping[str, tuple] | None = None,
                 debug: bool = False, hints: Any = None):
        from graphc.layers.runtime import layer_runner

        from .fallback import ReferenceRunner

        self.program = program
        self.debug = debug
        self.hints = hints
        self.arena = _aligned_arena(plan.arena_bytes if plan is not None else 0)
        offsets = plan.offsets if plan is not None else {}
        views = plan.views if plan is not None else {}
        inplace = set(plan.inplace_ops) if plan is not None else set()
        self.base: list[Any] = [None] * program.n_slots
        for slot, arr in program.presets:
            self.base[slot] = arr
        self.preset_ids = {id(arr) for _, arr in program.presets}
        declared = {v.name: v.type.dtype for v in program.graph.outputs}
        self.output_dtypes = [None if declared.get(n) is None else np.dtype(declared[n]) for n, _ in program.outputs]
        #: per output: declared a string tensor (handed back as an object array)
        self._string_outputs = [want is not None and want == object for want in self.output_dtypes]
        self._vals: list[Any] = []
        #: slot -> name of the non-constant value it holds (shapes recorded for re-planning)
        self._recorded_names = {slot: v.name for v, slot in program.slot_of.items() if v.const is None}
        planned_slots: set[int] = set()
        self.steps: list[tuple] = []
        last_use = _last_uses(program)
        #: kernels' scratch buffers (im2col columns, padded images), shared by this program's nodes
        self.scratch: dict[Any, np.ndarray] = {}
        for i, step in enumerate(program.steps):
            op = step.op
            outs: list[np.ndarray | None] = []
            for v in op.outputs:
                buf = None
                if v.name in offsets and v.name not in views:
                    buf = self._view(v, offsets[v.name][0], shapes)
                    if buf is not None:
                        planned_slots.add(program.slot_of[v])
                outs.append(buf)
            ctx = OpContext(op.name, op.op_type, op.attrs, op.opset, op.domain, outs)
            ctx.inplace_ok = op.name in inplace
            ctx.state = step.state
            ctx.share_scratch(self.scratch)
            if step.kind == "layer":
                fn: Callable[..., Any] = layer_runner(op)
            elif step.kind == "fallback":
                assert op.graph is not None  # a planned op is in the graph
                fn = ReferenceRunner(op, op.graph.captures(op) if op.has_subgraphs else ())
            else:
                assert step.spec is not None
                fn = step.spec.fn
                if step.subprograms:
                    ctx.subgraph_runner = self._subgraph_runner(step)
            poison = []
            if debug:
                in_place_over = {offsets[u.name][0] for u in op.inputs if u is not None and u.name in offsets}
                poison = [b for b, v in zip(outs, op.outputs) if b is not None and offsets[v.name][0] not in in_place_over]
            view_out = {program.slot_of[v] for v in op.outputs if v.name in views}
            self.steps.append((fn, ctx, _arg_getter(step.args), step.outs, tuple(outs), poison, view_out, i))
        # values not in the arena are dropped after their last reader
        outputs = {s for _, s in program.outputs}
        preset_slots = {s for s, _ in program.presets}
        frees: list[list[int]] = [[] for _ in program.steps]
        for slot, at in last_use.items():
            if slot not in planned_slots and slot not in outputs and at >= 0 and slot not in preset_slots:
                frees[at].append(slot)
        self.frees: list[tuple[int, ...]] = [tuple(f) for f in frees]
        # each step also carries its single output's planned buffer (else a marker no kernel returns) and its frees
        self.steps = [(*st, _single_output(st[3], st[4], st[6]), self.frees[st[7]]) for st in self.steps]
        #: output positions whose value may be a view of the arena (copied when run as a subgraph)
        self._view_outputs = [k for k, (_, s) in enumerate(program.outputs)
                              if any(s in step[6] for step in self.steps)]
        roles = shape_roles(program)
        self.memo = ShapeMemo(roles) if roles else None
        #: what the plain loop reads per step: fn (None: a shape-arithmetic step, run by _memo_step), ctx,
        #: arguments, single-output marker, its slot, frees, index
        self._plain = [(None if st[7] in roles else st[0], st[1], st[2], st[8], st[3][0] if st[3] else NONE_SLOT,
                        st[9], st[7]) for st in self.steps]
        if debug and self.arena is not None:
            self.arena.fill(_GARBAGE)

    # ---------------------------------------------------------------- binding
    def _view(self, v: Value, offset: int, shapes: Mapping[str, tuple] | None) -> np.ndarray | None:
        if shapes is not None and v.name in shapes:
            shape, dtype = shapes[v.name]
        elif v.type.is_static and v.type.dtype is not None:
            shape, dtype = v.type.shape, v.type.dtype
        else:
            return None
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        assert self.arena is not None
        return self.arena[offset:offset + nbytes].view(dtype).reshape(shape)

    def _subgraph_runner(self, step: Step) -> Callable[[str, Sequence[Any]], list[Any]]:
        bodies = {attr: _Body(prog, caps, self.hints, self.debug)
                  for attr, (prog, caps) in step.subprograms.items()}

        def run_subgraph(attr: str, inputs: Sequence[Any]) -> list[Any]:
            try:
                body = bodies[attr]
            except KeyError:
                raise GraphcError(f"{step.op.op_type} node {step.op.name!r} has no subgraph {attr!r}") from None
            vals = self._vals
            return body.run(inputs, [vals[s] for s in body.caps])

        return run_subgraph

    # ---------------------------------------------------------------- running
    def run_graph(self, inputs: Sequence[Any], captures: Sequence[Any],
                  shapes: dict[str, tuple] | None = None) -> list[Any]:
        """Run as a subgraph: ``captures`` fill the outer-value slots, ``inputs`` the graph inputs; with
        ``shapes``, record there the shape of every value produced. The outputs never view the arena
        (the caller keeps them past the next run)."""
        vals = self.base.copy()
        for i, arr in enumerate(captures, start=1):
            vals[i] = arr
        for (slot, _), arr in zip(self.program.inputs, inputs):
            vals[slot] = arr
        self._execute(vals, shapes)
        outs = [vals[s] for _, s in self.program.outputs]
        arena = self.arena
        if arena is not None:
            for k in self._view_outputs:
                a = outs[k]
                if isinstance(a, np.ndarray) and np.may_share_memory(a, arena):
                    outs[k] = a.copy()
        return outs

    def run(self, feeds: Sequence[tuple[int, np.ndarray]], record: bool = False) -> tuple[dict[str, Any], dict[str, tuple]]:
        """Run with ``feeds`` (slot, array); return (outputs the caller owns, recorded shapes if ``record``)."""
        vals = self.base.copy()
        for slot, arr in feeds:
            vals[slot] = arr
        shapes: dict[str, tuple] = {}
        if record:
            for slot, arr in feeds:
                self._record(slot, arr, shapes)
        self._execute(vals, shapes if record else None)
        outs: dict[str, Any] = {}
        seen: set[int] = {id(a) for _, a in feeds}
        for (name, slot), strings in zip(self.program.outputs, self._string_outputs):
            a = self._owned(vals[slot], seen)
            if strings and isinstance(a, np.ndarray) and a.dtype.kind in "SU":
                a = a.astype(object)  # ONNX strings are object arrays
            outs[name] = a
        return outs, shapes

    def _record(self, slot: int, a: Any, shapes: dict[str, tuple]) -> None:
        """Note the shape of the value in ``slot`` (for re-planning) as it is produced, so recording a run
        keeps no value alive past its last reader."""
        name = self._recorded_names.get(slot)
        if name is not None and isinstance(a, np.ndarray):
            shapes[name] = (a.shape, a.dtype)

    def _owned(self, a: Any, seen: set[int]) -> Any:
        """``a`` if nobody else holds it (a feed, a constant, an output handed out already: ``seen``), else a
        copy (outputs are the caller's)."""
        if isinstance(a, np.ndarray):
            # an array owning its memory is not a view of the arena (no np.may_share_memory needed)
            flags = a.flags
            if id(a) in seen or id(a) in self.preset_ids or a.base is not None or not flags.owndata \
                    or not flags.writeable:
                a = a.copy()
            seen.add(id(a))
            return a
        if isinstance(a, list):
            return [self._owned(x, seen) for x in a]
        if a is None:
            return None
        return np.array(a)

    def _execute(self, vals: list[Any], shapes: dict[str, tuple] | None) -> None:
        """Run the steps over ``vals``; with ``shapes``, record each produced value's shape there.

        Without debug poisoning or recording, the plain loop runs: its common step (one output, and the
        kernel returned its planned buffer or, for a declared view, any array) costs one comparison after
        the call; other results take :meth:`_finish`, shape-arithmetic steps :meth:`_memo_step`.
        """
        self._vals = vals
        record = shapes is not None
        memo = self.memo
        roles = memo.roles if memo is not None else {}
        plain = not record and not self.debug
        if memo is not None:
            memo.start_run()
        i = -1
        try:
            if plain:
                for fn, ctx, get, buf0, slot0, free, i in self._plain:
                    if fn is None:
                        self._memo_step(i, vals)
                        continue
                    res = fn(ctx, *get(vals))
                    if res is buf0:  # the single output's planned buffer (buf0 is a never-returned marker else)
                        vals[slot0] = res
                    elif buf0 is _VIEW_OUTPUT and type(res) is np.ndarray:  # a declared view (Reshape, Unsqueeze)
                        vals[slot0] = res
                    else:
                        _, _, _, outs, bufs, _, view_out, *_ = self.steps[i]
                        self._finish(res, outs, bufs, view_out, vals, None)
                    for s in free:
                        vals[s] = None
                return
            debug = self.debug
            for fn, ctx, get, outs, bufs, poison, view_out, i, buf0, free in self.steps:
                if i in roles:  # shape arithmetic: its previous outputs may still hold
                    self._memo_step(i, vals, shapes)
                    continue
                if debug:
                    for b in poison:
                        _poison(b)
                self._finish(fn(ctx, *get(vals)), outs, bufs, view_out, vals, shapes)
                for s in free:
                    vals[s] = None
        except Exception as e:  # noqa: BLE001 - a kernel failure becomes a GraphcError naming the node
            if i < 0 or isinstance(e, GraphcError) and e.node == self.program.steps[i].op.name:
                raise
            err = self._error(i, vals, e)
            if err is e:  # already names the node: keep its own cause (``raise e from e`` would replace it)
                raise
            raise err from e

    def _memo_step(self, i: int, vals: list[Any], shapes: dict[str, tuple] | None = None) -> None:
        """Step ``i``, a shape-arithmetic step: its previous outputs while they still hold, else run (and
        remembered); then its frees. With ``shapes``, the outputs' shapes are recorded there."""
        fn, ctx, get, outs, bufs, poison, view_out, _, _, free = self.steps[i]
        memo = self.memo
        args = self.program.steps[i].args
        kept = memo.recall(i, vals, args)  # type: ignore[union-attr]
        if kept is not None:
            for slot, r in zip(outs, kept):
                vals[slot] = r
                if shapes is not None:
                    self._record(slot, r, shapes)
        else:
            if self.debug:
                for b in poison:
                    _poison(b)
            self._finish(fn(ctx, *get(vals)), outs, bufs, view_out, vals, shapes)
            memo.remember(i, vals, args, outs)  # type: ignore[union-attr]
        for s in free:
            vals[s] = None

    def _finish(self, res: Any, outs: tuple[int, ...], bufs: tuple, view_out: set[int], vals: list[Any],
                shapes: dict[str, tuple] | None) -> None:
        """Store a step's result ``res`` in the ``outs`` slots of ``vals`` (recording shapes when ``shapes``): a
        list or tuple of outputs or the single one; a view of an arena buffer the kernel did not declare is
        copied, so the buffer can be reused."""
        if type(res) is not tuple:
            if type(res) is list and len(outs) > 1:
                res = tuple(res)
            else:
                res = (res,)
        if len(res) < len(outs):
            raise GraphcError(f"returned {len(res)} outputs, the node has {len(outs)}")
        arena = self.arena
        for slot, r, buf in zip(outs, res, bufs):
            if r is not buf:  # not the planned buffer (the common case, nothing to check)
                if type(r) is not np.ndarray:
                    if r is not None and not isinstance(r, (list, dict, np.ndarray)):
                        r = np.asarray(r)
                if arena is not None and isinstance(r, np.ndarray) and slot not in view_out \
                        and np.may_share_memory(r, arena):
                    if buf is not None and buf.shape == r.shape and buf.dtype == r.dtype:
                        np.copyto(buf, r)
                        r = buf
                    else:
                        r = r.copy()
            vals[slot] = r
            if shapes is not None:
                self._record(slot, r, shapes)

    def _error(self, i: int, vals: list[Any], e: BaseException) -> GraphcError:
        """``e`` raised at step ``i`` as a GraphcError naming the node, its op type and input shapes.

        A GraphcError that already names the node (a LayerError from the layer runtime)
        keeps its message; one from a nested subgraph is prefixed with the enclosing node.
        """
        op = self.program.steps[i].op
        kind = self.program.steps[i].kind
        if isinstance(e, GraphcError) and (e.node == op.name or f"{op.name!r}" in str(e)):
            err = e  # names the node already (its field, or its message for raisers not setting the field)
        else:
            shapes = ", ".join(_describe(vals[a]) if a != NONE_SLOT else "None" for a in self.program.steps[i].args)
            how = {"native": "kernel", "fallback": "onnx.reference fallback", "layer": "layer"}[kind]
            err = _error_class(e)(f"node {op.name!r} ({op.qualified_type}, {how}) failed on inputs "
                                  f"({shapes or 'no inputs'}): {_cause_text(e)}")
        if err.node is None:
            err.node, err.op_type = op.name, op.qualified_type
        return err


class _Body:
    """One subgraph (If branch, Loop/Scan body) of a bound step, run over arenas of its own.

    The body's buffer plan is made once per shape signature (the shapes and dtypes of its inputs and
    non-constant captures; one plan for all when the static types fix every size) and kept on the
    shared :class:`Program`; the arena bound to it is this body's own, so like the enclosing bound
    program it serves one run at a time. A signature seen for the first time runs without an arena,
    recording the shapes it meets, and is planned after; so does every signature past
    :data:`PLAN_CACHE_SIZE`, and a plan whose arena alone is over the run's memory budget is not used.
    The body's outputs are fresh arrays (graph outputs are never in a plan's arena).
    """

    __slots__ = ("program", "caps", "hints", "debug", "unplanned", "bound", "keyed", "static")

    def __init__(self, program: Program, caps: tuple[int, ...], hints: Any, debug: bool):
        self.program, self.caps = program, caps
        self.hints, self.debug = hints, debug
        self.unplanned = BoundProgram(program, debug=debug, hints=hints)
        #: signature -> this body's bound program on that signature's plan (None: runs unplanned)
        self.bound: dict[Any, BoundProgram | None] = {}
        #: positions (in captures + inputs) of the values whose shapes make the signature
        self.keyed = [i for i, v in enumerate(program.captures) if v.const is None] + \
            list(range(len(program.captures), len(program.captures) + len(program.inputs)))
        self.static: BoundProgram | None = None

    def run(self, inputs: Sequence[Any], captures: Sequence[Any]) -> list[Any]:
        """The body's outputs for ``inputs`` and ``captures`` (the outer values it reads)."""
        if self.static is not None:
            return self.static.run_graph(inputs, captures)
        both = [*captures, *inputs]
        key = tuple([(a.shape, a.dtype) if type(a) is np.ndarray else type(a) for a in (both[i] for i in self.keyed)])
        if key in self.bound:
            return (self.bound[key] or self.unplanned).run_graph(inputs, captures)
        if len(self.bound) >= PLAN_CACHE_SIZE:  # too many shapes (a carried value growing): no more plans
            return self.unplanned.run_graph(inputs, captures)
        shapes: dict[str, tuple] = {}
        outs = self.unplanned.run_graph(inputs, captures, shapes)
        self._plan(key, shapes)
        return outs

    def _plan(self, key: Any, shapes: dict[str, tuple]) -> None:
        """Plan (or take the shared plan of) signature ``key`` from the ``shapes`` a run recorded, and bind it."""
        from graphc.planning import plan_graph

        plans = self.program.plans
        if "static" not in plans:  # False: the static types leave sizes open, plan per signature
            static = plan_graph(self.program.graph, hints=self.hints)
            plans["static"] = False if static.fresh else (static, None)
        entry = plans["static"] or plans.get(key)
        if entry is None:
            entry = (plan_graph(self.program.graph, shapes=shapes, hints=self.hints), shapes)
            if len(plans) <= PLAN_CACHE_SIZE:
                plans[key] = entry
        plan, planned_shapes = entry
        bound = None
        if 0 < plan.arena_bytes <= current_budget().memory:
            bound = BoundProgram(self.program, plan, planned_shapes, self.debug, self.hints)
        if planned_shapes is None and bound is not None:
            self.static = bound
        self.bound[key] = bound


def _error_class(e: BaseException) -> type[GraphcError]:
    """The GraphcError subclass a node's failure ``e`` becomes: its own class, PlanError for a
    MemoryError (the run needed more memory than the process could get), else GraphcError."""
    if isinstance(e, GraphcError):
        return type(e)
    return PlanError if isinstance(e, MemoryError) else GraphcError


def _cause_text(e: BaseException) -> str:
    """What ``e`` says, with its class; for a MemoryError also what to do about it."""
    if isinstance(e, GraphcError):
        return str(e)
    if isinstance(e, MemoryError):
        return (f"out of memory (MemoryError: {e}); reduce the input, or set memory_budget (GRAPHC_MEMORY_BUDGET) "
                "to what this process can allocate so that such a plan is refused before it runs")
    return f"{type(e).__name__}: {e}"


def _describe(a: Any) -> str:
    if isinstance(a, np.ndarray):
        return f"{a.dtype.name}{list(a.shape)}"
    return type(a).__name__


def _single_output(outs: tuple[int, ...], bufs: tuple, view_out: set[int]) -> Any:
    """What the plain step loop compares a step's result with: its single output's planned buffer,
    :data:`_VIEW_OUTPUT` when that output is a declared view, else :data:`_NO_BUFFER`."""
    if len(outs) != 1:
        return _NO_BUFFER
    if outs[0] in view_out:
        return _VIEW_OUTPUT
    return _NO_BUFFER if bufs[0] is None else bufs[0]


def _arg_getter(args: tuple[int, ...]) -> Callable[[list[Any]], tuple]:
    """A function of the slot list returning the values in ``args`` as a tuple (one C call per step
    instead of a list comprehension)."""
    if len(args) >= 2:
        return itemgetter(*args)
    if len(args) == 1:
        return itemgetter(slice(args[0], args[0] + 1))  # a one-element list
    return _no_args


def _no_args(vals: list[Any]) -> tuple:
    return ()


def _aligned_arena(nbytes: int, alignment: int = 64) -> np.ndarray | None:
    """A uint8 arena of ``nbytes`` whose first byte is ``alignment``-aligned."""
    if nbytes <= 0:
        return None
    raw = np.empty(nbytes + alignment, dtype=np.uint8)
    skip = (-raw.ctypes.data) % alignment
    return raw[skip:skip + nbytes]


def _last_uses(program: Program) -> dict[int, int]:
    """slot -> index of the last step reading it (-1: never read by a step)."""
    last: dict[int, int] = {}
    for i, step in enumerate(program.steps):
        for s in step.outs:
            last.setdefault(s, -1)
        for s in step.args + step.captures + tuple(c for _, caps in step.subprograms.values() for c in caps):
            if s != NONE_SLOT:
                last[s] = i
    return last


class Executor:
    """Runs a program for many callers: input checks, arena pools, re-planning by shape signature."""

    def __init__(self, graph: Graph, program: Program, plan: Any, *, hints: Any = None, debug: bool = False,
                 memory_budget: int | None = None):
        self.graph = graph
        self.program = program
        self.static_plan = plan
        self.hints = hints
        self.debug = debug or debug_arena_default()
        self.memory_budget = memory_budget
        # re-planned by input signature when a size is only known at run time: an intermediate or a graph output
        self.dynamic = plan is None or bool(plan.fresh) or any(not v.type.is_static for v in graph.outputs)
        self._lock = threading.Lock()
        self._plans: OrderedDict[Any, tuple[Any, dict | None]] = OrderedDict()
        self._pools: dict[Any, list[BoundProgram]] = {}
        self._plans["static"] = (plan, None)
        self._pools["static"] = [BoundProgram(program, plan, None, self.debug, hints)]
        self.input_names = [v.name for _, v in program.inputs]
        self._const_inputs = {v.name for v in graph.inputs if v.const is not None}
        self._input_slots = [slot for slot, _ in program.inputs]
        #: (dtype, shape) per input of feeds that passed check_input unchanged: later feeds like them pass at once
        self._passed: set[tuple] = set()

    # ------------------------------------------------------------- checking
    def check_inputs(self, feeds: Mapping[str, Any]) -> list[tuple[int, Any]]:
        """The feeds as (slot, contiguous array), or InputError naming the input, expected and got."""
        if type(feeds) is dict and len(feeds) == len(self.input_names):
            try:
                given = [feeds[n] for n in self.input_names]
            except KeyError:
                given = None
            if given is not None:
                key = tuple([(a.dtype, a.shape) for a in given if type(a) is np.ndarray and a.flags.c_contiguous])
                if len(key) == len(given) and key in self._passed:
                    return list(zip(self._input_slots, given))
        if not isinstance(feeds, Mapping):
            raise InputError(f"run() takes a dict input name -> array, got {type(feeds).__name__}; "
                             f"inputs: {', '.join(self.input_names)}")
        expected = self.input_names
        missing = [n for n in expected if n not in feeds]
        extra = [n for n in feeds if n not in expected]
        if extra:
            baked = [n for n in extra if n in self._const_inputs]
            if baked:
                raise InputError(f"input {baked[0]!r} is a constant baked into the compiled model and cannot be fed; "
                                 f"the model's inputs are: {', '.join(map(repr, expected))}")
            raise InputError(f"unknown input name(s) {', '.join(map(repr, extra))}; "
                             f"the model's inputs are: {', '.join(map(repr, expected))}")
        if missing:
            raise InputError(f"missing input(s) {', '.join(map(repr, missing))}; "
                             f"the model's inputs are: {', '.join(map(repr, expected))}")
        out: list[tuple[int, np.ndarray]] = []
        symbols: dict[str, tuple[int, str]] = {}
        for slot, v in self.program.inputs:
            out.append((slot, check_input(v.name, v.type, feeds[v.name], symbols)))
        if all(type(a) is np.ndarray and a is feeds[v.name] for (_, a), (_, v) in zip(out, self.program.inputs)):
            if len(self._passed) >= PLAN_CACHE_SIZE * 8:
                self._passed.clear()
            self._passed.add(tuple((a.dtype, a.shape) for _, a in out))
        return out

    def signature(self, feeds: Sequence[tuple[int, np.ndarray]]) -> Any:
        if not self.dynamic:
            return "static"
        return tuple((a.shape, a.dtype.str) if isinstance(a, np.ndarray) else None for _, a in feeds)

    # -------------------------------------------------------------- running
    def run(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        arrays = self.check_inputs(feeds)
        key = self.signature(arrays)
        with self._lock:
            known = key in self._plans
            if known:
                self._plans.move_to_end(key)
            pool_key = key if known else "static"
            pool = self._pools.setdefault(pool_key, [])
            bound = pool.pop() if pool else None
            plan, shapes = self._plans[pool_key]
        if bound is None:
            bound = BoundProgram(self.program, plan, shapes, self.debug, self.hints)
        try:
            # one budget for the whole run: loop iterations (nested loops too), outputs of run-time size
            token = begin_run(self.memory_budget)
            try:
                outputs, recorded = bound.run(arrays, record=not known)
            finally:
                end_run(token)
        finally:
            with self._lock:
                if pool_key in self._pools:
                    self._pools[pool_key].append(bound)
        if not known:
            self._replan(key, recorded)
        return outputs

    def _replan(self, key: Any, shapes: dict[str, tuple]) -> None:
        """Plan the arena for the concrete shapes a run recorded, cached by input signature."""
        from graphc.planning import check_budget, plan_graph

        plan = plan_graph(self.graph, shapes=shapes, hints=self.hints)
        check_budget(plan, self.memory_budget)
        with self._lock:
            if key in self._plans:
                return
            self._plans[key] = (plan, shapes)
            self._pools[key] = []
            while len(self._plans) > PLAN_CACHE_SIZE + 1:
                old = next(k for k in self._plans if k != "static")
                del self._plans[old]
                self._pools.pop(old, None)

    def plan_for(self, key: Any = "static") -> Any:
        return self._plans[key][0]
