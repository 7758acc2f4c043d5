"""The ort target's memory budget (issue 20 Medium: "the ort target has no budget at all"): the numpy
target's ``memory_budget`` applied at compile (statically sized values, alone and alive at once), before a
run (sizes predicted from the feeds), after it (what onnxruntime returned), and to Python ops' outputs."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from graphc import PlanError

MODES = ["single", "partitioned"]


def _model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _ort(mode: str):
    from targets.ort import OrtTarget

    return OrtTarget(mode=mode)


def _expand_to_constant():
    """Expand a fed [1, 1] to a constant [10000, 10000]: a 400 MB output from a tiny model."""
    return _model([helper.make_node("Expand", ["x", "shape"], ["y"], name="grow")],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                  [helper.make_tensor("shape", TensorProto.INT64, [2], [10_000, 10_000])])


@pytest.mark.parametrize("mode", MODES)
def test_a_static_output_over_the_budget_is_refused_at_compile(mode):
    """It compiled and returned 400 MB under memory_budget=10 MB; now a PlanError naming the node at compile."""
    with pytest.raises(PlanError, match=r"'y' \(output of Expand node 'grow'\) needs 400000000 bytes, over the "
                                        r"memory budget of 10000000 bytes \(ort target\)"):
        graphc.compile(_expand_to_constant(), target=_ort(mode), memory_budget=10_000_000)


def _two_live_values(n):
    """a = x * 2 and b = x * 3 (n floats each) alive together until y = a + b."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])
    return _model([helper.make_node("Mul", ["x", "two"], ["a"], name="double"),
                   helper.make_node("Mul", ["x", "three"], ["b"], name="triple"),
                   helper.make_node("Add", ["a", "b"], ["y"], name="sum")],
                  [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])],
                  [helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
                   helper.make_tensor("three", TensorProto.FLOAT, [], [3.0])])


def test_static_values_alive_at_once_count_together_at_compile():
    """Three 4 MB values (a, b and the output y; a and b alive together) under a 10 MB budget: each fits,
    together they do not (refused); under 16 MB the model compiles and gives 5x."""
    n = 1_000_000
    with pytest.raises(PlanError, match=r"values alive at once need \d+ bytes and the graph outputs 4000000 more, "
                                        r"over the memory budget of 10000000 bytes"):
        graphc.compile(_two_live_values(n), target="ort", memory_budget=10_000_000)
    art = graphc.compile(_two_live_values(n), target="ort", memory_budget=16_000_000)
    x = np.arange(n, dtype=np.float32)
    np.testing.assert_array_equal(art.run({"x": x})["y"], x * 5)


def _fed_expand():
    return _model([helper.make_node("Expand", ["x", "shape"], ["y"], name="grow")],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1]),
                   helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])


@pytest.mark.parametrize("mode", MODES)
def test_a_fed_shape_over_the_budget_is_refused_before_onnxruntime_runs(mode):
    """Expand fed [10000, 20000] under 10 MB: the 800 MB output is predicted from the feeds and refused before
    onnxruntime allocates it (it used to be returned); [100, 100] runs and matches numpy's broadcast."""
    import resource
    import time

    art = graphc.compile(_fed_expand(), target=_ort(mode), memory_budget=10_000_000)
    x = np.full((1, 1), 3.0, np.float32)
    np.testing.assert_array_equal(art.run({"x": x, "shape": np.array([100, 100])})["y"], np.full((100, 100), 3.0))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(PlanError, match=r"Expand node 'grow': its output 'y' of shape \[10000, 20000\] will need "
                                        r"800000000 bytes \(predicted from the feeds\), over the memory budget of "
                                        r"10000000 bytes"):
        art.run({"x": x, "shape": np.array([10_000, 20_000])})
    assert time.perf_counter() - start < 5
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    assert grew < 400_000_000, f"the refused run grew the peak RSS by {grew} bytes"


def test_values_predicted_alive_at_once_are_refused_before_the_run():
    """The two-live-values model with a free length: 3 x 4 MB predicted from the feed, a and b alive at once
    with the output, over 10 MB before onnxruntime runs; 1000 elements run and give 5x."""
    model = _two_live_values("N")
    art = graphc.compile(model, target="ort", memory_budget=10_000_000)
    small = np.arange(1000, dtype=np.float32)
    np.testing.assert_array_equal(art.run({"x": small})["y"], small * 5)
    with pytest.raises(PlanError, match=r"the values alive there will need 1[02]000000 bytes \(predicted from the "
                                        r"feeds\), over the memory budget of 10000000 bytes"):
        art.run({"x": np.ones(1_000_000, np.float32)})


def test_an_output_of_a_size_inference_cannot_predict_is_refused_after_the_run():
    """NonZero's output size depends on the data: no prediction; the 8 MB result is refused after onnxruntime
    computed it, under a 4 MB budget (it used to be returned)."""
    model = _model([helper.make_node("NonZero", ["x"], ["y"], name="nz")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                   [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
    art = graphc.compile(model, target="ort", memory_budget=4_000_000)
    np.testing.assert_array_equal(art.run({"x": np.array([0, 1, 0, 2], np.float32)})["y"], [[1, 3]])
    with pytest.raises(PlanError, match=r"output 'y' of shape \[1, 1000000\] is 8000000 bytes, over the memory "
                                        r"budget of 4000000 bytes \(checked after onnxruntime ran"):
        art.run({"x": np.ones(1_000_000, np.float32)})


@pytest.mark.parametrize("mode", MODES)
def test_a_saved_bundle_keeps_its_budget_and_the_users_lower_one_wins(tmp_path, monkeypatch, mode):
    """The compile's budget is recorded in the manifest and applies after load; GRAPHC_MEMORY_BUDGET lower than
    it wins (a manifest can lower the user's limit, never raise it)."""
    art = graphc.compile(_fed_expand(), target=_ort(mode), memory_budget=10_000_000)
    art.save(tmp_path / "b")
    loaded = graphc.load(tmp_path / "b")
    x = np.ones((1, 1), np.float32)
    assert loaded.run({"x": x, "shape": np.array([1000, 1000])})["y"].shape == (1000, 1000)  # 4 MB
    with pytest.raises(PlanError, match=r"over the memory budget of 10000000 bytes"):
        loaded.run({"x": x, "shape": np.array([2000, 2000])})  # 16 MB
    monkeypatch.setenv("GRAPHC_MEMORY_BUDGET", "1000000")
    with pytest.raises(PlanError, match=r"over the memory budget of 1000000 bytes"):
        graphc.load(tmp_path / "b").run({"x": x, "shape": np.array([1000, 1000])})


def _grow_registry():
    from graphc.layers.registry import LayerRegistry

    reg = LayerRegistry()

    @graphc.register_layer("Grow", domain="h4.test", registry=reg)
    class Grow(graphc.Layer):
        """(N, 1) -> (N * 1000, 1000) of the input's first value: its size known only at run time."""

        def output_shapes(self, input_shapes):
            return [(input_shapes[0][0] * 1000, 1000)]

        def forward(self, inputs, outputs, internals):
            outputs[0][...] = inputs[0][0, 0]

    return reg


@pytest.mark.parametrize("mode", MODES)
def test_a_python_op_output_over_the_artifacts_budget_is_refused_before_allocation(mode):
    """A layer run as a Python op promising 16 MB for N=4 under the compile's memory_budget of 10 MB: a
    LayerError naming the node before the output is allocated (the layer checked the default budget, half the
    machine's memory, and allocated it); N=2 (8 MB) runs."""
    g = helper.make_graph([helper.make_node("Grow", ["x"], ["y"], name="grow", domain="h4.test")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("h4.test", 1)])
    art = graphc.compile(model, target=_ort(mode), layers=_grow_registry(), memory_budget=10_000_000)
    np.testing.assert_array_equal(art.run({"x": np.full((2, 1), 7.0, np.float32)})["y"], np.full((2000, 1000), 7.0))
    with pytest.raises(graphc.LayerError, match=r"'grow'.*16000000 bytes.*over the memory budget of 10000000"):
        art.run({"x": np.full((4, 1), 7.0, np.float32)})


class _NoKernels:
    """An onnxruntime kernel registry covering nothing: every node runs as a Python op (graphc's kernel or
    onnx.reference), as nodes onnxruntime lacks do."""

    max_opsets = {"": 21}
    max_ir_version = 10

    def covers(self, op):
        return False


def test_an_onnx_reference_python_op_output_is_predicted_and_checked_before_it_runs():
    """RandomUniformLike run by onnx.reference inside a Python op, as float64 of a fed 3 MiB float32 input:
    6 MiB predicted from the input under the artifact's 4 MiB budget is a PlanError naming the node before the
    evaluator runs (it drew the 6 MiB and returned it); 1000 elements run within [2, 3)."""
    from targets.ort import OrtTarget

    g = helper.make_graph([helper.make_node("RandomUniformLike", ["x"], ["y"], name="rnd", dtype=TensorProto.DOUBLE,
                                            low=2.0, high=3.0)], "rnd",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                          [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    art = graphc.compile(model, target=OrtTarget(registry=_NoKernels(), mode="single"), memory_budget=4 << 20)
    assert art.manifest["custom_ops"][0]["lowering"] != "function"
    y = art.run({"x": np.ones(1000, np.float32)})["y"]
    assert y.shape == (1000,) and y.dtype == np.float64 and 2.0 <= y.min() and y.max() < 3.0
    with pytest.raises(PlanError, match=r"RandomUniformLike node 'rnd': output 0 \(predicted before onnx.reference "
                                        r"runs\) of shape \[786432\] needs 6291456 bytes, over the memory budget "
                                        r"of 4194304"):
        art.run({"x": np.ones(3 << 18, np.float32)})
