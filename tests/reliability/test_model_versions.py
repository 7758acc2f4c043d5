"""Versions and control-flow shapes graphc cannot read a model's meaning from are refused at load (issue 20
Low: opset 99, a missing opset_import, ir_version 999 and an If branch with more outputs than the node were
accepted), while custom domains and every model of the installed onnx's test suites still load."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import graphc
from graphc import ModelFormatError
from graphc.frontends.onnx import check_versions, load_onnx


def _relu(opsets, ir_version=None):
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(g, opset_imports=opsets)
    if ir_version is not None:
        model.ir_version = ir_version
    return model


@pytest.mark.parametrize("model, message", [
    (_relu([helper.make_opsetid("", 99)]),
     r"imports opset 99 of domain 'ai.onnx', newer than the installed onnx \S+ defines \(\d+\); re-export"),
    (_relu([helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 99)]),
     r"opset 99 of domain 'ai.onnx.ml', newer than"),
    (_relu([]), r"imports no opset for the default domain \(ai.onnx\) but its nodes use it; add an opset_import"),
    (_relu([helper.make_opsetid("", 17)], ir_version=999),
     r"ir_version 999 is newer than the installed onnx \S+ reads \(\d+\)"),
], ids=["opset-99", "ml-opset-99", "no-opset-import", "ir-999"])
def test_versions_onnx_does_not_define_are_refused(model, message):
    with pytest.raises(ModelFormatError, match=message):
        graphc.compile(model, target="numpy")


def test_a_custom_domain_at_any_version_and_an_old_ir_without_opsets_load():
    """A custom domain's opset is the model's own business; before IR 3 the default domain was implied."""
    x = np.array([-1.0, 2.0], np.float32)
    model = _relu([helper.make_opsetid("", 17), helper.make_opsetid("acme.custom", 9999)])
    np.testing.assert_array_equal(graphc.compile(model, target="numpy").run({"x": x})["y"], [0.0, 2.0])
    check_versions(_relu([], ir_version=2))


def test_every_model_of_the_installed_onnx_test_suites_passes_the_version_check():
    """The node suite (generated in memory) and the stored suites of the installed onnx: none is refused."""
    from onnx.backend.test.loader import load_model_tests

    from graphc.conformance import collect_node_cases

    models = {id(c.model): c.model for c in collect_node_cases()}
    checked = 0
    for kind in ("simple", "pytorch-converted", "pytorch-operator", "light"):
        for t in load_model_tests(kind=kind):
            if t.model_dir:
                models[t.model_dir] = onnx.load(f"{t.model_dir}/model.onnx", load_external_data=False)
    for model in models.values():
        check_versions(model)
        checked += 1
    assert checked > 1500, checked


def _if_model(then_outputs: int, else_outputs: int = 1):
    def branch(name, n):
        outs = [f"{name}{i}" for i in range(n)]
        return helper.make_graph([helper.make_node("Constant", [], [o], value_float=float(i)) for i, o in
                                  enumerate(outs)], name, [],
                                 [helper.make_tensor_value_info(o, TensorProto.FLOAT, []) for o in outs])

    node = helper.make_node("If", ["c"], ["y"], name="choose", then_branch=branch("t", then_outputs),
                            else_branch=branch("e", else_outputs))
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("then_outputs, else_outputs, branch, got", [(2, 1, "then_branch", 2), (1, 0, "else_branch", 0)])
def test_an_if_branch_yielding_another_number_of_outputs_is_refused_naming_the_node(then_outputs, else_outputs,
                                                                                    branch, got):
    with pytest.raises(ModelFormatError, match=rf"node 'choose' \(If\): its {branch} yields {got} output\(s\) but "
                                               r"the node has 1"):
        load_onnx(_if_model(then_outputs, else_outputs))


def test_a_well_formed_if_runs_as_onnxruntime_does():
    art = graphc.compile(_if_model(1, 1), target="numpy")
    assert float(art.run({"c": np.array(True)})["y"]) == 0.0 and float(art.run({"c": np.array(False)})["y"]) == 0.0


def test_a_loop_body_not_matching_the_node_is_refused_naming_the_node():
    """A Loop with one carried value whose body yields no carried value (condition only)."""
    body = helper.make_graph([helper.make_node("Identity", ["cond_in"], ["cond_out"])], "body",
                             [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                              helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                              helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [1])],
                             [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, [])])
    g = helper.make_graph([helper.make_node("Loop", ["M", "c", "x"], ["y"], name="spin", body=body)], "g",
                          [helper.make_tensor_value_info(n, t, s) for n, t, s in
                           (("M", TensorProto.INT64, []), ("c", TensorProto.BOOL, []), ("x", TensorProto.FLOAT, [1]))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelFormatError, match=r"node 'spin' \(Loop\): its body takes 3 input\(s\) and yields 1, but "
                                               r"the node takes 3 .* and yields 1"):
        load_onnx(model)


def test_a_string_tensor_that_is_not_utf8_is_refused_naming_the_tensor_and_element():
    """ONNX strings are UTF-8 (onnxruntime fails on such an output with a UnicodeDecodeError): graphc refuses it
    at load, naming the initializer and the element, and says how to carry raw bytes; valid text still runs."""
    def model(values):
        t = onnx.TensorProto(name="words", data_type=TensorProto.STRING, dims=[len(values)])
        t.string_data.extend(values)
        g = helper.make_graph([helper.make_node("Identity", ["words"], ["y"], name="id")], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.STRING, [len(values)])], [t])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])

    with pytest.raises(ModelFormatError, match=r"initializer 'words': STRING element 1 \(b'\\xff\\xfeab'\) is not "
                                               r"UTF-8 \(invalid start byte at byte 0\); .* UINT8 tensor"):
        load_onnx(model([b"ok", b"\xff\xfeab"]))
    out = graphc.compile(model(["ok".encode(), "é".encode()]), target="numpy").run({})["y"]
    assert list(out) == ["ok", "é"]
