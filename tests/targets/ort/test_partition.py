"""Partitioned execution on the ort target: stages, numerics, bundles, errors, threads."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

import graphc
from graphc import GraphcError, LayerError
from graphc.layers import load_layer_modules
from targets.ort.artifact import OrtArtifact
from targets.ort.partitioned import PartitionedArtifact
from targets.ort.regions import region_model

from tests.oracle import ort_run
from tests.targets.ort import partition_models as pm

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def layers():
    return load_layer_modules([str(pm.PARTITION_LAYERS)])


def _x(rng, shape=(2, 3, 4, 5)):
    return rng.standard_normal(shape).astype(np.float32)


def _stages(art):
    return [(s["kind"], s["nodes"]) for s in art.manifest["partition"]["stages"]]


def _same_as_numpy_and_single(model, feeds, layers, art=None):
    """The partitioned run equals the numpy target's and the single-model mode's."""
    art = art or graphc.compile(model, "ort", layers=layers)
    got = art.run(feeds)
    for other in (graphc.compile(model, "numpy", layers=layers),
                  graphc.compile(model, "ort", layers=layers, mode="single")):
        want = other.run(feeds)
        assert set(got) == set(want)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-6)
    return got


# ------------------------------------------------------------------ formation
def test_a_chain_of_layers_is_one_python_stage_between_two_regions(layers, rng):
    art = graphc.compile(pm.chain_model(), "ort", layers=layers)
    assert isinstance(art, PartitionedArtifact)
    assert _stages(art) == [("onnxruntime", ["relu"]), ("python", ["scale1", "scale2"]), ("onnxruntime", ["sigmoid"])]
    x = _x(rng)
    got = _same_as_numpy_and_single(pm.chain_model(), {"x": x}, layers, art)
    np.testing.assert_allclose(got["y"], 1 / (1 + np.exp(-np.maximum(x, 0) * 6)), rtol=1e-6)
    assert [r.prebound for r in art.regions] == [["r"], ["y"]]  # static shapes: bound to our buffers


def test_independent_layers_of_a_diamond_share_one_boundary(layers, rng):
    art = graphc.compile(pm.diamond_model(), "ort", layers=layers)
    assert _stages(art) == [("onnxruntime", ["relu", "neg"]), ("python", ["scale_a", "scale_b"]),
                            ("onnxruntime", ["add"])]
    _same_as_numpy_and_single(pm.diamond_model(), {"x": _x(rng)}, layers, art)


def test_a_layer_reading_the_input_and_feeding_an_output_needs_one_region(layers, rng):
    # as soon as possible the Sigmoid would open a region before the layer and the Relu another after it
    art = graphc.compile(pm.io_model(), "ort", layers=layers)
    assert _stages(art) == [("python", ["scale"]), ("onnxruntime", ["sigmoid", "relu"])]
    x = _x(rng)
    got = _same_as_numpy_and_single(pm.io_model(), {"x": x}, layers, art)
    np.testing.assert_allclose(got["y_layer"], x * -2)
    got["y_layer"][...] = 0  # the caller owns its outputs: the next run is unaffected
    np.testing.assert_allclose(art.run({"x": x})["y_layer"], x * -2)


def test_chains_that_start_and_end_with_layers_line_their_regions_up(layers, rng):
    art = graphc.compile(pm.two_chains_model(), "ort", layers=layers)
    assert _stages(art) == [("python", ["p1a"]), ("onnxruntime", ["o1a", "o2a"]), ("python", ["p1b", "p2a"]),
                            ("onnxruntime", ["o1b", "o2b"]), ("python", ["p2b"])]
    _same_as_numpy_and_single(pm.two_chains_model(), {"x": _x(rng)}, layers, art)


def test_a_region_output_reaches_the_layer_and_the_caller_without_a_copy(layers, rng):
    m = pm._model([helper.make_node("Relu", ["x"], ["r"], name="relu"), pm._layer("Spy", ["r"], "s", "spy", tag="t1"),
                   helper.make_node("Neg", ["s"], ["y"], name="neg")], [pm._x()], [pm._out("r"), pm._out("y")])
    art = graphc.compile(m, "ort", layers=layers)
    seen = sys.modules[layers.lookup("acme", "Spy", 1).cls.__module__].SEEN.setdefault("t1", [])
    seen.clear()
    out = art.run({"x": _x(rng)})
    # onnxruntime wrote r into the buffer the layer then read and the caller got
    assert seen == [out["r"].__array_interface__["data"][0]] and out["r"].flags.owndata


def test_a_constant_read_by_two_regions_is_in_both_models(layers, rng):
    art = graphc.compile(pm.shared_const_model(), "ort", layers=layers)
    assert [k for k, _ in _stages(art)] == ["onnxruntime", "python", "onnxruntime", "python", "onnxruntime"]
    regions = [s for s in art.manifest["partition"]["stages"] if s["kind"] == "onnxruntime"]
    inits = [{t.name for t in region_model(art.model, s).graph.initializer} for s in regions]
    assert "w" in inits[0] and "w" in inits[1] and "w" not in inits[2]
    for s in regions:  # a constant is never a boundary tensor
        assert "w" not in [r["name"] for r in s["inputs"]]
        onnx.checker.check_model(region_model(art.model, s))
    _same_as_numpy_and_single(pm.shared_const_model(), {"x": _x(rng)}, layers, art)


def test_dynamic_shapes_leave_region_outputs_to_onnxruntime(layers, rng):
    art = graphc.compile(pm.dynamic_model(), "ort", layers=layers)
    assert _stages(art) == [("onnxruntime", ["relu"]), ("python", ["scale"]), ("onnxruntime", ["softmax", "nonzero"])]
    assert [r.prebound for r in art.regions] == [[], []]
    for n in (1, 5, 2):
        x = _x(rng, (n, 8))
        got = _same_as_numpy_and_single(pm.dynamic_model(), {"x": x}, layers, art)
        assert got["y"].shape == (n, 8) and got["nz"].shape[0] == 2


def test_a_layer_in_an_if_branch_stays_a_python_op_inside_its_region(layers, rng):
    art = graphc.compile(pm.if_model(), "ort", layers=layers)
    assert _stages(art) == [("onnxruntime", ["relu", "if"]), ("python", ["scale"])]
    (region,) = art.regions
    assert not region.bound and region.artifact.python_ops == ["then_scale"]
    x = _x(rng)
    for c in (True, False):
        got = _same_as_numpy_and_single(pm.if_model(), {"x": x, "c": np.array(c)}, layers, art)
        np.testing.assert_allclose(got["y"], np.maximum(x, 0) * (5.0 if c else -0.5), rtol=1e-6)


def test_a_region_holding_a_loop_runs_through_the_single_mode_session(layers, rng):
    # OrtArtifact bounds Loop iterations; a bound region would bypass that
    art = graphc.compile(pm.loop_model(), "ort", layers=layers)
    assert _stages(art) == [("python", ["scale"]), ("onnxruntime", ["loop"])]
    (region,) = art.regions
    assert not region.bound and region.artifact is not None
    x = _x(rng)
    got = _same_as_numpy_and_single(pm.loop_model(), {"x": x}, layers, art)
    np.testing.assert_allclose(got["y"], x * 2 + 3, rtol=1e-6)


@pytest.mark.parametrize("elem, bound", [(onnx.TensorProto.FLOAT16, True), (onnx.TensorProto.BFLOAT16, False)])
def test_float16_crosses_bound_and_bfloat16_through_ort_values(layers, elem, bound):
    # bfloat16 cannot be bound as numpy memory: its regions run through OrtArtifact's bit-exact crossing
    m = pm._model([helper.make_node("Cast", ["x"], ["c"], name="to", to=elem),
                   pm._layer("Scale", ["c"], "s", "scale", factor=2.0),
                   helper.make_node("Cast", ["s"], ["y"], name="back", to=onnx.TensorProto.FLOAT)],
                  [pm._x((2, 3))], [pm._out("y")])
    art = graphc.compile(m, "ort", layers=layers)
    assert _stages(art) == [("onnxruntime", ["to"]), ("python", ["scale"]), ("onnxruntime", ["back"])]
    assert [r.bound for r in art.regions] == [bound, bound]
    x = np.array([[-1, 0.5, 2], [3, -4, 1.25]], np.float32)
    got = _same_as_numpy_and_single(m, {"x": x}, layers, art)
    np.testing.assert_array_equal(got["y"], x * 2)


def test_the_loops_of_all_regions_spend_one_iteration_budget(layers, monkeypatch):
    monkeypatch.setenv("GRAPHC_MAX_LOOP_ITERATIONS", "5")
    art = graphc.compile(pm.two_loops_model(), "ort", layers=layers)
    assert [k for k, _ in _stages(art)] == ["onnxruntime", "python", "onnxruntime"]
    x = np.zeros((2, 3, 4, 5), np.float32)
    np.testing.assert_array_equal(art.run({"x": x, "m": np.array(2, np.int64)})["y"], np.full_like(x, 6))
    for target in (art, graphc.compile(pm.two_loops_model(), "numpy", layers=layers)):
        # 3 + 3 iterations: each region alone is within the limit, the run is not
        with pytest.raises(GraphcError, match="loop2.*after 5 iterations"):
            target.run({"x": x, "m": np.array(3, np.int64)})


def test_without_python_nodes_both_modes_are_one_session(rng):
    m = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [3])]), opset_imports=[helper.make_opsetid("", 18)])
    for mode in ("partitioned", "single"):
        art = graphc.compile(m, "ort", mode=mode)
        assert type(art) is OrtArtifact and "partition" not in art.manifest and art.manifest["mode"] == mode


def test_single_mode_keeps_python_ops_inside_one_model(layers, rng):
    art = graphc.compile(pm.chain_model(), "ort", layers=layers, mode="single")
    assert type(art) is OrtArtifact and art.python_ops == ["scale1", "scale2"]
    assert "partition" not in art.manifest


def test_an_unknown_mode_is_refused(layers):
    with pytest.raises(GraphcError, match="unknown ort mode 'fast'.*partitioned"):
        graphc.compile(pm.chain_model(), "ort", layers=layers, mode="fast")


# --------------------------------------------------------------- real model
def test_squeezenet_with_a_layer_matches_onnxruntime_and_the_numpy_target(layers, rng):
    model = pm.squeezenet_with_layer(factor=1.5)
    art = graphc.compile(model, "ort", layers=layers)
    kinds = [(s["kind"], len(s["nodes"])) for s in art.manifest["partition"]["stages"]]
    assert kinds[:2] == [("onnxruntime", 2), ("python", 1)] and [k for k, _ in kinds] == [
        "onnxruntime", "python", "onnxruntime"]
    (boundary,) = art.manifest["partition"]["stages"][1]["inputs"]
    assert boundary["shape"] == [1, 64, 111, 111] and boundary["bytes"] == 64 * 111 * 111 * 4
    feeds = {"data_0": _x(rng, (1, 3, 224, 224))}
    got = art.run(feeds)["softmaxout_1"]
    # onnxruntime on the same model with the layer written as a Mul
    plain = pm.squeezenet_with_layer(factor=1.5)
    node = next(n for n in plain.graph.node if n.name == "user_layer")
    node.op_type, node.domain = "Mul", ""
    del node.attribute[:]
    node.input.append("factor")
    plain.graph.initializer.append(onnx.numpy_helper.from_array(np.array(1.5, np.float32), "factor"))
    np.testing.assert_allclose(got, ort_run(plain, feeds)["softmaxout_1"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got, graphc.compile(model, "numpy", layers=layers).run(feeds)["softmaxout_1"],
                               rtol=1e-4, atol=1e-6)


# -------------------------------------------------------------------- errors
def _boom_model():
    return pm._model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                      pm._layer("Boom", ["r"], "b", "boom", limit=0.5),
                      helper.make_node("Sigmoid", ["b"], ["y"], name="sigmoid")], [pm._x()], [pm._out("y")])


def test_a_layer_that_raises_is_a_layer_error_naming_the_node(layers, rng):
    art = graphc.compile(_boom_model(), "ort", layers=layers)
    assert isinstance(art, PartitionedArtifact)
    small = np.full((2, 3, 4, 5), 0.25, np.float32)
    with pytest.raises(LayerError, match=r"node 'boom'.*forward\(\) raised.*ValueError: value above 0.5"):
        art.run({"x": small * 4})
    np.testing.assert_allclose(art.run({"x": small})["y"], 1 / (1 + np.exp(-small)), rtol=1e-6)  # still usable


def test_an_op_onnxruntime_lacks_runs_on_graphcs_kernel_between_regions(rng):
    # Swish-24 has no onnxruntime 1.32 kernel: graphc's numpy kernel runs it, in-process
    m = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Swish", ["r"], ["s"], name="swish",
                                                                            alpha=0.5),
         helper.make_node("Neg", ["s"], ["y"], name="neg")], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)]), opset_imports=[helper.make_opsetid("", 24)])
    art = graphc.compile(m, "ort")
    assert [e["lowering"] for e in art.manifest["custom_ops"]] == ["numpy-kernel"]
    assert _stages(art) == [("onnxruntime", ["relu"]), ("python", ["swish"]), ("onnxruntime", ["neg"])]
    x = _x(rng, (3, 4))
    r = np.maximum(x, 0)
    np.testing.assert_allclose(art.run({"x": x})["y"], -r / (1 + np.exp(-0.5 * r)), rtol=1e-6)
    np.testing.assert_allclose(art.run({"x": x})["y"], graphc.compile(m, "ort", mode="single").run({"x": x})["y"],
                               rtol=1e-6)


@pytest.mark.parametrize("bad", [0, 1])
def test_a_string_output_holds_strings_only_as_in_single_mode(layers, bad):
    m = pm._model([helper.make_node("Relu", ["x"], ["r"], name="relu"), pm._layer("Words", ["r"], "y", "words", bad=bad)],
                  [pm._x((3,))], [helper.make_tensor_value_info("y", onnx.TensorProto.STRING, None)])
    art = graphc.compile(m, "ort", layers=layers)
    assert _stages(art) == [("onnxruntime", ["relu"]), ("python", ["words"])]
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    if bad:
        for mode_art in (art, graphc.compile(m, "ort", layers=layers, mode="single")):
            with pytest.raises(LayerError, match=r"node 'words'.*output 0 is a string tensor but element 0 is NoneType"):
                mode_art.run({"x": x})
    else:
        assert art.run({"x": x})["y"].tolist() == ["v0", "v0.5", "v2"]


def test_inputs_are_checked_before_anything_runs(layers, rng):
    art = graphc.compile(pm.io_model(), "ort", layers=layers)
    with pytest.raises(graphc.InputError, match="missing input"):
        art.run({})
    with pytest.raises(graphc.InputError, match="expected dtype float32"):
        art.run({"x": np.ones((2, 3, 4, 5), np.float64)})
    with pytest.raises(graphc.InputError, match="expected shape"):
        art.run({"x": np.ones((2, 3, 4, 6), np.float32)})


def test_eight_threads_give_the_serial_results(layers, rng):
    for model in (pm.shared_const_model(), pm.if_model()):
        art = graphc.compile(model, "ort", layers=layers)
        feeds = [{"x": _x(np.random.default_rng(i)), "c": np.array(i % 2 == 0)} for i in range(16)]
        feeds = [{k: v for k, v in f.items() if k in art.input_names} for f in feeds]
        serial = [art.run(f) for f in feeds]
        got: dict[tuple[int, int], dict] = {}
        errors: list[BaseException] = []

        def work(t: int) -> None:
            try:
                for rep in range(3):
                    for i in range(t, len(feeds), 8):
                        got[(i, rep)] = art.run(feeds[i])
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors
        assert len(got) == 3 * len(feeds)
        for (i, _), out in got.items():
            for k in serial[i]:
                np.testing.assert_array_equal(out[k], serial[i][k])


# ------------------------------------------------------------------- bundles
_FRESH = '''
import json, sys
import numpy as np
import graphc
art = graphc.load(sys.argv[1], layers=[sys.argv[2]])
x = np.linspace(-1, 1, 120, dtype=np.float32).reshape(2, 3, 4, 5)
out = art.run({"x": x})
print(json.dumps({"type": type(art).__name__, "regions": len(art.regions),
                  "y": {k: v.tolist() for k, v in out.items()}}))
'''


@pytest.mark.parametrize("suffix", ["", ".zip"])
def test_a_bundle_runs_its_regions_in_a_fresh_process(layers, tmp_path, suffix):
    art = graphc.compile(pm.shared_const_model(), "ort", layers=layers)
    path = tmp_path / f"shared{suffix}"
    art.save(path)
    manifest = json.loads((path / "manifest.json").read_text()) if not suffix else None
    if manifest is not None:
        assert manifest["mode"] == "partitioned" and len(manifest["partition"]["stages"]) == 5
        assert sorted(p.name for p in path.iterdir()) == ["layers", "manifest.json", "model.onnx"]
    proc = subprocess.run([sys.executable, "-c", _FRESH, str(path), str(pm.PARTITION_LAYERS)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["type"] == "PartitionedArtifact" and got["regions"] == 3
    x = np.linspace(-1, 1, 120, dtype=np.float32).reshape(2, 3, 4, 5)
    w = np.linspace(-1, 1, 5).astype(np.float64)  # shared_const_model by hand: relu((x + w) / 2 * w + x / 4)
    want = np.maximum((x + w) * 0.5 * w + 0.25 * x.astype(np.float64), 0)
    np.testing.assert_allclose(np.array(got["y"]["y"], np.float32), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.array(got["y"]["y"], np.float32), art.run({"x": x})["y"])


def test_loading_a_partitioned_bundle_keeps_the_layer_trust_check(layers, tmp_path):
    art = graphc.compile(pm.chain_model(), "ort", layers=layers)
    art.save(tmp_path / "b")
    with pytest.raises(LayerError, match="layer module .* is missing.*--layers"):
        graphc.load(tmp_path / "b")
    again = graphc.load(tmp_path / "b", layers=[str(pm.PARTITION_LAYERS)])
    x = np.linspace(-1, 1, 120, dtype=np.float32).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(again.run({"x": x})["y"], art.run({"x": x})["y"])


@pytest.mark.parametrize("damage, message", [
    (lambda st: st[0]["nodes"].append("nowhere"), "names node 'nowhere'"),
    (lambda st: st[2]["nodes"].append("relu"), "node 'relu' is in two stages"),
    (lambda st: st[1]["nodes"].append("sigmoid"), "node 'sigmoid' is not a Python node"),
    (lambda st: (st[1]["nodes"].remove("scale2"), st[2]["nodes"].insert(0, "scale2")),
     "node 'scale2' is a Python node, which onnxruntime cannot run"),
    (lambda st: (st[0]["nodes"].remove("relu"), st[0]["outputs"].clear()), "reads 'r' before any stage makes it"),
    (lambda st: st[2]["inputs"][0].update(name="nothing"), "reads 'nothing' before any stage makes it"),
    (lambda st: st.pop(2), "no stage for node"),
    (lambda st: st[2]["outputs"].append(dict(st[2]["outputs"][0], name="r")), "hands on 'r'"),
    (lambda st: st[0]["inputs"][0].update(type="!!"), "value 'x' has no readable type"),
    (lambda st: st[1].update(kind="gpu"), "is not a stage record"),
    (lambda st: st.clear(), "no list of stages"),
])
def test_a_damaged_schedule_is_refused_at_load(layers, tmp_path, damage, message):
    graphc.compile(pm.chain_model(), "ort", layers=layers).save(tmp_path / "b")
    path = tmp_path / "b" / "manifest.json"
    manifest = json.loads(path.read_text())
    damage(manifest["partition"]["stages"])
    path.write_text(json.dumps(manifest))
    with pytest.raises(graphc.ModelFormatError, match=message):
        graphc.load(tmp_path / "b", layers=[str(pm.PARTITION_LAYERS)])


@pytest.mark.parametrize("partition", [[1, 2], "stages", {"stages": {"0": {}}}, {"stages": [None]}])
def test_a_partition_of_the_wrong_shape_is_refused_at_load(layers, tmp_path, partition):
    graphc.compile(pm.chain_model(), "ort", layers=layers).save(tmp_path / "b")
    path = tmp_path / "b" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["partition"] = partition
    path.write_text(json.dumps(manifest))
    with pytest.raises(graphc.ModelFormatError, match="partition|stage"):
        graphc.load(tmp_path / "b", layers=[str(pm.PARTITION_LAYERS)])


def test_inspect_shows_the_regions(layers, tmp_path):
    art = graphc.compile(pm.chain_model(), "ort", layers=layers)
    art.save(tmp_path / "b")
    from targets.ort.describe import describe_bundle
    from graphc.target import read_manifest

    info = describe_bundle(tmp_path / "b", read_manifest(tmp_path / "b"))
    assert info["mode"] == "partitioned"
    assert [(r["stage"], r["runs_in"], r["nodes"]) for r in info["regions"]] == [
        (0, "onnxruntime", ["relu"]), (1, "python", ["scale1", "scale2"]), (2, "onnxruntime", ["sigmoid"])]
    assert info["regions"][1]["inputs"] == [{"name": "r", "dtype": "float32", "shape": [2, 3, 4, 5], "bytes": 480}]
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "graphc"), "inspect", str(tmp_path / "b")],
                          capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert "2 onnxruntime session(s)" in proc.stdout
    assert "r (float32 2x3x4x5, 480 B)" in proc.stdout and "scale1, scale2" in proc.stdout


@pytest.mark.parametrize("flag, mode", [([], "partitioned"), (["--ort-mode", "single"], "single")])
def test_compile_takes_the_ort_mode(tmp_path, flag, mode):
    onnx.save(pm.chain_model(), tmp_path / "chain.onnx")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "graphc"), "compile", str(tmp_path / "chain.onnx"),
                           "--target", "ort", "--layers", str(pm.PARTITION_LAYERS), "-o", str(tmp_path / "b"), *flag],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["mode"] == mode and ("partition" in manifest) == (mode == "partitioned")
    x = np.linspace(-2, 2, 120, dtype=np.float32).reshape(2, 3, 4, 5)
    got = graphc.load(tmp_path / "b", layers=[str(pm.PARTITION_LAYERS)]).run({"x": x})["y"]
    want = 1 / (1 + np.exp(-6 * np.maximum(x.astype(np.float64), 0)))  # chain_model: sigmoid(3 * 2 * relu(x))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_inspect_of_a_model_for_the_ort_target_shows_the_schedule(tmp_path):
    onnx.save(pm.chain_model(), tmp_path / "chain.onnx")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "graphc"), "inspect", str(tmp_path / "chain.onnx"),
                           "--target", "ort", "--layers", str(pm.PARTITION_LAYERS), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert info["mode"] == "partitioned" and info["runs"] == {"native": {"Relu": 1, "Sigmoid": 1},
                                                              "python-op": {"acme::Scale": 2}}
    assert [(r["runs_in"], r["nodes"]) for r in info["regions"]] == [
        ("onnxruntime", ["relu"]), ("python", ["scale1", "scale2"]), ("onnxruntime", ["sigmoid"])]
