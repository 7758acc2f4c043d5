"""graphc: a graph-rewriting compiler for neural-network models.

>>> import graphc
>>> art = graphc.compile("model.onnx", target="numpy")      # doctest: +SKIP
>>> outputs = art.run({"input": x})                          # doctest: +SKIP
"""

from __future__ import annotations

from .errors import (
    GraphcError, InputError, LayerError, ModelFormatError, PassError, PlanError,
    ShapeInferenceError, UnsupportedOpError, VerifyError,
)
from .ir import Graph, ModelInfo, Op, TensorType, Value
from .model_io import load_model, save_model
from .passinfra import PassContext, PassManager, PassResult, graph_pass
from .layers import Layer, LayerRegistry, Param, register_layer
from .target import Artifact, Target
from .compiler import compile, load  # noqa: A004
from .diff import GraphDiff

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
