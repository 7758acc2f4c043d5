"""plan-buffers placement: valid offsets for random lifetimes, retried orders, light-model arena ratios."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from graphc.compiler import run_pipeline
from graphc.examples import example_path
from graphc.planning import _ORDERS, ALIGNMENT, _Buffer, _greedy, _lower_bound, _place, read_plan

#: (size in alignment units, first step, lifetime length in steps)
_LIFETIMES = st.lists(st.tuples(st.integers(1, 64), st.integers(0, 40), st.integers(0, 12)), min_size=1, max_size=60)


def _buffers(specs: list[tuple[int, int, int]]) -> list[_Buffer]:
    return [_Buffer(units * ALIGNMENT, start, start + length, [f"v{i}"])
            for i, (units, start, length) in enumerate(specs)]


def _arena(buffers: list[_Buffer]) -> int:
    return max(b.offset + b.size for b in buffers)


def _assert_valid(buffers: list[_Buffer]) -> None:
    for i, a in enumerate(buffers):
        assert a.offset >= 0 and a.offset % ALIGNMENT == 0
        for b in buffers[i + 1:]:
            if a.start <= b.end and b.start <= a.end:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_LIFETIMES)
def test_placement_is_valid_deterministic_and_between_the_bounds(specs):
    buffers = _buffers(specs)
    _place(buffers)
    _assert_valid(buffers)
    arena = _arena(buffers)
    assert _lower_bound(buffers, max(b.end for b in buffers)) <= arena <= sum(b.size for b in buffers)
    first = _greedy(buffers, sorted(range(len(buffers)), key=lambda i: _ORDERS[0](buffers[i])))
    assert arena <= max(o + b.size for o, b in zip(first, buffers))  # retries never make it worse
    again = _buffers(specs)
    _place(again)
    assert [b.offset for b in again] == [b.offset for b in buffers]


def test_a_later_order_closes_the_gap_greedy_by_size_leaves():
    specs = [(2, 0, 3), (1, 3, 3), (4, 0, 1), (4, 5, 1)]  # lower bound 6 units
    buffers = _buffers(specs)
    by_size = _greedy(buffers, sorted(range(len(buffers)), key=lambda i: _ORDERS[0](buffers[i])))
    assert max(o + b.size for o, b in zip(by_size, buffers)) == 7 * ALIGNMENT
    _place(buffers)
    _assert_valid(buffers)
    assert _arena(buffers) == _lower_bound(buffers, 6) == 6 * ALIGNMENT


def test_densenet121_arena_is_within_five_percent_of_the_lower_bound():
    graph, _, _ = run_pipeline(example_path("densenet121"), "numpy")  # the numpy target's pipeline, no lowering
    plan = read_plan(graph)
    assert plan is not None and len(plan.buffers) > 100
    assert plan.lower_bound_bytes <= plan.arena_bytes <= 1.05 * plan.lower_bound_bytes
