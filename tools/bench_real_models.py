#!/usr/bin/env python3
"""Latency of the numpy target against onnxruntime on the exported models in tests/real_models.

Usage: python tools/bench_real_models.py [--repeat N] [MODEL ...]

These models (BERT/GPT/ViT encoders, OCR, detection, audio, quantized) are small: onnxruntime
runs most of them in a fraction of a millisecond, so the ratio measures the numpy target's
per-op overhead rather than its arithmetic. Per model: the median of ``--repeat`` runs after a
warm-up, on the model's first stored input set, numpy target against onnxruntime with one
intra-op thread, in this process; then the geometric mean of the ratios.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import numpy as np  # noqa: E402
import onnx  # noqa: E402

import graphc  # noqa: E402
from bench_numpy import median_seconds  # noqa: E402
from graphc.ort_session import ort_session  # noqa: E402

MODELS = ROOT / "tests" / "real_models"


def first_inputs(path: Path) -> dict[str, np.ndarray]:
    """The first stored input set of a model (npz keys without the ``@2`` suffix)."""
    with np.load(path.with_suffix(".inputs.npz")) as data:
        return {k: data[k] for k in data.files if "@" not in k}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("models", nargs="*", help="model names (default: all in tests/real_models)")
    args = parser.parse_args()
    names = args.models or sorted(p.stem for p in MODELS.glob("*.onnx"))
    ratios = []
    print(f"{'model':26s} {'numpy ms':>9s} {'ort-1t ms':>10s} {'np/ort-1t':>10s}")
    for name in names:
        path = MODELS / f"{name}.onnx"
        feeds = first_inputs(path)
        art = graphc.compile(str(path), "numpy")
        sess = ort_session(onnx.load(path), 1)
        t_np = median_seconds(lambda: art.run(feeds), args.repeat)
        t_ort = median_seconds(lambda: sess.run(None, feeds), args.repeat)
        ratios.append(t_np / t_ort)
        print(f"{name:26s} {t_np * 1e3:9.2f} {t_ort * 1e3:10.2f} {t_np / t_ort:10.2f}")
    if ratios:
        print(f"geometric mean numpy/ort-1thread: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
