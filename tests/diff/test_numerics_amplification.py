"""--check-numerics without false alarms (issue 16, item 4): rounding a pass introduces and an
untouched op amplifies (Softmax over logits of ~1e9) is not blamed; a wrong rewrite still is,
naming the op where the difference starts; success says what was checked."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from graphc import PassContext, PassManager, load_model
from graphc.cli.main import main
from graphc.diff.instrument import NumericsCheck, NumericsError
from graphc.diff.numerics import first_divergence, with_all_outputs
from graphc.passinfra import PassRegistry, PassResult, graph_pass
from graphc.passinfra.declare import PASSES


def logits_model() -> onnx.ModelProto:
    """y = Softmax(x @ W) with W ~ 1e9: logits one float32 ulp apart give other probabilities."""
    w = np.full((4, 6), 1.7e9, np.float32)  # constant-filled, as the light model zoo's weights
    nodes = [helper.make_node("MatMul", ["x", "W"], ["logits"], name="mm"),
             helper.make_node("Softmax", ["logits"], ["y"], name="prob", axis=-1)]
    g = helper.make_graph(nodes, "logits", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])],
                          [numpy_helper.from_array(w, "W")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _nudge(graph, factor) -> PassResult:
    w = graph.values["W"]
    new = w.const.copy()
    new[:, 0] *= np.float32(factor)  # one column: its logit moves against the others
    w.const = new
    return PassResult(changed=True, stats={"nudged": 1})


@pytest.fixture
def registry():
    reg = PassRegistry()
    for name in ("canonicalize", "infer-shapes"):
        reg.add(PASSES.get(name))

    @graph_pass("round-weights", "test only: W moves by about one float32 ulp", registry=reg)
    def round_weights(graph, ctx):
        return _nudge(graph, 1 + 2.0 ** -23)

    @graph_pass("break-weights", "test only: W moves by 1%", registry=reg)
    def break_weights(graph, ctx):
        return _nudge(graph, 1.01)

    return reg


def test_rounding_amplified_by_an_untouched_softmax_is_not_blamed(registry):
    graph = load_model(logits_model())
    check = NumericsCheck()
    PassManager("canonicalize,infer-shapes,round-weights", registry).run(graph, PassContext(instruments=[check]))
    assert check.checked == ["infer-shapes", "round-weights"]
    summary = check.summary()
    assert summary.startswith("checked 2 passes on 1 input set: max rel diff")
    assert "Softmax 'prob' amplified rounding differences in its inputs" in summary


def test_a_constant_that_really_moved_is_blamed_where_it_is_read(registry):
    graph = load_model(logits_model())
    with pytest.raises(NumericsError, match=r"pass 'break-weights' changed the model's outputs.* It starts at MatMul 'mm'") as info:
        PassManager("canonicalize,infer-shapes,break-weights", registry).run(
            graph, PassContext(instruments=[NumericsCheck(input_sets=2)]))
    assert (info.value.pass_name, info.value.node, info.value.op_type) == ("break-weights", "mm", "MatMul")


def test_first_divergence_on_intermediates():
    from graphc.diff.instrument import run_on_numpy, seeded_inputs

    before = load_model(logits_model())
    after = before.copy()
    _nudge(after, 1 + 2.0 ** -23)
    feeds = seeded_inputs(before)
    ctx = PassContext()
    vb, va = run_on_numpy(with_all_outputs(before), feeds, ctx), run_on_numpy(with_all_outputs(after), feeds, ctx)
    assert set(vb) == {"logits", "y"}
    result = first_divergence(before, after, vb, va, 1e-4, 1e-5)
    assert result.first is None and result.bad == set() and [a.op for a in result.amplified] == ["prob"]


def test_readme_model_checks_clean(tmp_path, capsys):
    """The README's own command: squeezenet's logits of ~6.8e9 used to blame fold-constants."""
    status = main(["compile", "--example", "squeezenet", "--target", "numpy", "-o", str(tmp_path / "sq.graphc"),
                   "--check-numerics"])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "checked " in out.out and " passes on 1 input set: max rel diff" in out.out
