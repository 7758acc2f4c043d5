"""Shared fixtures: the light model-zoo models and quiet onnxruntime sessions."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Iterator

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


@pytest.fixture(scope="session")
def randomized_light_model_path(tmp_path_factory) -> Iterator[Callable[[str], Path]]:
    """name -> an .onnx file of ``randomized_light_model(name, seed=0)``, written once per session.

    Drawing vgg19's 143M seeded weights takes seconds; the numpy, ort and round-trip tests of the
    light models load this one file instead of drawing them again per module. A file (not a shared
    ModelProto) keeps tests from seeing each other's changes and keeps the weights out of memory
    between tests. The files (1.3 GB for all nine) are deleted when the session ends."""
    from graphc.examples import randomized_light_model

    folder = tmp_path_factory.mktemp("randomized_light")

    def path(name: str) -> Path:
        file = folder / f"{name}.onnx"
        if not file.exists():
            import onnx

            onnx.save(randomized_light_model(name, seed=0), file)
        return file

    yield path
    shutil.rmtree(folder, ignore_errors=True)
