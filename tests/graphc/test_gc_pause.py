"""The cyclic collector is paused during a compile and restored after it, also on errors."""

from __future__ import annotations

import gc

import pytest

from graphc import Graph, PassContext, PassError, PassManager
from graphc.passinfra.gc_pause import gc_paused


def test_paused_inside_restored_after_also_when_nested_or_raising():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block did not turn it back on
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_left_off_when_the_caller_had_turned_it_off():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_pass_manager_pauses_during_the_run_and_restores():
    seen = []

    class Probe:
        def run_begin(self, graph, ctx, total):
            seen.append(gc.isenabled())

        def before_pass(self, info, graph, ctx):
            pass

        def after_pass(self, info, graph, ctx, result):
            pass

        def run_end(self, graph, ctx):
            pass

    PassManager("dce").run(Graph(), PassContext(instruments=[Probe()]))
    assert seen == [False] and gc.isenabled()
    with pytest.raises(PassError):
        PassManager("canonicalize,[dce]*0").run(Graph(), PassContext())
    assert gc.isenabled()
