"""What the installed onnxruntime really implements, read from its own kernel registry.

:class:`OrtKernelRegistry` is built from ``get_all_opkernel_def()`` (the CPU execution
provider's kernel definitions: domain, op type, opset range and, per type-constraint
name, the tensor types the kernel is compiled for) and from a few one-off probes of
what a session accepts (the newest IR version and opset per domain). Nothing is a hand
list: a newer onnxruntime answers differently by itself.

``covers(op)`` answers "does onnxruntime have a kernel for this node at this opset and
for these input/output types". An op with no kernel whose ONNX schema has a function
body is covered when every op of the body has a kernel (onnxruntime inlines it).

The registry of the installed onnxruntime is built once, lazily, by
:func:`default_registry` (its ``functools.lru_cache`` is the module's only cache).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import numpy as np
import onnx
from onnx import helper

from graphc.domains import canonical_domain, is_onnx_domain

if TYPE_CHECKING:
    from graphc.ir import Op

__all__ = ["KernelDef", "OrtKernelRegistry", "default_registry", "ort_type_name"]
logger = logging.getLogger(__name__)

_OPEN = 2**31 - 1  # onnxruntime's "until the newest opset"


@dataclass(frozen=True)
class KernelDef:
    """One onnxruntime kernel: ``domain::op_type`` for opsets ``since..until`` and these types."""

    domain: str
    op_type: str
    since: int
    until: int | None
    type_constraints: dict[str, frozenset[str]] = field(hash=False, compare=False, default_factory=dict)

    def covers(self, opset: int) -> bool:
        return self.since <= opset and (self.until is None or opset <= self.until)

    def accepts(self, bound: dict[str, set[str]]) -> bool:
        """True when every type bound to a constraint this kernel dispatches on is compiled in."""
        for name, types in bound.items():
            allowed = self.type_constraints.get(name)
            if allowed is not None and not types <= allowed:
                return False
        return True


def ort_type_name(dtype: np.dtype) -> str | None:
    """``tensor(float)``-style name of a numpy dtype (as onnxruntime's kernel defs spell it)."""
    try:
        elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    except (KeyError, TypeError, ValueError):
        return None
    return f"tensor({onnx.TensorProto.DataType.Name(elem).lower()})"


class OrtKernelRegistry:
    """Kernels of one onnxruntime build, by (domain, op_type); plus its version limits."""

    def __init__(self, kernels: Iterable[KernelDef], ort_version: str, max_ir_version: int,
                 max_opsets: dict[str, int], graph_level: Iterable[str] = ()):
        self._by_op: dict[tuple[str, str], list[KernelDef]] = {}
        for k in kernels:
            self._by_op.setdefault((k.domain, k.op_type), []).append(k)
        self.ort_version = ort_version
        #: the newest ModelProto.ir_version a session accepts
        self.max_ir_version = max_ir_version
        #: domain -> newest opset version a session accepts ("" is ai.onnx)
        self.max_opsets = dict(max_opsets)
        #: ai.onnx op types onnxruntime handles when it loads a graph, with no kernel (Constant)
        self.graph_level = frozenset(graph_level)

    # ------------------------------------------------------------ construction
    @classmethod
    def from_onnxruntime(cls) -> OrtKernelRegistry:
        """Read the installed onnxruntime's CPU kernels and probe its version limits."""
        import onnxruntime as ort
        from onnxruntime.capi import onnxruntime_pybind11_state as C

        kernels = []
        for k in C.get_all_opkernel_def():
            if k.provider != "CPUExecutionProvider":
                continue
            lo, hi = k.version_range
            domain = canonical_domain(k.domain)
            tc = {name: frozenset(types) for name, types in k.type_constraints.items()}
            kernels.append(KernelDef(domain, k.op_name, int(lo), None if hi >= _OPEN else int(hi), tc))
        max_ir = _probe_max(lambda v: _session_accepts(ir_version=v), onnx.IR_VERSION)
        max_opsets = {"": _probe_max(lambda v: _session_accepts(opset=v), onnx.defs.onnx_opset_version())}
        ml_newest = max((s.since_version for s in onnx.defs.get_all_schemas_with_history() if s.domain == "ai.onnx.ml"),
                        default=1)
        max_opsets["ai.onnx.ml"] = _probe_max(lambda v: _session_accepts(ml_opset=v), ml_newest)
        names = {k.op_type for k in kernels if k.domain == ""}
        graph_level = [] if "Constant" in names or not _session_accepts(node="Constant") else ["Constant"]
        return cls(kernels, ort.__version__, max_ir, max_opsets, graph_level)

    # ----------------------------------------------------------------- queries
    def kernels(self, domain: str, op_type: str) -> list[KernelDef]:
        return list(self._by_op.get((canonical_domain(domain), op_type), ()))

    def has_op(self, domain: str, op_type: str, opset: int) -> bool:
        """Any kernel for ``domain::op_type`` at ``opset``, whatever its types."""
        return any(k.covers(opset) for k in self.kernels(domain, op_type))

    def op_types(self) -> list[tuple[str, str]]:
        return sorted(self._by_op)

    def stamped_opset(self, domain: str, opset: int) -> int:
        """The opset a model importing ``domain`` at ``opset`` runs at once lowered for this build."""
        limit = self.max_opsets.get(canonical_domain(domain))
        return opset if limit is None else min(opset, limit)

    def covers(self, op: Op, opset: int | None = None) -> bool:
        """True when onnxruntime runs ``op`` natively at ``opset`` (default: its stamped opset).

        Checks the kernel's opset range and, for every type constraint the kernel
        dispatches on, that the types of the node's inputs and outputs bound to that
        constraint (per the ONNX schema) are among the types compiled in. Unknown
        types are not held against the op.
        """
        if is_onnx_domain(op.domain) and op.op_type in self.graph_level:
            return True
        if opset is None:
            opset = self.stamped_opset(op.domain, op.opset)
        candidates = [k for k in self.kernels(op.domain, op.op_type) if k.covers(opset)]
        if not candidates:
            return self._function_covered(op, opset)
        bound = _bound_types(op, opset)
        return any(k.accepts(bound) for k in candidates)

    def _function_covered(self, op: Op, opset: int) -> bool:
        """onnxruntime inlines a schema's function body when it has no kernel for the op."""
        try:
            schema = onnx.defs.get_schema(op.op_type, opset, op.domain)
        except onnx.defs.SchemaError:
            return False
        if schema.has_context_dependent_function and not schema.has_function:  # type: ignore[attr-defined]  # onnx's defs stub lacks it; present at runtime
            return True  # onnxruntime builds and inlines the body per node (CastLike, ...)
        if not schema.has_function:  # type: ignore[attr-defined]  # onnx's defs stub lacks it; present at runtime
            return False
        body = schema.function_body
        return all(self.has_op(n.domain, n.op_type, opset) for n in body.node)


def _bound_types(op: Op, opset: int) -> dict[str, set[str]]:
    """Type-constraint name -> the type names of the node's values bound to it."""
    try:
        schema = onnx.defs.get_schema(op.op_type, opset, op.domain)
    except onnx.defs.SchemaError:
        return {}
    bound: dict[str, set[str]] = {}

    def bind(formals, values) -> None:
        if not formals:
            return
        for i, v in enumerate(values):
            if v is None or v.type.kind != "tensor" or v.type.dtype is None:
                continue
            formal = formals[min(i, len(formals) - 1)]
            if i >= len(formals) and formal.option != formal.option.Variadic:
                continue
            name = ort_type_name(v.type.dtype)
            if name is not None:
                bound.setdefault(formal.type_str, set()).add(name)

    bind(schema.inputs, list(op.inputs))
    bind(schema.outputs, op.outputs)
    return bound


def _tiny_model(ir_version: int, opset: int, ml_opset: int | None, node: str = "Identity") -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    if node == "Constant":  # y = x + Constant(0)
        zero = helper.make_tensor("c", onnx.TensorProto.FLOAT, [1], [0.0])
        nodes = [helper.make_node("Constant", [], ["c"], value=zero), helper.make_node("Add", ["x", "c"], ["y"])]
    else:
        nodes = [helper.make_node(node, ["x"], ["y"])]
    graph = helper.make_graph(nodes, "probe", [x], [y])
    opsets = [helper.make_opsetid("", opset)]
    if ml_opset is not None:
        opsets.append(helper.make_opsetid("ai.onnx.ml", ml_opset))
    return helper.make_model(graph, opset_imports=opsets, ir_version=ir_version)


def _session_accepts(ir_version: int = 8, opset: int = 13, ml_opset: int | None = None,
                     node: str = "Identity") -> bool:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
    try:
        ort.InferenceSession(_tiny_model(ir_version, opset, ml_opset, node).SerializeToString(), so,
                             providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - a refusal is the answer we probe for
        return False
    return True


def _probe_max(accepts, start: int) -> int:
    """The largest version ``accepts`` takes, searching from ``start`` (a few probes)."""
    v = start
    if accepts(v):
        while accepts(v + 1):
            v += 1
        return v
    while v > 1 and not accepts(v - 1):
        v -= 1
    return max(v - 1, 1)


@functools.lru_cache(maxsize=1)
def default_registry() -> OrtKernelRegistry:
    """The installed onnxruntime's registry, built on first use and then cached."""
    reg = OrtKernelRegistry.from_onnxruntime()
    logger.debug("onnxruntime %s: %d op types, IR <= %d, opsets %s", reg.ort_version, len(reg.op_types()),
                 reg.max_ir_version, reg.max_opsets)
    return reg
