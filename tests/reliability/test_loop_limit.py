"""The loop-iteration limit's default and its boundary (issue 21 item 10), without running ten
million iterations: the default is read through graphc.limits and applied to a trip count just
above it (refused before the loop runs); the boundary is checked just above and at a lowered limit."""

from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc import PlanError, limits
from tests.reliability.test_limits import _runaway_loop

X = np.zeros(1, np.float32)


def test_the_default_limit_is_ten_million(monkeypatch):
    """Demonstrated: DEFAULT_MAX_LOOP_ITERATIONS (or max_loop_iterations' fallback) set to 100,000,000 fails here."""
    monkeypatch.delenv("GRAPHC_MAX_LOOP_ITERATIONS", raising=False)
    assert limits.DEFAULT_MAX_LOOP_ITERATIONS == 10_000_000
    assert limits.max_loop_iterations() == 10_000_000
    assert limits.RunBudget().limit == 10_000_000


def test_a_trip_count_just_above_the_default_is_refused_before_the_loop_runs(monkeypatch):
    """M = 10,000,001 with no GRAPHC_MAX_LOOP_ITERATIONS: refused at once with the default in the message
    (a default read as anything else, or a check skipped, would run or name another figure)."""
    monkeypatch.delenv("GRAPHC_MAX_LOOP_ITERATIONS", raising=False)
    art = graphc.compile(_runaway_loop(10_000_001), target="numpy")
    with pytest.raises(PlanError, match=r"trip count M=10000001 exceeds the limit of 10000000 loop iterations per run"):
        art.run({"x": X})


def test_the_lowered_limit_refuses_one_above_and_runs_at_it(monkeypatch):
    """GRAPHC_MAX_LOOP_ITERATIONS=50: M=51 refused, M=50 runs all 50. Demonstrated: an off-by-one
    (`trip > limit + 1`, or `trip >= limit`) fails one of the two."""
    monkeypatch.setenv("GRAPHC_MAX_LOOP_ITERATIONS", "50")
    with pytest.raises(PlanError, match=r"trip count M=51 exceeds the limit of 50 loop iterations"):
        graphc.compile(_runaway_loop(51), target="numpy").run({"x": X})
    np.testing.assert_array_equal(graphc.compile(_runaway_loop(50), target="numpy").run({"x": X})["y"], [50.0])


def test_a_condition_only_loop_stops_just_past_the_lowered_limit(monkeypatch):
    """No trip count: the 51st iteration of a run limited to 50 is the one refused, with the limit message."""
    monkeypatch.setenv("GRAPHC_MAX_LOOP_ITERATIONS", "50")
    model = _runaway_loop(10)
    model.graph.node[2].input[0] = ""
    with pytest.raises(PlanError, match=r"'runaway': still running after 50 iterations, the limit of loop iterations per run"):
        graphc.compile(model, target="numpy").run({"x": X})
