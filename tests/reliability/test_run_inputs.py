"""Run-time input checking: wrong names, missing/extra inputs, dtype, rank, size, layouts; NaN/Inf."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import graphc
from graphc import InputError
from tests.oracle import ort_run


def _model(shape=(2, 3)):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, list(shape))
    nodes = [helper.make_node("Add", ["x", "b"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    g = helper.make_graph(nodes, "g", [x, b], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def art():
    return graphc.compile(_model(), target="numpy")


def _feeds():
    rng = np.random.default_rng(0)
    return {"x": rng.standard_normal((2, 3)).astype(np.float32), "b": rng.standard_normal((2, 3)).astype(np.float32)}


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda f: f.pop("b"), r"missing.*'b'"),
        (lambda f: f.update(z=np.zeros(1, np.float32)), r"'z'"),
        (lambda f: f.update(x=f["x"].astype(np.float64)), r"'x'.*float32.*float64|'x'.*float64.*float32"),
        (lambda f: f.update(x=f["x"].reshape(6)), r"'x'"),
        (lambda f: f.update(x=np.zeros((2, 4), np.float32)), r"'x'.*\(2, 3\)|'x'.*2.*3"),
        (lambda f: f.update(x=[[1.0, 2.0, 3.0]] * 2), None),  # a nested list is accepted as float32 data
    ],
    ids=["missing", "extra", "dtype", "rank", "size", "list"],
)
def test_bad_inputs_raise_input_error(art, change, pattern):
    feeds = _feeds()
    change(feeds)
    if pattern is None:
        out = art.run(feeds)
        assert out["y"].shape == (2, 3)
        return
    with pytest.raises(InputError, match=pattern):
        art.run(feeds)


def test_non_contiguous_and_read_only_inputs_give_correct_results(art):
    feeds = _feeds()
    want = np.maximum(feeds["x"] + feeds["b"], 0)
    big = np.zeros((2, 6), np.float32)
    big[:, ::2] = feeds["x"]
    strided = big[:, ::2]
    assert not strided.flags.c_contiguous
    ro = feeds["b"].copy()
    ro.flags.writeable = False
    out = art.run({"x": strided, "b": ro})
    np.testing.assert_array_equal(out["y"], want)
    np.testing.assert_array_equal(big[:, ::2], feeds["x"])  # inputs untouched


def test_big_endian_inputs_are_read_by_value(art):
    """A '>f4' array is float32 in the other byte order: it used to be refused as "expected float32, got
    float32"; its values are used, the caller's array is left alone."""
    feeds = _feeds()
    want = np.maximum(feeds["x"] + feeds["b"], 0)
    swapped = feeds["x"].astype(">f4")
    out = art.run({"x": swapped, "b": feeds["b"]})
    np.testing.assert_array_equal(out["y"], want)
    assert swapped.dtype == np.dtype(">f4") and np.array_equal(swapped, feeds["x"])


def test_nan_and_inf_propagate_as_onnxruntime_does(art):
    feeds = _feeds()
    feeds["x"][0, 0] = np.nan
    feeds["x"][0, 1] = np.inf
    feeds["x"][1, 2] = -np.inf
    got = art.run(feeds)["y"]
    want = ort_run(_model(), feeds)["y"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


@pytest.mark.parametrize("mode", ["single", "partitioned"])
def test_ort_target_feeds_are_checked_like_the_numpy_targets(mode):
    """onnxruntime read '>f4' bytes as native ones ([4.6e-41, ...]), gave a generic GraphcError for a wrong
    dtype or shape and ignored unknown inputs; each is now handled before the session sees the feeds. (Without
    Python nodes the partitioned mode is one session too; its Python stages check feeds with the numpy
    target's checks.)"""
    art = graphc.compile(_model(), target="ort", mode=mode)
    feeds = _feeds()
    want = np.maximum(feeds["x"] + feeds["b"], 0)
    np.testing.assert_array_equal(art.run({"x": feeds["x"].astype(">f4"), "b": feeds["b"]})["y"], want)
    for change, pattern in [(lambda f: f.update(x=f["x"].astype(np.float64)), r"'x'.*float32.*float64"),
                            (lambda f: f.update(x=np.zeros((2, 4), np.float32)), r"'x'.*\[2, 3\].*\(2, 4\)"),
                            (lambda f: f.update(x=f["x"].reshape(6)), r"'x'.*rank 2"),
                            (lambda f: f.update(zz=np.zeros(1, np.float32)), r"'zz'"),
                            (lambda f: f.pop("b"), r"missing.*'b'")]:
        bad = _feeds()
        change(bad)
        with pytest.raises(InputError, match=pattern):
            art.run(bad)


class _Double(graphc.Layer):
    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = 2 * inputs[0]


def test_a_partitioned_artifact_with_python_stages_refuses_unknown_inputs():
    """A partitioned ort artifact whose Python stages run between onnxruntime regions checked dtypes and
    shapes but ran with a misspelt extra feed ignored; it is an InputError naming it, like the other modes."""
    from graphc.layers import LayerRegistry

    reg = LayerRegistry()
    reg.register("Double", domain="acme")(_Double)
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Double", ["r"], ["d"], domain="acme", name="double"),
             helper.make_node("Neg", ["d"], ["y"], name="neg")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("acme", 1)])
    art = graphc.compile(model, target="ort", mode="partitioned", layers=reg)
    assert art.python_ops == ["double"]
    x = np.arange(-3, 3, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(art.run({"x": x})["y"], -2 * np.maximum(x, 0))
    with pytest.raises(InputError, match=r"unknown input name\(s\) \['xx'\]"):
        art.run({"x": x, "xx": x})


def _bernoulli_model():
    g = helper.make_graph([helper.make_node("Bernoulli", ["p"], ["y"], name="bern", seed=1.0)], "g",
                          [helper.make_tensor_value_info("p", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("bad, shown", [(-0.5, "-0.5"), (1.5, "1.5"), (np.nan, "nan")])
def test_probabilities_outside_0_1_are_an_input_error(bad, shown):
    """Bernoulli's probabilities must lie in [0, 1] (the spec); one outside was numpy's ValueError inside
    onnx.reference, wrapped as a bare GraphcError (onnxruntime returns 1 for -0.5 and 0 for 1.5). Now an
    InputError naming the node, op type, the value and its index. Probabilities of exactly 0 and 1 give 0 and 1."""
    art = graphc.compile(_bernoulli_model(), target="numpy")
    p = np.array([[0, 1, 1], [0, 0, 1]], np.float32)
    np.testing.assert_array_equal(art.run({"p": p})["y"], p)
    p[1, 2] = bad
    with pytest.raises(InputError, match=rf"Bernoulli node 'bern': probability {shown} at index \[1, 2\] is "
                                         r"outside \[0, 1\]") as e:
        art.run({"p": p})
    assert type(e.value) is InputError
