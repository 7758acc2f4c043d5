#!/usr/bin/env python3
"""Developer aid: run each single-node case of the ONNX node suite through its native kernel.

Prints per-op pass/fail so kernel authors see what their family still misses.
Usage: python tools/kernel_node_suite.py [OP_TYPE ...]
"""

from __future__ import annotations

import sys
import traceback
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from graphc.attributes import decode_attribute  # noqa: E402
from graphc.conformance import collect_node_cases as node_cases, outputs_match  # noqa: E402
from targets.numpy.kernels import KERNELS, OpContext  # noqa: E402


def opset_of(model, domain: str) -> int:
    for o in model.opset_import:
        if o.domain in (domain, "ai.onnx" if domain == "" else domain):
            return o.version
    return 1


def main(ops: list[str]) -> int:
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for case in node_cases():
        g = case.model.graph
        if len(g.node) != 1 or not case.tensor_only:
            continue
        node = g.node[0]
        if ops and node.op_type not in ops:
            continue
        spec = KERNELS.lookup(node.domain, node.op_type, opset_of(case.model, node.domain))
        if spec is None:
            stats[node.op_type][2] += 1
            continue
        ctx = OpContext(node.name or case.name, node.op_type,
                        {a.name: decode_attribute(a) for a in node.attribute},
                        opset_of(case.model, node.domain), node.domain, outs=[None] * len(node.output))
        feeds = dict(zip([i.name for i in g.input], case.inputs))
        args = [feeds.get(n) if n else None for n in node.input]
        try:
            with np.errstate(all="ignore"):
                res = spec.fn(ctx, *args)
            res = list(res) if isinstance(res, (tuple, list)) else [res]
            if len(res) == len(node.output):  # one result per slot: drop omitted optional outputs
                res = [r for r, name in zip(res, node.output) if name]
            whys = [outputs_match(e, a, case.rtol, case.atol) for e, a in zip(case.outputs, res)]
            if len(res) < len(case.outputs):
                whys.append("too few outputs")
            why = next((w for w in whys if w), None)
        except Exception as e:  # noqa: BLE001 - a developer report
            why = f"{type(e).__name__}: {e}"
            if ops:
                traceback.print_exc()
        if why is None:
            stats[node.op_type][0] += 1
        else:
            stats[node.op_type][1] += 1
            print(f"FAIL {case.name}: {why[:200]}")
    total = [sum(s[i] for s in stats.values()) for i in range(3)]
    for op, (p, f, m) in sorted(stats.items()):
        if f or m:
            print(f"{op:28s} pass {p:3d} fail {f:3d} no-kernel {m:3d}")
    print(f"single-node tensor cases: pass {total[0]} fail {total[1]} no-kernel {total[2]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
