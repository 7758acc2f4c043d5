"""Shared fixtures: the light model-zoo models and quiet onnxruntime sessions."""

from __future__ import annotations

import numpy as np
import pytest

from graphc.examples import example_names, example_path
from tests.oracle import ort_run, ort_session  # noqa: F401 - re-exported for older test modules

LIGHT_MODELS = example_names()


@pytest.fixture(params=LIGHT_MODELS)
def light_model_path(request):
    return example_path(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_feeds(model, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded random values for a model's runtime inputs (graph inputs that are not initializers)."""
    from onnx import helper

    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        feeds[vi.name] = (rng.random(shape) if dtype.kind == "f" else rng.integers(0, 4, shape)).astype(dtype)
    return feeds
