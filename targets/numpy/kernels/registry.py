"""The numpy kernel table: which op types (domain, opset range) have a native kernel.

A kernel is a plain function ``fn(ctx, *inputs) -> array | tuple[array, ...]``:

* ``inputs`` are numpy arrays, one per node input slot, ``None`` for an omitted
  optional input (empty name). Trailing omitted inputs may be absent.
* ``ctx`` is an :class:`OpContext`: decoded attributes (``ctx.attrs``; use
  ``ctx.attr(name, default)``), the opset version the node is resolved against
  (``ctx.opset``), the node name, and ``ctx.outs``: pre-planned output buffers
  (one per output, or ``None`` when not planned). A kernel that can write with
  ``out=`` calls ``ctx.out(i, shape, dtype)`` to get the planned buffer when it fits
  (or a fresh array when it does not) and returns what it wrote.
* It returns exactly the outputs the node declares (a tuple for several outputs),
  with the dtypes the ONNX specification gives. It never mutates its inputs, except
  an input the kernel registered as in-place (``inplace={out: in}``) when the planner
  says that input dies here (``ctx.inplace_ok``).

Compile-time preparation (the ``prepare`` hook)
-----------------------------------------------
A kernel may register ``prepare=fn`` with :func:`kernel`. Lowering calls it **once per
node**, before any run, as ``prepare(ctx, inputs) -> state``:

* ``ctx`` is an :class:`OpContext` without output buffers (attributes, opset, name);
* ``inputs`` follows the kernel's calling convention, one entry per input slot: a
  numpy array for an input that is constant at compile time (a folded blob or a
  constant value), the input's :class:`graphc.ir.TensorType` for a runtime input
  (its shape may be symbolic or unknown), ``None`` for an omitted optional input.

Whatever it returns (``None``: nothing to prepare) is shared, read-only, by every
arena the program is bound to; the executor hands it to the kernel as ``ctx.state``.
It is where weights are re-laid out for the GEMM (or Winograd-transformed), layouts
chosen for the static input shape, and attributes decoded, so the kernel does none of
that per call. A kernel must still accept a call whose runtime shapes differ from what
``prepare`` saw (dynamic shapes): it checks the shape it was prepared for and falls
back to its general path. Per-arena scratch memory (im2col columns, padded images) is
taken with :meth:`OpContext.scratch`, allocated on first use and reused afterwards;
the nodes of one bound program share one scratch pool (a key's buffer is sized for its
largest user, not one per node), and a bound program runs one call at a time, so
scratch is never shared between threads. Nothing is cached at module level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from graphc.domains import canonical_domain
from graphc.errors import ShapeInferenceError, UnsupportedOpError
from graphc.limits import current_budget

__all__ = ["OpContext", "KernelSpec", "KernelTable", "KERNELS", "kernel"]


#: fresh outputs above this many bytes are checked against the run's memory budget before allocation
_CHECKED_ALLOCATION = 1 << 20


#: the key, in a scratch pool, of its cache of handed-out views: (key, shape, dtype, zero) -> array
_VIEWS = object()


def _remember(views: dict[Any, np.ndarray], request: tuple, buf: np.ndarray) -> None:
    try:
        views[request] = buf
    except TypeError:  # an unhashable shape: not cached
        pass


class OpContext:
    """What a kernel knows about the node it runs for. Built once per node at lowering."""

    __slots__ = ("name", "op_type", "domain", "opset", "attrs", "outs", "subgraph_runner", "inplace_ok", "state",
                 "_scratch")

    def __init__(
        self,
        name: str,
        op_type: str,
        attrs: dict[str, Any] | None = None,
        opset: int = 1,
        domain: str = "",
        outs: Sequence[np.ndarray | None] | None = None,
        subgraph_runner: Callable[[str, Sequence[Any]], list[Any]] | None = None,
    ):
        self.name = name
        self.op_type = op_type
        self.domain = domain
        self.opset = opset
        self.attrs = dict(attrs or {})
        self.outs = list(outs) if outs is not None else []
        self.subgraph_runner = subgraph_runner
        self.inplace_ok = False
        #: what the kernel's ``prepare`` hook returned at lowering (None: not prepared)
        self.state: Any = None
        self._scratch: dict[Any, Any] | None = None

    def attr(self, name: str, default: Any = None) -> Any:
        """The decoded attribute ``name`` or ``default`` when the node omits it."""
        return self.attrs.get(name, default)

    def shape_error(self, what: str) -> ShapeInferenceError:
        """A ShapeInferenceError naming this node, its op type and its domain (or opset): ``what`` it got wrong."""
        where = self.domain or f"opset {self.opset}"
        return ShapeInferenceError(f"{self.op_type} node {self.name!r} ({where}): {what}")

    def unsupported(self, what: str, remedy: str = "compile for the 'ort' target or without this option"
                    ) -> UnsupportedOpError:
        """An UnsupportedOpError naming this node: ``what`` the numpy kernel does not support, then ``remedy``."""
        where = self.domain or f"opset {self.opset}"
        return UnsupportedOpError(f"{self.op_type} node {self.name!r} ({where}): {what} is not supported by the "
                                  f"numpy kernel; {remedy}")

    def write(self, index: int, value: Any, dtype: Any) -> np.ndarray:
        """``value`` cast (unsafe casting) into output ``index``'s planned buffer (or a new array), returned."""
        buf = self.out(index, np.shape(value), dtype)
        np.copyto(buf, value, casting="unsafe")
        return buf

    def out(self, index: int, shape: Sequence[int], dtype: Any) -> np.ndarray:
        """The planned buffer for output ``index`` if its shape and dtype fit, else a new array."""
        if index < len(self.outs):
            buf = self.outs[index]
            # compared without building np.dtype(dtype) (None means float64, as for np.empty)
            if buf is not None and buf.dtype == (np.float64 if dtype is None else dtype) \
                    and buf.shape == (shape if type(shape) is tuple else tuple(shape)):
                return buf
        shape = tuple(shape)
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if nbytes <= _CHECKED_ALLOCATION:
            return np.empty(shape, dtype=dtype)
        budget = current_budget()  # a size the plan did not fix: checked against the run's budget first
        budget.check_allocation(self.name, self.op_type, shape, nbytes)
        arr = np.empty(shape, dtype=dtype)
        budget.hold(arr, nbytes)
        return arr

    def scratch(self, key: Any, shape: Sequence[int], dtype: Any, zero: bool = False,
                fill: Any = None) -> np.ndarray:
        """A scratch buffer of ``shape`` and ``dtype``, reused by later calls (no allocation once warm).

        The executor gives every node of one bound program the same scratch pool (ops run
        one at a time; a bound program serves one run at a time, so no thread shares it).

        * Without a fill, the buffer is a view of one flat buffer per ``key`` and dtype,
          grown to the largest request: nodes asking under the same key share memory, so
          the contents are undefined at every call (write before reading), and a kernel
          must use distinct keys for buffers it needs at the same time.
        * With ``zero=True`` or ``fill=value`` the buffer is private to (key, shape, dtype,
          value) and filled once when allocated; positions nobody writes keep that value.
          Meant for small constant tables (a pool's divisor counts): a kernel relying on it
          must put everything that decides which positions it writes into ``key``.

        A repeated request (same key, shape, dtype and ``zero``, no ``fill``) returns the view
        it got before, from a cache in the pool that forgets a key's views when its buffer grows.
        """
        pool = self._scratch
        if pool is None:
            pool = self._scratch = {}
        views = pool.get(_VIEWS)
        if views is None:
            views = pool[_VIEWS] = {}
        if fill is None:  # warm calls: the view handed out last time for the same request
            try:
                view = views.get((key, shape, dtype, zero))
            except TypeError:  # an unhashable shape (a list): the slow path below
                view = None
            if view is not None:
                return view
        if zero:
            fill = 0
        request = (key, shape, dtype, zero)
        shape = tuple(shape)
        dtype = np.dtype(dtype)
        if fill is not None:
            full_key = (key, shape, dtype.str, repr(fill))
            buf = pool.get(full_key)
            if buf is None:
                self._check_scratch(key, shape, dtype)
                buf = pool[full_key] = np.full(shape, fill, dtype)
            if zero:
                _remember(views, request, buf)  # private and never replaced
            return buf
        size = math.prod(shape)
        flat = pool.get((key, dtype.str))
        if flat is None or flat.size < size:
            self._check_scratch(key, shape, dtype)
            flat = pool[(key, dtype.str)] = np.empty(size, dtype)
            for old in [r for r in views if not r[3]]:  # views of the smaller buffer would keep it alive
                del views[old]
        view = flat[:size].reshape(shape)
        _remember(views, request, view)
        return view

    def _check_scratch(self, key: Any, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """A new scratch buffer above the checked size is checked against the run's memory budget first, with
        the values of run-time size alive (im2col columns can be many times the convolution's output)."""
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > _CHECKED_ALLOCATION:
            current_budget().check_allocation(self.name, self.op_type, shape, nbytes, what=f"its scratch {key!r}")

    def share_scratch(self, pool: dict[Any, Any]) -> None:
        """Draw scratch buffers from ``pool`` (the executor passes one pool per bound program)."""
        self._scratch = pool

    def run_subgraph(self, attr_name: str, inputs: Sequence[Any]) -> list[Any]:
        """Run the subgraph held in attribute ``attr_name`` (If/Loop/Scan bodies)."""
        if self.subgraph_runner is None:
            raise RuntimeError(f"{self.op_type} node {self.name!r}: no subgraph runner bound")
        return self.subgraph_runner(attr_name, inputs)


KernelFn = Callable[..., Any]


@dataclass(frozen=True)
class KernelSpec:
    """One registration: ``fn`` implements ``op_type`` for opsets ``since..until``."""

    op_type: str
    fn: KernelFn
    domain: str = ""
    since: int = 1
    until: int | None = None
    inplace: dict[int, int] = field(default_factory=dict)
    view: bool = False  # output 0 may be a view of input 0 (Reshape, Squeeze, ...)
    #: output 0 concatenates the inputs and the kernel accepts inputs already in place in it (Concat)
    joins: bool = False
    #: ``prepare(ctx, inputs) -> state``, called once per node at lowering (see the module docstring)
    prepare: Callable[[OpContext, Sequence[Any]], Any] | None = None

    def covers(self, opset: int) -> bool:
        return self.since <= opset and (self.until is None or opset <= self.until)


class KernelTable:
    """An explicit registry of kernels keyed by (domain, op_type)."""

    def __init__(self) -> None:
        self._specs: dict[tuple[str, str], list[KernelSpec]] = {}

    def add(self, spec: KernelSpec) -> None:
        self._specs.setdefault((spec.domain, spec.op_type), []).append(spec)

    def lookup(self, domain: str, op_type: str, opset: int) -> KernelSpec | None:
        """The kernel for this op at ``opset``, or None."""
        domain = canonical_domain(domain)
        for spec in self._specs.get((domain, op_type), ()):
            if spec.covers(opset):
                return spec
        return None

    def op_types(self) -> list[tuple[str, str]]:
        return sorted(self._specs)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._specs


KERNELS = KernelTable()


def kernel(
    *op_types: str,
    domain: str = "",
    since: int = 1,
    until: int | None = None,
    inplace: dict[int, int] | None = None,
    view: bool = False,
    prepare: Callable[[OpContext, Sequence[Any]], Any] | None = None,
    joins: bool = False,
) -> Callable[[KernelFn], KernelFn]:
    """Register the decorated function as the kernel of ``op_types`` in :data:`KERNELS`.

    ``prepare`` is the optional compile-time hook described in the module docstring.
    """

    def register(fn: KernelFn) -> KernelFn:
        for op_type in op_types:
            KERNELS.add(KernelSpec(op_type, fn, domain, since, until, dict(inplace or {}), view, joins, prepare))
        return fn

    return register


def register_all(modules: Iterable[str]) -> None:
    """Import kernel family modules so their decorators fill :data:`KERNELS`."""
    import importlib

    for name in modules:
        importlib.import_module(name)
