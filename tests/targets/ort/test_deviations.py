"""Declared onnxruntime deviations: each confirmed by its case, routed around, checked once and cached.

The u8s8 saturation entry depends on the processor: this machine's onnxruntime may be exact
(AVX-VNNI), so its remedy is tested with the check forced "present", and the rewrite is held
to onnxruntime's own answer where that is exact. (On an emulated Haswell,
``qemu-x86_64 -cpu Haswell python -m pytest tests/targets/ort/test_deviations.py`` runs the
same tests with the deviation really present.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

import graphc
from graphc.conformance import outputs_match
from targets.ort import OrtTarget
from targets.ort import deviation_check as check_module
from targets.ort.deviation_check import DeviationCheck, case_of, deviation_evidence, environment_fingerprint
from targets.ort.deviations import DEVIATIONS, KERNEL, WIDEN_WEIGHTS
from tests.oracle import ort_run, ort_session, without_u8s8_saturation

REAL = Path(__file__).resolve().parents[2] / "real_models"
ROUTED = [d for d in DEVIATIONS if d.remedy == KERNEL]
SATURATION = next(d for d in DEVIATIONS if d.remedy == WIDEN_WEIGHTS)


def _outputs(case, out) -> list[str | None]:
    return [outputs_match(w, out[o.name], case.rtol, case.atol) for o, w in zip(case.model.graph.output, case.outputs)]


@pytest.mark.parametrize("dev", ROUTED, ids=lambda d: d.key)
def test_each_kernel_routed_deviation_is_shown_by_its_case_and_routed_around(dev):
    case = case_of(dev)
    assert deviation_evidence(dev) is not None, f"{dev.key}: onnxruntime now passes {dev.case}: remove the entry"
    art = graphc.compile(case.model, target=OrtTarget(deviations=DeviationCheck()))
    routed = [e for e in art.manifest["custom_ops"] if e["source"]["op_type"] in dev.op_types]
    assert routed and all("departs from the spec" in e["reason"] for e in routed)
    assert _outputs(case, art.run(case.feeds)) == [None] * len(case.outputs)


@pytest.mark.parametrize("dev", ROUTED, ids=lambda d: d.key)
def test_an_absent_deviation_leaves_the_node_to_onnxruntime(dev):
    """The table is not trusted blindly: an entry the check finds absent routes nothing."""
    case = case_of(dev)
    target = OrtTarget(deviations=DeviationCheck(forced={dev.key: False}))
    try:
        art = graphc.compile(case.model, target=target)
    except graphc.GraphcError:
        return  # onnxruntime cannot run the case at all: nothing was routed around it
    assert not [e for e in art.manifest["custom_ops"] if "departs from the spec" in e.get("reason", "")]


def test_answers_are_cached_per_environment(tmp_path, monkeypatch):
    runs: list[str] = []

    def evidence(dev):
        runs.append(dev.key)
        return "differs: probe" if dev.key == "reduce-min-empty-bool" else None

    monkeypatch.setattr(check_module, "deviation_evidence", evidence)
    first = DeviationCheck(tmp_path)
    by_key = {d.key: d for d in DEVIATIONS}
    assert first.present(by_key["reduce-min-empty-bool"]) and not first.present(by_key["resize-align-corners-scales"])
    assert first.present(by_key["reduce-min-empty-bool"]) and runs == ["reduce-min-empty-bool",
                                                                      "resize-align-corners-scales"]
    stored = json.loads((tmp_path / check_module.CACHE_FILE).read_text())
    assert stored == {environment_fingerprint(): {"reduce-min-empty-bool": True, "resize-align-corners-scales": False}}

    again = DeviationCheck(tmp_path)  # a new process, same environment: read, not re-run
    assert again.present(by_key["reduce-min-empty-bool"]) and runs == ["reduce-min-empty-bool",
                                                                      "resize-align-corners-scales"]
    monkeypatch.setattr(check_module, "environment_fingerprint", lambda: "onnxruntime 9.99 (a new release)")
    upgraded = DeviationCheck(tmp_path)
    assert upgraded.present(by_key["reduce-min-empty-bool"]) and runs[-1] == "reduce-min-empty-bool" and len(runs) == 3
    assert len(json.loads((tmp_path / check_module.CACHE_FILE).read_text())) == 2


def test_an_unwritable_cache_only_costs_the_check(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    dev = next(d for d in DEVIATIONS if d.key == "reduce-min-empty-bool")
    assert DeviationCheck(blocker / "cache").present(dev) is True


def test_the_saturation_probe_reads_the_processor():
    """The probe's answer is onnxruntime's own: present exactly when its u8 x s8 product is clipped."""
    case = case_of(SATURATION)
    (got,) = ort_session(case.model).run(None, case.feeds)
    clipped = not np.array_equal(got, case.outputs[0])
    assert (deviation_evidence(SATURATION) is not None) == clipped
    if clipped:
        assert int(got[0, 0]) == 32767 * 32  # the pair sums saturated in int16


@pytest.mark.parametrize("name", ["bert_int8_dynamic", "resnet_int8_qdq"])
def test_widened_weights_keep_onnxruntimes_answer_and_run_in_onnxruntime(name):
    model = onnx.load(REAL / f"{name}.onnx")
    with np.load(REAL / f"{name}.inputs.npz", allow_pickle=False) as data:
        feeds = {k: data[k] for k in data.files if "@" not in k}
    art = graphc.compile(model, target=OrtTarget(deviations=DeviationCheck(forced={SATURATION.key: True})))
    assert art.manifest["widened_weights"] and not art.python_ops
    inits = {t.name: t for t in art.model.graph.initializer}
    assert any(n.endswith("__as_u8") and t.data_type == onnx.TensorProto.UINT8 for n, t in inits.items())
    want = ort_run(model, feeds)  # exact: widened where onnxruntime could saturate
    got = art.run(feeds)
    for k, w in want.items():
        np.testing.assert_allclose(got[k], w, rtol=1e-4, atol=1e-5)
    exact_here = deviation_evidence(SATURATION) is None
    if exact_here:  # onnxruntime's u8s8 kernels are exact on this processor: the rewrite changes nothing
        raw = ort_session(model).run(None, feeds)
        again = ort_session(without_u8s8_saturation(model)).run(None, feeds)
        for a, b in zip(raw, again):
            np.testing.assert_array_equal(a, b)


def test_weights_that_cannot_saturate_are_left_alone():
    """|w| <= 64 (a reduce_range export): no pair of uint8 x int8 products leaves int16."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).integers(-64, 65, size=(16, 4)).astype(np.int8)
    node = helper.make_node("MatMulInteger", ["a", "w"], ["y"], name="mm")
    model = helper.make_model(helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 16])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 4])], [numpy_helper.from_array(w, "w")]),
        opset_imports=[helper.make_opsetid("", 13)])
    art = graphc.compile(model, target=OrtTarget(deviations=DeviationCheck(forced={SATURATION.key: True})))
    assert "widened_weights" not in art.manifest
    w[0, 0] = 65
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "w"))
    art = graphc.compile(model, target=OrtTarget(deviations=DeviationCheck(forced={SATURATION.key: True})))
    assert art.manifest["widened_weights"] == ["mm"]
    a = np.random.default_rng(1).integers(0, 256, size=(2, 16)).astype(np.uint8)
    np.testing.assert_array_equal(art.run({"a": a})["y"], a.astype(np.int32) @ w.astype(np.int32))
