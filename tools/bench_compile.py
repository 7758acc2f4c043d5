#!/usr/bin/env python3
"""Compile-time scaling: the pipeline on synthetic chain and branchy graphs of 1k..50k ops.

Prints seconds, ops/s and the growth exponent between sizes (1.0 = linear; n log n
shows as slightly above 1). Usage: python tools/bench_compile.py [--sizes 1000,10000,50000]
[--passes PIPELINE] [--target numpy]
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


def time_pipeline(model, passes: str | None, target: str | None, repeat: int) -> float:
    import graphc
    from graphc.passinfra import PassContext, PassManager

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        if target:
            graphc.compile(model, target=target, passes=passes)
        else:
            g = graphc.load_model(model)
            PassManager(passes).run(g, PassContext())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--passes", default="canonicalize,[fold-constants,dce]*8,infer-shapes")
    ap.add_argument("--target", default=None, help="compile for this target (its pipeline unless --passes)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"pipeline: {args.passes if not args.target else args.target + ' target'}")
    print(f"{'shape':8s} {'ops':>7s} {'seconds':>9s} {'ops/s':>9s} {'exponent':>9s}")
    for branchy in (False, True):
        prev = None
        for n in sizes:
            model = synthetic_model(n, branchy)
            secs = time_pipeline(model, args.passes, args.target, args.repeat if n <= 10000 else 1)
            ops = len(model.graph.node)
            exp = f"{math.log(secs / prev[1]) / math.log(ops / prev[0]):9.2f}" if prev else f"{'':9s}"
            print(f"{'branchy' if branchy else 'chain':8s} {ops:7d} {secs:9.3f} {ops / secs:9.0f} {exp}")
            prev = (ops, secs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
