"""graphc.summary and `graphc inspect MODEL`'s model section."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from graphc import PassContext, PassManager, load_model
from graphc.cli.main import main
from graphc.examples import example_path
from graphc.summary import summarize


def test_summary_of_squeezenet():
    graph = load_model(example_path("squeezenet"))
    s = summarize(graph)
    assert s["inputs"] == {"data_0": "float32[1,3,224,224]"}
    assert s["outputs"] == {"softmaxout_1": "float32[1,1000,1,1]"}
    assert s["opsets"] == {"ai.onnx": 9} and s["ir_version"] == 3
    assert s["op_types"]["Conv"] == 26 and s["ops"] == sum(s["op_types"].values()) == len(graph)
    assert s["parameters"] == sum(v.const.size for v in graph.constants())


def test_parameters_and_untyped_ops():
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Custom", ["m"], ["y"], domain="acme")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("acme", 1)])
    graph = load_model(m)
    PassManager("infer-shapes").run(graph, PassContext())
    s = summarize(graph)
    assert s["parameters"] == 12 and s["parameter_bytes"] == 48
    assert [u["node"] for u in s["untyped"]] == [graph.value("y").producer().name]
    assert s["opsets"] == {"ai.onnx": 17, "acme": 1}


def test_inspect_prints_the_model_section(capsys):
    assert main(["inspect", "--example", "squeezenet"]) == 0
    out = capsys.readouterr().out
    for text in ("IR 3", "data_0", "float32[1,3,224,224]", "Conv 26", "parameters (constants, after folding): 1,235,", "Dropout", "runs:"):
        assert text in out, text
