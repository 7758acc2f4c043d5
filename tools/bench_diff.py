"""Time GraphDiff on a 10k-op chain (a dozen edits; every op renamed). Figures go in docs/writing-passes.md."""
import os, time, sys
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np

from graphc import Graph, ModelInfo, TensorType
from graphc.diff import GraphDiff
g = Graph("chain", model=ModelInfo())
y = g.add_input("x", TensorType(np.dtype(np.float32), (1, 16)))
for i in range(10_000):
    w = g.add_constant(np.full(16, i, np.float32), f"w{i}")
    y = g.add_op("Add" if i % 2 else "Mul", [y, w], name=f"op{i}").outputs[0]
g.add_output(y)
after = g.copy()
for i in range(0, 10_000, 1000):  # 10 edits: attribute, rename, weight
    after.op(f"op{i}").attrs["tag"] = i
after.rename_op(after.op("op5"), "op5_renamed")
after.value("w7").const = np.zeros(16, np.float32)
t = time.perf_counter(); d = GraphDiff(g, after); t1 = time.perf_counter() - t
t = time.perf_counter(); text = d.to_text(); t2 = time.perf_counter() - t
print(f"10k-op chain: diff {t1:.3f}s, render {t2:.3f}s, {len(d.changes)} changes", d.summary)
t = time.perf_counter(); d = GraphDiff(g, g.copy()); print(f"copy + diff of an identical graph: {time.perf_counter()-t:.3f}s")
after2 = g.copy()
for i in range(10_000):
    after2.rename_op(after2.op(f"op{i}"), f"renamed{i}")
t = time.perf_counter(); d = GraphDiff(g, after2); print(f"all 10k ops renamed (structural pairing): {time.perf_counter()-t:.3f}s", d.summary)
