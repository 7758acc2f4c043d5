"""The function a node run by Python computes, rebuilt from its manifest entry.

One definition serves both ways the ort target runs such a node: as an
onnxruntime-extensions Python op inside a session (:mod:`targets.ort.artifact`), and
in-process between onnxruntime regions (:mod:`targets.ort.partitioned`). A custom layer
runs through the numpy target's :class:`~graphc.layers.runtime.LayerRunner` (its
shape/dtype promises checked), a standard op through graphc's numpy kernel or
``onnx.reference`` (:func:`targets.ort.kernel_ops.kernel_call`).
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Sequence

import numpy as np
import onnx
from onnx import numpy_helper

from graphc.errors import LayerError
from graphc.layers.serialize import decode_params

from .kernel_ops import KernelNode, kernel_call
from .lowering import PYTHON_OP
from .protos import graphs_of
from .pyops import PyOpSpec, dtype_from_name

__all__ = ["node_spec", "node_label"]


def node_label(entry: dict[str, Any]) -> str:
    """``caffe::Interp via layer my_layers:Interp`` / ``Foo via graphc's numpy-kernel`` (for messages)."""
    src = entry["source"]
    label = f"{src['domain'] + '::' if src['domain'] else ''}{src['op_type']}"
    if entry["lowering"] == PYTHON_OP:
        return f"{label} via layer {entry['layer']}"
    return f"{label} via graphc's {entry['lowering']}"


def node_spec(entry: dict[str, Any], model: onnx.ModelProto, inits: dict[str, onnx.TensorProto],
              classes: dict[str, type]) -> PyOpSpec:
    """The :class:`PyOpSpec` of the node ``entry`` describes: declared dtypes and shapes, and a call
    taking the node's inputs in the lowered node's input order (blobs included) -> its outputs.

    ``model`` holds the node (at any depth), ``inits`` the initializers its blobs are, ``classes``
    the layer classes by import path.
    """
    slots = entry["slots"]
    node_slots: list[int] = slots["node_slots"]
    n_out = len(entry["output_dtypes"])
    src = entry["source"]
    label = node_label(entry)
    call: Callable[[list[np.ndarray]], Sequence[np.ndarray]]
    if entry["lowering"] == PYTHON_OP:
        call = _layer_call(entry, model, inits, classes, label)
    else:
        attrs = decode_params(entry["params"])
        attrs.update({name: onnx.GraphProto.FromString(base64.b64decode(data))
                      for name, data in entry.get("subgraphs", {}).items()})
        node = KernelNode(entry["node"], src["op_type"], src["domain"], src["opset"], attrs,
                          {k: int(v) for k, v in entry.get("attr_kinds", {}).items()}, n_out)
        fn = kernel_call(node, entry["lowering"])
        width = slots["n_slots"]

        def call(arrays: list[np.ndarray], fn=fn, width=width) -> Sequence[np.ndarray]:
            by_slot = dict(zip(node_slots, arrays))
            return [as_declared(r) for r in fn([by_slot.get(s) for s in range(width)])]

    return PyOpSpec(entry["node"], label, [dtype_from_name(d) for d in entry["input_dtypes"]],
                    [dtype_from_name(d) for d in entry["output_dtypes"]],
                    [tuple(s) if s is not None else None for s in entry["output_shapes"]], call)


def _layer_call(entry: dict[str, Any], model: onnx.ModelProto, inits: dict[str, onnx.TensorProto],
                classes: dict[str, type], label: str) -> Callable[[list[np.ndarray]], Sequence[np.ndarray]]:
    from graphc.layers.runtime import LayerRunner

    cls = classes[entry["layer"]]
    slots = entry["slots"]
    node = next(n for g in graphs_of(model.graph) for n in g.node if n.name == entry["node"])
    by_slot_name = dict(zip(slots["node_slots"], node.input))
    blobs = []
    for s in slots["blob_slots"]:
        name = by_slot_name.get(s)
        if name not in inits:
            raise LayerError(f"node {entry['node']!r}: blob for input slot {s} ({name!r}) is not an "
                             "initializer of the model; the bundle is damaged")
        blobs.append(numpy_helper.to_array(inits[name]))
    runner = LayerRunner(entry["node"], label, cls, decode_params(entry["params"]), blobs, slots["blob_slots"],
                         num_outputs=len(entry["output_dtypes"]))
    node_slots, runtime_slots = slots["node_slots"], slots["runtime_slots"]

    def call(arrays: list[np.ndarray]) -> Sequence[np.ndarray]:
        by_slot = dict(zip(node_slots, arrays))
        return runner(None, *[by_slot.get(s) for s in runtime_slots])

    return call


def as_declared(result: Any) -> Any:
    """A kernel's result as ONNX declares it: strings are object arrays (onnx.reference
    returns fixed-width ``str`` arrays), scalars are 0-d arrays."""
    arr = np.asarray(result)
    return arr.astype(object) if arr.dtype.kind in "SU" else arr
