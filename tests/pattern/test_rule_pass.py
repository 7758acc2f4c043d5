"""Rule passes declared once (issue 18 items 1 and 5): rule_pass registers the pass and its rules
under one name, fail() refuses with a reason, patterns are immutable, a replacement may drop an
unread output, and a pass using shapes placed before infer-shapes is refused up front."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphc import Graph, ModelInfo, PassContext, PassError, PassManager, TensorType, load_model
from graphc.exporters.onnx import to_onnx
from graphc.passinfra import PassRegistry
from graphc.pattern import P, Rule, RuleRegistry, const, explain, fail, rule_pass, var

F32 = np.float32


def _mm_add():
    g = Graph("g", model=ModelInfo())
    x = g.add_input("x", TensorType(np.dtype(F32), (2, 3)))
    B = g.add_constant(np.arange(12, dtype=F32).reshape(3, 4), "B")
    c = g.add_constant(np.arange(4, dtype=F32), "c")
    t = g.add_op("MatMul", [x, B], name="mm").outputs[0]
    g.add_output(g.add_op("Add", [t, c], name="add").outputs[0])
    return g


def test_rule_pass_declares_pass_and_rules_under_one_name():
    passes, rules = PassRegistry(), RuleRegistry()
    r = Rule("mm-add-demo", P.Add(P.MatMul(var("a"), const("B")), const("c")), lambda m, b: b.Gemm(m["a"], m["B"], m["c"]))
    rs = rule_pass("demo-fuse", """MatMul + Add -> Gemm, for the test

    Longer text: when it applies.""", [r], uses=("shapes-known",), registry=passes, rule_registry=rules)
    info = passes.get("demo-fuse")
    assert info.description == "MatMul + Add -> Gemm, for the test"
    assert info.uses == frozenset({"shapes-known"}) and info.requires == frozenset()
    assert "Longer text: when it applies." in info.fn.__doc__
    assert rules.pass_of("mm-add-demo") == "demo-fuse" and rs.rules == [r]
    g = _mm_add()
    result = PassManager("demo-fuse", passes).run(g, PassContext())
    assert [op.op_type for op in g] == ["Gemm"]
    assert g.op("add_Gemm").provenance[-1]["pass"] == "demo-fuse"
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(F32)
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], x @ np.arange(12, dtype=F32).reshape(3, 4) + np.arange(4),
                               rtol=1e-6)
    assert result is g


def test_where_returns_a_new_pattern_and_leaves_the_old_one_alone():
    base = P.Add(P.MatMul(var("a"), const("B")), const("c"))
    strict = base.where(lambda m: False, "never")
    assert base.conditions == () and [c.reason for c in strict.conditions] == ["never"]
    g = _mm_add()
    assert explain(Rule("r", strict, lambda m, b: None), g, "add").first_failure == "never"
    assert explain(Rule("r", base, lambda m, b: b.Gemm(m["a"], m["B"], m["c"])), g, "add").matched == ["add"]


def test_fail_gives_the_reason_and_a_string_return_is_deprecated():
    g = _mm_add()
    pat = P.Add(P.MatMul(var("a"), const("B")), const("c")).where(lambda m: fail(f"c has shape {m.array('c').shape}"), "unused")
    assert explain(Rule("r", pat, lambda m, b: None), g, "add").first_failure == "c has shape (4,)"
    old = P.Add(P.MatMul(var("a"), const("B")), const("c")).where(lambda m: "old style", "unused")
    with pytest.warns(DeprecationWarning, match="fail\\(reason\\)"):
        assert explain(Rule("r", old, lambda m, b: None), g, "add").first_failure == "old style"


def test_a_replacement_may_drop_an_unread_output_but_not_a_read_one():
    def split_model(read_second: bool):
        g = Graph("g", model=ModelInfo())
        x = g.add_input("x", TensorType(np.dtype(F32), (4,)))
        s = g.add_op("Split", [x], 2, name="split", attrs={"num_outputs": 2})
        g.add_output(g.add_op("Relu", [s.outputs[0]], name="r").outputs[0])
        if read_second:
            g.add_output(s.outputs[1])
        return g

    first_half = Rule("first-half", P.Split(var("x"), outputs=2, name="split"),
                      lambda m, b: [b.Slice(m["x"], b.const(np.array([0])), b.const(np.array([2]))), None])
    passes = PassRegistry()
    rule_pass("demo-drop", "Split whose second half is unread -> Slice", [first_half], registry=passes,
              rule_registry=RuleRegistry())
    g = split_model(read_second=False)
    PassManager("demo-drop", passes).run(g, PassContext())
    g.verify()
    assert sorted(op.op_type for op in g.ops.values()) == ["Relu", "Slice"]
    x = np.array([-1, 2, -3, 4], F32)
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], [0, 2])
    with pytest.raises(PassError, match="returned None for output 'split_out1', which is read"):
        PassManager("demo-drop", passes).run(split_model(read_second=True), PassContext())


def test_fusion_before_infer_shapes_is_refused_naming_both_passes():
    with pytest.raises(PassError) as e:
        PassManager("canonicalize,fuse-matmul-add,infer-shapes")
    assert "pass 'fuse-matmul-add' uses 'shapes-known', which pass 'infer-shapes' establishes only after it" in str(e.value)
    PassManager("canonicalize,infer-shapes,fuse-matmul-add,infer-shapes")  # established before: fine
    PassManager("canonicalize,fuse-matmul-add")  # declared shapes may be enough: accepted


def test_eliminate_dropout_as_a_rule_drops_the_unread_mask():
    nodes = [helper.make_node("Dropout", ["x", "r"], ["d", "mask"], name="drop"),
             helper.make_node("Relu", ["d"], ["y"], name="relu")]
    model = helper.make_model(helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(np.array(0.5, F32), "r")]), opset_imports=[helper.make_opsetid("", 13)])
    g = load_model(model)
    PassManager("canonicalize,eliminate-dropout").run(g, PassContext())
    g.verify()
    assert [op.op_type for op in g] == ["Relu"] and "mask" not in g.values
    assert g.op("relu").inputs[0] is g.value("x")
