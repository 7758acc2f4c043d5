"""The pattern API: captures, commutative and multi-output matching, conditions with reasons,
attributes, match-only, rule sets (once, fixed point, cap), provenance and the tracer."""

from __future__ import annotations

import numpy as np
import pytest

from graphc import Graph, ModelInfo, PassContext, PassError, TensorType
from graphc.pattern import (
    RULES, P, Refuse, Rule, RuleRegistry, RuleSet, capture, const, explain, find_matches, register_rules, rule, var,
)

F32 = np.float32


def _graph(*ops, inputs=(("x", (2, 3)),)):
    g = Graph("g", model=ModelInfo())
    for name, shape in inputs:
        g.add_input(name, TensorType(np.dtype(F32), shape))
    return g


def _mm_add(swap=False, c_shape=(4,)):
    g = _graph()
    x = g.inputs[0]
    B = g.add_constant(np.ones((3, 4), F32), "B")
    c = g.add_constant(np.ones(c_shape, F32), "c")
    t = g.add_op("MatMul", [x, B], name="mm").outputs[0]
    y = g.add_op("Add", [c, t] if swap else [t, c], name="add").outputs[0]
    g.add_output(y)
    return g


MM_ADD = P.Add(P.MatMul(var("a"), const("B"), name="mm"), const("c"), name="add")


def _gemm(m, b):
    return b.Gemm(m["a"], m["B"], m["c"])


@pytest.mark.parametrize("swap", [False, True])
def test_commutative_add_matches_either_order_and_captures(swap):
    g = _mm_add(swap)
    (m,) = find_matches(MM_ADD, g)
    assert m["a"] is g.inputs[0] and m["B"].name == "B" and m["c"].name == "c"
    assert m["mm"].name == "mm" and m.root.name == "add" and [o.name for o in m.ops] == ["add", "mm"]
    assert len(g) == 2  # match-only: nothing rewritten


def test_non_commutative_op_respects_order():
    g = _graph()
    c = g.add_constant(np.ones(3, F32), "c")
    g.add_output(g.add_op("Sub", [c, g.inputs[0]], name="sub").outputs[0])
    assert list(find_matches(P.Sub(var("x"), const("c")), g)) == []
    assert len(list(find_matches(P.Sub(const("c"), var("x")), g))) == 1


def test_rule_set_rewrites_counts_and_records_provenance():
    g = _mm_add()
    res = RuleSet([Rule("mm-add", MM_ADD, _gemm)], name="my-pass").apply(g)
    assert res.changed and res.stats == {"mm-add": 1}
    (op,) = g.ops.values()
    assert op.op_type == "Gemm" and g.outputs[0] is op.outputs[0] and g.outputs[0].name == "add_out"
    assert op.provenance == [{"pass": "my-pass", "rule": "mm-add", "replaced": ["add", "mm"]}]
    g.verify()
    again = RuleSet([Rule("mm-add", MM_ADD, _gemm)]).apply(g)
    assert not again.changed and again.stats == {}


def test_provenance_chain_is_inherited():
    g = _graph()
    g.add_output(g.add_op("Relu", [g.inputs[0]], name="r").outputs[0])
    to_tanh = Rule("relu-tanh", P.Relu(var("x")), lambda m, b: b.Tanh(m["x"]))
    to_sig = Rule("tanh-sig", P.Tanh(var("x")), lambda m, b: b.Sigmoid(m["x"]))
    RuleSet([to_tanh], name="p1").apply(g)
    RuleSet([to_sig], name="p2").apply(g)
    (op,) = g.ops.values()
    assert [e["pass"] for e in op.provenance] == ["p1", "p2"]
    assert op.provenance[0]["replaced"] == ["r"]


def test_multi_output_pattern():
    g = _graph(inputs=(("x", (4, 3)),))
    split = g.add_op("Split", [g.inputs[0]], 2, name="split", attrs={"num_outputs": 2})
    g.add_output(g.add_op("Add", [split.outputs[1], split.outputs[0]], name="add").outputs[0])
    s = P.Split(var("x"), outputs=2, name="split")
    (m,) = find_matches(P.Add(s[0], s[1]), g)  # commutative: output order in the Add does not matter
    assert m["split"].name == "split"
    assert list(find_matches(P.Add(s[0], s[0]), g)) == []
    assert list(find_matches(P.Add(P.Split(var("x"), outputs=3)[0], var("y")), g)) == []


def test_multi_output_replacement_returns_one_value_per_output():
    g = _graph(inputs=(("x", (4, 3)),))
    split = g.add_op("Split", [g.inputs[0]], 2, name="split", attrs={"num_outputs": 2, "axis": 0})
    g.set_outputs([*g.outputs, *split.outputs])
    swap = Rule("split-swap", P.Split(var("x"), outputs=2, name="s"),
                lambda m, b: list(reversed(b.op("Split", [m["x"]], {"num_outputs": 2, "axis": 0}, outputs=2))))
    RuleSet([swap]).apply(g)
    assert [v.name for v in g.outputs] == ["split_out0", "split_out1"]
    bad = Rule("wrong-arity", P.Split(var("x"), outputs=2), lambda m, b: b.Relu(m["x"]))
    with pytest.raises(PassError, match="returned 1 values .* 2 outputs"):
        RuleSet([bad]).apply(g)


def test_conditions_say_why_they_refused():
    g = _mm_add(c_shape=(2, 4))
    pat = P.Add(P.MatMul(var("a", rank=2), const("B")), const("c"))
    pat = pat.where(lambda m: m.array("c").ndim == 1, "bias must be 1-D")  # where returns a new pattern
    r = Rule("mm-add", pat, _gemm)
    assert not RuleSet([r]).apply(g).changed
    rep = explain(r, g, "add")
    assert rep.first_failure == "bias must be 1-D"
    assert [o.name for o in rep.best.failure.matched] == ["add", "mm"]
    # a condition returning a string, or raising Refuse, supplies its own reason
    # (each its own: accepting either reason for both passed when the two were swapped)
    for cond, want in ((lambda m: f"c is {m.array('c').shape}", "c is (2, 4)"),
                       (lambda m: (_ for _ in ()).throw(Refuse("refused by raise")), "refused by raise")):
        p2 = P.Add(P.MatMul(var("a"), const("B")), const("c")).where(cond, "unused")
        assert explain(Rule("x", p2, _gemm), g, "add").first_failure == want


def test_where_on_inner_pattern_and_shape_checks():
    g = _graph(inputs=(("x", (1, 3, 4, 4)),))
    w = g.add_constant(np.ones((2, 3, 1, 1), F32), "w")
    c = g.add_op("Conv", [g.inputs[0], w], name="conv").outputs[0]
    g.add_output(g.add_op("Relu", [c], name="relu").outputs[0])
    conv = P.Conv(var("x"), const("w"), const("b", optional=True), name="conv")
    ok = P.Relu(conv.where(lambda m: m["w"].const.ndim == 4, "weight must be 4-D"))
    assert len(list(find_matches(ok, g))) == 1
    too_strict = P.Relu(P.Conv(var("x"), const("w")).where(lambda m: m["w"].const.ndim == 3, "weight must be 3-D"))
    assert explain(Rule("r", too_strict, _gemm), g).first_failure == "weight must be 3-D"
    ranked = P.Relu(P.Conv(var("x", rank=3), var("w")))
    assert "must have rank 3" in explain(Rule("r", ranked, _gemm), g, "relu").first_failure


def test_attributes_equal_capture_predicate_and_schema_default():
    g = _graph()
    g.add_output(g.add_op("LeakyRelu", [g.inputs[0]], name="lr", attrs={"alpha": 0.2}).outputs[0])
    g.add_output(g.add_op("Gemm", [g.inputs[0], g.inputs[0]], name="gemm").outputs[0])
    (m,) = find_matches(P.LeakyRelu(var("x"), attrs={"alpha": capture("a")}), g)
    assert m["a"] == pytest.approx(0.2)
    assert list(find_matches(P.LeakyRelu(var("x"), attrs={"alpha": lambda a: a > 0.5}), g)) == []
    assert len(list(find_matches(P.Gemm(var("a"), var("b"), attrs={"transA": 0}), g))) == 1  # ONNX default
    r = Rule("r", P.Gemm(var("a"), var("b"), attrs={"transB": 1}), _gemm)
    assert "transB=0" in explain(r, g, "gemm").first_failure


def test_same_variable_binds_one_value_and_optional_inputs():
    g = _graph(inputs=(("x", (2, 3)), ("y", (2, 3))))
    g.add_output(g.add_op("Mul", [g.inputs[0], g.inputs[0]], name="sq").outputs[0])
    g.add_output(g.add_op("Mul", [g.inputs[0], g.inputs[1]], name="xy").outputs[0])
    x = var("x")
    assert [m.root.name for m in find_matches(P.Mul(x, x), g)] == ["sq"]
    assert [m.root.name for m in find_matches(P.Mul(var("x"), var("y"), ...), g)] == ["sq", "xy"]


def test_inner_op_read_outside_is_refused_unless_shared():
    g = _mm_add()
    g.add_output(g.op("mm").outputs[0])
    assert "also read by a graph output" in explain(Rule("r", MM_ADD, _gemm), g, "add").first_failure
    shared = P.Add(P.MatMul(var("a"), const("B"), shared=True), const("c"))
    RuleSet([Rule("r", shared, _gemm)]).apply(g)
    assert sorted(o.op_type for o in g.ops.values()) == ["Gemm", "MatMul"]
    g.verify()


def test_declining_replacement_leaves_graph_untouched():
    g = _mm_add()
    before = (sorted(g.ops), sorted(g.values))

    def half_built(m, b):
        b.Gemm(m["a"], m["B"], b.const(np.zeros(4, F32)))
        return None

    def refusing(m, b):
        b.Relu(m["a"])
        raise Refuse("no thanks")

    for fn in (half_built, refusing):
        r = Rule("decline", MM_ADD, fn)
        assert not RuleSet([r]).apply(g).changed
        assert (sorted(g.ops), sorted(g.values)) == before
    rep = explain(Rule("decline", MM_ADD, refusing), g, "add")
    assert rep.reports[0].matched and rep.reports[0].declined == "no thanks"
    assert "replacement declined" in str(rep)


def test_fixed_point_and_cap():
    g = _graph()
    y = g.inputs[0]
    for i in range(3):
        y = g.add_op("Neg", [y], name=f"n{i}").outputs[0]
    g.add_output(y)
    # Neg(Neg(x)) -> x needs two sweeps here (n0,n1 then n2 is left: odd count)
    rules = RuleSet([Rule("neg-neg", P.Neg(P.Neg(var("x"))), lambda m, b: b.Identity(m["x"]))])
    assert rules.apply(g, max_iterations=5).stats == {"neg-neg": 1}
    g2 = _graph()
    g2.add_output(g2.add_op("Relu", [g2.inputs[0]], name="r").outputs[0])
    ping = Rule("relu-tanh", P.Relu(var("x")), lambda m, b: b.Tanh(m["x"]))
    pong = Rule("tanh-relu", P.Tanh(var("x")), lambda m, b: b.Relu(m["x"]))
    with pytest.raises(PassError, match="did not reach a fixed point in 4 sweeps: tanh-relu still"):
        RuleSet([ping, pong], name="pingpong").apply(g2, max_iterations=4)
    once = RuleSet([ping, pong]).apply(g2)  # once: a single sweep
    assert once.stats == {"relu-tanh": 1} or once.stats == {"tanh-relu": 1}


def test_tracer_over_whole_graph_and_missing_root():
    g = _mm_add(c_shape=(2, 4))
    g2 = _graph()
    g2.add_output(g2.add_op("Relu", [g2.inputs[0]], name="r").outputs[0])
    r = Rule("mm-add", P.Add(P.MatMul(var("a"), var("B")), const("c", rank=1)), _gemm)
    text = str(explain(r, g))
    assert "1 candidate Add op(s); 0 match" in text and "must have rank 1" in text
    assert "no op of type Add" in str(explain(r, g2))
    assert "the pattern's root is Add, the node is Relu" in str(explain(r, g2, "r"))


def test_rule_decorator_and_registry():
    @rule("tmp-relu", P.Relu(var("x")))
    def tmp(m, b):
        """Relu to Tanh."""
        return b.Tanh(m["x"])

    assert tmp.description == "Relu to Tanh."
    reg = RuleRegistry()
    register_rules(RuleSet([tmp], name="tmp-pass"), registry=reg)
    assert reg.get("tmp-relu") is tmp and reg.pass_of("tmp-relu") == "tmp-pass"
    with pytest.raises(Exception, match="unknown rule 'tmp-relv'. Did you mean tmp-relu"):
        reg.get("tmp-relv")
    assert {"conv-bn", "matmul-add", "conv-activation", "gemm-activation"} <= set(RULES.names())


def test_pass_context_reaches_conditions():
    g = _mm_add()
    pat = P.Add(P.MatMul(var("a"), const("B")), const("c")).where(lambda m: m.ctx.options.get("fuse", False), "fusing is off")
    rules = RuleSet([Rule("mm-add", pat, _gemm)])
    assert not rules.apply(g, PassContext()).changed
    assert rules.apply(g, PassContext(options={"fuse": True})).changed
