"""The light model-zoo models shipped inside the onnx wheel, by short name, and the same models
with seeded random weights (their shipped weights are ConstantOfShape fills, so their outputs hardly
depend on the input): the models the benchmarks in tools/ and the tests run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .errors import GraphcError

__all__ = ["example_names", "example_path", "randomized_light_model", "foldable_randomized_light_model",
           "random_weight", "insert_after_first"]


def _light_dir() -> Path:
    return Path(onnx.__file__).resolve().parent / "backend" / "test" / "data" / "light"


def example_names() -> list[str]:
    """Short names (``resnet50``, ``squeezenet``, ...) of the shipped light models."""
    return sorted(p.stem.removeprefix("light_") for p in _light_dir().glob("light_*.onnx") if not p.stem.endswith("_output_0"))


def example_path(name: str) -> Path:
    """Path of the light model ``name`` (``light_`` prefix optional)."""
    path = _light_dir() / f"light_{name.removeprefix('light_')}.onnx"
    if not path.is_file():
        raise GraphcError(f"no example model {name!r}; choose one of: {', '.join(example_names())}")
    return path


def random_weight(shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    """LeCun-scaled normal values for rank >= 2 (fan-in = product of the trailing dims), values in
    [0.5, 1.5) for vectors (biases, and batch-norm scales/variances, which must stay positive)."""
    if len(shape) >= 2:
        fan_in = max(1, math.prod(shape[1:]))
        data = rng.standard_normal(shape, dtype=np.float32)
        data *= np.float32(math.sqrt(1.0 / fan_in))
    else:
        data = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    return data.astype(dtype, copy=False)


def _weight_generators(model: onnx.ModelProto) -> Iterator[tuple[onnx.NodeProto, tuple[int, ...], np.ndarray]]:
    """(node, shape, fill value) of every ConstantOfShape whose shape is an initializer."""
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input and node.input[0] in consts:
            shape = tuple(int(d) for d in consts[node.input[0]].reshape(-1))
            value = next((numpy_helper.to_array(a.t) for a in node.attribute if a.name == "value"), np.zeros(1, np.float32))
            yield node, shape, value


def _add_initializer(model: onnx.ModelProto, name: str, data: np.ndarray) -> None:
    model.graph.initializer.append(numpy_helper.from_array(data, name))
    if model.ir_version < 4:  # initializers must also be graph inputs
        model.graph.input.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(data.dtype), data.shape))


def randomized_light_model(name: str, seed: int = 0) -> onnx.ModelProto:
    """The light model ``name`` with every ConstantOfShape (constant shape) replaced by a seeded random initializer."""
    model = onnx.load(example_path(name))
    rng = np.random.default_rng(seed)
    replaced = set()
    for node, shape, value in list(_weight_generators(model)):
        _add_initializer(model, node.output[0], random_weight(shape, value.dtype, rng))
        replaced.add(node.output[0])
    kept = [n for n in model.graph.node if not (n.op_type == "ConstantOfShape" and n.output[0] in replaced)]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def foldable_randomized_light_model(name: str, seed: int = 0) -> onnx.ModelProto:
    """The light model ``name`` whose weights stay computed but depend on seeded data:
    every ConstantOfShape output ``w`` becomes ``Mul(ConstantOfShape(shape), R)`` with a
    random initializer ``R``, so constant folding must fold both ops and a wrongly folded
    weight changes the outputs (the raw light models' outputs hardly depend on theirs)."""
    model = onnx.load(example_path(name))
    rng = np.random.default_rng(seed)
    muls = {}
    for node, shape, value in list(_weight_generators(model)):
        out = node.output[0]
        node.output[0] = f"{out}__filled"
        node.ClearField("attribute")  # fill with ones: the weight is exactly the random factor
        node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(np.ones(1, value.dtype))))
        _add_initializer(model, f"{out}__random", random_weight(shape, value.dtype, rng))
        muls[node.output[0]] = helper.make_node("Mul", [node.output[0], f"{out}__random"], [out])
    nodes = []
    for node in model.graph.node:
        nodes.append(node)
        if node.output and node.output[0] in muls:
            nodes.append(muls[node.output[0]])
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def insert_after_first(model: onnx.ModelProto, after: str, op_type: str, *, name: str, output: str,
                       domain: str = "", **attrs: Any) -> onnx.ModelProto:
    """``model`` with a one-input node ``domain::op_type`` (``name``, writing ``output``, attributes
    ``attrs``) placed after the first ``after`` node: it reads that node's first output, and every later
    reader of that output reads ``output`` instead; ``domain`` is imported at version 1 if the model does
    not import it. Changes ``model`` in place and returns it."""
    nodes = list(model.graph.node)
    at = next((i for i, n in enumerate(nodes) if n.op_type == after), None)
    if at is None:
        raise GraphcError(f"insert_after_first: the model has no {after} node")
    source = nodes[at].output[0]
    for later in nodes[at + 1:]:
        for k, read in enumerate(later.input):
            if read == source:
                later.input[k] = output
    nodes.insert(at + 1, helper.make_node(op_type, [source], [output], name=name, domain=domain, **attrs))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if domain and all(o.domain != domain for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(domain, 1))
    return model
