"""Every custom-layer test must leave the default layer registry as it found it."""

from __future__ import annotations

import pytest

from graphc.layers import DEFAULT_LAYERS


@pytest.fixture(autouse=True)
def default_layers_untouched():
    before = DEFAULT_LAYERS.entries()
    yield
    assert DEFAULT_LAYERS.entries() == before, "a test leaked layers into DEFAULT_LAYERS"
