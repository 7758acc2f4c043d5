"""graphc: a graph-rewriting compiler for neural-network models.

>>> import graphc
>>> art = graphc.compile("model.onnx", target="numpy")      # doctest: +SKIP
>>> outputs = art.run({"input": x})                          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    GraphcError, InputError, LayerError, ModelFormatError, PassError, PlanError,
    ShapeInferenceError, UnsupportedOpError, VerifyError,
)

if TYPE_CHECKING:  # the names below are imported on first use (see __getattr__)
    from .compiler import compile, load  # noqa: A004
    from .diff import GraphDiff
    from .ir import Graph, ModelInfo, Op, TensorType, Value
    from .layers import Layer, LayerRegistry, Param, register_layer
    from .model_io import load_model, save_model
    from .passinfra import PassContext, PassManager, PassResult, graph_pass
    from .target import Artifact, Target

#: public name -> the submodule defining it. Imported on first use, so that `graphc --help`
#: and `import graphc.errors` do not pay for onnx, networkx and the rest (issue 16 item 10).
_LAZY = {
    "Graph": "ir", "ModelInfo": "ir", "Op": "ir", "TensorType": "ir", "Value": "ir",
    "load_model": "model_io", "save_model": "model_io",
    "PassContext": "passinfra", "PassManager": "passinfra", "PassResult": "passinfra", "graph_pass": "passinfra",
    "Layer": "layers", "LayerRegistry": "layers", "Param": "layers", "register_layer": "layers",
    "Artifact": "target", "Target": "target",
    "compile": "compiler", "load": "compiler",
    "GraphDiff": "diff",
}


def __getattr__(name: str) -> Any:
    """The public names of ``_LAZY`` and the submodules (``graphc.layers``), imported on first use."""
    module = _LAZY.get(name)
    if module is None:
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "Graph", "Op", "Value", "TensorType", "ModelInfo",
    "compile", "load", "load_model", "save_model", "Target", "Artifact",
    "Layer", "LayerRegistry", "Param", "register_layer",
    "PassManager", "PassContext", "PassResult", "graph_pass", "GraphDiff",
    "GraphcError", "ModelFormatError", "UnsupportedOpError", "ShapeInferenceError",
    "LayerError", "PlanError", "InputError", "PassError", "VerifyError",
    "__version__",
]
