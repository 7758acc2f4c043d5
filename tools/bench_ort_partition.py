#!/usr/bin/env python3
"""A conv net with one Python layer on the ort target: partitioned vs single-model mode vs its parts.

The light squeezenet (seeded random weights, ``graphc.examples.randomized_light_model``) with an
``acme::Scale`` layer (y = 1.5 x, no ``to_onnx``, defined here) after its first Relu (1x64x111x111,
3 MiB). Measures, interleaved round by round so machine
noise hits all alike, the median latency of:

* ``partitioned``: the ort target's default mode (region, the layer in-process, region);
* ``no-layer``: the ort target on the same model without the layer (one session);
* ``layer``: the layer alone (its ``LayerRunner`` on the boundary tensor);
* ``numpy``: the numpy target on the model with the layer;
* ``single`` (with ``--single``): the layer as an onnxruntime-extensions op inside one model.

Prints the medians and the two ratios the issue sets targets for: partitioned / (no-layer +
layer) (target <= 1.2) and partitioned / numpy (target < 1).

Usage: python tools/bench_ort_partition.py [--repeat 30] [--single]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import numpy as np  # noqa: E402
import onnx  # noqa: E402

import graphc  # noqa: E402
from graphc.examples import insert_after_first, randomized_light_model  # noqa: E402
from graphc.layers import LayerRegistry  # noqa: E402
from graphc.layers.runtime import LayerRunner  # noqa: E402


class Scale(graphc.Layer):
    """y = x * factor (any shape, the input's dtype)."""

    factor = graphc.Param(float, default=2.0)

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        np.multiply(inputs[0], inputs[0].dtype.type(self.factor), out=outputs[0])


def squeezenet(with_layer: bool, factor: float = 1.5) -> onnx.ModelProto:
    """The seeded light squeezenet, with an ``acme::Scale`` node after its first Relu when ``with_layer``."""
    model = randomized_light_model("squeezenet", seed=0)
    keep = [i for i in model.graph.input if i.name == "data_0"]  # the weights are initializers, not inputs
    del model.graph.input[:]
    model.graph.input.extend(keep)
    model.ir_version = 9
    if not with_layer:
        return model
    return insert_after_first(model, "Relu", "Scale", name="user_layer", output="layer_out", domain="acme",
                              factor=factor)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--single", action="store_true", help="also time mode='single' (about 0.5 s a run)")
    args = ap.parse_args(argv)
    layers = LayerRegistry()
    layers.register("Scale", domain="acme")(Scale)
    model = squeezenet(with_layer=True, factor=1.5)
    feeds = {"data_0": np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)}
    boundary = np.maximum(np.random.default_rng(1).standard_normal((1, 64, 111, 111)), 0).astype(np.float32)
    runner = LayerRunner("user_layer", "acme::Scale", layers.lookup("acme", "Scale", 1).cls, {"factor": 1.5})
    part = graphc.compile(model, "ort", layers=layers)
    runs = {
        "partitioned": lambda: part.run(feeds),
        "no-layer": (lambda a: lambda: a.run(feeds))(graphc.compile(squeezenet(with_layer=False), "ort")),
        "layer": lambda: runner(None, boundary),
        "numpy": (lambda a: lambda: a.run(feeds))(graphc.compile(model, "numpy", layers=layers)),
    }
    if args.single:
        single = graphc.compile(model, "ort", layers=layers, mode="single")
        np.testing.assert_allclose(single.run(feeds)["softmaxout_1"], part.run(feeds)["softmaxout_1"], rtol=1e-4)
        runs["single"] = lambda: single.run(feeds)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():
        fn()  # warm up
    for i in range(args.repeat):
        for name, fn in runs.items():
            if name == "single" and i >= 5:
                continue
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(" ".join(f"{k} {v:.3f} ms" for k, v in ms.items()))
    print(f"partitioned / (no-layer + layer) = {ms['partitioned'] / (ms['no-layer'] + ms['layer']):.2f}  "
          f"partitioned / numpy = {ms['partitioned'] / ms['numpy']:.2f}  regions: {len(part.regions)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
