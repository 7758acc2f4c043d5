"""Real exporter-produced models (tools/export_real_models.py) held to onnxruntime on both targets.

Every ``*.onnx`` in this folder is compiled for the numpy target (with and without the
onnx.reference fallback) and for the ort target, run on its saved example inputs and on a
second input set whose dynamic axes differ (so the numpy executor re-plans), and compared
with raw onnxruntime at rtol 1e-4 / atol 1e-5. Integer and boolean outputs (NMS indices)
must be equal. No looser tolerance is needed for any model in the corpus (the int8 models
included: graphc's integer kernels reproduce onnxruntime's rounding). A model the numpy
target cannot run yet is listed in ``NUMPY_GAPS`` with what it lacks (a strict xfail).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import graphc
from graphc.errors import UnsupportedOpError
from tests.oracle import ort_run, run_keeping_inputs

HERE = Path(__file__).resolve().parent
MODELS = sorted(p.stem for p in HERE.glob("*.onnx"))
RTOL, ATOL = 1e-4, 1e-5

#: models the numpy target cannot run yet, with what is missing (the ort target runs them all)
NUMPY_GAPS: dict[str, str] = {}


def _numpy_case(name: str):
    if name in NUMPY_GAPS:
        return pytest.param(name, marks=pytest.mark.xfail(reason=NUMPY_GAPS[name], strict=True,
                                                          raises=UnsupportedOpError))
    return name


def _feed_sets(name: str) -> list[dict[str, np.ndarray]]:
    """[first input set, second input set]: npz keys ``x`` and ``x@2`` (no pickle)."""
    with np.load(HERE / f"{name}.inputs.npz", allow_pickle=False) as data:
        first = {k: data[k] for k in data.files if "@" not in k}
        second = {k.partition("@")[0]: data[k] for k in data.files if k.endswith("@2")}
    return [first, second]


@pytest.fixture(scope="module")
def corpus():
    """name -> (model, feed sets, onnxruntime outputs per set), loaded once per module."""
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            model = onnx.load(HERE / f"{name}.onnx")
            sets = _feed_sets(name)
            cache[name] = (model, sets, [ort_run(model, f) for f in sets])
        return cache[name]

    return get


def _assert_matches(name: str, label: str, got: dict, want: dict) -> None:
    assert got.keys() == want.keys(), f"{name} ({label}): outputs {sorted(got)} != {sorted(want)}"
    for k, w in want.items():
        g = got[k]
        assert g.shape == w.shape, f"{name} ({label}) output {k}: shape {g.shape} != onnxruntime's {w.shape}"
        assert g.dtype == w.dtype, f"{name} ({label}) output {k}: dtype {g.dtype} != onnxruntime's {w.dtype}"
        if w.dtype.kind in "fc":
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"{name} ({label}) output {k}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{name} ({label}) output {k}")


def test_corpus_is_present_and_within_budget():
    assert len(MODELS) >= 10, "run tools/export_real_models.py (see its docstring) to build the corpus"
    sizes = {p.name: p.stat().st_size for p in HERE.iterdir() if p.suffix in (".onnx", ".npz")}
    assert all(s < 1_500_000 for n, s in sizes.items() if n.endswith(".onnx")), sizes
    assert sum(sizes.values()) < 12_000_000
    for name in MODELS:
        first, second = _feed_sets(name)
        assert first and first.keys() == second.keys(), f"{name}: both input sets must name every input"
        assert any(first[k].shape != second[k].shape for k in first), f"{name}: second set must change a dynamic axis"


@pytest.mark.parametrize("name", [_numpy_case(n) for n in MODELS])
def test_numpy_target_matches_onnxruntime(name, corpus):
    """Default numpy compile (fallback allowed); both input shapes; every op must run natively."""
    model, sets, wants = corpus(name)
    art = graphc.compile(model, "numpy")
    for i, (feeds, want) in enumerate(zip(sets, wants)):
        _assert_matches(name, f"numpy, input set {i + 1}", run_keeping_inputs(art, feeds), want)
    runs = art.describe()["runs"]
    assert "fallback" not in runs, f"{name}: ops run through onnx.reference: {runs['fallback']}"


@pytest.mark.parametrize("name", [_numpy_case(n) for n in MODELS])
def test_numpy_target_without_fallback(name, corpus):
    """``fallback=False`` compiles every model: each op it uses has a native kernel."""
    model, sets, wants = corpus(name)
    art = graphc.compile(model, "numpy", fallback=False)
    assert set(art.describe()["runs"]) <= {"native"}
    _assert_matches(name, "numpy fallback=False", art.run(sets[0]), wants[0])


@pytest.mark.parametrize("name", MODELS)
def test_ort_target_matches_onnxruntime(name, corpus):
    model, sets, wants = corpus(name)
    art = graphc.compile(model, "ort")
    assert not art.python_ops, f"{name}: the ort bundle needs Python ops {art.python_ops}"
    for i, (feeds, want) in enumerate(zip(sets, wants)):
        _assert_matches(name, f"ort, input set {i + 1}", run_keeping_inputs(art, feeds), want)
