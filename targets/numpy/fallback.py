"""The declared fallback: ops the numpy target runs through ``onnx.reference``.

The table is built once, by introspecting onnx.reference's operator registries (one per
domain) and the ONNX schemas that carry a function body (onnx.reference expands those).
It is explicit data, not a catch-all: :func:`fallback_ops` lists every (domain, op_type)
with the reason it is runnable, ``graphc inspect --target numpy`` shows which ops of a
model use it, and ``fallback=False`` / ``--no-fallback`` forbids it.

A :class:`ReferenceRunner` wraps one node: a one-node ONNX model (its blobs as
initializers, outer-scope values its subgraphs read as extra inputs) evaluated by
``onnx.reference.ReferenceEvaluator``. It follows the numpy kernel calling convention
(``runner(ctx, *runtime_inputs) -> tuple``).
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import onnx
from onnx import helper

from graphc.domains import canonical_domain
from graphc.errors import InputError, PlanError, UnsupportedOpError
from graphc.limits import current_budget

from .fallback_sizes import OutputSizes

if TYPE_CHECKING:
    from graphc.ir import Op, Value

__all__ = ["fallback_ops", "has_fallback", "ReferenceRunner", "REFERENCE_REGISTRIES"]

#: domain -> the onnx.reference module whose ``_build_registered_operators`` lists its op classes
REFERENCE_REGISTRIES: dict[str, str] = {
    "": "onnx.reference.ops._op_list",
    "ai.onnx.ml": "onnx.reference.ops.aionnxml._op_list",
    "ai.onnx.preview.training": "onnx.reference.ops.aionnx_preview_training._op_list",
    "ai.onnx.preview": "onnx.reference.ops.aionnx_preview._op_list",
    "experimental": "onnx.reference.ops.experimental._op_list",
}


@functools.lru_cache(maxsize=1)
def fallback_ops() -> dict[tuple[str, str], str]:
    """Every (domain, op_type) onnx.reference can run, mapped to why ("reference class" / "schema function")."""
    table: dict[tuple[str, str], str] = {}
    for domain, module in REFERENCE_REGISTRIES.items():
        try:
            registered = importlib.import_module(module)._build_registered_operators()
        except (ImportError, AttributeError):  # an older onnx without this domain
            continue
        for op_type, versions in registered.items():
            if any(getattr(cls, "__module__", "").rpartition(".")[2].startswith(("op_run", "_op_run")) for cls in versions.values()):
                continue  # OpRun, OpFunction, OpRunAiOnnxMl: the evaluator's base classes, not operators
            table[(domain, op_type)] = "reference class"
    for schema in onnx.defs.get_all_schemas_with_history():
        key = (canonical_domain(schema.domain), schema.name)
        if key[0] == "" and key not in table and (schema.has_function or schema.has_context_dependent_function):  # type: ignore[attr-defined]  # onnx's defs stub lacks it; present at runtime
            table[key] = "schema function"
    return dict(sorted(table.items()))


def has_fallback(domain: str, op_type: str) -> bool:
    """True when onnx.reference can run ``domain::op_type``."""
    return (canonical_domain(domain), op_type) in fallback_ops()


class ReferenceRunner:
    """Runs one op through onnx.reference, called like a numpy kernel with runtime inputs only.

    ``captures`` are outer-scope values the op's subgraphs read; the executor passes
    their arrays after the runtime inputs.
    """

    def __init__(self, op: Op, captures: Sequence[Value] = ()):
        from onnx.reference import ReferenceEvaluator

        from graphc.exporters.onnx import node_proto
        from graphc.frontends.types import type_to_proto

        self.node_name = op.name
        if any(inner.op_type == "Loop" and not canonical_domain(inner.domain)
               for _, g in op.subgraphs() for inner in g.walk()):
            raise UnsupportedOpError(
                f"node {op.name!r} ({op.qualified_type}): a Loop inside its body would run in onnx.reference, "
                "outside the limit of loop iterations per run (GRAPHC_MAX_LOOP_ITERATIONS); rewrite the body "
                "without a Loop, or register a custom layer for it (graphc scaffold)")
        self.op_type = op.op_type
        gp = onnx.GraphProto(name=f"fallback_{op.name}")
        node = node_proto(op, gp)
        # every present input (constants included: the executor presets them), in slot order, under its own name
        self.input_names = [v.name for v in op.inputs if v is not None]
        self.capture_names = [v.name for v in captures if v.name not in self.input_names]
        seen: set[str] = set()
        for name, v in [(v.name, v) for v in op.inputs if v is not None] + [(v.name, v) for v in captures]:
            if name in seen or any(t.name == name for t in gp.initializer):
                continue
            seen.add(name)
            vi = onnx.ValueInfoProto(name=name)
            if v.type.dtype is not None or v.type.kind != "tensor":
                vi.type.CopyFrom(type_to_proto(v.type))
            gp.input.append(vi)
        self.output_names = [f"__out{i}" for i in range(len(op.outputs))]
        kept = [name for name in node.output]
        del node.output[:]
        node.output.extend(out if kept[i] else "" for i, out in enumerate(self.output_names))
        self.present = [i for i, n in enumerate(kept) if n]
        gp.node.append(node)
        gp.output.extend(onnx.ValueInfoProto(name=self.output_names[i]) for i in self.present)
        root = op.graph.root if op.graph is not None else None
        opsets = dict(root.model.opset_imports) if root is not None and root.model else {"": 21}
        opsets.setdefault(op.domain, op.opset if op.graph is not None else 1)
        opsets.setdefault("", 21)
        model = helper.make_model(gp, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
                                  ir_version=(root.model.ir_version if root is not None and root.model else 10))
        model.functions.extend(root.model.functions if root is not None and root.model else [])
        try:
            self.evaluator = ReferenceEvaluator(model)
        except Exception as e:  # noqa: BLE001 - onnx.reference refuses this node: say which and why
            raise UnsupportedOpError(
                f"node {op.name!r} ({op.qualified_type}, opset {opsets.get(op.domain)}): the onnx.reference fallback "
                f"cannot run it ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                "register a custom layer for it (graphc scaffold)") from e
        self.n_outputs = len(op.outputs)
        #: predicts the outputs' sizes from the run's inputs (None when every output's size is static: planned)
        self.sizes = None if all(v.type.is_static for v in op.outputs) else OutputSizes(
            model, names_in(gp), {self.output_names[i]: kept[i] for i in self.present})

    def __call__(self, ctx: Any, *args: np.ndarray | None) -> tuple[Any, ...]:
        feeds = {}
        names = self.input_names + self.capture_names
        for name, arr in zip(names, args):
            feeds[name] = arr
        precheck = _PRECHECKS.get(self.op_type)
        if precheck is not None:
            precheck(self.node_name, self.op_type, args)
        if self.sizes is not None:
            self.sizes.check(self.node_name, self.op_type, [feeds.get(n) for n in self.sizes.input_names])
        with np.errstate(all="ignore"):
            got = self.evaluator.run(None, feeds)
        out: list[Any] = [None] * self.n_outputs
        budget = current_budget()
        for i, arr in zip(self.present, got):
            out[i] = arr if not np.isscalar(arr) else np.asarray(arr)
            if isinstance(out[i], np.ndarray) and out[i].nbytes > 1 << 20:
                budget.hold(out[i], out[i].nbytes)  # alive from here on, for the later checks of this run
        return tuple(out)


def _check_image_decoder(node: str, op_type: str, args: Sequence[Any]) -> None:
    """PlanError before decoding when the image's header promises more than the run's memory budget:
    the decoded pixels (up to 4 bytes each inside PIL) and the output (1 or 3 bytes each). A 236 KB
    PNG of 9000x9000 pixels peaked at 869 MB. A header PIL cannot read is left to the decoder."""
    import io

    try:
        from PIL import Image

        with Image.open(io.BytesIO(np.asarray(args[0], dtype=np.uint8).tobytes())) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - not an image PIL knows: onnx.reference reports it
        return
    need, budget = height * width * (4 + 3), current_budget().memory
    if need > budget:
        raise PlanError(f"{op_type} node {node!r}: decoding a {width}x{height} image needs about {need} bytes "
                        f"(the decoded pixels and the output), over the memory budget of {budget} bytes; raise "
                        "memory_budget (GRAPHC_MEMORY_BUDGET) or give a smaller image")


def _check_bernoulli(node: str, op_type: str, args: Sequence[Any]) -> None:
    """InputError when a probability is outside [0, 1] or NaN, the spec's domain (onnx.reference raised numpy's
    ``ValueError``; onnxruntime returns 1 for -0.5 and 0 for 1.5)."""
    p = args[0] if args else None
    if not isinstance(p, np.ndarray) or not p.size:
        return
    bad = ~((p >= 0) & (p <= 1))
    if bad.any():
        at = np.unravel_index(int(np.argmax(bad)), p.shape)
        raise InputError(f"{op_type} node {node!r}: probability {p[at]} at index {[int(i) for i in at]} is outside "
                         "[0, 1]; feed (or compute) probabilities in [0, 1]", node=node, op_type=op_type)


#: op type (default domain) -> a check of its runtime inputs before onnx.reference runs it (sizes the
#: plan could not know, and values outside the op's domain, found in the data)
_PRECHECKS: dict[str, Any] = {"ImageDecoder": _check_image_decoder, "Bernoulli": _check_bernoulli}


def names_in(graph: onnx.GraphProto) -> list[str]:
    """The names of ``graph``'s inputs, in order."""
    return [vi.name for vi in graph.input]
