"""Layer skeletons for the ops a target cannot run (what ``graphc scaffold`` writes).

For each unsupported (domain, op_type) the skeleton is a ``graphc.Layer`` subclass
registered with ``@graphc.register_layer``, whose

* declared ``Param``s are the op's attributes, typed and defaulted from the model;
* docstring lists, per node, the runtime inputs, blobs (constant inputs, with their
  slots) and outputs with the types shape inference found;
* ``output_shapes`` rebuilds each inferred output dimension from what explains it in
  every node (the same input dimension, an attribute, a blob element), falling back to
  the first input's shape, marked TODO, where nothing does;
* ``forward`` raises NotImplementedError with a TODO: the one method left to write.
"""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .base import Layer
from .slots import split_inputs
from .unsupported import UnsupportedOp

if TYPE_CHECKING:
    from ..ir import Op, Value

__all__ = ["scaffold_source", "layer_skeleton"]

_RESERVED = {name for name in dir(Layer) if not name.startswith("__")} | {"params", "blobs", "blob_slots"}


def scaffold_source(items: Sequence[UnsupportedOp], target_name: str, model_name: str, out_name: str) -> str:
    """A Python module with one layer skeleton per unsupported op type (merged across opsets)."""
    merged: dict[tuple[str, str], list[Op]] = {}
    for item in items:
        merged.setdefault((item.domain, item.op_type), []).extend(item.ops)
    class_names: set[str] = set()
    classes = []
    for (domain, op_type), ops in sorted(merged.items()):
        name = _class_name(op_type, domain, class_names)
        classes.append(layer_skeleton(name, domain, op_type, ops, out_name))
    header = f'''"""Custom layers for the ops target {target_name!r} cannot run in {model_name}.

Written by `graphc scaffold`. Fill in each forward() (and check output_shapes), then:

    graphc compile {model_name} --target {target_name} --layers {out_name} -o model.graphc

or in Python: graphc.compile(model, {target_name!r}, layers=graphc.layers.load_layer_modules([{out_name!r}])).
"""

from __future__ import annotations

import numpy as np

import graphc
from graphc import Param
'''
    return header + "".join("\n\n" + c for c in classes)


def _class_name(op_type: str, domain: str, taken: set[str]) -> str:
    base = "".join(c if c.isalnum() else "_" for c in op_type) or "Layer"
    if not base[0].isalpha():
        base = "Op" + base
    base = base[0].upper() + base[1:]
    name = base
    if name in taken or keyword.iskeyword(name) or name in ("Param", "Layer"):
        name = base + "".join(p.capitalize() for p in domain.replace(".", "_").split("_") if p) + "Layer"
    while name in taken:
        name += "_"
    taken.add(name)
    return name


# ----------------------------------------------------------------------- pieces
def _literal(value: Any) -> str | None:
    """Python source for an attribute value, or None when it has no short literal."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"float({str(value)!r})"
        short = float(str(np.float32(value)))  # ONNX floats are float32: print 0.1, not 0.10000000149011612
        return repr(short if np.float32(short) == np.float32(value) and float(np.float32(value)) == value else value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        parts = [_literal(v) for v in value]
        return None if any(p is None for p in parts) else "[" + ", ".join(parts) + "]"  # type: ignore[arg-type]
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= 64:
        return f"np.array({value.tolist()!r}, dtype=np.{value.dtype.name})"
    return None


def _param_type(values: list[Any]) -> str | None:
    kinds = set()
    for v in values:
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int")
        elif isinstance(v, float):
            kinds.add("float")
        elif isinstance(v, str):
            kinds.add("str")
        elif isinstance(v, (list, tuple)):
            kinds.add("list")
        elif isinstance(v, np.ndarray):
            kinds.add("np.ndarray")
        else:
            return None
    if kinds == {"int", "float"}:
        return "float"
    return kinds.pop() if len(kinds) == 1 else None


def _params_block(ops: list[Op]) -> list[str]:
    names: dict[str, list[Any]] = {}
    for op in ops:
        for k, v in op.attrs.items():
            names.setdefault(k, []).append(v)
    lines = []
    for name in sorted(names):
        values = names[name]
        typ = _param_type(values)
        if typ is None:
            lines.append(f"    # attribute {name!r} ({type(values[0]).__name__}) cannot be a layer parameter")
            continue
        if not name.isidentifier() or keyword.iskeyword(name) or name in _RESERVED:
            lines.append(f"    # attribute {name!r} cannot be declared here (not a usable Python name): rename it in the model")
            continue
        default = _literal(values[0])
        distinct = {repr(v) for v in values}
        note = f"  # values in the model: {', '.join(sorted(distinct))[:80]}" if len(distinct) > 1 else ""
        if default is None:
            lines.append(f"    {name} = Param({typ})  # required: too large for a default{note}")
        else:
            lines.append(f"    {name} = Param({typ}, default={default}){note}")
    return lines


def _type_text(v: Value | None) -> str:
    return "omitted" if v is None else f"{v.name!r}: {v.type}"


def _doc_block(domain: str, op_type: str, ops: list[Op]) -> list[str]:
    qual = f"{domain}::{op_type}" if domain else op_type
    lines = [f'    """{qual}, used by {len(ops)} node{"s" if len(ops) != 1 else ""} of the model.', ""]
    for op in ops[:4]:
        runtime, blobs, slots = split_inputs(op)
        lines.append(f"    Node {op.name!r} (opset {op.opset}):")
        for i, v in enumerate(runtime):
            lines.append(f"        inputs[{i}]  {_type_text(v)}")
        for i, (b, s) in enumerate(zip(blobs, slots)):
            shown = f" = {b.tolist()}" if b.size <= 8 else ""
            lines.append(f"        self.blobs[{i}]  input slot {s}: {b.dtype.name}{list(b.shape)}{shown}")
        for i, v in enumerate(op.outputs):
            lines.append(f"        outputs[{i}] {_type_text(v)}")
    if len(ops) > 4:
        lines.append(f"    ... and {len(ops) - 4} more nodes.")
    lines.append('    """')
    return lines


@dataclass
class _DimRule:
    source: str
    exact: bool  # the same input dimension: a pass-through


def _dim_rule(d: int, ops_shapes: list[tuple[list[Any], tuple[int, ...]]], ops: list[Op], attr_names: set[str],
              blob_lists: list[list[np.ndarray]]) -> _DimRule | None:
    """What explains output dimension ``d`` in every node, or None."""
    outs = [o[d] for _, o in ops_shapes]

    def all_nodes(get) -> bool:
        try:
            return all(get(i) == outs[i] for i in range(len(ops)))
        except (IndexError, TypeError, KeyError):
            return False

    n_in = min(len(ins) for ins, _ in ops_shapes)
    if n_in and all_nodes(lambda i: ops_shapes[i][0][0][d]):
        return _DimRule(f"input_shapes[0][{d}]", True)
    for name in sorted(attr_names):
        if all(isinstance(op.attrs.get(name), int) and not isinstance(op.attrs.get(name), bool) for op in ops) \
                and all_nodes(lambda i: ops[i].attrs[name]):
            return _DimRule(f"self.{name}", False)
    n_blobs = min(len(b) for b in blob_lists)
    for b in range(n_blobs):
        if all(blob_lists[i][b].ndim == 1 and blob_lists[i][b].dtype.kind in "iu" for i in range(len(ops))):
            for e in range(min(blob_lists[i][b].size for i in range(len(ops)))):
                if all_nodes(lambda i: int(blob_lists[i][b][e])):
                    return _DimRule(f"int(self.blobs[{b}][{e}])", False)
    for k in range(n_in):
        rank = min(len(ins[k]) for ins, _ in ops_shapes)
        for j in range(rank):
            if all_nodes(lambda i: ops_shapes[i][0][k][j]):
                return _DimRule(f"input_shapes[{k}][{j}]", False)
    return None


def _output_shapes_block(ops: list[Op], attr_names: set[str]) -> list[str]:
    n_out = max(len(op.outputs) for op in ops)
    lines = ["    def output_shapes(self, input_shapes):"]
    exprs = []
    notes = []
    runtime_all = [split_inputs(op)[0] for op in ops]
    blob_lists = [split_inputs(op)[1] for op in ops]
    static_inputs = all(v is not None and v.type.is_static for rt in runtime_all for v in rt)
    for o in range(n_out):
        outs = [op.outputs[o].type if o < len(op.outputs) else None for op in ops]
        out_shapes = [t.static_shape for t in outs if t is not None and t.is_static]
        if not static_inputs or len(out_shapes) != len(outs) or len({len(s) for s in out_shapes}) != 1:
            exprs.append("tuple(input_shapes[0])" if runtime_all[0] else "()")
            notes.append(f"        # TODO: output {o}: shape inference did not find its shape; the first input's "
                         "shape is assumed")
            continue
        ops_shapes = [([v.type.static_shape for v in rt if v is not None], s) for rt, s in zip(runtime_all, out_shapes)]
        rules = [_dim_rule(d, ops_shapes, ops, attr_names, blob_lists) for d in range(len(ops_shapes[0][1]))]
        if rules and all(r is not None and r.exact for r in rules) and len(rules) == len(ops_shapes[0][0][0]):
            exprs.append("tuple(input_shapes[0])")
            continue
        parts = []
        for d, r in enumerate(rules):
            if r is None:
                parts.append(str(ops_shapes[0][1][d]))
                notes.append(f"        # TODO: output {o} dim {d} is {ops_shapes[0][1][d]} in the model; "
                             "nothing the layer sees explains it, so it is a constant here")
            else:
                parts.append(r.source)
        exprs.append("(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")")
    for op in ops[:2]:
        rt = split_inputs(op)[0]
        lines.append(f"        # node {op.name!r}: {[str(v.type) if v is not None else None for v in rt]} -> "
                     f"{[str(v.type) for v in op.outputs]}")
    lines += notes
    lines.append(f"        return [{', '.join(exprs)}]")
    return lines


def _dtypes_block(ops: list[Op]) -> list[str]:
    op = ops[0]
    rt = split_inputs(op)[0]
    first = rt[0].type.dtype if rt and rt[0] is not None else None
    outs = [v.type.dtype for v in op.outputs]
    if all(d is not None for d in outs) and (first is None or any(d != first for d in outs)):
        names = ", ".join(f"np.dtype({np.dtype(d).name!r})" for d in outs)
        return ["", "    def output_dtypes(self, input_dtypes):", f"        return [{names}]"]
    return []


def layer_skeleton(class_name: str, domain: str, op_type: str, ops: list[Op], out_name: str) -> str:
    """Source of one registered Layer subclass for the ops ``ops`` (same domain and op type)."""
    qual = f"{domain}::{op_type}" if domain else op_type
    reg_args = repr(op_type) + (f", domain={domain!r}" if domain else "")
    lines = [f"@graphc.register_layer({reg_args})", f"class {class_name}(graphc.Layer):"]
    lines += _doc_block(domain, op_type, ops)
    lines.append("")
    params = _params_block(ops)
    if params:
        lines += params + [""]
    n_out = max(len(op.outputs) for op in ops)
    if n_out != 1:
        lines += [f"    num_outputs = {n_out}", ""]
    attr_names = {k for op in ops for k in op.attrs if k.isidentifier() and k not in _RESERVED}
    lines += _output_shapes_block(ops, attr_names)
    lines += _dtypes_block(ops)
    lines += [
        "",
        "    def forward(self, inputs, outputs, internals):",
        "        # TODO: compute the outputs from inputs (runtime arrays), self.blobs and the parameters;",
        "        # write into outputs[i][...] (planned buffers) or return a list of arrays.",
        f"        raise NotImplementedError({f'{qual}: fill in forward() in {out_name}'!r})",
    ]
    return "\n".join(lines) + "\n"
