#!/usr/bin/env python3
"""Latency of the numpy target against onnxruntime and onnx.reference on the light model zoo.

Usage: python tools/bench_numpy.py [--repeat N] [MODEL ...]

Per model: median latency of graphc's numpy target, onnxruntime with one intra-op
thread and with its default threading, and onnx.reference, all in this process on the
same seeded inputs (weights randomized as in the tests), then the ratios numpy/ort-1t,
numpy/ort-default and reference/numpy, and the geometric mean of each ratio.
BLAS/OpenMP are pinned to one thread (set before numpy loads) so the numpy target and
"ort 1 thread" are single-threaded figures.
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
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "targets" / "numpy")]

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

import graphc  # noqa: E402
from graphc.examples import example_names  # noqa: E402
from numpy_light import randomized_light_model  # noqa: E402


def median_seconds(fn: Callable[[], object], repeat: int, budget: float = 20.0) -> float:
    """Median of up to ``repeat`` timed calls after one warm-up (fewer when a call is slow)."""
    fn()
    times: list[float] = []
    spent = 0.0
    while len(times) < repeat and (spent < budget or len(times) < 3):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        spent += times[-1]
    return statistics.median(times)


def ort_session(model, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def feeds_of(model) -> dict[str, np.ndarray]:
    from onnx import helper

    rng = np.random.default_rng(0)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
        feeds[vi.name] = rng.standard_normal(shape).astype(helper.tensor_dtype_to_np_dtype(tt.elem_type))
    return feeds


def main() -> int:
    ap = argparse.ArgumentParser(description="numpy target vs onnxruntime vs onnx.reference latency")
    ap.add_argument("models", nargs="*", help="light model names (default: all)")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--no-reference", action="store_true", help="skip onnx.reference (slow on big models)")
    args = ap.parse_args()
    from onnx.reference import ReferenceEvaluator

    names = args.models or example_names()
    header = f"{'model':14s} {'numpy ms':>10s} {'ort-1t ms':>10s} {'ort ms':>10s} {'ref ms':>10s} " \
             f"{'np/ort-1t':>10s} {'np/ort':>8s} {'ref/np':>8s}"
    print(header)
    ratios: dict[str, list[float]] = {"np/ort-1t": [], "np/ort": [], "ref/np": []}
    for name in names:
        model = randomized_light_model(name)
        feeds = feeds_of(model)
        art = graphc.compile(model, "numpy", fallback=False)
        t_np = median_seconds(lambda: art.run(feeds), args.repeat)
        s1 = ort_session(model, 1)
        t_o1 = median_seconds(lambda: s1.run(None, feeds), args.repeat)
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
    geo = {k: math.exp(statistics.fmean(math.log(x) for x in v)) if v else float("nan") for k, v in ratios.items()}
    print(f"geometric mean: numpy/ort-1thread {geo['np/ort-1t']:.2f}x, numpy/ort-default {geo['np/ort']:.2f}x, "
          f"onnx.reference/numpy {geo['ref/np']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
