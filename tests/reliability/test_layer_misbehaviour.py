"""Misbehaving layers on the numpy target: exiting, interrupting or mutating their inputs is contained;
a layer fed many shapes does not keep a plan per shape forever."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, save

import graphc
from graphc import LayerError, Param
from graphc.layers import LayerRegistry, LayerRunner

ROOT = Path(__file__).resolve().parents[2]


class _Same(graphc.Layer):
    how = Param(str, default="")

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]


class Exiting(_Same):
    def forward(self, inputs, outputs, internals):
        if self.how == "exit":
            sys.exit(0)
        raise GeneratorExit("the layer closed a generator")


class Mutating(_Same):
    def forward(self, inputs, outputs, internals):
        inputs[0][...] = 0
        outputs[0][...] = inputs[0]


def _model(name: str = "odd1"):
    nodes = [helper.make_node("Odd", ["x"], ["y"], domain="acme", name=name),
             helper.make_node("Relu", ["x"], ["z"], name="sibling")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
                           helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("acme", 1)])


def _registry(cls) -> LayerRegistry:
    reg = LayerRegistry()
    reg.register("Odd", domain="acme")(cls)
    return reg


@pytest.mark.parametrize("how, what", [("exit", "SystemExit"), ("close", "GeneratorExit")])
def test_a_layer_exiting_in_forward_is_a_layer_error(how, what):
    model = _model()
    model.graph.node[0].attribute.append(helper.make_attribute("how", how))
    art = graphc.compile(model, target="numpy", layers=_registry(Exiting))
    with pytest.raises(LayerError, match=f"'odd1'.*{what}"):
        art.run({"x": np.ones((2, 3), np.float32)})


LAYER_FILE = '''
import graphc, sys


@graphc.register_layer("Odd", domain="acme")
class Odd(graphc.Layer):
    how = graphc.Param(str, default="")

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        if self.how == "exit":
            sys.exit(0)
        raise KeyboardInterrupt
'''


@pytest.mark.parametrize("how", ["exit", "interrupt"])
def test_graphc_run_of_a_layer_exiting_fails_with_one_line(tmp_path, how):
    """`graphc run` used to exit 0 printing nothing when a layer called sys.exit(0)."""
    model = _model()
    model.graph.node[0].attribute.append(helper.make_attribute("how", how))
    save(model, tmp_path / "m.onnx")
    (tmp_path / "odd_layers.py").write_text(LAYER_FILE)
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "graphc.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    r = cli("compile", "m.onnx", "--target", "numpy", "-o", "m.graphc", "--layers", "odd_layers.py")
    assert r.returncode == 0, r.stderr
    r = cli("run", "m.graphc", "--random-inputs", "0", "--layers", "odd_layers.py")
    if how == "interrupt":  # an interrupt stays one (Ctrl-C during a layer): exit 130, said so, no traceback
        assert r.returncode == 130 and r.stderr == "graphc: interrupted\n", (r.returncode, r.stderr)
        return
    assert r.returncode != 0 and "odd1" in r.stderr and "SystemExit" in r.stderr, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr


def test_a_layer_cannot_modify_its_inputs():
    """Inputs are read-only views: the caller's array and a sibling node's result stay intact."""
    art = graphc.compile(_model(), target="numpy", layers=_registry(Mutating))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    with pytest.raises(LayerError, match="'odd1'.*read-only"):
        art.run({"x": x})
    np.testing.assert_array_equal(x, np.arange(6, dtype=np.float32).reshape(2, 3))


def test_a_layer_fed_many_shapes_keeps_a_bounded_number_of_plans():
    class Internals(_Same):
        def output_shapes(self, input_shapes):
            return [tuple(input_shapes[0])], [tuple(input_shapes[0])]  # and one scratch buffer per shape

        def forward(self, inputs, outputs, internals):
            outputs[0][...] = inputs[0]

    runner = LayerRunner("odd1", "acme::Odd", Internals, {})
    for n in range(1, 301):
        (y,) = runner(None, np.ones((n, 4), np.float32))
        assert y.shape == (n, 4)
    assert len(runner._plans) <= LayerRunner.PLAN_CACHE_SIZE
    (y,) = runner(None, np.full((3, 4), 2, np.float32))  # an evicted shape is planned again
    np.testing.assert_array_equal(y, np.full((3, 4), 2, np.float32))


REENTRANT = '''
import numpy as np
import graphc
from graphc.layers import LayerRegistry
from onnx import helper, TensorProto

HOLDER = {}


class Again(graphc.Layer):
    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = HOLDER["art"].run({"x": inputs[0]})["y"]


reg = LayerRegistry()
reg.register("Again", domain="acme")(Again)
g = helper.make_graph([helper.make_node("Again", ["x"], ["y"], domain="acme", name="again")], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("acme", 1)])
HOLDER["art"] = art = graphc.compile(m, target="ort", layers=reg, mode="single")
try:
    art.run({"x": np.ones(2, np.float32)})
except graphc.LayerError as e:
    print("LayerError", e)
print("after", art.run.__self__ is art)
'''


def test_a_layer_running_its_own_ort_artifact_is_a_layer_error_not_a_deadlock(tmp_path):
    """The Python op runs on the caller's thread, which holds the artifact's lock: run() from inside it used
    to wait for itself forever (a child process, so a regression times out instead of hanging pytest)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        r = subprocess.run([sys.executable, "-c", REENTRANT], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("deadlock: the run did not return within 60 s")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "'again'" in r.stdout and "run() on the artifact it is running in" in r.stdout, r.stdout
