#!/usr/bin/env python3
"""Latency of the numpy target against onnxruntime on issue 19's real-size suite (``.cache/perf_models``).

Usage: python tools/bench_perf_models.py [--threads 1|default] [--clock wall|thread] [--repeat N] [--dir DIR] [MODEL ...]

Export the suite first with ``tools/export_perf_models.py`` (torch venv). Per model, in this process:
the median of ``--repeat`` calls after a warm-up of graphc's numpy target and of onnxruntime, on the
model's stored inputs, and the largest absolute difference of their outputs. ``--threads 1`` (the
default) pins OpenBLAS/OpenMP to one thread and onnxruntime to one intra-op thread; ``--threads
default`` leaves OpenBLAS at its default and gives onnxruntime its default threads. Models are grouped
by onnxruntime's time (>= 5 ms: "larger", < 5 ms: "small"), each group with the geometric mean of
numpy / onnxruntime. The voice-activity model is timed the way a VAD is called: one 512-sample chunk
per call (eight different chunks in turn), its ``stateN`` output fed back as the next call's ``state``.
``--clock thread`` (single thread only) times each call by this thread's CPU time instead of the wall
clock: on a shared, loaded machine a call's wall time includes the time other processes held the core
(both runtimes run their single-threaded work on the calling thread).
"""

from __future__ import annotations

import os
import sys

_ARGV = " ".join(sys.argv[1:])
if "--threads default" not in _ARGV and "--threads=default" not in _ARGV:  # before numpy loads
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import numpy as np  # noqa: E402
import onnx  # noqa: E402

import graphc  # noqa: E402
from bench_real_models import first_inputs  # noqa: E402
from graphc.ort_session import ort_session  # noqa: E402

SUITE = ROOT / ".cache" / "perf_models"
LARGE_MS = 5.0
# a stateful model's state output -> the input it feeds on the next call
STATE_CARRY = {"stateN": "state"}
CHUNKS = 8


def _streaming_call(run: Callable[[dict], dict], feeds: dict[str, np.ndarray]) -> Callable[[], dict]:
    """A call that feeds the next of ``CHUNKS`` chunks and the previous call's state (VAD-style)."""
    rng = np.random.default_rng(3)
    chunks = [(0.1 * rng.standard_normal(feeds["input"].shape)).astype(np.float32) for _ in range(CHUNKS)]
    current = dict(feeds)
    step = [0]

    def call() -> dict:
        current["input"] = chunks[step[0] % CHUNKS]
        step[0] += 1
        out = run(current)
        for out_name, in_name in STATE_CARRY.items():
            current[in_name] = out[out_name]
        return out
    return call


def median_seconds(fn: Callable[[], object], repeat: int, clock: Callable[[], float], budget: float = 20.0) -> float:
    """Median of up to ``repeat`` calls of ``fn`` after one warm-up, timed by ``clock`` (fewer when slow)."""
    fn()
    times: list[float] = []
    while len(times) < repeat and (sum(times) < budget or len(times) < 3):
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times)


def time_model(path: Path, threads: int, repeat: int, clock: Callable[[], float] = time.perf_counter
               ) -> tuple[float, float, float]:
    """(numpy seconds, onnxruntime seconds, max |numpy - ort| on the stored inputs) for one model."""
    feeds = first_inputs(path)
    model = onnx.load(path)
    names = [o.name for o in model.graph.output]
    art = graphc.compile(str(path), "numpy")
    sess = ort_session(model, threads)
    run_np = art.run
    run_ort = lambda f: dict(zip(names, sess.run(None, f)))  # noqa: E731
    diff = max(float(np.max(np.abs(a - b))) if a.size else 0.0
               for a, b in zip((run_np(feeds)[n] for n in names), (run_ort(feeds)[n] for n in names)))
    stateful = any(o in names for o in STATE_CARRY)
    call_np = _streaming_call(run_np, feeds) if stateful else lambda: run_np(feeds)
    call_ort = _streaming_call(run_ort, feeds) if stateful else lambda: run_ort(feeds)
    return median_seconds(call_np, repeat, clock), median_seconds(call_ort, repeat, clock), diff


def geomean(values: list[float]) -> float:
    """Geometric mean (nan for an empty list)."""
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", choices=("1", "default"), default="1",
                        help="1: OpenBLAS and onnxruntime single-threaded; default: both at their defaults")
    parser.add_argument("--clock", choices=("wall", "thread"), default="wall",
                        help="wall: time.perf_counter; thread: this thread's CPU time (with --threads 1 only)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=SUITE)
    parser.add_argument("models", nargs="*", help="model names (default: every .onnx in --dir)")
    args = parser.parse_args()
    if args.clock == "thread" and args.threads != "1":
        parser.error("--clock thread needs --threads 1 (other threads' work would not be counted)")
    clock = time.thread_time if args.clock == "thread" else time.perf_counter
    names = args.models or sorted(p.stem for p in args.dir.glob("*.onnx"))
    if not names:
        print(f"no models in {args.dir}: run tools/export_perf_models.py first", file=sys.stderr)
        return 1
    ort_label = "ort-1t" if args.threads == "1" else "ort-dflt"
    rows = []
    print(f"threads: {args.threads}, clock: {args.clock}")
    print(f"{'model':20s} {'numpy ms':>9s} {ort_label + ' ms':>11s} {'ratio':>6s} {'max diff':>9s}")
    for name in names:
        t_np, t_ort, diff = time_model(args.dir / f"{name}.onnx", 1 if args.threads == "1" else 0, args.repeat, clock)
        rows.append((name, t_np, t_ort))
        print(f"{name:20s} {t_np * 1e3:9.3f} {t_ort * 1e3:11.3f} {t_np / t_ort:6.2f} {diff:9.1e}", flush=True)
    for label, group in (("larger (ort >= 5 ms)", [r for r in rows if r[2] * 1e3 >= LARGE_MS]),
                         ("small (ort < 5 ms)", [r for r in rows if r[2] * 1e3 < LARGE_MS])):
        ratios = [t_np / t_ort for _, t_np, t_ort in group]
        worst = max(group, key=lambda r: r[1] / r[2])[0] if group else "-"
        print(f"{label}: {len(group)} models, geometric mean numpy/{ort_label} {geomean(ratios):.2f}x, "
              f"worst {worst} {max(ratios, default=float('nan')):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
