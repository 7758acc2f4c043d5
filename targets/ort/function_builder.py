"""FunctionBuilder: what ``Layer.to_onnx(builder)`` writes its ONNX decomposition with.

The ort target turns the returned nodes into a model-local ``FunctionProto`` (one per
custom-layer node) and calls it from the graph, so onnxruntime runs the layer with no
Python in the loop. The function's formal inputs are the layer's runtime inputs then
its blobs (fed from initializers); constants the layer adds with :meth:`const` become
``Constant`` nodes inside the body.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["FunctionBuilder", "FUNCTION_DOMAIN"]

#: domain of the model-local functions the ort target writes
FUNCTION_DOMAIN = "graphc.layers"


class FunctionBuilder:
    """Collects standard ONNX nodes for one layer; see :meth:`graphc.Layer.to_onnx`."""

    def __init__(self, inputs: Sequence[str], blobs: Sequence[str], opset: int):
        #: names of the runtime inputs, in the order ``forward`` receives them
        self.inputs = list(inputs)
        #: names of the blobs, in blob order
        self.blobs = list(blobs)
        #: the ai.onnx opset the body is checked against
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self._seq = 0

    def _fresh(self, hint: str) -> str:
        self._seq += 1
        return f"{hint}_{self._seq}"

    def op(self, op_type: str, *inputs: str | None, outputs: int = 1, domain: str = "", **attrs: Any) -> Any:
        """Add ``op_type(inputs, **attrs)``; return its output name (or a list when ``outputs > 1``).

        Pass ``""`` or None for an omitted optional input.
        """
        names = [self._fresh(op_type.lower()) for _ in range(outputs)]
        node = helper.make_node(op_type, ["" if i is None else i for i in inputs], names, domain=domain or None,
                                **{k: v for k, v in attrs.items() if v is not None})
        self.nodes.append(node)
        return names[0] if outputs == 1 else names

    def const(self, array: Any, dtype: Any = None) -> str:
        """A ``Constant`` node holding ``array``; returns its output name."""
        arr = np.asarray(array, dtype=dtype)
        name = self._fresh("const")
        self.nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name)))
        return name

    def function(self, name: str, outputs: Sequence[str], attributes: Sequence[str] = ()) -> onnx.FunctionProto:
        """The collected nodes as ``FUNCTION_DOMAIN::name(inputs..., blobs...) -> outputs``."""
        formal_out = list(outputs)
        nodes = list(self.nodes)
        # a function output must be produced by a node of the body: route pass-through names
        produced = {o for n in nodes for o in n.output}
        final = []
        for i, out in enumerate(formal_out):
            if out not in produced or formal_out.index(out) != i:
                alias = self._fresh("out")
                nodes.append(helper.make_node("Identity", [out], [alias]))
                out = alias
            final.append(out)
        return helper.make_function(
            FUNCTION_DOMAIN, name, self.inputs + self.blobs, final, nodes,
            [helper.make_opsetid("", self.opset)], attributes=list(attributes))
