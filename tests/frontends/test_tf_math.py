"""TensorFlow's common math ops map to ONNX: tf.nn.l2_normalize as frozen graphs spell it, the
reductions, comparisons and element-wise functions, held to numpy."""

from __future__ import annotations

import numpy as np
import pytest

from graphc.frontends.tensorflow import load_tensorflow
from tests.frontends.frontend_refs import run_ort
from tests.frontends.test_tensorflow import GraphText


def test_l2_normalize_as_frozen_graphs_spell_it(tmp_path):
    """x * rsqrt(max(sum(square(x), axis=-1, keepdims), eps)): a face embedder's last step."""
    x = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    x[2] = 1e-7  # below epsilon: the Maximum clamps
    g = GraphText()
    g.placeholder("x", x.shape)
    g.node("sq", "Square", ["x"])
    g.const("axis", np.array([1], np.int32))
    g.node("sum", "Sum", ["sq", "axis"], keep_dims="b: true")
    g.const("eps", np.array(1e-10, np.float32))
    g.node("max", "Maximum", ["sum", "eps"])
    g.node("rsqrt", "Rsqrt", ["max"])
    g.node("embeddings", "Mul", ["x", "rsqrt"])
    (tmp_path / "l2.pbtxt").write_text(g.text())
    (y,) = run_ort(load_tensorflow(tmp_path / "l2.pbtxt"), {"x": x})
    want = x / np.sqrt(np.maximum((x.astype(np.float64) ** 2).sum(1, keepdims=True), 1e-10))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-7)


UNARY = {
    "Sqrt": np.sqrt, "Exp": np.exp, "Log": np.log, "Abs": np.abs, "Neg": np.negative, "Floor": np.floor,
    "Ceil": np.ceil, "Round": np.round, "Reciprocal": np.reciprocal, "Sign": np.sign,
    "Softplus": lambda a: np.log1p(np.exp(a)), "Softsign": lambda a: a / (1 + np.abs(a)),
    "Elu": lambda a: np.where(a > 0, a, np.expm1(a)), "Sin": np.sin, "Cos": np.cos,
    "LeakyRelu": lambda a: np.where(a > 0, a, 0.2 * a), "Square": np.square, "Rsqrt": lambda a: 1 / np.sqrt(a),
}


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_math(tmp_path, op):
    x = np.random.default_rng(1).uniform(0.1, 3.0, (2, 5)).astype(np.float32)
    x[0] -= 1.5  # negatives where the function is defined for them
    if op in ("Sqrt", "Log", "Rsqrt"):
        x = np.abs(x) + 0.1
    x[1, 0] = 2.5  # half-way: Round is to even, as TF's
    g = GraphText()
    g.placeholder("x", x.shape)
    g.node("y", op, ["x"])
    (tmp_path / "u.pbtxt").write_text(g.text())
    (y,) = run_ort(load_tensorflow(tmp_path / "u.pbtxt"), {"x": x})
    np.testing.assert_allclose(y, UNARY[op](x.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_binary_reductions_and_comparisons(tmp_path):
    rng = np.random.default_rng(2)
    a, c = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    g = GraphText()
    g.placeholder("a", a.shape)
    g.const("c", c)
    g.node("mn", "Minimum", ["a", "c"])
    g.node("sd", "SquaredDifference", ["a", "c"])
    g.const("axes", np.array([0, 2], np.int32))
    g.node("rmax", "Max", ["sd", "axes"], keep_dims="b: false")
    g.node("rmin", "Min", ["mn", "axes"], keep_dims="b: true")
    g.node("rprod", "Prod", ["sd", "axes"])
    g.node("gt", "Greater", ["a", "c"])
    g.const("dim", np.array(1, np.int32))
    g.node("ex", "ExpandDims", ["rmax", "dim"])
    (tmp_path / "b.pbtxt").write_text(g.text())
    graph = load_tensorflow(tmp_path / "b.pbtxt", outputs=["rmax", "rmin", "rprod", "gt", "ex"])
    rmax, rmin, rprod, gt, ex = run_ort(graph, {"a": a})
    sd = (a - c) ** 2
    np.testing.assert_allclose(rmax, sd.max(axis=(0, 2)), rtol=1e-6)
    np.testing.assert_allclose(rmin, np.minimum(a, c).min(axis=(0, 2), keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(rprod, sd.prod(axis=(0, 2)), rtol=1e-5)
    np.testing.assert_array_equal(gt, a > c)
    np.testing.assert_allclose(ex, sd.max(axis=(0, 2))[:, None], rtol=1e-6)


def _computed_reshape_graph(tmp_path, batch: int) -> str:
    """Flatten as Keras/TF emit it: Reshape(x, Pack([StridedSlice(Shape(x))[0], -1]))."""
    g = GraphText()
    g.placeholder("x", (batch, 3, 4))
    g.node("shape", "Shape", ["x"], out_type="type: DT_INT32")
    g.const("begin", np.array([0], np.int32))
    g.const("end", np.array([1], np.int32))
    g.const("stride", np.array([1], np.int32))
    g.node("batch", "StridedSlice", ["shape", "begin", "end", "stride"], shrink_axis_mask="i: 1",
           Index="type: DT_INT32", T="type: DT_INT32")
    g.const("minus_one", np.array(-1, np.int32))
    g.node("target", "Pack", ["batch", "minus_one"], N="i: 2", axis="i: 0", T="type: DT_INT32")
    g.node("flat", "Reshape", ["x", "target"])
    g.node("y", "Relu", ["flat"])
    path = tmp_path / f"flatten_{batch}.pbtxt"
    path.write_text(g.text())
    return str(path)


def test_a_computed_reshape_folds_when_shapes_are_known(tmp_path):
    import graphc

    path = _computed_reshape_graph(tmp_path, 2)
    graph = graphc.load_model(path)
    graphc.PassManager("canonicalize,infer-shapes,[fold-constants,dce]*8").run(graph)
    assert [op.op_type for op in graph] == ["Reshape", "Relu"]
    assert graph.ops["flat"].inputs[1].const.tolist() == [2, -1]
    x = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(np.float32)
    (y,) = graphc.compile(path, "numpy").run({"x": x}).values()
    np.testing.assert_array_equal(y, np.maximum(x.reshape(2, 12), 0))


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_a_computed_reshape_with_an_unknown_batch_runs_as_ops(tmp_path, target):
    import graphc

    art = graphc.compile(_computed_reshape_graph(tmp_path, -1), target)
    for n in (1, 5):
        x = np.random.default_rng(n).standard_normal((n, 3, 4)).astype(np.float32)
        (y,) = art.run({"x": x}).values()
        np.testing.assert_array_equal(y, np.maximum(x.reshape(n, 12), 0))


def _detector_like(tmp_path) -> str:
    """A 'pre-processing' loop (a cycle through Merge/NextIteration, as TF1 while frames are) feeding
    a head; the head is what a user wants to run."""
    g = GraphText()
    g.placeholder("image", (1, 4))
    g.node("pre/Merge", "Merge", ["image", "pre/NextIteration"], T="type: DT_FLOAT", N="i: 2")
    g.node("pre/body", "Relu", ["pre/Merge"], T="type: DT_FLOAT")
    g.node("pre/NextIteration", "NextIteration", ["pre/body"], T="type: DT_FLOAT")
    g.node("pre/Exit", "Exit", ["pre/Merge"], T="type: DT_FLOAT",
           _output_shapes='list { shape { dim { size: 1 } dim { size: 4 } } }')
    g.node("head/sig", "Sigmoid", ["pre/Exit"], T="type: DT_FLOAT")
    g.node("head/scores", "Square", ["head/sig"], T="type: DT_FLOAT")
    path = tmp_path / "detector.pbtxt"
    path.write_text(g.text())
    return str(path)


def test_a_graph_cut_at_internal_tensors_leaves_the_loop_out(tmp_path):
    import graphc
    from graphc.errors import ModelFormatError

    path = _detector_like(tmp_path)
    with pytest.raises(ModelFormatError, match="cycle"):
        graphc.load_model(path)
    for outputs in (["head/scores"], None):
        graph = graphc.load_model(path, inputs=["pre/Exit"], **({"outputs": outputs} if outputs else {}))
        assert [v.name for v in graph.inputs] == ["pre/Exit"] and graph.inputs[0].shape == (1, 4)
        assert [op.op_type for op in graph] == ["Sigmoid", "Mul"]
    x = np.linspace(-2, 2, 4, dtype=np.float32).reshape(1, 4)
    (y,) = graphc.compile(path, "numpy", inputs=["pre/Exit"], outputs=["head/scores"]).run({"pre/Exit": x}).values()
    np.testing.assert_allclose(y, (1 / (1 + np.exp(-x))) ** 2, rtol=1e-6)
    with pytest.raises(ModelFormatError, match="names no node"):
        graphc.load_model(path, inputs=["nope"])


def test_the_cli_cuts_a_graph(tmp_path):
    import subprocess
    import sys

    import graphc

    path = _detector_like(tmp_path)
    out = tmp_path / "head.graphc"
    done = subprocess.run([sys.executable, "-m", "graphc.cli", "compile", path, "-o", str(out), "--inputs", "pre/Exit",
                           "--outputs", "head/scores"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert list(graphc.load(out).run({"pre/Exit": np.zeros((1, 4), np.float32)})) == ["head/scores"]
