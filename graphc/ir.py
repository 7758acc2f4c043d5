"""The graphc IR: ops reading and writing values, with use lists kept on the values.

A :class:`Graph` holds :class:`Op` and :class:`Value` objects by name. An op lists its
``inputs`` (by slot; None for an omitted optional input) and ``outputs``; each value of
a graph knows its producer and its uses (op, input slot) by ops of the same graph.
A value an op's *subgraph* reads from the enclosing scope is a *capture* of that op
(:meth:`Graph.captures`, :meth:`Value.capturers`), so topological order and dead-code
elimination see it. Graph inputs and outputs are read-only ordered sequences of values
changed through Graph methods (:meth:`Graph.add_input`, :meth:`Graph.set_inputs`,
:meth:`Graph.add_output`, :meth:`Graph.set_outputs`, ...); constants are values holding
``const`` data (ONNX initializers).

Names: :meth:`Graph.add_op`, :meth:`Graph.add_value` (and ``add_constant``/``add_input``)
share one rule. A taken ``name`` becomes a fresh name derived from it, as passes creating
values and ops want; with ``exact=True`` a taken name is a :class:`VerifyError` instead, as a
frontend wants when a duplicate name in the model file is an error.

Every mutation goes through ``Graph`` methods that keep the two views (the op's
``inputs``/``outputs`` lists and the values' producer/use records) in step;
:meth:`Graph.verify` checks the invariants and names the node that breaks one.
:attr:`Graph.nx` builds a networkx view on demand for analyses that want one.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .domains import canonical_domain
from .errors import GraphcError, ShapeInferenceError, VerifyError

__all__ = ["TensorType", "Value", "Op", "Graph", "ModelInfo", "Dim", "Shape"]

Dim = int | str | None
Shape = tuple[Dim, ...]

_CAPTURE = "capture"  # the edge key of a capture in the networkx view


@dataclass(frozen=True)
class TensorType:
    """The type of a value: numpy dtype and shape (ints, symbol strings, or None).

    ``shape is None`` means the rank is unknown; ``dtype is None`` an unknown element
    type. Non-tensor ONNX types (sequence, optional, map, sparse) keep their TypeProto
    in ``proto`` with ``kind`` naming it.
    """

    dtype: np.dtype | None = None
    shape: Shape | None = None
    kind: str = "tensor"
    proto: Any = field(default=None, compare=False)

    @property
    def rank(self) -> int | None:
        """Number of dimensions, or None when the rank is unknown."""
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        """True when the shape is fully known as integers."""
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    @property
    def static_shape(self) -> tuple[int, ...]:
        """The shape as ints, for code that checked :attr:`is_static`; ShapeInferenceError when a
        dim (or the rank) is unknown."""
        shape = self.shape
        dims = [d for d in shape if isinstance(d, int)] if shape is not None else []
        if shape is None or len(dims) != len(shape):
            raise ShapeInferenceError(f"type {self} has no static shape: check TensorType.is_static first, "
                                      "or run infer-shapes")
        return tuple(dims)

    def __str__(self) -> str:
        if self.kind != "tensor":
            return self.kind
        dt = "?" if self.dtype is None else np.dtype(self.dtype).name
        if self.shape is None:
            return f"{dt}[...]"
        return f"{dt}[{','.join('?' if d is None else str(d) for d in self.shape)}]"


class Value:
    """A tensor edge of the dataflow graph. Unique name within its graph."""

    __slots__ = ("name", "type", "const", "doc_string", "metadata", "graph", "source_tensor",
                 "_producer", "_uses", "_capturers", "__weakref__")

    def __init__(
        self,
        name: str,
        type: TensorType | None = None,
        const: np.ndarray | None = None,
        doc_string: str = "",
    ):
        self.name = name
        self.const = const
        if type is None and const is not None:
            type = TensorType(const.dtype, tuple(const.shape))
        self.type = type or TensorType()
        self.doc_string = doc_string
        self.metadata: dict[str, str] = {}
        self.graph: Graph | None = None
        #: (array, TensorProto) read from the model: export reuses the proto while
        #: ``const`` is still that very array (byte-exact round trip)
        self.source_tensor: tuple[Any, Any] | None = None
        self._producer: Op | None = None
        self._uses: dict[tuple[Op, int], None] = {}  # input slots of ops of this value's graph
        self._capturers: dict[Op, None] = {}  # ops of this value's graph whose subgraphs read it

    @property
    def is_const(self) -> bool:
        """True for constants (initializers and folded values)."""
        return self.const is not None

    @property
    def shape(self) -> Shape | None:
        """The value's shape (see TensorType.shape)."""
        return self.type.shape

    @property
    def dtype(self) -> np.dtype | None:
        """The value's numpy element type, or None when unknown."""
        return self.type.dtype

    def producer(self) -> Op | None:
        """The op writing this value, or None for inputs and constants."""
        assert self.graph is not None
        return self._producer

    def uses(self) -> list[tuple[Op, int]]:
        """(op, input slot) pairs of the ops of this value's graph reading it, in graph order.

        Ops whose subgraphs read the value are not uses: see :meth:`capturers`.
        """
        assert self.graph is not None
        out = list(self._uses)
        if len(out) > 1:
            out.sort(key=lambda u: (u[0]._order, u[1]))
        return out

    def capturers(self) -> list[Op]:
        """Ops of this value's graph whose subgraphs (If/Loop/Scan bodies) read it, in graph order."""
        return sorted(self._capturers, key=lambda op: op._order)

    def consumers(self) -> list[Op]:
        """Ops reading this value, directly or from a subgraph (each once), in graph order."""
        if not self._capturers and len(self._uses) == 1:
            return [next(iter(self._uses))[0]]
        seen = dict.fromkeys(op for op, _ in self._uses)
        seen.update(self._capturers)
        return sorted(seen, key=lambda op: op._order)

    def is_used(self) -> bool:
        """True when an op (directly or from a subgraph) or the graph's outputs read this value."""
        return bool(self._uses) or bool(self._capturers) or self.is_graph_output()

    def is_graph_output(self) -> bool:
        """True when this value is an output of its graph."""
        return self.graph is not None and self.graph.is_output(self)

    def is_graph_input(self) -> bool:
        """True when this value is a runtime input of its graph."""
        return self.graph is not None and self.graph.is_input(self)

    def __repr__(self) -> str:
        tag = " const" if self.is_const else ""
        return f"Value({self.name!r}: {self.type}{tag})"


class Op:
    """An operation node: ``op_type`` in ``domain`` with decoded ``attrs``.

    ``attr_kinds`` keeps each attribute's ONNX type so export is lossless. ``inputs``
    are in ONNX slot order at every stage; ``fold-blobs`` records in ``blob_slots`` the
    slots whose constant input the op takes as a blob, and ``blobs`` is the view of those
    constants' arrays. A custom-layer op records its
    layer binding in ``layer``; ``provenance`` records which pass/rule created it.
    """

    __slots__ = (
        "name", "op_type", "domain", "attrs", "attr_kinds", "inputs", "outputs",
        "doc_string", "overload", "metadata", "blob_slots", "layer",
        "provenance", "graph", "anonymous", "source_attrs", "_order", "_captures", "__weakref__",
    )

    def __init__(
        self,
        op_type: str,
        name: str,
        domain: str = "",
        attrs: dict[str, Any] | None = None,
        attr_kinds: dict[str, int] | None = None,
        doc_string: str = "",
    ):
        self.op_type = op_type
        self.name = name
        self.domain = canonical_domain(domain)
        self.attrs: dict[str, Any] = dict(attrs or {})
        self.attr_kinds: dict[str, int] = dict(attr_kinds or {})
        self.inputs: list[Value | None] = []
        self.outputs: list[Value] = []
        self.doc_string = doc_string
        self.overload = ""
        self.metadata: dict[str, str] = {}
        self.blob_slots: list[int] = []  # sorted input slots taken as blobs (set by fold-blobs)
        self.layer: Any = None
        self.provenance: list[dict[str, Any]] = []
        self.graph: Graph | None = None
        self.anonymous = False  # the source model left it unnamed; exported unnamed
        #: attribute name -> (decoded value, original AttributeProto): export reuses the
        #: proto while the attribute still holds that very value (byte-exact round trip)
        self.source_attrs: dict[str, tuple[Any, Any]] = {}
        self._order = 0
        self._captures: dict[Value, None] = {}  # outer values this op's subgraphs read

    def subgraphs(self) -> Iterator[tuple[str, Graph]]:
        """(attribute name, subgraph) for every graph-valued attribute."""
        for key, val in self.attrs.items():
            if isinstance(val, Graph):
                yield key, val
            elif isinstance(val, list) and val and isinstance(val[0], Graph) and all(isinstance(g, Graph) for g in val):
                for i, g in enumerate(val):
                    yield f"{key}[{i}]", g

    @property
    def blobs(self) -> list[np.ndarray]:
        """The arrays of the constant inputs at ``blob_slots``, in slot order (a view: read-only)."""
        out = []
        for s in self.blob_slots:
            v = self.inputs[s] if s < len(self.inputs) else None
            if v is None or v.const is None:
                raise VerifyError(f"op {self.name!r} ({self.qualified_type}): blob slot {s} holds no constant; "
                                  "a rewrite replaced it without clearing op.blob_slots")
            out.append(np.asarray(v.const))
        return out

    def runtime_inputs(self) -> list[tuple[int, Value | None]]:
        """(slot, value) of every input slot not taken as a blob, in slot order."""
        taken = set(self.blob_slots)
        return [(s, v) for s, v in enumerate(self.inputs) if s not in taken]

    @property
    def has_subgraphs(self) -> bool:
        """True when an attribute holds a subgraph (If/Loop/Scan bodies)."""
        for v in self.attrs.values():
            if isinstance(v, Graph) or (isinstance(v, list) and v and isinstance(v[0], Graph)):
                return True
        return False

    @property
    def opset(self) -> int:
        """The opset version of this op's domain, as the enclosing model imports it."""
        assert self.graph is not None, f"op {self.name!r} is not in a graph"
        return self.graph.opset(self.domain)

    @property
    def qualified_type(self) -> str:
        """``domain::op_type``, or just ``op_type`` in the default domain."""
        return f"{self.domain}::{self.op_type}" if self.domain else self.op_type

    def __repr__(self) -> str:
        return f"Op({self.name!r}: {self.qualified_type})"


@dataclass
class ModelInfo:
    """Model-level facts ONNX records outside the graph, kept for lossless export."""

    ir_version: int = 10
    opset_imports: dict[str, int] = field(default_factory=lambda: {"": 21})
    producer_name: str = ""
    producer_version: str = ""
    domain: str = ""
    model_version: int = 0
    doc_string: str = ""
    metadata_props: dict[str, str] = field(default_factory=dict)
    functions: list[Any] = field(default_factory=list)  # FunctionProto, kept as protos
    training_info: list[Any] = field(default_factory=list)
    configuration: list[Any] = field(default_factory=list)


class _ValueView(tuple[Value, ...]):
    """A graph's inputs or outputs: a read-only tuple of values. Change them through the Graph
    methods ``_hint`` names, which keep the graph's membership index in step."""

    _hint = ""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{self._hint}")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


class _InputsView(_ValueView):
    _hint = "graph.inputs is read-only: use Graph.add_input(name, type) or Graph.set_inputs(values)"


class _OutputsView(_ValueView):
    _hint = ("graph.outputs is read-only: use Graph.add_output(value), set_outputs(values), "
             "remove_output(value) or replace_output(old, new)")


class Graph:
    """A dataflow graph. See the module docstring for the representation."""

    def __init__(self, name: str = "main", model: ModelInfo | None = None, parent: Op | None = None):
        self.name = name
        self.doc_string = ""
        self.metadata: dict[str, str] = {}
        #: analysis results kept in memory (e.g. the buffer plan under ``graphc.planning.PLAN_KEY``):
        #: never exported, not carried by :meth:`copy` (a copy is re-analysed), and emptied (here and
        #: in the enclosing graphs) by every structural change made through this class's methods
        self.meta: dict[str, object] = {}
        self._io_index: tuple[set[Value], set[Value]] | None = None
        self._inputs: list[Value] = []
        self._outputs: list[Value] = []
        self._views: tuple[_InputsView, _OutputsView] | None = None
        self.model = model
        self.parent = parent
        self._values: dict[str, Value] = {}
        self._ops: dict[str, Op] = {}
        self._order = itertools.count()
        self._topo_cache: list[Op] | None = None
        self._name_seq = 0

    # ----------------------------------------------------------------- queries
    @property
    def root(self) -> Graph:
        """The outermost graph (self for a top-level graph)."""
        g = self
        while g.parent is not None and g.parent.graph is not None:
            g = g.parent.graph
        return g

    def opset(self, domain: str = "") -> int:
        """Imported opset version of ``domain`` (the root model's)."""
        model = self.root.model
        if model is None:
            return 1
        domain = canonical_domain(domain)
        return model.opset_imports.get(domain, 1)

    @property
    def values(self) -> dict[str, Value]:
        """Values by name (the live mapping: change it only through Graph methods)."""
        return self._values

    @property
    def ops(self) -> dict[str, Op]:
        """Ops by name (the live mapping: change it only through Graph methods)."""
        return self._ops

    def value(self, name: str) -> Value:
        """The value named ``name``; GraphcError naming it when absent."""
        try:
            return self._values[name]
        except KeyError:
            raise GraphcError(f"graph {self.name!r} has no value named {name!r}") from None

    def op(self, name: str) -> Op:
        """The op named ``name``; GraphcError naming it when absent."""
        try:
            return self._ops[name]
        except KeyError:
            raise GraphcError(f"graph {self.name!r} has no op named {name!r}") from None

    def constants(self) -> list[Value]:
        """Every constant value of this graph."""
        return [v for v in self._values.values() if v.const is not None]

    def _io_views(self) -> tuple[_InputsView, _OutputsView]:
        if self._views is None:
            self._views = (_InputsView(self._inputs), _OutputsView(self._outputs))
        return self._views

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The runtime inputs, in order (read-only: change them with :meth:`add_input` / :meth:`set_inputs`)."""
        return self._views[0] if self._views is not None else self._io_views()[0]

    @inputs.setter
    def inputs(self, values: Iterable[Value]) -> None:
        raise AttributeError(_InputsView._hint)

    @property
    def outputs(self) -> tuple[Value, ...]:
        """The outputs, in order (read-only: change them with :meth:`add_output`, :meth:`set_outputs`,
        :meth:`remove_output` or :meth:`replace_output`)."""
        return self._views[1] if self._views is not None else self._io_views()[1]

    @outputs.setter
    def outputs(self, values: Iterable[Value]) -> None:
        raise AttributeError(_OutputsView._hint)

    def _io_changed(self) -> None:
        self._io_index = None
        self._views = None
        self._drop_analyses()

    def set_inputs(self, values: Iterable[Value]) -> None:
        """Make ``values`` (values of this graph) the runtime inputs, in order."""
        self._inputs = _checked_values(values, "inputs")
        self._io_changed()

    def add_output(self, value: Value) -> None:
        """Append ``value`` to the outputs."""
        self._outputs.extend(_checked_values((value,), "outputs"))
        self._io_changed()

    def set_outputs(self, values: Iterable[Value]) -> None:
        """Make ``values`` the outputs, in order."""
        self._outputs = _checked_values(values, "outputs")
        self._io_changed()

    def remove_output(self, value: Value) -> None:
        """Drop every occurrence of ``value`` from the outputs (VerifyError when it is not one)."""
        if not self.is_output(value):
            raise VerifyError(f"graph {self.name!r}: {value.name!r} is not an output")
        self._outputs = [v for v in self._outputs if v is not value]
        self._io_changed()

    def replace_output(self, old: Value, new: Value) -> None:
        """Put ``new`` in place of every occurrence of ``old`` in the outputs (no-op when ``old`` is not one)."""
        if old is new or not self.is_output(old):
            return
        (new,) = _checked_values((new,), "outputs")
        self._outputs = [new if v is old else v for v in self._outputs]
        self._io_changed()

    def _io(self) -> tuple[set[Value], set[Value]]:
        if self._io_index is None:
            self._io_index = (set(self._inputs), set(self._outputs))
        return self._io_index

    def is_output(self, value: Value) -> bool:
        """True when ``value`` is one of the graph's outputs."""
        return value in (self._io_index or self._io())[1]

    def is_input(self, value: Value) -> bool:
        """True when ``value`` is one of the graph's inputs."""
        return value in (self._io_index or self._io())[0]

    @property
    def nx(self) -> Any:
        """A fresh :class:`networkx.MultiDiGraph` snapshot of this graph (ops and values as
        nodes; value→op edges keyed by input slot or ``"capture"``, op→value by output slot).
        Changing it does not change the graph."""
        import networkx

        g = networkx.MultiDiGraph()
        g.add_nodes_from(self._values.values())
        for op in self._ops.values():
            g.add_node(op)
            for slot, v in enumerate(op.inputs):
                if v is not None:
                    g.add_edge(v, op, key=slot)
            for v in op._captures:
                g.add_edge(v, op, key=_CAPTURE)
            for slot, v in enumerate(op.outputs):
                g.add_edge(op, v, key=slot)
        return g

    def lookup(self, name: str) -> Value | None:
        """Resolve ``name`` in this graph, then in enclosing scopes."""
        g: Graph | None = self
        while g is not None:
            v = g._values.get(name)
            if v is not None:
                return v
            g = g.parent.graph if g.parent is not None else None
        return None

    def walk(self, order: str = "pre") -> Iterator[Op]:
        """Every op of this graph and of its nested subgraphs; ``op.graph`` is the graph each belongs to.

        Each graph is visited in topological order, taken when the walk reaches it. With
        ``order="pre"`` an op comes before the ops of its subgraphs (readers of the whole
        program); with ``order="post"`` after them, so a pass rewriting an op has already
        processed its bodies. The walk tolerates rewrites of the op it just yielded: an op
        removed before its turn is skipped, and ops added meanwhile are not visited.
        """
        if order not in ("pre", "post"):
            raise ValueError(f"walk order must be 'pre' or 'post', not {order!r}")
        for op in list(self.topological_order()):
            if op.graph is not self:
                continue  # removed by a rewrite earlier in the walk
            if order == "pre":
                yield op
            if op.has_subgraphs:
                for _, sub in op.subgraphs():
                    yield from sub.walk(order)
            if order == "post" and op.graph is self:
                yield op

    def all_graphs(self) -> Iterator[Graph]:
        """This graph, then every nested subgraph (depth first, in the order :meth:`walk` reaches them)."""
        yield self
        for op in self.topological_order():
            for _, sub in op.subgraphs():
                yield from sub.all_graphs()

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.topological_order())

    # ------------------------------------------------------------------ naming
    def unique_name(self, hint: str, kind: str = "value") -> str:
        """A name not yet used by any value or op of this graph, derived from ``hint``."""
        taken = self._values if kind == "value" else self._ops
        if hint and hint not in taken and hint not in self._values and hint not in self._ops:
            return hint
        base = hint or kind
        while True:
            self._name_seq += 1
            cand = f"{base}__{self._name_seq}"
            if cand not in self._values and cand not in self._ops:
                return cand

    def _free_name(self, name: str | None, kind: str, exact: bool, default: str = "") -> str:
        """``name`` when free among this graph's ``kind`` names, else a derived fresh name (VerifyError
        with ``exact``); None: a fresh name derived from ``default`` (or ``kind``)."""
        if name is None:
            return self.unique_name(default or ("v" if kind == "value" else kind), kind=kind)
        if name not in (self._values if kind == "value" else self._ops):
            return name
        if exact:
            what = "a value" if kind == "value" else "an op"
            raise VerifyError(f"graph {self.name!r} already has {what} named {name!r}")
        return self.unique_name(name, kind=kind)

    # -------------------------------------------------------------- mutation
    def _mutated(self) -> None:
        self._topo_cache = None
        self._drop_analyses()

    def _drop_analyses(self) -> None:
        """Empty ``meta`` here and in every enclosing graph: an analysis of the old graph is stale."""
        g: Graph | None = self
        while g is not None:
            if g.meta:
                g.meta.clear()
            g = g.parent.graph if g.parent is not None else None

    def add_value(
        self,
        name: str | None = None,
        type: TensorType | None = None,
        const: np.ndarray | None = None,
        doc_string: str = "",
        *,
        exact: bool = False,
    ) -> Value:
        """Create a value named ``name``; a taken name becomes a fresh one derived from it
        (None: a fresh name), or with ``exact=True`` is a VerifyError naming it. :meth:`add_op`
        follows the same rule for op names."""
        name = self._free_name(name, "value", exact)
        v = Value(name, type, const, doc_string)
        return self._attach_value(v)

    def _attach_value(self, v: Value) -> Value:
        v.graph = self
        self._values[v.name] = v
        return v

    def add_constant(self, array: np.ndarray, name: str | None = None) -> Value:
        """A constant value (an initializer on export)."""
        array = np.asarray(array)
        return self.add_value(self.unique_name(name or "const"), const=array)

    def add_input(self, name: str, type: TensorType, *, exact: bool = False) -> Value:
        """Add a runtime graph input of ``type`` (appended to ``inputs``); ``name`` and ``exact``
        as for :meth:`add_value`."""
        v = self.add_value(name, type, exact=exact)
        self._inputs.append(v)
        self._io_changed()
        return v

    def add_op(
        self,
        op_type: str,
        inputs: Sequence[Value | None] = (),
        outputs: int | Sequence[str | Value] = 1,
        attrs: dict[str, Any] | None = None,
        domain: str = "",
        name: str | None = None,
        attr_kinds: dict[str, int] | None = None,
        doc_string: str = "",
        *,
        exact: bool = False,
    ) -> Op:
        """Add an op reading ``inputs`` (None for an omitted optional input).

        ``outputs`` is a count (fresh values are created), or names / existing
        producer-less values to write. ``name`` (default: ``op_type``) is the op's name when
        free; a taken one becomes a fresh name derived from it (ONNX allows duplicate node
        names), or with ``exact=True`` is a VerifyError, as in :meth:`add_value`.
        """
        op_name = self._free_name(name or None, "op", exact, default=op_type)
        op = Op(op_type, op_name, domain, attrs, attr_kinds, doc_string)
        op.graph = self
        op._order = next(self._order)
        self._ops[op.name] = op
        for slot, v in enumerate(inputs):
            self._link_input(op, slot, v)
        if isinstance(outputs, int):
            outputs = [self.unique_name(f"{op.name}_out{i}" if outputs > 1 else f"{op.name}_out") for i in range(outputs)]
        for slot, out in enumerate(outputs):
            v = out if isinstance(out, Value) else (self._values.get(out) or self.add_value(out))
            if v.graph is not self:
                raise VerifyError(f"op {op.name!r}: output {v.name!r} belongs to another graph")
            if v._producer is not None or v.is_const:
                raise VerifyError(f"op {op.name!r}: value {v.name!r} already has a producer")
            op.outputs.append(v)
            v._producer = op
        if op.has_subgraphs:
            for _, sub in op.subgraphs():
                sub.parent = op
            self.refresh_captures(op)
        self._mutated()
        return op

    def _link_input(self, op: Op, slot: int, v: Value | None) -> None:
        if v is not None and v.graph is not self:
            # an outer-scope value read directly by an op of a subgraph
            if self.lookup(v.name) is not v:
                raise VerifyError(f"op {op.name!r}: input {v.name!r} is not visible from graph {self.name!r}")
        op.inputs.append(v)
        if v is not None and v.graph is self:
            v._uses[(op, slot)] = None

    def set_input(self, op: Op, slot: int, value: Value | None) -> None:
        """Rewire input ``slot`` of ``op`` to ``value`` (None omits it); a blob slot that no
        longer holds a constant stops being one."""
        old = op.inputs[slot]
        if old is value:
            return
        if old is not None and old.graph is self:
            old._uses.pop((op, slot), None)
        if value is not None and value.graph is self:
            value._uses[(op, slot)] = None
        op.inputs[slot] = value
        if slot in op.blob_slots and (value is None or value.const is None):
            op.blob_slots = [s for s in op.blob_slots if s != slot]
        self._mutated()

    def append_input(self, op: Op, value: Value | None) -> None:
        """Add ``value`` (or an omitted input, None) as the op's next input slot."""
        op.inputs.append(None)
        self.set_input(op, len(op.inputs) - 1, value)

    def truncate_inputs(self, op: Op, count: int) -> None:
        """Drop input slots from ``count`` on."""
        for slot in range(len(op.inputs) - 1, count - 1, -1):
            self.set_input(op, slot, None)
            op.inputs.pop()

    def _unlink_inputs(self, op: Op) -> None:
        """Forget the use records of ``op``'s inputs (its input list is left as it is)."""
        for slot, v in enumerate(op.inputs):
            if v is not None and v.graph is self:
                v._uses.pop((op, slot), None)

    def _unlink_captures(self, op: Op) -> None:
        for v in op._captures:
            if v.graph is self:
                v._capturers.pop(op, None)
        op._captures = {}

    def refresh_captures(self, op: Op) -> None:
        """Re-link the outer-scope values ``op``'s subgraphs read (its captures)."""
        if not op.has_subgraphs and not op._captures:
            return
        self._unlink_captures(op)
        for name in sorted(free_names(op)):
            v = self.lookup(name)
            if v is None:
                continue
            op._captures[v] = None
            if v.graph is self:
                v._capturers[op] = None
        self._mutated()

    def captures(self, op: Op) -> list[Value]:
        """Outer values read by ``op``'s subgraphs, by name."""
        if not op._captures:
            return []
        return sorted(op._captures, key=lambda v: v.name)

    def remove_op(self, op: Op, remove_outputs: bool = True) -> None:
        """Remove ``op``. Its outputs must be unused (no consumer, not a graph output)."""
        for v in op.outputs:
            users = [u.name for u in v.consumers()]
            if users or self.is_output(v):
                where = f"ops {users}" if users else "the graph outputs"
                raise VerifyError(f"cannot remove op {op.name!r} ({op.op_type}): its output {v.name!r} is still used by {where}")
        self._unlink_inputs(op)
        self._unlink_captures(op)
        del self._ops[op.name]
        for v in op.outputs:
            v._producer = None
            if remove_outputs:
                self.remove_value(v)
        op.graph = None
        self._mutated()

    def detach_op(self, op: Op) -> list[Value]:
        """Remove ``op`` but keep its output values (readers unchanged) for a new producer."""
        outs = list(op.outputs)
        self._unlink_inputs(op)
        self._unlink_captures(op)
        for v in outs:
            v._producer = None
        del self._ops[op.name]
        op.graph = None
        op.outputs = []
        self._mutated()
        return outs

    def fold_to_constants(self, op: Op, arrays: Sequence[np.ndarray]) -> None:
        """Remove ``op``; its outputs become constants holding ``arrays``, readers unchanged."""
        if len(arrays) != len(op.outputs):
            raise VerifyError(f"op {op.name!r} ({op.op_type}) has {len(op.outputs)} outputs, got {len(arrays)} arrays")
        for v, data in zip(self.detach_op(op), arrays):
            data = np.asarray(data)
            v.const = data
            v.type = TensorType(data.dtype, tuple(data.shape))
        self._mutated()

    def remove_value(self, v: Value) -> None:
        """Remove an unused value (no producer, no uses, not an input or output)."""
        if v.graph is self and (v._producer is not None or v._uses or v._capturers):
            raise VerifyError(f"cannot remove value {v.name!r}: it is still connected")
        if self.is_input(v) or self.is_output(v):
            raise VerifyError(f"cannot remove value {v.name!r}: it is a graph input or output")
        self._values.pop(v.name, None)
        v.graph = None

    def replace_all_uses(self, old: Value, new: Value, include_outputs: bool = True) -> None:
        """Make every reader of ``old`` (ops, subgraph captures, graph outputs) read ``new``."""
        if old is new:
            return
        for op, slot in old.uses():
            self.set_input(op, slot, new)
        for op in old.capturers():
            _rename_in_subgraphs(op, old.name, new.name)
            self.refresh_captures(op)
        if include_outputs:
            self.replace_output(old, new)
        self._mutated()

    def rename_value(self, v: Value, new_name: str) -> None:
        """Rename ``v``; subgraphs reading it by name follow."""
        if new_name == v.name:
            return
        if new_name in self._values:
            raise VerifyError(f"cannot rename {v.name!r} to {new_name!r}: the name is taken")
        old = v.name
        captured_by = v.capturers()
        del self._values[old]
        v.name = new_name
        self._values[new_name] = v
        for op in captured_by:
            _rename_in_subgraphs(op, old, new_name)
        self._drop_analyses()  # analyses refer to values by name

    def rename_op(self, op: Op, new_name: str) -> None:
        """Rename ``op`` (names stay unique; GraphcError when taken)."""
        if new_name == op.name:
            return
        if new_name in self._ops:
            raise VerifyError(f"cannot rename op {op.name!r} to {new_name!r}: the name is taken")
        del self._ops[op.name]
        op.name = new_name
        self._ops[new_name] = op
        self._drop_analyses()

    def replace_region(self, ops: Iterable[Op], replacements: dict[Value, Value]) -> None:
        """Remove ``ops`` and reroute the region's outputs through ``replacements``.

        Every value the region produces that is read outside it (by another op or as a
        graph output) must be mapped to a value outside the region; otherwise nothing
        changes and a :class:`VerifyError` names the dangling use.
        """
        region = list(ops)
        inside = set(region)
        for op in region:
            for v in op.outputs:
                outside = [u for u in v.consumers() if u not in inside]
                if (outside or self.is_output(v)) and v not in replacements:
                    who = outside[0].name if outside else "a graph output"
                    raise VerifyError(f"replacing region would leave {v.name!r} (from {op.name!r}) dangling: read by {who}")
        for old, new in replacements.items():
            if new.graph is self and (p := new.producer()) is not None and p in inside:
                raise VerifyError(f"replacement {new.name!r} is produced inside the region being removed")
            self.replace_all_uses(old, new)
        for op in reversed(self._sorted_subset(inside)):
            self.remove_op(op)

    def _sorted_subset(self, ops: set[Op]) -> list[Op]:
        return [op for op in self.topological_order() if op in ops]

    # ------------------------------------------------------------------ order
    def topological_order(self) -> list[Op]:
        """Ops in a deterministic topological order (insertion order breaks ties)."""
        if self._topo_cache is not None:
            return self._topo_cache
        indeg: dict[Op, int] = {}
        for op in self._ops.values():
            preds = {v._producer for v in op.inputs if v is not None and v.graph is self and v._producer is not None}
            preds.update(v._producer for v in op._captures if v.graph is self and v._producer is not None)
            indeg[op] = len(preds)
        heap = [(op._order, op.name) for op, d in indeg.items() if d == 0]
        heapq.heapify(heap)
        order: list[Op] = []
        while heap:
            _, name = heapq.heappop(heap)
            op = self._ops[name]
            order.append(op)
            succs = {c for v in op.outputs for c, _ in v._uses}
            succs.update(c for v in op.outputs for c in v._capturers)
            for c in succs:
                indeg[c] -= 1
                if indeg[c] == 0:
                    heapq.heappush(heap, (c._order, c.name))
        if len(order) != len(self._ops):
            stuck = sorted(op.name for op, d in indeg.items() if d > 0)
            raise VerifyError(f"graph {self.name!r} has a cycle through ops {stuck[:5]}")
        self._topo_cache = order
        return order

    def reorder(self, order: Sequence[Op]) -> None:
        """Make ``order`` the insertion order (it breaks ties in topological order)."""
        for i, op in enumerate(order):
            op._order = i
        self._order = itertools.count(len(order))
        self._mutated()

    # ------------------------------------------------------------------- copy
    def copy(self) -> Graph:
        """An independent structural copy; constant arrays are shared (never mutate them).

        ``metadata`` is copied; the in-memory analysis store ``meta`` is not (it starts empty)."""
        return _copy_graph(self, None, {})

    # ----------------------------------------------------------------- verify
    def verify(self) -> None:
        """Check the IR invariants, raising VerifyError naming the offending node."""
        from .verify import verify_graph

        verify_graph(self)

    def __repr__(self) -> str:
        return f"Graph({self.name!r}: {len(self._ops)} ops, {len(self._values)} values)"


def _checked_values(values: Iterable[Value], what: str) -> list[Value]:
    out = list(values)
    for v in out:
        if not isinstance(v, Value):
            raise TypeError(f"graph {what} must be Values, not {type(v).__name__}")
    return out


def free_names(op: Op) -> set[str]:
    """Names an op's subgraphs read from outside themselves (recursively)."""
    names: set[str] = set()
    for _, sub in op.subgraphs():
        defined = set(sub._values) - {v.name for v in _outer_reads(sub)}
        for inner in sub._ops.values():
            for v in inner.inputs:
                if v is not None and v.name not in defined:
                    names.add(v.name)
            names |= {n for n in free_names(inner) if n not in defined}
        for v in sub.outputs:
            if v.name not in defined:
                names.add(v.name)
    return names


def _outer_reads(sub: Graph) -> set[Value]:
    """Values of enclosing graphs that ops of ``sub`` read directly or capture."""
    out: set[Value] = set()
    for inner in sub._ops.values():
        out.update(v for v in inner.inputs if v is not None and v.graph is not sub)
        out.update(v for v in inner._captures if v.graph is not sub)
    return out


def _rename_in_subgraphs(op: Op, old: str, new: str) -> None:
    for _, sub in op.subgraphs():
        if old in sub._values:
            continue  # shadowed
        for inner in sub._ops.values():
            if any(v is not None and v.name == old for v in inner.inputs):
                outer = sub.lookup(new)
                for slot, v in enumerate(inner.inputs):
                    if v is not None and v.name == old and outer is not None:
                        sub.set_input(inner, slot, outer)
            _rename_in_subgraphs(inner, old, new)
            if inner.graph is not None:
                inner.graph.refresh_captures(inner)
        outer = sub.lookup(new)
        if outer is not None:
            sub.set_outputs([outer if v.name == old and v.graph is not sub else v for v in sub.outputs])


def _copy_graph(src: Graph, parent: Op | None, outer: dict[Value, Value]) -> Graph:
    dst = Graph(src.name, model=_copy_model(src.model), parent=parent)
    dst.doc_string = src.doc_string
    dst.metadata = dict(src.metadata)
    vmap: dict[Value, Value] = dict(outer)
    for v in src._values.values():
        nv = Value(v.name, v.type, v.const, v.doc_string)
        nv.metadata = dict(v.metadata)
        nv.source_tensor = v.source_tensor
        vmap[v] = dst._attach_value(nv)
    dst.set_inputs([vmap[v] for v in src.inputs])
    for op in sorted(src._ops.values(), key=lambda o: o._order):
        attrs = {k: _copy_attr(val, vmap) for k, val in op.attrs.items()}
        new = Op(op.op_type, op.name, op.domain, attrs, op.attr_kinds, op.doc_string)
        new.overload = op.overload
        new.metadata = dict(op.metadata)
        new.blob_slots = list(op.blob_slots)
        new.layer = op.layer
        new.provenance = list(op.provenance)
        new.anonymous = op.anonymous
        new.source_attrs = op.source_attrs
        new.graph = dst
        new._order = next(dst._order)
        dst._ops[new.name] = new
        for slot, u in enumerate(op.inputs):
            mapped = None if u is None else vmap.get(u, u)
            new.inputs.append(mapped)
            if mapped is not None and mapped.graph is dst:
                mapped._uses[(new, slot)] = None
        for v in op.outputs:
            new.outputs.append(vmap[v])
            vmap[v]._producer = new
        for _, sub in new.subgraphs():
            sub.parent = new
        dst.refresh_captures(new)
    dst.set_outputs([vmap.get(v, v) for v in src.outputs])
    dst._name_seq = src._name_seq
    return dst


def _copy_attr(val: Any, vmap: dict[Value, Value]) -> Any:
    if isinstance(val, Graph):
        return _copy_graph(val, None, vmap)
    if isinstance(val, list) and val and all(isinstance(g, Graph) for g in val):
        return [_copy_graph(g, None, vmap) for g in val]
    return val


def _copy_model(model: ModelInfo | None) -> ModelInfo | None:
    if model is None:
        return None
    return ModelInfo(
        model.ir_version, dict(model.opset_imports), model.producer_name, model.producer_version,
        model.domain, model.model_version, model.doc_string, dict(model.metadata_props),
        list(model.functions), list(model.training_info), list(model.configuration),
    )
