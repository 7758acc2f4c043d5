"""ONNX frontend: ModelProto (path, bytes or proto) -> graphc Graph, losslessly."""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from ..attributes import allowed_attribute_values, decode_attribute
from ..domains import canonical_domain, display_domain, is_onnx_domain
from ..errors import GraphcError, ModelFormatError
from ..ir import Graph, ModelInfo, Op, TensorType, Value
from .types import type_from_proto

__all__ = ["load_onnx", "read_model_proto", "graph_from_proto", "external_tensors", "load_external_data",
           "check_subgraph_depth", "MAX_SUBGRAPH_DEPTH"]


def read_model_proto(source: str | os.PathLike | bytes | onnx.ModelProto) -> tuple[onnx.ModelProto, Path | None]:
    """Parse ``source`` into a ModelProto with its external data loaded safely.

    Returns the proto and the folder external data was resolved against (None for
    bytes and protos that carry no external references).
    """
    base: Path | None = None
    if isinstance(source, onnx.ModelProto):
        model = source
    elif isinstance(source, (bytes, bytearray, memoryview)):
        model = _parse(bytes(source), "<bytes>")
    else:
        path = Path(source)
        if not path.is_file():
            raise ModelFormatError(f"model file {str(path)!r} does not exist or is not a file")
        base = path.resolve().parent
        model = _parse(path.read_bytes(), str(path))
    if not model.HasField("graph"):
        raise ModelFormatError("the model has no graph: is this an ONNX model file?")
    check_subgraph_depth(model)
    load_external_data(model, base)
    return model, base


#: how deep subgraphs (If/Loop/Scan bodies) may nest; protobuf's decoder reads no deeper files (its
#: limit of 100 nested messages is about 25 levels), and graphc's passes recurse once per level
MAX_SUBGRAPH_DEPTH = 32


def check_subgraph_depth(model: onnx.ModelProto) -> None:
    """ModelFormatError naming the node when subgraphs nest deeper than :data:`MAX_SUBGRAPH_DEPTH`
    (a 1000-deep nested If built in memory used to end in a RecursionError). The walk keeps its own
    stack, so it cannot overflow Python's."""
    stack: list[tuple[Any, int]] = [(model.graph.node, 0)]
    stack += [(f.node, 0) for f in model.functions]
    stack += [(g.node, 0) for t in model.training_info for g in (t.initialization, t.algorithm)]
    while stack:
        nodes, depth = stack.pop()
        for node in nodes:
            for g in _subgraphs(node):
                if depth + 1 > MAX_SUBGRAPH_DEPTH:
                    raise ModelFormatError(
                        f"{node.op_type} node {node.name!r}: subgraphs nest more than {MAX_SUBGRAPH_DEPTH} levels "
                        "deep, the limit graphc reads; flatten the nested control flow")
                stack.append((g.node, depth + 1))


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The graphs held by ``node``'s attributes, whatever their declared type says."""
    return [g for a in node.attribute for g in ([a.g] if a.HasField("g") else []) + list(a.graphs)]


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise ModelFormatError(f"{where} is not a valid ONNX model (protobuf decode failed: {e})") from e
    return model


def external_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every tensor of ``model`` whose data lives in an external file: initializers and sparse
    initializers, node attributes (tensors, sparse tensors), at any depth of subgraphs, in the
    model's functions and its training info."""
    for t in _all_tensors(model):
        if t.HasField("data_location") and t.data_location == onnx.TensorProto.EXTERNAL:
            yield t


def _all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    yield from _graph_tensors(model.graph)
    for f in model.functions:
        yield from _node_tensors(f.node)
    for info in model.training_info:
        yield from _graph_tensors(info.initialization)
        yield from _graph_tensors(info.algorithm)


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    yield from _node_tensors(graph.node)


def _node_tensors(nodes: Any) -> Iterator[onnx.TensorProto]:
    """Tensors in the attributes of ``nodes``, whatever the attribute's declared type says."""
    for node in nodes:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            for sparse in ([a.sparse_tensor] if a.HasField("sparse_tensor") else []) + list(a.sparse_tensors):
                yield from (sparse.values, sparse.indices)
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _graph_tensors(g)


def load_external_data(model: onnx.ModelProto, base: Path | None) -> None:
    """Read every external tensor of ``model`` into the proto, from files confined to ``base``.

    A location that is absolute, holds ``..``, resolves outside ``base`` (through a link) or
    is not a regular file is a ModelFormatError; so is any external tensor when ``base`` is
    None (the model did not come from a file). Afterwards no tensor refers to a file, so
    nothing downstream (onnxruntime, onnx.reference) resolves a path of its own.
    """
    for tensor in external_tensors(model):
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        target = _confined_path(location, base, tensor.name)
        tensor.raw_data = _read_external(tensor, target, location, info)
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]


def _read_external(tensor: onnx.TensorProto, target: Path, location: str, info: dict[str, str]) -> bytes:
    """Exactly the bytes the tensor's dims and type need, from ``offset`` in ``target``: a length (or
    the rest of the file) that disagrees is refused before anything is read, so a sparse 900 MB
    file behind an 8-byte tensor costs nothing."""
    from ..archive import read_regular_file

    where = f"tensor {tensor.name!r}: external data {location!r}"
    try:
        offset, length = int(info.get("offset") or 0), (int(info["length"]) if info.get("length") else None)
        size = target.stat().st_size
    except (ValueError, OSError) as e:
        raise ModelFormatError(f"{where}: unreadable offset/length or file ({e})") from e
    need = _tensor_nbytes(tensor)
    have = length if length is not None else size - offset
    if offset < 0 or have < 0 or offset + have > size:
        raise ModelFormatError(f"{where}: offset {offset} and length {have} lie outside the {size}-byte file")
    if need is not None and have != need:
        raise ModelFormatError(f"{where} holds {have} bytes (offset {offset}), but the tensor's dims "
                               f"{list(tensor.dims)} of its type need {need}; the model is malformed")
    if offset == 0 and have == size:
        return read_regular_file(target, have)
    with open(target, "rb") as f:  # a regular file (checked by _confined_path)
        f.seek(offset)
        return f.read(have)


#: bits per element of the packed element types (the rest: numpy's itemsize)
_PACKED_BITS = {getattr(onnx.TensorProto, name): bits for name, bits in
                (("INT4", 4), ("UINT4", 4), ("FLOAT4E2M1", 4), ("INT2", 2), ("UINT2", 2))
                if hasattr(onnx.TensorProto, name)}


def _tensor_nbytes(tensor: onnx.TensorProto) -> int | None:
    """The raw bytes a tensor of its dims and element type holds; None when unknown (strings)."""
    count = math.prod(int(d) for d in tensor.dims)
    bits = _PACKED_BITS.get(tensor.data_type)
    if bits is not None:
        return (count * bits + 7) // 8
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)
    except (KeyError, ValueError, TypeError):
        return None
    return None if dtype == object else count * dtype.itemsize


def _confined_path(location: str, base: Path | None, tensor: str) -> Path:
    """Resolve an external-data location, refusing anything outside the model's folder."""
    if base is None:
        raise ModelFormatError(
            f"tensor {tensor!r} refers to external data {location!r} but the model was not loaded "
            "from a file: load it by path so graphc knows the folder its data lives in"
        )
    if not location or os.path.isabs(location) or Path(location).drive:
        raise ModelFormatError(f"tensor {tensor!r}: external data location {location!r} must be a relative path inside the model's folder")
    if ".." in Path(location).parts:
        raise ModelFormatError(f"tensor {tensor!r}: external data location {location!r} may not contain '..'")
    target = (base / location).resolve()
    if not target.is_relative_to(base):
        raise ModelFormatError(f"tensor {tensor!r}: external data {location!r} resolves outside the model's folder (through a link?)")
    if not target.is_file():
        raise ModelFormatError(f"tensor {tensor!r}: external data file {location!r} is missing or not a regular file")
    return target


def load_onnx(source: str | os.PathLike | bytes | onnx.ModelProto) -> Graph:
    """Load an ONNX model into a :class:`Graph`."""
    model, _ = read_model_proto(source)
    check_versions(model)
    info = ModelInfo(
        ir_version=model.ir_version,
        opset_imports={canonical_domain(o.domain): o.version for o in model.opset_import},
        producer_name=model.producer_name,
        producer_version=model.producer_version,
        domain=model.domain,
        model_version=model.model_version,
        doc_string=model.doc_string,
        metadata_props={p.key: p.value for p in model.metadata_props},
        functions=[_copy_proto(f) for f in model.functions],
        training_info=[_copy_proto(t) for t in model.training_info],
        configuration=[_copy_proto(c) for c in getattr(model, "configuration", [])],
    )
    try:
        return graph_from_proto(model.graph, info, None)
    except GraphcError:
        raise
    except Exception as e:  # noqa: BLE001 - malformed protos surface as many exception types
        raise ModelFormatError(f"cannot import the model graph: {type(e).__name__}: {e}") from e


def _check_subgraph_arity(node: onnx.NodeProto) -> None:
    """Refuse an If whose branches, or a Loop whose body, do not match the node's outputs: an If branch
    yields exactly the node's outputs; a Loop body takes (iteration, condition, N carried) and yields
    (condition, N carried, K scanned), the node taking (M, condition, N carried) and yielding N + K."""
    if not is_onnx_domain(node.domain) or node.op_type not in ("If", "Loop"):
        return
    where = f"node {node.name!r} ({node.op_type})"
    graphs = {a.name: a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH}
    if node.op_type == "If":
        for branch in ("then_branch", "else_branch"):
            g = graphs.get(branch)
            if g is not None and len(g.output) != len(node.output):
                raise ModelFormatError(f"{where}: its {branch} yields {len(g.output)} output(s) but the node has "
                                       f"{len(node.output)}; each branch must yield exactly the node's outputs "
                                       "(the model is malformed: re-export it)")
        return
    body = graphs.get("body")
    if body is None:
        return
    carried = len(node.input) - 2
    if len(body.input) != carried + 2 or len(body.output) < carried + 1 or \
            len(body.output) - 1 != len(node.output):
        raise ModelFormatError(f"{where}: its body takes {len(body.input)} input(s) and yields {len(body.output)}, "
                               f"but the node takes {len(node.input)} (M, condition and {max(carried, 0)} carried) "
                               f"and yields {len(node.output)}; the body must take 2 + carried and yield "
                               "1 + carried + scanned, the node yielding carried + scanned (re-export the model)")


def check_versions(model: onnx.ModelProto) -> None:
    """Refuse versions graphc cannot read the model's meaning from (as ``onnx.checker`` does, and for
    opsets beyond what the installed onnx knows, which the checker lets through):

    * an ``ir_version`` newer than the installed onnx's (``onnx.IR_VERSION``);
    * an opset below 1, or above the newest the installed onnx defines for a domain it defines
      (``ai.onnx`` 99 when onnx knows 28); custom domains are the model's own and not checked;
    * no opset for the default domain while nodes use it, in a model of IR version 3 or later
      (before IR 3 the default domain was implied at opset 1).
    """
    if model.ir_version > onnx.IR_VERSION:
        raise ModelFormatError(f"the model's ir_version {model.ir_version} is newer than the installed onnx "
                               f"{onnx.__version__} reads ({onnx.IR_VERSION}); re-export it with an older "
                               "ir_version, or upgrade onnx")
    known = onnx.defs.C.schema_version_map()  # domain -> (first, last) opset the installed onnx defines
    imported: dict[str, int] = {}
    for o in model.opset_import:
        domain = canonical_domain(o.domain)
        name = display_domain(o.domain)
        if o.version < 1:
            raise ModelFormatError(f"the model imports opset {o.version} of domain {name!r}; "
                                   "opset versions start at 1 (fix the model's opset_import)")
        if domain in known and o.version > known[domain][1]:
            raise ModelFormatError(f"the model imports opset {o.version} of domain {name!r}, newer than the "
                                   f"installed onnx {onnx.__version__} defines ({known[domain][1]}); re-export it "
                                   f"with opset {known[domain][1]} or lower, or upgrade onnx")
        imported[domain] = o.version
    if "" not in imported and model.ir_version >= 3 and _uses_default_domain(model):
        raise ModelFormatError("the model imports no opset for the default domain (ai.onnx) but its nodes use it; "
                               "add an opset_import for domain '' (the opset it was exported with)")


def _uses_default_domain(model: onnx.ModelProto) -> bool:
    """True when a node of the model (any graph, subgraph or function) is in the default domain."""
    graphs = [model.graph]
    nodes = [n for f in model.functions for n in f.node]
    while graphs:
        g = graphs.pop()
        nodes.extend(g.node)
        for n in g.node:
            for a in n.attribute:
                graphs.extend([a.g] if a.type == onnx.AttributeProto.GRAPH else a.graphs)
    return any(is_onnx_domain(n.domain) for n in nodes)


def _check_attribute_types(graph: Graph, node: onnx.NodeProto, kinds: dict[str, int]) -> None:
    """Refuse a standard op whose attributes contradict its ONNX schema: one of another type than
    declared, one the schema does not have (a misspelling such as ``kernel_shap`` would be ignored),
    or a required one missing (MaxPool without ``kernel_shape`` would act as an identity)."""
    if not is_onnx_domain(node.domain):
        return
    schema = _schema_attributes(node.op_type, graph.opset(""))
    if schema is None:
        return
    declared, required = schema
    AT = onnx.AttributeProto.AttributeType
    where = f"node {node.name!r} ({node.op_type}, opset {graph.opset('')})"
    for name, kind in kinds.items():
        want = declared.get(name)
        if want is None:
            raise ModelFormatError(f"{where}: attribute {name!r} is not in the {node.op_type} schema (it has "
                                   f"{', '.join(sorted(declared)) or 'none'}); the model is malformed (re-export it)")
        if kind != want:
            got = AT.Name(kind) if kind in AT.values() else str(kind)
            raise ModelFormatError(
                f"node {node.name!r} ({node.op_type}): attribute {name!r} is {got}, but the {node.op_type} "
                f"schema declares {AT.Name(want)}; the model is malformed (re-export it)")
    missing = sorted(required - set(kinds))
    if missing:
        raise ModelFormatError(f"{where}: required attribute(s) {', '.join(map(repr, missing))} missing; "
                               "the model is malformed (re-export it)")


def _check_attribute_values(graph: Graph, node: onnx.NodeProto, attrs: dict[str, Any]) -> None:
    """Refuse a standard op whose enumerated string attribute holds a value its spec does not list
    (``Pad`` with ``mode="wrapx"`` reached numpy's own ``ValueError`` at run time)."""
    if not is_onnx_domain(node.domain):
        return
    opset = graph.opset("")
    for name, value in attrs.items():
        allowed = allowed_attribute_values(node.op_type, name, opset)
        if allowed is not None and value not in allowed:
            raise ModelFormatError(f"node {node.name!r} ({node.op_type}, opset {opset}): attribute {name!r} is "
                                   f"{value!r}, not one of {', '.join(allowed)}; the model is malformed (re-export it)")


@functools.lru_cache(maxsize=1024)
def _schema_attributes(op_type: str, opset: int) -> tuple[dict[str, int], frozenset[str]] | None:
    """(attribute name -> AttributeProto type, required names) from the ONNX schema; None if unknown."""
    try:
        schema = onnx.defs.get_schema(op_type, max_inclusive_version=opset, domain="")
    except Exception:  # noqa: BLE001 - unknown op or version: nothing to check
        return None
    return ({name: int(a.type) for name, a in schema.attributes.items()},  # type: ignore[call-overload]  # onnx's stub: AttrType is an int enum at runtime
            frozenset(name for name, a in schema.attributes.items() if a.required))


def _copy_proto(p: Any) -> Any:
    c = type(p)()
    c.CopyFrom(p)
    return c


def _to_array(t: onnx.TensorProto, what: str) -> np.ndarray:
    if any(d < 0 for d in t.dims):  # numpy would read dims [-2] as [2]
        raise ModelFormatError(f"{what} {t.name!r} has dims {list(t.dims)}; a tensor's dims cannot be negative")
    if t.data_type == onnx.TensorProto.STRING:
        _check_utf8(t, what)
    try:
        return numpy_helper.to_array(t)
    except Exception as e:  # noqa: BLE001
        raise ModelFormatError(f"{what} {t.name!r}: cannot decode tensor data ({e})") from e


def _check_utf8(t: onnx.TensorProto, what: str) -> None:
    """A STRING tensor holds UTF-8 text (the ONNX spec; onnx.reference and onnxruntime decode it so): an
    element that is not is a ModelFormatError naming the tensor and the element, never kept as bytes."""
    for i, s in enumerate(t.string_data):
        try:
            s.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ModelFormatError(f"{what} {t.name!r}: STRING element {i} ({s[:20]!r}) is not UTF-8 ({e.reason} at "
                                   f"byte {e.start}); ONNX strings are UTF-8 text: store raw bytes as a UINT8 "
                                   "tensor instead") from None


def graph_from_proto(gp: onnx.GraphProto, model: ModelInfo | None, outer: Op | None) -> Graph:
    """Decode ``gp``; ``outer`` is a stand-in op whose graph is the enclosing scope."""
    graph = Graph(gp.name, model=model, parent=outer)
    graph.doc_string = gp.doc_string
    graph.metadata = {p.key: p.value for p in getattr(gp, "metadata_props", [])}
    declared = {vi.name: vi for vi in list(gp.input) + list(gp.output) + list(gp.value_info)}

    def new_value(name: str, const: np.ndarray | None = None) -> Value:
        vi = declared.get(name)
        typ = type_from_proto(vi.type) if vi is not None and vi.HasField("type") else None
        v = graph.add_value(name, typ, const, vi.doc_string if vi is not None else "", exact=True)
        if vi is not None:
            v.metadata = {p.key: p.value for p in getattr(vi, "metadata_props", [])}
        return v

    for t in gp.initializer:
        if t.name in graph.values:
            raise ModelFormatError(f"initializer {t.name!r} is defined twice")
        v = new_value(t.name, _to_array(t, "initializer"))
        v.source_tensor = (v.const, t)
    for st in gp.sparse_initializer:
        dense = decode_attribute(onnx.helper.make_attribute("s", st)).to_dense()
        new_value(st.values.name, dense)
    inputs: dict[Value, None] = {}
    for vi in gp.input:
        v = graph.values.get(vi.name) or new_value(vi.name)
        if v in inputs:
            raise ModelFormatError(f"graph input {vi.name!r} is declared twice")
        inputs[v] = None
    graph.set_inputs(inputs)
    for node in gp.node:
        for name in node.output:
            if not name:
                continue
            if name in graph.values:
                raise ModelFormatError(
                    f"node {node.name!r} ({node.op_type}) writes {name!r}, which another node, "
                    "an initializer or a graph input already defines"
                )
            new_value(name)
    for node in gp.node:
        _add_node(graph, node, model)
    outputs: list[Value] = []
    for vi in gp.output:
        out = graph.lookup(vi.name)
        if out is None:
            raise ModelFormatError(f"graph output {vi.name!r} is not produced by any node, input or initializer")
        if out.graph is graph and vi.HasField("type") and out.type.dtype is None:
            out.type = type_from_proto(vi.type)
        if outer is None and out in outputs:  # run() returns a dict: one of the two would be lost
            raise ModelFormatError(f"graph output {vi.name!r} is listed twice; outputs are returned by name")
        outputs.append(out)
    graph.set_outputs(outputs)
    return graph


def _add_node(graph: Graph, node: onnx.NodeProto, model: ModelInfo | None) -> Op:
    shell = Op(node.op_type, node.name)
    shell.graph = graph

    def decode_graph(g: onnx.GraphProto) -> Graph:
        return graph_from_proto(g, None, shell)

    attrs, kinds = {}, {}
    for a in node.attribute:
        if a.name in attrs:
            raise ModelFormatError(f"node {node.name!r} ({node.op_type}) has attribute {a.name!r} twice")
        if a.ref_attr_name:
            raise ModelFormatError(f"node {node.name!r} ({node.op_type}): attribute reference {a.ref_attr_name!r} outside a function")
        try:
            attrs[a.name] = decode_attribute(a, decode_graph)
        except GraphcError:
            raise
        except Exception as e:  # noqa: BLE001
            raise ModelFormatError(f"node {node.name!r} ({node.op_type}): attribute {a.name!r} cannot be decoded ({e})") from e
        kinds[a.name] = a.type
    _check_attribute_types(graph, node, kinds)
    _check_attribute_values(graph, node, attrs)
    _check_subgraph_arity(node)
    inputs: list[Value | None] = []
    for name in node.input:
        if not name:
            inputs.append(None)
            continue
        v = graph.lookup(name)
        if v is None:
            raise ModelFormatError(
                f"node {node.name!r} ({node.op_type}) reads {name!r}, which no node, graph input or initializer defines"
            )
        inputs.append(v)
    outputs = [graph.values[n] if n else graph.add_value(f"{node.name or node.op_type}_unused") for n in node.output]
    op = graph.add_op(
        node.op_type, inputs, outputs, attrs, domain=node.domain,
        name=node.name or None, attr_kinds=kinds, doc_string=node.doc_string,
    )
    op.anonymous = not node.name
    op.source_attrs = {a.name: (attrs[a.name], a) for a in node.attribute
                       if a.type not in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)}
    op.overload = getattr(node, "overload", "")
    op.metadata = {p.key: p.value for p in getattr(node, "metadata_props", [])}
    unused = [i for i, n in enumerate(node.output) if not n]
    if unused:
        op.metadata.setdefault("graphc.omitted_outputs", ",".join(map(str, unused)))
    return op
