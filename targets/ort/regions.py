"""onnxruntime regions of a partitioned artifact: each one's model, cut from the lowered model, and
its session, run with tensors bound in place.

A region's model is the lowered model's top-level nodes the schedule names, the
initializers they read (a constant read by several regions is copied into each), every
model-local function, the model's opsets, and as inputs and outputs the boundary values
with the types the schedule records. It is a pure function of ``model.onnx`` and the
schedule, so a bundle stores the weights once and the regions are cut again at load.

:class:`OnnxRegion` runs one region. When every boundary tensor has a plain numeric (or
bool) type and no Python op is nested in the region's control flow, a run binds the
inputs where they are (``bind_cpu_input``: onnxruntime reads the caller's memory) and
the statically shaped outputs to fresh numpy buffers the caller then owns
(``bind_output`` with the buffer's address); outputs whose shape is known only at run
time are left for onnxruntime to allocate. Such a region's session lets its idle threads sleep
(``session.intra_op.allow_spinning`` 0), so regions and Python stages taking turns do not
fight over the cores. Otherwise (strings, sequences, bfloat16/float8/int4 values, Python
ops inside If/Loop/Scan bodies, a Loop, whose iterations the single-model session bounds)
the region runs through :class:`~targets.ort.artifact.OrtArtifact`, which handles all of those.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import onnx
from onnx import helper

from graphc.errors import GraphcError

from .protos import graphs_of, graphs_of_node

__all__ = ["region_model", "OnnxRegion", "boundary_record", "PLAIN_DTYPES"]

#: element types IOBinding hands over as numpy memory without conversion
PLAIN_DTYPES = frozenset({"float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16",
                          "uint32", "uint64", "bool"})


def boundary_record(name: str, type_proto: onnx.TypeProto, dtype: str | None, shape: list | None,
                    nbytes: int | None) -> dict[str, Any]:
    """A boundary value as the manifest's schedule records it."""
    return {"name": name, "dtype": dtype, "shape": shape, "bytes": nbytes,
            "type": base64.b64encode(type_proto.SerializeToString()).decode("ascii")}


def _value_info(record: dict[str, Any]) -> onnx.ValueInfoProto:
    return helper.make_value_info(record["name"], onnx.TypeProto.FromString(base64.b64decode(record["type"])))


def region_model(model: onnx.ModelProto, stage: dict[str, Any]) -> onnx.ModelProto:
    """The model of the onnxruntime stage ``stage`` (a schedule record), cut from ``model``."""
    wanted = set(stage["nodes"])
    nodes = [n for n in model.graph.node if n.name in wanted]
    missing = wanted - {n.name for n in nodes}
    if missing:
        raise GraphcError(f"region {stage['stage']}: the model has no top-level node(s) {sorted(missing)}; "
                          "the bundle's schedule does not match its model.onnx")
    read: set[str] = set()
    for n in nodes:
        read.update(n.input)
        for sub in graphs_of_node(n):
            for g in graphs_of(sub):
                read.update(i for inner in g.node for i in inner.input)
    inits = [t for t in model.graph.initializer if t.name in read]
    graph = helper.make_graph(nodes, f"{model.graph.name}_region{stage['stage']}",
                              [_value_info(r) for r in stage["inputs"]], [_value_info(r) for r in stage["outputs"]],
                              initializer=inits)
    out = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    out.functions.extend(model.functions)
    return out


class OnnxRegion:
    """One region's session; ``run(arrays)`` takes its inputs in schedule order, returns its outputs."""

    def __init__(self, stage: dict[str, Any], model: onnx.ModelProto, nested: list[dict[str, Any]],
                 classes: dict[str, type], sources: dict[str, bytes]):
        from .artifact import OrtArtifact

        self.index = int(stage["stage"])
        self.model = model
        self.input_names = [r["name"] for r in stage["inputs"]]
        self.output_names = [r["name"] for r in stage["outputs"]]
        records = list(stage["inputs"]) + list(stage["outputs"])
        loops = any(n.op_type == "Loop" for g in graphs_of(model.graph) for n in g.node)
        # a Loop runs through OrtArtifact, which bounds its iterations as single mode does
        self.bound = not nested and not loops and all(r.get("dtype") in PLAIN_DTYPES for r in records)
        self.session = _session(model) if self.bound else None
        self.artifact = None if self.bound else OrtArtifact(model, {"custom_ops": nested}, classes, sources)
        #: per output: (dtype, shape) to pre-bind, or None when only the run knows the shape
        self._outs = [(np.dtype(r["dtype"]), tuple(r["shape"]))
                      if r.get("dtype") in PLAIN_DTYPES and _static(r.get("shape")) else None
                      for r in stage["outputs"]]

    @property
    def prebound(self) -> list[str]:
        """Outputs a run binds to a buffer it allocates before onnxruntime starts (static shape, bound run)."""
        return [n for n, spec in zip(self.output_names, self._outs) if spec is not None] if self.bound else []

    def run(self, arrays: list[Any]) -> list[Any]:
        """Run the region on ``arrays`` (its inputs, in order); return its outputs, in order."""
        try:
            if self.bound:
                return self._run_bound(arrays)
        except GraphcError:
            raise
        except Exception as e:  # noqa: BLE001 - onnxruntime's own exception types
            raise GraphcError(f"onnxruntime failed to run region {self.index}: {str(e).strip()[:500]}") from e
        assert self.artifact is not None
        got = self.artifact.run(dict(zip(self.input_names, arrays)))
        return [got[n] for n in self.output_names]

    def _run_bound(self, arrays: list[Any]) -> list[Any]:
        session = self.session
        assert session is not None  # a bound region has its session
        binding = session.io_binding()  # one per run: a binding holds one run's buffers
        for name, a in zip(self.input_names, arrays):
            binding.bind_cpu_input(name, a if a.flags.c_contiguous else np.ascontiguousarray(a))
        outs: list[np.ndarray | None] = []
        for name, spec in zip(self.output_names, self._outs):
            if spec is None:
                binding.bind_output(name, "cpu")
                outs.append(None)
                continue
            buf = np.empty(spec[1], spec[0])
            binding.bind_output(name, "cpu", 0, spec[0].type, list(spec[1]), buf.ctypes.data)
            outs.append(buf)
        session.run_with_iobinding(binding)
        if any(o is None for o in outs):
            produced = binding.get_outputs()
            outs = [o if o is not None else produced[i].numpy() for i, o in enumerate(outs)]
        return outs


def _session(model: onnx.ModelProto) -> Any:
    """A session for a region without Python ops. Its intra-op threads sleep when idle instead of
    spinning: several regions take turns with Python stages, and a region's spinning threads would
    take the cores the next stage needs (squeezenet with one layer: 28 ms spinning, 9 ms not)."""
    import onnxruntime as ort

    from .artifact import SessionRefused

    so = ort.SessionOptions()
    so.log_severity_level = 4  # a refusal or run failure becomes our exception, not a log line
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime's own exception types
        raise SessionRefused(str(e).strip()) from e


def _static(shape: Any) -> bool:
    return shape is not None and all(isinstance(d, int) for d in shape)
