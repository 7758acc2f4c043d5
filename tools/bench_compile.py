#!/usr/bin/env python3
"""Compile-time scaling: the pipeline on synthetic graphs of 1k..50k ops.

Shapes: ``chain`` (Mul/Tanh), ``branchy`` (two-branch blocks joined by Add), and two with work
for the fusion passes: ``convbn`` (Conv + BatchNormalization + Relu blocks, every block fused)
and ``transformer`` (MatMul + bias Add + Gelu-as-Erf MLP blocks with residual Adds).
Prints seconds, ops/s and the growth exponent between sizes (1.0 = linear; n log n
shows as slightly above 1). Usage: python tools/bench_compile.py [--sizes 1000,10000,50000]
[--passes PIPELINE] [--target numpy] [--shapes chain,branchy,convbn,transformer] [--clock wall|cpu]

``--clock cpu`` times with the process's CPU time instead of the wall clock: on a shared,
loaded machine the wall clock mostly measures waiting for a core (compiling is single-threaded).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def synthetic_model(n_ops: int, branchy: bool):
    """A chain (or a ladder of two-branch blocks joined by Add) of about n_ops small ops."""
    nodes, inits = [], []
    prev = "x"
    i = 0
    while len(nodes) < n_ops:
        if branchy:
            a, b, c = f"a{i}", f"b{i}", f"c{i}"
            nodes += [helper.make_node("Relu", [prev], [a]), helper.make_node("Sigmoid", [prev], [b]),
                      helper.make_node("Add", [a, b], [c])]
            prev = c
        else:
            w = f"w{i}"
            inits.append(numpy_helper.from_array(np.full((8,), 0.5, np.float32), w))
            nodes += [helper.make_node("Mul", [prev, w], [f"m{i}"]), helper.make_node("Tanh", [f"m{i}"], [f"t{i}"])]
            prev = f"t{i}"
        i += 1
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    graph = helper.make_graph(nodes, "synthetic", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


def conv_bn_relu_model(n_ops: int):
    """Conv + BatchNormalization + Relu blocks on a 1x4x6x6 tensor (three ops a block)."""
    rng = np.random.default_rng(0)
    nodes, inits, prev, i = [], [], "x", 0
    while len(nodes) < n_ops:
        names = [f"w{i}", f"s{i}", f"b{i}", f"m{i}", f"v{i}"]
        inits.append(numpy_helper.from_array(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), names[0]))
        inits += [numpy_helper.from_array(rng.uniform(0.5, 1.5, 4).astype(np.float32), n) for n in names[1:]]
        nodes += [helper.make_node("Conv", [prev, names[0]], [f"c{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("BatchNormalization", [f"c{i}", *names[1:]], [f"n{i}"]),
                  helper.make_node("Relu", [f"n{i}"], [f"r{i}"])]
        prev, i = f"r{i}", i + 1
    graph = helper.make_graph(nodes, "convbn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 4, 6, 6])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


def transformer_mlp_model(n_ops: int):
    """MLP blocks as exporters write them: MatMul + bias Add, GELU spelled with Erf, MatMul + Add,
    residual Add (eleven ops a block; the MatMul + Add pairs fuse)."""
    rng = np.random.default_rng(0)
    d, nodes, inits, prev, i = 8, [], [], "x", 0
    const = {"sqrt2": np.float32(np.sqrt(2.0)), "one": np.float32(1.0), "half": np.float32(0.5)}
    inits += [numpy_helper.from_array(np.array(v), k) for k, v in const.items()]
    while len(nodes) < n_ops:
        w1, b1, w2, b2 = (f"{k}{i}" for k in ("w1_", "b1_", "w2_", "b2_"))
        inits += [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32) * 0.1, n)
                  for n, s in ((w1, (d, 2 * d)), (b1, (2 * d,)), (w2, (2 * d, d)), (b2, (d,)))]
        t = [f"t{i}_{k}" for k in range(10)]
        nodes += [helper.make_node("MatMul", [prev, w1], [t[0]]), helper.make_node("Add", [t[0], b1], [t[1]]),
                  helper.make_node("Div", [t[1], "sqrt2"], [t[2]]), helper.make_node("Erf", [t[2]], [t[3]]),
                  helper.make_node("Add", [t[3], "one"], [t[4]]), helper.make_node("Mul", [t[1], t[4]], [t[5]]),
                  helper.make_node("Mul", [t[5], "half"], [t[6]]), helper.make_node("MatMul", [t[6], w2], [t[7]]),
                  helper.make_node("Add", [t[7], b2], [t[8]]), helper.make_node("Add", [prev, t[8]], [t[9]]),
                  helper.make_node("Relu", [t[9]], [f"r{i}"])]
        prev, i = f"r{i}", i + 1
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, d])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [4, d])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])


PLAIN = "canonicalize,[fold-constants,dce]*8,infer-shapes"

SHAPES = {
    "chain": lambda n: synthetic_model(n, branchy=False),
    "branchy": lambda n: synthetic_model(n, branchy=True),
    "convbn": conv_bn_relu_model,
    "transformer": transformer_mlp_model,
}


def time_pipeline(model, passes: str | None, target: str | None, repeat: int, clock=time.perf_counter) -> float:
    import graphc
    from graphc.passinfra import PassContext, PassManager

    times = []
    for _ in range(repeat):
        start = clock()
        if target:
            graphc.compile(model, target=target, passes=passes)
        else:
            g = graphc.load_model(model)
            PassManager(passes).run(g, PassContext())
        times.append(clock() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--passes", default=PLAIN, help="the pipeline (with --target: that target's own unless given)")
    ap.add_argument("--target", default=None, help="compile for this target (its pipeline unless --passes)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of: {', '.join(SHAPES)}")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: elapsed time; cpu: this process's CPU time (steadier on a loaded machine)")
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    sizes = [int(s) for s in args.sizes.split(",")]
    passes = None if args.target and args.passes == PLAIN else args.passes
    time_pipeline(SHAPES["chain"](100), passes, args.target, 1)  # warm-up: imports and lazy registries
    print(f"pipeline: {passes if passes else args.target + ' target'}; clock: {args.clock}")
    print(f"{'shape':12s} {'ops':>7s} {'seconds':>9s} {'ops/s':>9s} {'exponent':>9s}")
    for shape in args.shapes.split(","):
        prev = None
        for n in sizes:
            model = SHAPES[shape](n)
            secs = time_pipeline(model, passes, args.target, args.repeat if n <= 10000 else 1, clock)
            ops = len(model.graph.node)
            exp = f"{math.log(secs / prev[1]) / math.log(ops / prev[0]):9.2f}" if prev else f"{'':9s}"
            print(f"{shape:12s} {ops:7d} {secs:9.3f} {ops / secs:9.0f} {exp}", flush=True)
            prev = (ops, secs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
