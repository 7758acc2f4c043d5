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

Groups are the issue's: image models ("larger") and the models called per audio chunk or per crop
("small"), fixed by name (onnxruntime's time moves across the 5 ms line with the machine's load; a
model outside both lists is grouped by that line). The "GEMM floor" column is what the model's
GEMM-shaped work alone (convolutions with fewer groups than channels, Gemm, MatMul) costs at the
faster of the two rates the numpy target's products run at, measured at start on one large float32
GEMM: numpy's BLAS and its compiled GEMM (where numba and AVX-512 are there). ``floor/ort`` >= 1
means even a perfect rest would leave numpy behind onnxruntime at that rate; Winograd convolutions
do fewer multiplies and can run below it.
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
LARGER = ("efficientnet_b0", "mobilenetv2", "mobilenetv3_large", "mobilenetv3_small", "resnet50_half",
          "squeezenet1_1", "yolov8n_320")
SMALL = ("kws_crnn", "mtcnn_onet", "mtcnn_pnet", "mtcnn_rnet", "silero_like_vad")
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


def blas_macs(model: onnx.ModelProto) -> int:
    """Multiply-adds of the model's GEMM-shaped nodes (Conv with fewer groups than input channels,
    Gemm, MatMul), from ONNX shape inference; depthwise convolutions are not BLAS work."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes: dict[str, list[int]] = {}
    for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in v.type.tensor_type.shape.dim]
        shapes[v.name] = dims
    for t in inferred.graph.initializer:
        shapes[t.name] = list(t.dims)
    macs = 0
    for node in inferred.graph.node:
        out = shapes.get(node.output[0]) if node.output else None
        if not out:
            continue
        if node.op_type == "Conv":
            w = shapes.get(node.input[1])
            group = next((a.i for a in node.attribute if a.name == "group"), 1)
            x = shapes.get(node.input[0])
            if w and x and group < x[1]:
                macs += math.prod(out) * math.prod(w[1:])
        elif node.op_type in ("Gemm", "MatMul"):
            a = shapes.get(node.input[0])
            if a:
                trans_a = next((t.i for t in node.attribute if t.name == "transA"), 0)
                macs += math.prod(out) * (a[-2] if trans_a else a[-1])
    return macs


def blas_rate(clock: Callable[[], float]) -> tuple[float, float | None]:
    """Multiply-adds per second on a (256 x 1152) @ (1152 x 784) float32 product: numpy's BLAS, and the numpy
    target's compiled GEMM (``targets/numpy/kernels/gemm_jit.py``, None where it is not used: no numba, no
    AVX-512, ``GRAPHC_JIT=0``)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 1152), dtype=np.float32)
    b = rng.standard_normal((1152, 784), dtype=np.float32)
    out = np.empty((256, 784), np.float32)
    macs = 256 * 1152 * 784
    numpy_rate = macs / median_seconds(lambda: np.matmul(a, b, out=out), 30, clock)
    from targets.numpy.kernels import jit

    if not jit.available():
        return numpy_rate, None
    from targets.numpy.kernels import gemm_jit

    if not gemm_jit.supported():
        return numpy_rate, None
    packed, kernel = gemm_jit.pack_weights(a), gemm_jit.gemm.dispatcher()
    x3, out3 = b.reshape(1, 1152, 784), out.reshape(1, 256, 784)
    return numpy_rate, macs / median_seconds(lambda: kernel(packed, x3, out3), 30, clock)


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
    numpy_rate, compiled_rate = blas_rate(clock)
    rate = max(numpy_rate, compiled_rate or 0.0)
    compiled = "not used" if compiled_rate is None else f"{2 * compiled_rate / 1e9:.0f} GFLOP/s"
    print(f"threads: {args.threads}, clock: {args.clock}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')}, "
          f"float32 GEMM 256x1152x784: numpy's BLAS {2 * numpy_rate / 1e9:.0f} GFLOP/s, compiled GEMM {compiled}")
    print(f"{'model':20s} {'numpy ms':>9s} {ort_label + ' ms':>11s} {'ratio':>6s} {'max diff':>9s} "
          f"{'GEMM floor ms':>13s} {'floor/ort':>9s}")
    for name in names:
        path = args.dir / f"{name}.onnx"
        t_np, t_ort, diff = time_model(path, 1 if args.threads == "1" else 0, args.repeat, clock)
        floor = blas_macs(onnx.load(path)) / rate
        rows.append((name, t_np, t_ort))
        print(f"{name:20s} {t_np * 1e3:9.3f} {t_ort * 1e3:11.3f} {t_np / t_ort:6.2f} {diff:9.1e} "
              f"{floor * 1e3:13.3f} {floor / t_ort:9.2f}", flush=True)

    def larger(row: tuple[str, float, float]) -> bool:
        return row[0] in LARGER or row[0] not in SMALL and row[2] * 1e3 >= LARGE_MS

    for label, group in (("larger (image models)", [r for r in rows if larger(r)]),
                         ("small (per chunk / per crop)", [r for r in rows if not larger(r)])):
        ratios = [t_np / t_ort for _, t_np, t_ort in group]
        worst = max(group, key=lambda r: r[1] / r[2])[0] if group else "-"
        print(f"{label}: {len(group)} models, geometric mean numpy/{ort_label} {geomean(ratios):.2f}x, "
              f"worst {worst} {max(ratios, default=float('nan')):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
