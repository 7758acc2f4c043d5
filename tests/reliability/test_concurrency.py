"""One artifact shared by 8 threads gives serial results; a long run loop does not grow memory."""

from __future__ import annotations

import gc
import os
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx

import graphc
from graphc.examples import example_path

RUNS = int(os.environ.get("GRAPHC_CONCURRENCY_RUNS", "500"))
SOAK = int(os.environ.get("GRAPHC_SOAK_RUNS", "10000"))


def _small_cnn():
    """light_squeezenet's first block is too slow for 500 runs in CI; a 3-conv net exercises the arena."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
             for n, s in (("w1", (8, 3, 3, 3)), ("w2", (8, 8, 3, 3)), ("w3", (4, 8, 1, 1)))]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["s"]),
        helper.make_node("Relu", ["s"], ["r2"]),
        helper.make_node("Conv", ["r2", "w3"], ["c3"]),
        helper.make_node("GlobalAveragePool", ["c3"], ["y"]),
    ]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 1, 1])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_eight_threads_match_serial_runs():
    art = graphc.compile(_small_cnn(), target="numpy")
    rng = np.random.default_rng(0)
    feeds = [rng.standard_normal((1, 3, 16, 16)).astype(np.float32) for _ in range(16)]
    serial = [art.run({"x": f})["y"] for f in feeds]

    def one(i: int) -> bool:
        return np.array_equal(art.run({"x": feeds[i % 16]})["y"], serial[i % 16])

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(RUNS)))
    print(f"concurrency: {RUNS} runs on 8 threads, {results.count(False)} mismatches")
    assert all(results)


def test_run_loop_does_not_grow_memory():
    art = graphc.compile(_small_cnn(), target="numpy")
    x = {"x": np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)}
    for _ in range(50):  # warm up: plans, caches
        art.run(x)
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    for _ in range(SOAK):
        art.run(x)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    print(f"soak: {SOAK} runs, traced memory grew by {grown} bytes")
    assert grown < 256 * 1024, f"{grown} bytes kept after {SOAK} runs"


def test_squeezenet_from_four_threads_with_distinct_inputs_matches():
    art = graphc.compile(onnx.load(example_path("squeezenet")), target="numpy")
    name = "data_0"
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(4)]
    want = [art.run({name: x}) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda i: art.run({name: xs[i % 4]}), range(8)))
    for i, out in enumerate(outs):
        for k, v in want[i % 4].items():
            np.testing.assert_array_equal(out[k], v)


def test_first_compiles_of_a_process_may_run_in_threads():
    """The lazy import of the built-in passes is one import even when the first compiles race."""
    import subprocess
    import sys
    from pathlib import Path

    script = """
import threading, numpy as np
from onnx import helper, TensorProto
import graphc
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
errors = []
def go():
    try:
        graphc.compile(m, "numpy").run({"x": np.ones(2, np.float32)})
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=go) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
print(errors)
"""
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", res.stdout
