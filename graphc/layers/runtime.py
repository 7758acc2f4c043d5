"""LayerRunner: runs a custom layer with a numpy kernel's calling convention.

A runner is built once per node at lowering time. Called as
``runner(ctx, *runtime_inputs)`` (the layer holds its blobs), it:

1. per input shape signature (cached): calls ``output_shapes`` (which may also ask
   for scratch ``internals``), ``output_dtypes`` and ``finalize`` once, and allocates
   the internals;
2. takes output buffers from ``ctx.out(i, shape, dtype)`` (the planned buffers when
   they fit) and calls ``forward(inputs, outputs, internals)``;
3. if ``forward`` returns arrays, checks them against the promised shapes and dtypes
   and copies them into the output buffers.

Any exception inside the layer (``SystemExit`` and ``GeneratorExit`` too; other
``BaseException``s such as ``KeyboardInterrupt`` still propagate) becomes a
:class:`LayerError` naming the node, the op type and the input shapes, with the original
message; the process never dies.
``forward`` gets read-only views of its inputs (they may be the caller's arrays or
values other nodes read); plans are kept for the most recent input shapes only.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..errors import LayerError
from .base import Layer

if TYPE_CHECKING:
    from ..ir import Op

__all__ = ["LayerRunner", "LayerPlan", "layer_runner"]

Signature = tuple[Any, ...]  # per runtime input: None or (shape, dtype)
#: what a layer's code raising is reported as a LayerError (sys.exit() in a layer must not end the run)
_LAYER_FAILURES = (Exception, SystemExit, GeneratorExit)


@dataclass
class LayerPlan:
    """What a layer promised for one input shape signature."""

    output_shapes: list[tuple[int, ...]]
    output_dtypes: list[np.dtype]
    internals: list[np.ndarray]


class LayerRunner:
    """A layer instance bound to one node, callable like a numpy kernel (runtime inputs only)."""

    #: input shape signatures whose plan (shapes, dtypes, internals) is kept
    PLAN_CACHE_SIZE = 16

    def __init__(self, node_name: str, op_type: str, layer_cls: type[Layer], params: dict[str, Any],
                 blobs: Sequence[np.ndarray] = (), blob_slots: Sequence[int] = (), *,
                 num_outputs: int | None = None):
        from .binding import construct_layer

        self.node_name = node_name
        self.op_type = op_type
        self.layer_cls = layer_cls
        self.num_outputs = num_outputs
        self._plans: OrderedDict[Signature, LayerPlan] = OrderedDict()
        try:
            self.layer = construct_layer(layer_cls, params, [np.asarray(b) for b in blobs], list(blob_slots))
        except _LAYER_FAILURES as e:  # user code: sys.exit() in it must not end the run silently
            raise LayerError(f"node {node_name!r} ({op_type}): building layer "
                             f"{layer_cls.__module__}:{layer_cls.__qualname__} failed: {type(e).__name__}: {e}") from e

    def __repr__(self) -> str:
        return f"LayerRunner({self.node_name!r}: {self.op_type} -> {self.layer_cls.__qualname__})"

    def _user(self, what: str, sig: Signature, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` (the layer's code); an exception it raises, ``SystemExit`` and ``GeneratorExit``
        included, becomes a LayerError naming the node. Other ``BaseException``s (a KeyboardInterrupt,
        a caller's time bound) still propagate: they are the caller's, not the layer's failure."""
        try:
            return fn(*args)
        except _LAYER_FAILURES as e:  # user code never kills the process or ends it silently
            raise self._fail(what, sig, e) from e

    def _fail(self, what: str, sig: Signature, e: BaseException | str) -> LayerError:
        shapes = ", ".join("None" if s is None else f"{np.dtype(s[1]).name}{list(s[0])}" for s in sig) or "no inputs"
        detail = f"{type(e).__name__}: {e}" if isinstance(e, BaseException) else e
        return LayerError(f"node {self.node_name!r} ({self.op_type}), layer {self.layer_cls.__qualname__}: "
                          f"{what} with inputs ({shapes}): {detail}")

    # ---------------------------------------------------------------- planning
    def prepare(self, sig: Signature) -> LayerPlan:
        """The plan for input signature ``sig`` (computed once, then cached: the
        :attr:`PLAN_CACHE_SIZE` most recently used signatures are kept)."""
        plan = self._plans.get(sig)
        if plan is None:
            plan = self._plans[sig] = self._plan(sig)
            while len(self._plans) > self.PLAN_CACHE_SIZE:  # the least recently used shape goes
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(sig)
        return plan

    def _plan(self, sig: Signature) -> LayerPlan:
        layer = self.layer
        in_shapes = [None if s is None else tuple(s[0]) for s in sig]
        in_dtypes = [np.dtype(s[1]) for s in sig if s is not None]
        res = self._user("output_shapes() failed", sig, layer.output_shapes, in_shapes)
        internal_shapes: Any = []
        if isinstance(res, tuple) and len(res) == 2 and not _is_shape_list(res) \
                and _is_shape_list(res[0]) and _is_shape_list(res[1]):
            res, internal_shapes = res  # (output shapes, internal shapes)
        if not _is_shape_list(res):
            raise self._fail("output_shapes() must return a list of shapes (tuples of ints)", sig, f"got {res!r}")
        out_shapes = [tuple(int(d) for d in s) for s in res]
        if any(d < 0 for s in out_shapes for d in s):
            raise self._fail("output_shapes() returned a negative dimension", sig, f"got {out_shapes}")
        n = self.num_outputs if self.num_outputs is not None else len(out_shapes)
        if len(out_shapes) != n:
            raise self._fail(f"output_shapes() returned {len(out_shapes)} shapes for a node with {n} outputs", sig,
                             "set num_outputs on the class and return one shape per output")
        first = in_dtypes[0] if in_dtypes else np.dtype(np.float32)
        if type(layer).output_dtypes is Layer.output_dtypes:
            out_dtypes = [first] * n
        else:
            out_dtypes = self._user("output_dtypes() failed", sig,
                                    lambda: [np.dtype(d) for d in layer.output_dtypes(in_dtypes)])
            if len(out_dtypes) != n:
                raise self._fail(f"output_dtypes() returned {len(out_dtypes)} dtypes for {n} outputs", sig, "")
        internal_shapes = [tuple(int(d) for d in s) for s in internal_shapes]
        self._check_promise(sig, out_shapes, out_dtypes, internal_shapes, first)
        internals = [np.zeros(s, dtype=first) for s in internal_shapes]
        self._user("finalize() failed", sig, layer.finalize,
                   [None if s is None else (tuple(s[0]), np.dtype(s[1])) for s in sig], list(zip(out_shapes, out_dtypes)))
        return LayerPlan(out_shapes, out_dtypes, internals)

    def _check_promise(self, sig: Signature, out_shapes: list[tuple[int, ...]], out_dtypes: list[np.dtype],
                       internal_shapes: list[tuple[int, ...]], internal_dtype: np.dtype) -> None:
        """LayerError when the promised outputs and internals exceed the memory budget (the run's: the
        artifact's ``memory_budget``, else ``GRAPHC_MEMORY_BUDGET``, else half the machine's memory), before
        anything is allocated."""
        from ..limits import current_budget

        need = sum(math.prod(s) * np.dtype(d).itemsize for s, d in zip(out_shapes, out_dtypes))
        need += sum(math.prod(s) * internal_dtype.itemsize for s in internal_shapes)
        budget = current_budget().memory
        if need > budget:
            raise self._fail(f"output_shapes() promises {need} bytes of outputs and internals ({out_shapes}), "
                             f"over the memory budget of {budget} bytes", sig,
                             "check the layer's params (GRAPHC_MEMORY_BUDGET raises the budget)")

    # ----------------------------------------------------------------- running
    def __call__(self, ctx: Any, *inputs: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Run the layer on the runtime inputs; return its outputs (a tuple)."""
        sig = tuple(None if x is None else (tuple(np.shape(x)), np.asarray(x).dtype) for x in inputs)
        plan = self.prepare(sig)
        get = getattr(ctx, "out", None)
        outs = [get(i, s, d) if get is not None else np.empty(s, d)
                for i, (s, d) in enumerate(zip(plan.output_shapes, plan.output_dtypes))]
        returned = self._user("forward() raised", sig, self.layer.forward, [_read_only(x) for x in inputs], outs,
                              plan.internals)
        if returned is None:
            return tuple(outs)
        return self._check_returned(returned, outs, plan, sig, ctx)

    def _check_returned(self, returned: Any, outs: list[np.ndarray], plan: LayerPlan, sig: Signature,
                        ctx: Any) -> tuple[np.ndarray, ...]:
        if isinstance(returned, np.ndarray):
            returned = [returned]
        returned = list(returned)
        if len(returned) != len(outs):
            raise self._fail(f"forward() returned {len(returned)} arrays, output_shapes() promised {len(outs)}", sig, "")
        result = []
        for i, (r, s, d) in enumerate(zip(returned, plan.output_shapes, plan.output_dtypes)):
            arr = np.asarray(r)
            if arr.shape != s or arr.dtype != d:
                raise self._fail(f"forward() returned output {i} as {arr.dtype.name}{list(arr.shape)}",
                                 sig, f"output_shapes()/output_dtypes() promised {np.dtype(d).name}{list(s)}")
            if arr is not outs[i]:
                # into the planned (or fresh) buffer: the planner expects it there, and a
                # returned view of an input must not alias a buffer that gets reused
                np.copyto(outs[i], arr)
                arr = outs[i]
            result.append(arr)
        return tuple(result)


def _read_only(x: Any) -> Any:
    """A read-only view of an input array: the array may be the caller's, or a value other nodes read."""
    if isinstance(x, np.ndarray) and x.flags.writeable:
        x = x.view()
        x.flags.writeable = False
    return x


def _is_shape_list(x: Any) -> bool:
    if not isinstance(x, (list, tuple)):
        return False
    for s in x:
        if not isinstance(s, (list, tuple)):
            return False
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in s):
            return False
    return True


def layer_runner(op: Op) -> LayerRunner:
    """The runner of a bound op (``op.layer`` is a LayerBinding).

    Its blobs are ``op.blobs`` plus any input still constant (see
    :func:`graphc.layers.slots.split_inputs`); call it with the arrays of the other,
    runtime inputs — after ``fold-blobs`` exactly one per entry of ``op.inputs``.
    """
    from .slots import split_inputs

    binding = op.layer
    if binding is None:
        raise LayerError(f"node {op.name!r} ({op.qualified_type}) is not bound to a custom layer (run `legalize`)")
    _, blobs, slots = split_inputs(op)
    return LayerRunner(op.name, op.qualified_type, binding.cls, binding.params, blobs, slots,
                       num_outputs=len(op.outputs))
