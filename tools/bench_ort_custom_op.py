#!/usr/bin/env python3
"""Cost of one op on the ort target four ways: built-in, decomposed (a model-local function), Python custom op
inside onnxruntime (``mode="single"``), and the same layer run in-process between regions (``mode="partitioned"``).

The work is the same in all four: y = Relu(x) * 2 on a float32 tensor. The built-in
form is two ONNX nodes; the decomposed form is a graphc layer whose ``to_onnx`` emits
those nodes into a FunctionProto; the Python form is the same layer run by
onnxruntime-extensions; the partitioned form runs the layer's ``forward`` directly (the
model is that one layer, so no session at all). Prints medians of ``--repeat`` runs per
size, the ratios to built-in, and the partitioned form's absolute overhead over built-in.

Usage: python tools/bench_ort_custom_op.py [--sizes 1000,100000,1000000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import helper  # noqa: E402

import graphc  # noqa: E402
from graphc.layers import LayerRegistry, Param  # noqa: E402


class ScaledRelu(graphc.Layer):
    """y = max(x, 0) * factor."""

    factor = Param(float, default=2.0)

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        np.maximum(inputs[0], 0, out=outputs[0])
        outputs[0] *= np.float32(self.factor)


class ScaledReluDecomposed(ScaledRelu):
    def to_onnx(self, g):
        return [g.op("Mul", g.op("Relu", g.inputs[0]), g.const(np.float32(self.factor)))]


def _model(n: int, custom: bool) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [n])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [n])
    if custom:
        nodes = [helper.make_node("ScaledRelu", ["x"], ["y"], domain="bench", name="op", factor=2.0)]
        inits = []
    else:
        nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Mul", ["r", "two"], ["y"], name="mul")]
        inits = [onnx.numpy_helper.from_array(np.array(2.0, np.float32), "two")]
    graph = helper.make_graph(nodes, "bench", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("bench", 1)])


def _median_ms(art, feeds, repeat: int) -> float:
    art.run(feeds)  # warm up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        art.run(feeds)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args(argv)
    print(f"{'elements':>10} {'built-in ms':>12} {'function ms':>12} {'python-op ms':>13} {'partitioned ms':>15} "
          f"{'fn/built-in':>12} {'py/built-in':>12} {'part/built-in':>14} {'part-built-in ms':>17}")
    for n in (int(s) for s in args.sizes.split(",")):
        feeds = {"x": np.random.default_rng(0).standard_normal(n).astype(np.float32)}
        arts = {"builtin": graphc.compile(_model(n, False), "ort")}
        for kind, cls, mode in (("function", ScaledReluDecomposed, "single"), ("python", ScaledRelu, "single"),
                                ("partitioned", ScaledRelu, "partitioned")):
            reg = LayerRegistry()
            reg.register("ScaledRelu", domain="bench")(cls)
            arts[kind] = graphc.compile(_model(n, True), "ort", layers=reg, mode=mode)
        want = arts["builtin"].run(feeds)["y"]
        for a in arts.values():
            np.testing.assert_allclose(a.run(feeds)["y"], want, rtol=1e-6)
        ms = {k: _median_ms(a, feeds, args.repeat) for k, a in arts.items()}
        print(f"{n:>10} {ms['builtin']:>12.4f} {ms['function']:>12.4f} {ms['python']:>13.4f} {ms['partitioned']:>15.4f} "
              f"{ms['function'] / ms['builtin']:>12.2f} {ms['python'] / ms['builtin']:>12.1f} "
              f"{ms['partitioned'] / ms['builtin']:>14.2f} {ms['partitioned'] - ms['builtin']:>17.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
