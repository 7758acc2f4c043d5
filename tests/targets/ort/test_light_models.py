"""Every light model-zoo model: the ort target's output equals raw onnxruntime's."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import graphc
from tests.conftest import LIGHT_MODELS, ort_session, random_feeds


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_ort_target_equals_raw_onnxruntime(name, randomized_light_model_path):
    model = onnx.load(randomized_light_model_path(name))  # seeded random weights: outputs depend on every weight
    feeds = random_feeds(model)
    want = ort_session(model).run(None, feeds)
    art = graphc.compile(model, target="ort")
    assert not art.python_ops
    got = art.run(feeds)
    for out, w in zip(model.graph.output, want):
        np.testing.assert_allclose(got[out.name], w, rtol=1e-4, atol=1e-5)
