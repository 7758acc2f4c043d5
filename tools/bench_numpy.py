#!/usr/bin/env python3
"""Latency of the numpy target against onnxruntime and onnx.reference on the light model zoo.

Usage: python tools/bench_numpy.py [--repeat N] [--no-reference] [--memory] [--clock wall|thread] [MODEL ...]

Per model: median latency of graphc's numpy target, onnxruntime with one intra-op
thread and with its default threading, and onnx.reference, all in this process on the
same seeded inputs (weights randomized as in the tests), then the ratios numpy/ort-1t,
numpy/ort-default and reference/numpy, and the geometric mean of each ratio.
BLAS/OpenMP are pinned to one thread (set before numpy loads) so the numpy target and
"ort 1 thread" are single-threaded figures.

It also measures the single-core float32 GEMM peak (a 2048^3 ``np.matmul``), counts
each model's FLOPs from its Conv/Gemm/MatMul shapes (2 per multiply-add) and prints
the GFLOP/s the numpy target and onnxruntime achieve and their share of that peak.
With ``--memory`` each model also runs in fresh subprocesses (one per runtime) that
report their peak resident set size (``VmHWM``) over load + compile + 5 runs.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import numpy as np  # noqa: E402

import graphc  # noqa: E402
from graphc.examples import example_names, randomized_light_model  # noqa: E402
from graphc.feeds import random_feeds  # noqa: E402
from graphc.ort_session import ort_session  # noqa: E402


def median_seconds(fn: Callable[[], object], repeat: int, budget: float = 20.0,
                   clock: Callable[[], float] = time.perf_counter) -> float:
    """Median of up to ``repeat`` calls timed by ``clock`` after one warm-up (fewer when a call is slow)."""
    fn()
    times: list[float] = []
    spent = 0.0
    while len(times) < repeat and (spent < budget or len(times) < 3):
        t = clock()
        fn()
        times.append(clock() - t)
        spent += times[-1]
    return statistics.median(times)


def gemm_peak_gflops(n: int = 2048, repeat: int = 5) -> float:
    """Single-thread float32 GEMM throughput: median GFLOP/s of an n x n x n ``np.matmul``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    secs = median_seconds(lambda: np.matmul(a, b, out=c), repeat)
    return 2.0 * n ** 3 / secs / 1e9


def model_flops(graph) -> float:
    """FLOPs (2 per multiply-add) of the Conv/ConvTranspose/Gemm/MatMul ops of a compiled graph (static shapes)."""
    total = 0.0
    for op in graph.topological_order():
        if op.op_type not in ("Conv", "FusedConv", "ConvTranspose", "Gemm", "FusedGemm", "MatMul"):
            continue
        shapes = [None if a is None else a.type.shape for a in op.inputs]
        out = op.outputs[0].type.shape
        if not shapes[0] or not shapes[1] or out is None or not all(isinstance(d, int) for d in out):
            continue
        w = shapes[1]
        if op.op_type in ("Conv", "FusedConv"):
            total += 2.0 * math.prod(out) * math.prod(w[1:])  # each output: C/group * prod(kernel) MACs
        elif op.op_type == "ConvTranspose":
            total += 2.0 * math.prod(shapes[0]) * math.prod(w[1:])
        else:
            a = shapes[0]
            trans_a = op.op_type != "MatMul" and op.attrs.get("transA", 0)
            k = a[-2] if trans_a else a[-1]
            total += 2.0 * math.prod(out) * k
    return total


_MEMORY_SCRIPT = r"""
import os, sys
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
sys.path[:0] = {paths!r}
import numpy as np
from graphc.examples import randomized_light_model
from graphc.feeds import random_feeds
from graphc.ort_session import ort_session
model = randomized_light_model({name!r})
feeds = random_feeds(model, normal=True)
if {which!r} == "numpy":
    import graphc
    art = graphc.compile(model, "numpy", fallback=False)
    del model
    run = lambda: art.run(feeds)
else:
    sess = ort_session(model, 1)
    del model
    run = lambda: sess.run(None, feeds)
for _ in range(5):
    run()
with open("/proc/self/status") as f:  # VmHWM: this process's peak RSS (ru_maxrss survives exec on Linux)
    print(next(line.split()[1] for line in f if line.startswith("VmHWM:")))
"""


def peak_rss_mb(name: str, which: str) -> float:
    """Peak RSS (MB) of a fresh process that loads ``name``, compiles it for ``which`` and runs it 5 times."""
    import subprocess

    paths = [str(ROOT)]
    code = _MEMORY_SCRIPT.format(paths=paths, name=name, which=which)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description="numpy target vs onnxruntime vs onnx.reference latency")
    ap.add_argument("models", nargs="*", help="light model names (default: all)")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--no-reference", action="store_true", help="skip onnx.reference (slow on big models)")
    ap.add_argument("--memory", action="store_true", help="also measure peak RSS per model in subprocesses")
    ap.add_argument("--clock", choices=("wall", "thread"), default="wall",
                    help="thread: the numpy target and ort-1t timed by this thread's CPU time (a loaded machine's "
                         "other processes not counted); ort-default then stays on the wall clock")
    args = ap.parse_args()
    clock = time.thread_time if args.clock == "thread" else time.perf_counter
    from onnx.reference import ReferenceEvaluator

    peak = gemm_peak_gflops()
    print(f"single-core float32 GEMM peak (2048^3 np.matmul, median): {peak:.1f} GFLOP/s")

    names = args.models or example_names()
    header = f"{'model':14s} {'numpy ms':>10s} {'ort-1t ms':>10s} {'ort ms':>10s} {'ref ms':>10s} " \
             f"{'np/ort-1t':>10s} {'np/ort':>8s} {'ref/np':>8s}"
    print(header)
    ratios: dict[str, list[float]] = {"np/ort-1t": [], "np/ort": [], "ref/np": []}
    rows: list[tuple[str, float, float, float]] = []
    for name in names:
        model = randomized_light_model(name)
        feeds = random_feeds(model, normal=True)
        art = graphc.compile(model, "numpy", fallback=False)
        t_np = median_seconds(lambda: art.run(feeds), args.repeat, clock=clock)
        s1 = ort_session(model, 1)
        t_o1 = median_seconds(lambda: s1.run(None, feeds), args.repeat, clock=clock)
        sd = ort_session(model, 0)
        t_od = median_seconds(lambda: sd.run(None, feeds), args.repeat)
        t_ref = float("nan")
        if not args.no_reference:
            ref = ReferenceEvaluator(model)
            with np.errstate(all="ignore"):
                t_ref = median_seconds(lambda: ref.run(None, feeds), max(1, args.repeat // 3), budget=30.0)
        r = {"np/ort-1t": t_np / t_o1, "np/ort": t_np / t_od, "ref/np": t_ref / t_np}
        for k, v in r.items():
            if not math.isnan(v):
                ratios[k].append(v)
        print(f"{name:14s} {t_np * 1e3:10.2f} {t_o1 * 1e3:10.2f} {t_od * 1e3:10.2f} {t_ref * 1e3:10.2f} "
              f"{r['np/ort-1t']:10.2f} {r['np/ort']:8.2f} {r['ref/np']:8.2f}", flush=True)
        rows.append((name, model_flops(art.graph), t_np, t_o1))
    geo = {k: math.exp(statistics.fmean(math.log(x) for x in v)) if v else float("nan") for k, v in ratios.items()}
    print(f"geometric mean: numpy/ort-1thread {geo['np/ort-1t']:.2f}x, numpy/ort-default {geo['np/ort']:.2f}x, "
          f"onnx.reference/numpy {geo['ref/np']:.2f}x")
    print(f"\n{'model':14s} {'GFLOP':>7s} {'numpy GF/s':>11s} {'% peak':>7s} {'ort-1t GF/s':>12s} {'% peak':>7s}"
          + (f" {'numpy MB':>9s} {'ort-1t MB':>10s}" if args.memory else ""))
    for name, flops, t_np, t_o1 in rows:
        g_np, g_o1 = flops / t_np / 1e9, flops / t_o1 / 1e9
        line = (f"{name:14s} {flops / 1e9:7.2f} {g_np:11.1f} {100 * g_np / peak:6.0f}% {g_o1:12.1f} "
                f"{100 * g_o1 / peak:6.0f}%")
        if args.memory:
            line += f" {peak_rss_mb(name, 'numpy'):9.0f} {peak_rss_mb(name, 'ort'):10.0f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
