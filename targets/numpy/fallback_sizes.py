"""What an onnx.reference fallback node will produce, checked against the run's memory budget first.

The evaluator allocates its outputs itself, outside :meth:`OpContext.out`. Before it runs,
:mod:`graphc.predicted_sizes` predicts each output of the node's one-node model from the run's
inputs; an output whose size is then known and over the budget, alone or with the values of
run-time size still alive, is a PlanError naming the node before anything is evaluated. Outputs
shape inference cannot size are left to the evaluator.
"""

from __future__ import annotations

from typing import Any, Sequence

import onnx

from graphc.predicted_sizes import SizeCache

__all__ = ["OutputSizes"]

#: outputs up to this many bytes are not checked (as :meth:`OpContext.out`)
_CHECKED = 1 << 20


class OutputSizes:
    """Predicts (and checks) the outputs of one fallback node's model from its runtime inputs."""

    def __init__(self, model: onnx.ModelProto, input_names: Sequence[str], output_names: dict[str, str]) -> None:
        self.input_names = list(input_names)
        #: the model's output name -> the graph value it stands for (named in errors)
        self.output_names = dict(output_names)
        self._cache = SizeCache(model)

    def check(self, node: str, op_type: str, args: Sequence[Any]) -> None:
        """PlanError when a predicted output is over the run's memory budget (with the live values)."""
        from graphc.limits import current_budget

        sizes = self._cache.sizes({n: a for n, a in zip(self.input_names, args) if a is not None})
        for name, real in self.output_names.items():
            shape, nbytes = sizes.get(name, ((), 0))
            if nbytes > _CHECKED:
                current_budget().check_allocation(node, op_type, shape, nbytes, what=f"output {real!r} "
                                                  "(predicted before the onnx.reference fallback runs)")
