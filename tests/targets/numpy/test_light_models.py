"""Every light model-zoo model, with seeded random weights, compiles without fallback and matches onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import graphc
from tests.conftest import LIGHT_MODELS, random_feeds
from tests.oracle import ort_run, run_keeping_inputs


@pytest.fixture(scope="module")
def compiled(randomized_light_model_path):
    """name -> (randomized model, artifact), compiled once for the module."""
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            model = onnx.load(randomized_light_model_path(name))
            cache[name] = (model, graphc.compile(model, "numpy", fallback=False))
        return cache[name]

    return get


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_matches_onnxruntime(name, compiled):
    model, art = compiled(name)
    assert art.describe()["runs"].keys() <= {"native"}, "a light model needs fallback"
    feeds = random_feeds(model, seed=1)
    want = ort_run(model, feeds)
    got = run_keeping_inputs(art, feeds)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].shape == want[k].shape and got[k].dtype == want[k].dtype
        np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-5, err_msg=f"{name}: output {k}")


def test_outputs_depend_on_inputs(compiled):
    model, art = compiled("squeezenet")
    a = art.run(random_feeds(model, seed=1))
    b = art.run(random_feeds(model, seed=2))
    assert not all(np.allclose(a[k], b[k]) for k in a), "randomized weights should make outputs input-dependent"


def test_resnet50_arena_within_ten_percent_of_the_liveness_lower_bound(compiled):
    _, art = compiled("resnet50")
    stats = art.plan.stats()
    assert stats["lower_bound_bytes"] > 0
    assert stats["arena_bytes"] <= 1.10 * stats["lower_bound_bytes"], stats
    assert stats["intermediate_bytes"] > stats["arena_bytes"]  # reuse happened
    assert stats["inplace_ops"] > 0


def test_debug_arena_gives_the_same_results(compiled):
    model, _ = compiled("resnet50")
    feeds = random_feeds(model, seed=3)
    plain = graphc.compile(model, "numpy").run(feeds)
    poisoned = graphc.compile(model, "numpy", debug=True).run(feeds)
    for k in plain:
        np.testing.assert_array_equal(plain[k], poisoned[k])
