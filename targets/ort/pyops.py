"""Python custom ops in onnxruntime (via onnxruntime-extensions), with its traps defused.

onnxruntime-extensions runs a Python function as the kernel of an ``ai.onnx.contrib``
node. Its traps, and what :class:`PyOpHost` does about each:

* a Python exception inside the op aborts the whole process: every call is wrapped,
  the exception is recorded, a zero-filled output of the declared shape is returned,
  and :meth:`PyOpHost.raise_errors` turns the record into a ``LayerError`` naming the
  node once ``session.run`` returns;
* a wrong output dtype is silently cast: each output's dtype is checked against the
  declared one (a mismatch is recorded the same way);
* an op type can be registered once per process, with fixed input/output types; ops
  must be registered before the library is added to a ``SessionOptions``; and an op
  registered next to others in one domain can move them, leaving earlier sessions with
  dangling pointers: one op per signature, alone in its own domain, shared by every
  node of that signature, dispatching on a per-node token in ``config``
  (:mod:`targets.ort.pyop_registry`);
* float16, bfloat16 and float8 tensors abort the process: they travel as float32
  (exactly, with ``Cast`` nodes inserted around the node) and are cast back before the
  op sees them; int4/int2 (uint4/uint2) travel as int8 (uint8) the same way;
* float4e2m1, which onnxruntime has no kernel for at all (not even ``Cast``), travels
  as its uint8 codes: every value of that type in the model is retyped uint8 (a
  graph input or output too; :func:`rewrite_for_host` returns those ``views`` so the
  artifact feeds and returns the caller's dtype), and the op views the codes back;
* only int, float and string attributes: the layer's parameters are one JSON string
  attribute, ``config``.
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import onnx
from onnx import helper

from graphc.errors import GraphcError, LayerError
from graphc.limits import RunBudget, current_budget

from .protos import graphs_of, graphs_of_node
from .pyop_registry import OP_TYPE, PYOPS
from .tensors import BIT_CARRIED

__all__ = ["PyOpSpec", "PyOpHost", "HostedOp", "CONTRIB_DOMAIN", "py_type_ok", "TRANSPORTED", "BIT_CARRIED", "rewrite_for_host",
           "check_string_output"]

#: the only domain onnxruntime-extensions serves Python ops in
CONTRIB_DOMAIN = "ai.onnx.contrib"

_DIRECT = {
    "float32": "dt_float", "float64": "dt_double", "uint8": "dt_uint8", "int8": "dt_int8",
    "uint16": "dt_uint16", "int16": "dt_int16", "int32": "dt_int32", "int64": "dt_int64",
    "uint32": "dt_uint32", "uint64": "dt_uint64", "bool": "dt_bool", "object": "dt_string",
}
#: dtypes that cross the Python-op boundary as a wider carrier type (exactly, through Cast nodes)
TRANSPORTED = {
    "float16": "float32", "bfloat16": "float32", "float8_e4m3fn": "float32", "float8_e4m3fnuz": "float32",
    "float8_e5m2": "float32", "float8_e5m2fnuz": "float32", "float8_e8m0fnu": "float32",
    "int4": "int8", "int2": "int8", "uint4": "uint8", "uint2": "uint8",
}


def py_type_ok(dtype: np.dtype) -> bool:
    """True when a tensor of ``dtype`` can be an input or output of a Python op."""
    name = np.dtype(dtype).name
    return name in _DIRECT or name in TRANSPORTED or name in BIT_CARRIED


@dataclass
class PyOpSpec:
    """One node run by Python: its declared types and the function computing it."""

    node: str  # node name (for messages)
    label: str  # "caffe::Interp via layer my_layers:Interp" (for messages)
    input_dtypes: list[np.dtype]
    output_dtypes: list[np.dtype]
    output_shapes: list[tuple[int, ...] | None]
    call: Callable[[list[np.ndarray]], Sequence[np.ndarray]]


@dataclass(frozen=True)
class HostedOp:
    """Where a node's Python op is registered: its domain (op type :data:`OP_TYPE`) and the
    token its ``config`` attribute carries in the session's model."""

    domain: str
    token: str


class PyOpHost:
    """The Python ops of one artifact; records their failures for the caller.

    Owns the functions its nodes run (the process-wide registry holds them weakly), so they
    go when the artifact goes."""

    def __init__(self) -> None:
        self.errors: list[GraphcError] = []
        self.lock = threading.Lock()
        #: the loop iterations left to the run in progress (:mod:`targets.ort.loop_guard`)
        self.iterations = RunBudget()
        self._owner: int | None = None  # the thread running the artifact
        self.specs: dict[str, PyOpSpec] = {}
        self._bodies: list[Callable[..., Any]] = []

    def register(self, spec: PyOpSpec) -> HostedOp:
        """Bind ``spec`` to the Python op of its signature (registered on first use)."""
        for dt in spec.input_dtypes + spec.output_dtypes:
            if not py_type_ok(dt):
                raise LayerError(f"node {spec.node!r} ({spec.label}): onnxruntime-extensions cannot pass "
                                 f"{np.dtype(dt).name} tensors to Python; give the layer float/int/bool/string "
                                 "inputs and outputs, or use the numpy target")
        domain = PYOPS.domain_for([_DIRECT[_carrier(d)] for d in spec.input_dtypes],
                                  [_DIRECT[_carrier(d)] for d in spec.output_dtypes])
        body = self._body(spec)
        self._bodies.append(body)
        hosted = HostedOp(domain, PYOPS.bind(body))
        self.specs[hosted.token] = spec
        return hosted

    def _body(self, spec: PyOpSpec) -> Callable[..., Any]:
        host = self

        def body(*args: np.ndarray) -> Any:
            try:
                arrays = [_from_carrier(a, dt) for a, dt in zip(args, spec.input_dtypes)]
                outs = _checked_outputs(spec, spec.call(arrays))
            except BaseException as e:  # noqa: BLE001 - an exception here would abort the process
                host.errors.append(_as_layer_error(spec, e))
                outs = [_placeholder(shape, dt) for shape, dt in zip(spec.output_shapes, spec.output_dtypes)]
            return outs[0] if len(outs) == 1 else tuple(outs)

        return body

    @contextmanager
    def running(self) -> Iterator[None]:
        """Hold the artifact for one run (:meth:`begin_run` included). A run started from inside one of
        this artifact's own Python ops (a layer calling ``run()`` on its artifact) would wait for itself
        forever: it is a LayerError instead."""
        me = threading.get_ident()
        if self._owner == me:
            raise LayerError("a layer called run() on the artifact it is running in (from inside its own "
                             "Python op); run another artifact, or compute the value in the layer")
        with self.lock:
            self._owner = me
            try:
                self.begin_run()
                yield
            finally:
                self._owner = None

    def begin_run(self) -> None:
        """Forget the previous run's failures; take this run's loop-iteration budget: the enclosing
        run's when there is one (:func:`graphc.limits.begin_run`: a partitioned artifact's
        regions, a layer running another artifact), else a fresh one."""
        self.errors.clear()
        self.iterations = current_budget()

    def raise_errors(self, cause: BaseException | None = None) -> None:
        """Raise the first recorded failure (then forget them all)."""
        if self.errors:
            err, self.errors = self.errors[0], []
            raise err from cause


def _checked_outputs(spec: PyOpSpec, returned: Sequence[Any]) -> list[np.ndarray]:
    """The op's results as the carrier arrays onnxruntime-extensions converts, or LayerError for
    anything it would cast silently or fail to convert (a C++ exception there aborts the process)."""
    res = list(returned)
    if len(res) != len(spec.output_dtypes):
        raise LayerError(f"returned {len(res)} outputs, the node has {len(spec.output_dtypes)}")
    outs = []
    for i, (r, dt) in enumerate(zip(res, spec.output_dtypes)):
        arr = np.asarray(r)
        if arr.dtype != dt:
            raise LayerError(
                f"output {i} is {arr.dtype.name} but the model declares {np.dtype(dt).name} "
                "(onnxruntime-extensions would cast it silently); make the layer's output_dtypes() "
                "and forward() agree")
        if arr.dtype == object:
            check_string_output(i, arr)
        outs.append(_to_carrier(arr))
    return outs


def check_string_output(i: int, arr: np.ndarray) -> None:
    """LayerError unless every element of string output ``i`` is a str encodable as UTF-8."""
    for k, s in enumerate(arr.flat):
        if not isinstance(s, str):
            raise LayerError(f"output {i} is a string tensor but element {k} is {type(s).__name__} "
                             f"({repr(s)[:40]}); a string output holds str values only")
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as e:
            raise LayerError(f"output {i}: element {k} ({repr(s)[:40]}) is not valid UTF-8 ({e.reason}); "
                             "onnxruntime strings are UTF-8") from None


def _as_layer_error(spec: PyOpSpec, e: BaseException) -> GraphcError:
    try:
        text = str(e)
    except BaseException:  # noqa: BLE001 - an exception whose __str__ raises must not abort the process
        text = f"<unprintable {type(e).__name__}>"
    if isinstance(e, GraphcError) and repr(spec.node) in text:
        return e
    detail = text if isinstance(e, LayerError) else f"{type(e).__name__}: {text}"
    err = LayerError(f"node {spec.node!r} ({spec.label}) failed inside onnxruntime: {detail}")
    err.__cause__ = e
    return err


def _carrier(dtype: np.dtype) -> str:
    name = np.dtype(dtype).name
    return "uint8" if name in BIT_CARRIED else TRANSPORTED.get(name, name)


def _from_carrier(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    # always a copy: the array onnxruntime-extensions hands over is owned by the session, and a
    # reference kept past the call (a cache, a view in an output) crashes the process when collected
    a = np.array(a, copy=True)
    name = np.dtype(dtype).name
    if name in BIT_CARRIED:
        return a.view(dtype)
    return a.astype(dtype) if name in TRANSPORTED else a


def _to_carrier(a: np.ndarray) -> np.ndarray:
    if a.dtype.name in BIT_CARRIED:
        return np.asarray(a, order="C").view(np.uint8)
    return a.astype(TRANSPORTED[a.dtype.name]) if a.dtype.name in TRANSPORTED else a


#: a failed op's placeholder output keeps its declared shape up to this size, else has zero-length dims
_PLACEHOLDER_LIMIT = 1 << 20


def _placeholder(shape: tuple[int, ...] | None, dtype: np.dtype) -> np.ndarray:
    """What a failed op returns so onnxruntime can finish the run (``run()`` then raises its error):
    zeros of the declared shape when that is small, else of the same rank with every dim 0, so a
    huge promised shape allocates nothing."""
    carrier = np.dtype(_carrier(dtype)) if np.dtype(dtype) != object else np.dtype(object)
    dims = tuple(d if isinstance(d, int) and d >= 0 else 0 for d in (shape if shape is not None else (0,)))
    if math.prod(dims) * carrier.itemsize > _PLACEHOLDER_LIMIT:
        dims = (0,) * len(dims)
    return np.zeros(dims, dtype=carrier) if carrier != object else np.full(dims, "", dtype=object)


def rewrite_for_host(model: onnx.ModelProto,
                     renames: dict[str, tuple[HostedOp, PyOpSpec]]) -> tuple[onnx.ModelProto, dict[str, str]]:
    """A copy of ``model`` whose Python-op nodes (by node name) call their registered ops (domain,
    op type, and the token as ``config``), with :data:`TRANSPORTED` inputs and outputs carried
    through Cast nodes and :data:`BIT_CARRIED` values retyped uint8; plus the graph
    inputs/outputs so retyped (name -> the dtype name the caller sees)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    _rewrite_nodes(out.graph, renames)
    present = {o.domain for o in out.opset_import}
    for domain in sorted({hosted.domain for hosted, _ in renames.values()} - present):
        out.opset_import.append(helper.make_opsetid(domain, 1))
    views = _retype_bit_carried(out.graph)
    for graph in list(graphs_of(out.graph))[1:]:
        _retype_bit_carried(graph)
    return out, views


def _rewrite_nodes(graph: onnx.GraphProto, renames: dict[str, tuple[HostedOp, PyOpSpec]]) -> None:
    """Rewrite the Python-op nodes of ``graph`` and (first) of the graphs nested in it."""
    for node in graph.node:
        for sub in graphs_of_node(node):
            _rewrite_nodes(sub, renames)
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        hit = renames.get(node.name) if node.domain == CONTRIB_DOMAIN else None
        if hit is None:
            nodes.append(node)
            continue
        hosted, spec = hit
        node.op_type, node.domain = OP_TYPE, hosted.domain
        del node.attribute[:]
        node.attribute.append(helper.make_attribute("config", hosted.token))
        after = []
        for i, (name, dt) in enumerate(zip(list(node.input), spec.input_dtypes)):
            if np.dtype(dt).name in TRANSPORTED:
                carried = f"{node.name}__carry_in{i}"
                nodes.append(helper.make_node("Cast", [name], [carried], to=_elem(_carrier(dt)),
                                              name=f"{node.name}__carry_in{i}"))
                node.input[i] = carried
        for i, (name, dt) in enumerate(zip(list(node.output), spec.output_dtypes)):
            if np.dtype(dt).name in TRANSPORTED and name:
                carried = f"{node.name}__carry_out{i}"
                after.append(helper.make_node("Cast", [carried], [name], to=_elem(np.dtype(dt).name),
                                              name=f"{node.name}__carry_out{i}"))
                node.output[i] = carried
        nodes.append(node)
        nodes.extend(after)
    del graph.node[:]
    graph.node.extend(nodes)


def _elem(name: str) -> int:
    return helper.np_dtype_to_tensor_dtype(dtype_from_name(name))


def _retype_bit_carried(graph: onnx.GraphProto) -> dict[str, str]:
    """Retype every :data:`BIT_CARRIED` value of ``graph`` (not its subgraphs) uint8, one code per
    element; return its inputs and outputs so retyped."""
    from onnx import numpy_helper

    carried = {_elem(n): n for n in BIT_CARRIED}
    views: dict[str, str] = {}
    boundary = {v.name for v in graph.input} | {v.name for v in graph.output}
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        tt = vi.type.tensor_type
        if vi.type.HasField("tensor_type") and tt.elem_type in carried:
            if vi.name in boundary:
                views[vi.name] = carried[tt.elem_type]
            tt.elem_type = onnx.TensorProto.UINT8
    for k, init in enumerate(graph.initializer):
        if init.data_type in carried:
            codes = np.asarray(numpy_helper.to_array(init), order="C").view(np.uint8)
            graph.initializer[k].CopyFrom(numpy_helper.from_array(codes, init.name))
    return views


def dtype_from_name(name: str) -> np.dtype:
    """The numpy dtype a manifest names (``float32``, ``bfloat16``, ``object``...)."""
    if name == "object":
        return np.dtype(object)
    if name in ("bfloat16",) or name.startswith("float8") or name in ("int4", "uint4"):
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, name))
    return np.dtype(name)
