"""Shared fixtures: the light model-zoo models and quiet onnxruntime sessions."""

from __future__ import annotations

import numpy as np
import pytest

from graphc.examples import example_names, example_path
from tests.oracle import ort_run, ort_session, random_feeds  # noqa: F401 - re-exported for older test modules

LIGHT_MODELS = example_names()


@pytest.fixture(params=LIGHT_MODELS)
def light_model_path(request):
    return example_path(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
