"""PassManager: contracts checked up front, errors wrapped with context, fixed-point caps."""

from __future__ import annotations

import numpy as np
import pytest

from graphc import Graph, GraphcError, PassContext, PassError, PassManager, PassResult, TensorType
from graphc.passinfra import PassRegistry, format_pipeline, graph_pass, parse_pipeline
from graphc.passinfra.instruments import Snapshots, Timing, VerifyEach


@pytest.fixture
def registry():
    reg = PassRegistry()

    @graph_pass("make-a", "establishes a", establishes=("a",), registry=reg)
    def make_a(graph, ctx):
        return False

    @graph_pass("need-a", "requires a", requires=("a",), registry=reg)
    def need_a(graph, ctx):
        return PassResult(changed=False)

    @graph_pass("break-a", "invalidates a", invalidates=("a",), registry=reg)
    def break_a(graph, ctx):
        return False

    @graph_pass("boom", "raises on the first op", registry=reg)
    def boom(graph, ctx):
        for op in graph.topological_order():
            ctx.focus(op)
            raise ValueError("kaboom")

    @graph_pass("grow", "adds one Relu every time", registry=reg)
    def grow(graph, ctx, *, limit: int = 1000):
        if len(graph) >= limit:
            return False
        graph.add_op("Relu", [graph.outputs[0]], 1)
        return PassResult(changed=True, stats={"added": 1})

    return reg


def _graph() -> Graph:
    g = Graph()
    x = g.add_input("x", TensorType(np.dtype("float32"), (2,)))
    op = g.add_op("Relu", [x], ["y"], name="relu0")
    g.add_output(op.outputs[0])
    return g


def test_pipeline_text_round_trips():
    text = "canonicalize,[fold-constants,dce]*8,infer-shapes{strict=true},dce"
    assert format_pipeline(parse_pipeline(text)) == text


@pytest.mark.parametrize("bad", ["a,,b", "[a,b]", "[a,[b]*2]*3", "a{x}", "a b"])
def test_bad_pipeline_text_is_a_pass_error(bad):
    with pytest.raises(PassError):
        parse_pipeline(bad)


def test_missing_requirement_is_explained_before_anything_runs(registry):
    with pytest.raises(PassError) as e:
        PassManager("need-a", registry=registry)
    msg = str(e.value)
    assert "'need-a' requires 'a'" in msg and "make-a" in msg


def test_invalidated_requirement_names_the_invalidating_pass(registry):
    PassManager("make-a,need-a", registry=registry)  # fine
    with pytest.raises(PassError, match="invalidated by 'break-a'"):
        PassManager("make-a,break-a,need-a", registry=registry)


def test_unknown_pass_suggests_close_names(registry):
    with pytest.raises(PassError, match="Did you mean make-a"):
        PassManager("make-b", registry=registry)


def test_unknown_option_is_refused(registry):
    with pytest.raises(PassError, match="no option 'bogus'"):
        PassManager("grow{bogus=1}", registry=registry)
    with pytest.raises(PassError, match="not a valid int"):
        PassManager("grow{limit=lots}", registry=registry)


def test_pass_exception_is_wrapped_with_pass_node_and_history(registry):
    pm = PassManager("make-a,boom", registry=registry)
    with pytest.raises(PassError) as e:
        pm.run(_graph())
    msg = str(e.value)
    assert "pass 'boom'" in msg and "node 'relu0' (Relu)" in msg and "after: make-a" in msg and "kaboom" in msg
    assert isinstance(e.value.__cause__, ValueError)


def test_fixed_point_cap_reports_non_termination(registry):
    with pytest.raises(PassError, match=r"did not converge in 3 iterations: grow"):
        PassManager("[grow]*3", registry=registry).run(_graph())


def test_fixed_point_stops_when_nothing_changes(registry):
    g = _graph()
    timing = Timing()
    PassManager("[grow{limit=3}]*10", registry=registry).run(g, PassContext(instruments=[timing]))
    assert len(g) == 3
    assert [c for _, _, c, _ in timing.records] == [True, True, False]


def test_changed_flag_and_snapshots(registry):
    g = _graph()
    snaps = Snapshots()
    PassManager("make-a,grow{limit=2}", registry=registry).run(g, PassContext(instruments=[snaps, VerifyEach()]))
    assert [name for name, _ in snaps.stages] == ["input", "grow"]
    assert len(snaps.stages[0][1]) == 1 and len(snaps.stages[1][1]) == 2


def test_graphc_errors_keep_their_type_and_gain_context(registry):
    reg = registry

    @graph_pass("refuse", "raises a GraphcError", registry=reg)
    def refuse(graph, ctx):
        raise GraphcError("no can do")

    with pytest.raises(GraphcError, match=r"no can do[\s\S]*pass 'refuse'"):
        PassManager("refuse", registry=reg).run(_graph())
