#!/usr/bin/env python3
"""Depthwise-heavy models: the numpy target with and without its compiled convolutions, against onnxruntime.

Usage: python tools/bench_depthwise.py [--off conv|all] [--rounds N] [--repeat N] [--clock thread|wall]
       [--dir DIR] [MODEL ...]

Per model of issue 19's suite (``.cache/perf_models``, default: the four MobileNet/EfficientNet
models), two numpy artifacts are compiled in this process: "numpy" with the compiled convolutions
off (``--off conv``, the default: ``conv2d.CONV_JIT`` patched False before ``graphc.compile``, so
depthwise convs take the ``phase`` path and small convs the numpy ones while every other compiled
kernel stays; ``--off all``: ``jit.ENABLED`` patched False, every node on its numpy path), "jit"
with everything compiled. Both and onnxruntime (one intra-op
thread) alternate for ``--rounds`` rounds, each round the median of ``--repeat`` calls, timed by this
thread's CPU time by default (the machine is shared and noisy); the table shows medians over rounds
and the largest difference of the two artifacts' outputs.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import numpy as np  # noqa: E402
import onnx  # noqa: E402

import graphc  # noqa: E402
from bench_real_models import first_inputs  # noqa: E402
from graphc.ort_session import ort_session  # noqa: E402
from targets.numpy.kernels import conv2d, jit  # noqa: E402

SUITE = ROOT / ".cache" / "perf_models"
DEFAULT_MODELS = ("mobilenetv2", "efficientnet_b0", "mobilenetv3_small", "mobilenetv3_large")


def compile_numpy(path: Path, compiled: bool, off: str = "conv") -> Any:
    """The model's numpy artifact, prepared with (``compiled``) or without the compiled convolutions
    (``off="conv"``) or any compiled kernel (``off="all"``)."""
    module, name = (conv2d, "CONV_JIT") if off == "conv" else (jit, "ENABLED")
    saved = getattr(module, name)
    setattr(module, name, compiled and saved)
    try:
        return graphc.compile(str(path), "numpy")
    finally:
        setattr(module, name, saved)


def median_call(fn: Callable[[], object], repeat: int, clock: Callable[[], float]) -> float:
    """Median seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(DEFAULT_MODELS))
    parser.add_argument("--off", choices=("conv", "all"), default="conv",
                        help="what the 'numpy' artifact runs without: the compiled convolutions, or every compiled kernel")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--clock", choices=("thread", "wall"), default="thread")
    parser.add_argument("--dir", type=Path, default=SUITE)
    args = parser.parse_args()
    if not jit.available():
        parser.error("compiled kernels are not available (numba missing or GRAPHC_JIT=0)")
    clock = time.thread_time if args.clock == "thread" else time.perf_counter
    print(f"clock: {args.clock}, {args.rounds} rounds x median of {args.repeat} calls, numpy = jit minus {args.off}")
    print(f"{'model':20s} {'numpy ms':>9s} {'jit ms':>8s} {'ort-1t ms':>9s} {'numpy/ort':>9s} {'jit/ort':>8s} "
          f"{'speed-up':>8s} {'max diff':>9s}")
    for name in args.models:
        path = args.dir / f"{name}.onnx"
        feeds = first_inputs(path)
        arts = {"numpy": compile_numpy(path, False, args.off), "jit": compile_numpy(path, True, args.off)}
        sess = ort_session(onnx.load(path), 1)
        outs = [arts[k].run(feeds) for k in ("numpy", "jit")]
        diff = max(float(np.max(np.abs(outs[0][k] - outs[1][k]))) for k in outs[0])
        calls: dict[str, Callable[[], object]] = {
            "numpy": lambda a=arts["numpy"]: a.run(feeds), "jit": lambda a=arts["jit"]: a.run(feeds),
            "ort": lambda: sess.run(None, feeds)}
        times: dict[str, list[float]] = {k: [] for k in calls}
        for _ in range(args.rounds):
            for key, fn in calls.items():
                times[key].append(median_call(fn, args.repeat, clock))
        tn, tj, to = (statistics.median(times[k]) * 1e3 for k in ("numpy", "jit", "ort"))
        print(f"{name:20s} {tn:9.3f} {tj:8.3f} {to:9.3f} {tn / to:9.2f} {tj / to:8.2f} {tn / tj:8.2f} {diff:9.2g}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
