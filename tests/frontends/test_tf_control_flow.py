"""TF1 control flow (v1 frames) -> ONNX Loop / If.

Real TensorFlow graphs (tools/make_tf_control_flow_fixtures.py, TF 2.15.1 with control flow v1) run on
both targets against the outputs TensorFlow computed; hand-written GraphDefs check the hand-computed
results and the refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc.errors import ModelFormatError
from graphc.frontends.tensorflow import load_tensorflow
from tests.frontends.frontend_refs import run_ort
from tests.frontends.test_tensorflow import GraphText

DATA = Path(__file__).parent / "data"
FIXTURES = ["while_counting", "map_fn", "cond", "nested_while", "nested_cond", "cond_in_while", "indexed_while",
            "array_ops"]


def _cases(name: str) -> list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """(feeds, TensorFlow's outputs) per run stored in tf_<name>.npz."""
    data = np.load(DATA / f"tf_{name}.npz")
    runs = sorted({k.split("/")[0] for k in data.files}, key=int)
    return [({k.split(":", 1)[1]: data[k] for k in data.files if k.startswith(f"{r}/in:")},
             {k.split(":", 1)[1]: data[k] for k in data.files if k.startswith(f"{r}/out:")}) for r in runs]


@pytest.mark.parametrize("target", ["numpy", "ort"])
@pytest.mark.parametrize("name", FIXTURES)
def test_real_tf1_control_flow_matches_tensorflow(name, target):
    art = graphc.compile(DATA / f"tf_{name}.pb", target=target)
    for feeds, want in _cases(name):
        got = art.run(feeds)
        for out, ref in want.items():
            assert np.asarray(got[out]).dtype == ref.dtype, out
            np.testing.assert_allclose(got[out], ref, rtol=1e-5, atol=1e-6, err_msg=f"{name} {out} {feeds}")


def test_array_ops_map_with_no_tf_node_left():
    g = load_tensorflow(DATA / "tf_array_ops.pb")
    assert not [op.op_type for op in g if op.domain == "tf"]
    assert {"NonMaxSuppression", "TopK", "NonZero", "Expand", "Tile", "Slice", "Gather", "Where"} <= _op_types(g)


def _op_types(g) -> set[str]:
    types = set()
    for op in g:
        types.add(op.op_type)
        for _, sub in op.subgraphs():
            types |= _op_types(sub)
    return types


@pytest.mark.parametrize("name, expected", [("while_counting", {"Loop"}), ("map_fn", {"Loop", "Gather"}),
                                            ("cond", {"If"}), ("nested_while", {"Loop"}),
                                            ("nested_cond", {"If"}), ("cond_in_while", {"Loop", "If"})])
def test_frames_become_onnx_control_flow(name, expected):
    g = load_tensorflow(DATA / f"tf_{name}.pb")
    types = _op_types(g)
    assert expected <= types
    assert not any(op.domain == "tf" for op in g), "no framework node is left"
    if name == "nested_while":
        (loop,) = [op for op in g if op.op_type == "Loop"]
        assert [op.op_type for op in loop.attrs["body"] if op.op_type == "Loop"] == ["Loop"]


# ----------------------------------------------------------------- hand-written graphs
def _frame(g: GraphText, name: str, src: str, const: bool = False, dtype: str = "DT_FLOAT") -> str:
    return g.node(name, "Enter", [src], frame_name='s: "w/while_context"', is_constant=f"b: {str(const).lower()}",
                  T=f"type: {dtype}")


def _doubling_loop(g: GraphText, stray_enter: bool = False) -> None:
    """y = x * 2**3: i from 0 while i < 3, v doubled each iteration; ``stray_enter``: a non-constant Enter
    read by the body directly (no Merge)."""
    g.placeholder("x", [3])
    g.const("zero", np.array(0, np.int32))
    g.const("one", np.array(1, np.int32))
    g.const("lim", np.array(3, np.int32))
    _frame(g, "w/Enter", "zero", dtype="DT_INT32")
    _frame(g, "w/Enter_1", "x")
    g.node("w/Merge", "Merge", ["w/Enter", "w/NextIteration"])
    g.node("w/Merge_1", "Merge", ["w/Enter_1", "w/NextIteration_1"])
    _frame(g, "w/Less/Enter", "lim", const=True, dtype="DT_INT32")
    g.node("w/Less", "Less", ["w/Merge", "w/Less/Enter"])
    g.node("w/LoopCond", "LoopCond", ["w/Less"])
    g.node("w/Switch", "Switch", ["w/Merge", "w/LoopCond"])
    g.node("w/Switch_1", "Switch", ["w/Merge_1", "w/LoopCond"])
    g.node("w/Identity", "Identity", ["w/Switch:1"])
    g.node("w/Identity_1", "Identity", ["w/Switch_1:1"])
    _frame(g, "w/one", "one", const=True, dtype="DT_INT32")
    g.node("w/add", "AddV2", ["w/Identity", "w/one"])
    if stray_enter:
        _frame(g, "w/stray", "x")
        g.node("w/double", "AddV2", ["w/Identity_1", "w/stray"])
    else:
        g.node("w/double", "AddV2", ["w/Identity_1", "w/Identity_1"])
    g.node("w/NextIteration", "NextIteration", ["w/add"])
    g.node("w/NextIteration_1", "NextIteration", ["w/double"])
    g.node("w/Exit_1", "Exit", ["w/Switch_1"])
    g.node("y", "Identity", ["w/Exit_1"])


def test_hand_written_while_loop_runs_on_both_targets(tmp_path):
    g = GraphText()
    _doubling_loop(g)
    path = tmp_path / "loop.pbtxt"
    path.write_text(g.text())
    x = np.array([1.5, -2.0, 0.25], np.float32)
    (y,) = run_ort(load_tensorflow(path), {"x": x})
    np.testing.assert_array_equal(y, x * 8)
    np.testing.assert_array_equal(graphc.compile(path, target="numpy").run({"x": x})["y"], x * 8)


def test_a_cut_after_the_loop_leaves_it_out(tmp_path):
    g = GraphText()
    _doubling_loop(g)
    path = tmp_path / "loop.pbtxt"
    path.write_text(g.text())
    graph = load_tensorflow(path, inputs=["w/Exit_1"])
    assert [op.op_type for op in graph] == ["Identity"]


def test_an_enter_that_is_no_loop_variable_is_refused_naming_it(tmp_path):
    g = GraphText()
    _doubling_loop(g, stray_enter=True)
    path = tmp_path / "loop.pbtxt"
    path.write_text(g.text())
    with pytest.raises(ModelFormatError, match=r"'w/stray' \(Enter\) of frame 'w/while_context' is no loop "
                                               r"variable.*inputs=\[\.\.\.\]/outputs=\[\.\.\.\]"):
        load_tensorflow(path)


def test_an_output_inside_the_loop_is_refused(tmp_path):
    g = GraphText()
    _doubling_loop(g)
    path = tmp_path / "loop.pbtxt"
    path.write_text(g.text())
    with pytest.raises(ModelFormatError, match="'w/double' is not produced by the graph.*inside a while loop"):
        load_tensorflow(path, outputs=["w/double"])


def _bool(g: GraphText, name: str, value: bool) -> str:
    return g.node(name, "Const", dtype="type: DT_BOOL",
                  value=f"tensor {{ dtype: DT_BOOL tensor_shape {{ }} bool_val: {str(value).lower()} }}")


def _cond(g: GraphText, pred: str) -> None:
    """y = x * x if pred else -x, as tf.cond v1 writes it."""
    g.node("c/Switch_x", "Switch", ["x", pred])
    g.node("c/then", "Mul", ["c/Switch_x:1", "c/Switch_x:1"])
    g.node("c/else", "Neg", ["c/Switch_x"])
    g.node("c/Merge", "Merge", ["c/else", "c/then"])
    g.node("y", "Identity", ["c/Merge"])


@pytest.mark.parametrize("value", [True, False])
def test_a_constant_predicate_folds_to_the_taken_branch(tmp_path, value):
    g = GraphText()
    g.placeholder("x", [3])
    _bool(g, "p", value)
    _cond(g, "p")
    path = tmp_path / "cond.pbtxt"
    path.write_text(g.text())
    graph = load_tensorflow(path)
    assert "If" not in _op_types(graph)
    x = np.array([1.5, -2.0, 3.0], np.float32)
    (y,) = run_ort(graph, {"x": x})
    np.testing.assert_array_equal(y, x * x if value else -x)


def test_a_fed_predicate_becomes_an_if(tmp_path):
    g = GraphText()
    g.placeholder("x", [3])
    g.node("p", "Placeholder", dtype="type: DT_BOOL", shape="shape { }")
    _cond(g, "p")
    path = tmp_path / "cond.pbtxt"
    path.write_text(g.text())
    art = graphc.compile(path, target="numpy")
    x = np.array([1.5, -2.0, 3.0], np.float32)
    for p, want in ((True, x * x), (False, -x)):
        np.testing.assert_array_equal(art.run({"x": x, "p": np.array(p)})["y"], want)
        np.testing.assert_array_equal(run_ort(load_tensorflow(path), {"x": x, "p": np.array(p)})[0], want)


def test_a_merge_of_two_predicates_is_refused(tmp_path):
    g = GraphText()
    g.placeholder("x", [3])
    for p in ("p", "q"):
        g.node(p, "Placeholder", dtype="type: DT_BOOL", shape="shape { }")
    g.node("s1", "Switch", ["x", "p"])
    g.node("s2", "Switch", ["x", "q"])
    g.node("a", "Neg", ["s1"])
    g.node("b", "Neg", ["s2:1"])
    g.node("m", "Merge", ["a", "b"])
    path = tmp_path / "bad.pbtxt"
    path.write_text(g.text())
    with pytest.raises(ModelFormatError, match=r"'m' \(Merge\) joins no tf.cond graphc recognizes"):
        load_tensorflow(path)


def _tensor_array(g: GraphText, scatter_indices: np.ndarray | None) -> None:
    g.placeholder("x", [2, 3])
    g.const("n", np.array(2, np.int32))
    g.node("ta", "TensorArrayV3", ["n"], dtype="type: DT_FLOAT")
    flow = "ta:1"
    if scatter_indices is not None:
        g.const("idx", scatter_indices)
        g.node("scatter", "TensorArrayScatterV3", ["ta", "idx", "x", "ta:1"], T="type: DT_FLOAT")
        flow = "scatter"
    g.const("i", np.array(0, np.int32))
    g.node("read", "TensorArrayReadV3", ["ta", "i", flow], dtype="type: DT_FLOAT")


def test_a_tensor_array_read_without_scatter_is_refused(tmp_path):
    g = GraphText()
    _tensor_array(g, None)
    (tmp_path / "ta.pbtxt").write_text(g.text())
    with pytest.raises(ModelFormatError, match=r"'read' \(TensorArrayReadV3\): reads TensorArray 'ta', which no "
                                               r"TensorArrayScatterV3 filled"):
        load_tensorflow(tmp_path / "ta.pbtxt")


def test_a_scatter_at_other_indices_than_a_range_is_refused(tmp_path):
    g = GraphText()
    _tensor_array(g, np.array([1, 0], np.int32))
    (tmp_path / "ta.pbtxt").write_text(g.text())
    with pytest.raises(ModelFormatError, match=r"'scatter' \(TensorArrayScatterV3\).*Range\(0, n, 1\).*--inputs"):
        load_tensorflow(tmp_path / "ta.pbtxt")


def test_a_tensor_array_written_at_another_index_than_the_counter_is_refused():
    """tf.map_fn's graph with the write moved to index i + 1: no scan output can hold it."""
    from graphc.frontends.tensorflow import graphdef_to_graph, parse_graphdef

    gd = parse_graphdef(DATA / "tf_map_fn.pb")
    (write,) = [n for n in gd.node if n.op == "TensorArrayWriteV3"]
    write.input[1] = "map/while/add_2"  # the counter's next value
    with pytest.raises(ModelFormatError, match=r"'map/while/TensorArrayWrite/TensorArrayWriteV3' "
                                               r"\(TensorArrayWriteV3\): graphc maps a write at a counter"):
        graphdef_to_graph(gd)


def test_a_merge_whose_value_index_is_read_is_refused(tmp_path):
    g = GraphText()
    g.placeholder("x", [3])
    g.node("p", "Placeholder", dtype="type: DT_BOOL", shape="shape { }")
    _cond(g, "p")
    g.node("which", "Identity", ["c/Merge:1"])
    (tmp_path / "cond.pbtxt").write_text(g.text())
    with pytest.raises(ModelFormatError, match=r"'c/Merge' \(Merge\): its value_index output is read"):
        load_tensorflow(tmp_path / "cond.pbtxt")
