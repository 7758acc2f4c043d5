"""Mutated models through load -> compile (numpy target) -> run: success or a GraphcError.

Reuses the mutations of test_fuzz_load. Each case runs under a time bound (SIGALRM) and a
memory budget (the planner's ``memory_budget``); feeds follow the mutated model's declared
inputs. Count: GRAPHC_FUZZ_COMPILE_COUNT (default 150); the seed is fixed. Past failures
live in ``corpus/`` (named by the outcome class they produced when kept) as regression cases.
"""

from __future__ import annotations

import collections
import os
import random
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

import graphc
from graphc import GraphcError, ShapeInferenceError
from graphc.examples import example_path
from tests.node_cases import node_cases
from tests.reliability.bounds import Hang, hung, time_bound
from tests.reliability.test_fuzz_load import _mutate_bytes, _mutate_structure

COUNT = int(os.environ.get("GRAPHC_FUZZ_COMPILE_COUNT", "150"))
SECONDS_PER_CASE = 30
BUDGET = 512 << 20
CORPUS = Path(__file__).parent / "corpus"


def _feeds(graph) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for v in graph.inputs:
        if v.const is not None or v.type.dtype is None or v.type.shape is None:
            continue
        shape = tuple(d if isinstance(d, int) and 0 <= d < 4096 else 1 for d in v.type.shape)
        dt = np.dtype(v.type.dtype)
        feeds[v.name] = (rng.standard_normal(shape) if dt.kind in "fc" else rng.integers(0, 3, shape)).astype(dt)
    return feeds


def _one(data: bytes) -> str:
    graph = graphc.load_model(data)
    feeds = _feeds(graph)
    art = graphc.compile(graph, target="numpy", memory_budget=BUDGET)
    art.run(feeds)
    return "ran"


def _outcome(data: bytes, run=None, seconds: int = SECONDS_PER_CASE) -> str:
    """The outcome class of one case; raises AssertionError for anything not allowed, a hang
    included even when graphc wrapped it in a GraphcError."""
    try:
        with time_bound(seconds), np.errstate(all="ignore"):
            return (run or _one)(data)
    except GraphcError as e:
        assert not hung(e), f"no result within {seconds} s (reported as {type(e).__name__}: {e})"
        assert str(e), "a GraphcError must say what is wrong"
        return type(e).__name__
    except Hang:
        raise AssertionError(f"no result within {seconds} s") from None


def _seeds() -> list[bytes]:
    picked = [c for c in node_cases()[::23] if c.tensor_only]
    return [onnx.load(example_path("squeezenet")).SerializeToString()] + [c.model.SerializeToString() for c in picked]


def test_mutated_models_compile_and_run_or_fail_cleanly():
    rnd = random.Random(20261126)
    seeds = _seeds()
    outcomes: collections.Counter[str] = collections.Counter()
    unexpected = []
    for i in range(COUNT):
        try:
            seed = rnd.choice(seeds)
            data = _mutate_bytes(seed, rnd) if i % 2 else _mutate_structure(seed, rnd)
        except Exception:  # noqa: BLE001 - the mutation itself failed on this seed
            outcomes["skipped"] += 1
            continue
        try:
            outcomes[_outcome(data)] += 1
        except Exception as e:  # noqa: BLE001 - collected and reported below
            unexpected.append(f"case {i}: {type(e).__name__}: {str(e)[:300]}")
            if os.environ.get("GRAPHC_FUZZ_SAVE"):
                CORPUS.mkdir(exist_ok=True)
                (CORPUS / f"case_{i}.onnx").write_bytes(data)
    print(f"fuzz-compile: {COUNT} mutations, outcomes {dict(outcomes)}")
    assert not unexpected, "\n".join(unexpected[:10])
    # a regression that rejects every model must not pass: enough mutants still compile and run (1 in 25: the
    # opset-999 mutants ran until opsets newer than onnx defines were refused, 21 of 150 ran before, 8 after)
    assert outcomes["ran"] >= COUNT // 25, f"only {outcomes['ran']} of {COUNT} mutated models ran: {dict(outcomes)}"


def test_corpus_of_past_failures():
    """Kept fuzzer finds (file name = outcome class when recorded) still end the same way."""
    cases = sorted(CORPUS.glob("*.onnx"))
    assert cases, f"the regression corpus {CORPUS} is empty"
    changed = []
    for p in cases:
        expected = p.stem.rsplit("_", 1)[0]
        got = _outcome(p.read_bytes())
        if got != expected:
            changed.append(f"{p.name}: now {got}")
    print(f"corpus: {len(cases)} models, {len(changed)} changed outcome")
    assert not changed, "\n".join(changed)


def _expected_reshape_error(graph) -> str:
    """Why the corpus's Reshape model must fail, worked out from its one op and the feeds ``_feeds`` gives it
    (not from graphc's message), as a pattern its message must match."""
    (op,) = graph.ops.values()
    feeds = _feeds(graph)
    assert op.op_type == "Reshape"  # a 0 copies the input's dim (allowzero=0); sizes then differ
    data, shape = feeds["data"], feeds["shape"]
    target = [int(data.shape[i]) if d == 0 else int(d) for i, d in enumerate(shape)]
    assert np.prod(target) != data.size and -1 not in target
    return (rf"Reshape node 'Reshape' \(opset \d+\): cannot reshape an input of shape "
            rf"\[{', '.join(map(str, data.shape))}\] \({data.size} elements\) into shape \[{', '.join(map(str, target))}\] "
            r"\(its 0s taken from the input's dims\): the element counts differ")


def test_the_corpus_pins_graphc_error_subclasses():
    """Every kept case names a subclass of GraphcError (the base class says only that graphc failed): the
    Reshape kept as a bare GraphcError (numpy's ValueError wrapped by the executor) is a ShapeInferenceError."""
    bare = [p.name for p in CORPUS.glob("*.onnx") if p.stem.rsplit("_", 1)[0] == "GraphcError"]
    assert not bare, f"corpus cases pinned to the base class: {bare}"


def test_a_reshape_to_another_size_is_a_shape_inference_error_for_the_reason_the_model_gives():
    """The corpus's Reshape case (once a bare GraphcError: issue 21 Low, an expectation graphc produced itself)
    must fail as a ShapeInferenceError naming the node, for the cause read off its model. Two more (a Bernoulli
    and a Reshape) imported opset 999 and are ModelFormatErrors at load since such opsets are refused."""
    (path,) = CORPUS.glob("ShapeInferenceError_132.onnx")
    graph = graphc.load_model(path.read_bytes())
    with pytest.raises(ShapeInferenceError, match=_expected_reshape_error(graph)) as e, np.errstate(all="ignore"):
        graphc.compile(graph, target="numpy", memory_budget=BUDGET).run(_feeds(graph))
    assert type(e.value) is ShapeInferenceError and e.value.node == "Reshape"


class _Sleeper(graphc.Layer):
    """Sleeps in shape inference (a pass) or in forward (a kernel), as its ``where`` param says."""

    where = graphc.Param(str)

    def output_shapes(self, input_shapes):
        if self.where == "pass":
            time.sleep(30)
        return [input_shapes[0]]

    def forward(self, inputs, outputs, internals):
        if self.where == "kernel":
            time.sleep(30)
        outputs[0][...] = inputs[0]


@pytest.mark.parametrize("where", ["pass", "kernel"])
def test_the_hang_bound_catches_a_hang_inside_graphc(where):
    """A pass or kernel sleeping past the bound fails the case: graphc's ``except Exception`` (which
    turns errors into PassError/LayerError) must not turn the bound into a clean outcome."""
    from onnx import TensorProto, helper

    reg = graphc.LayerRegistry()
    reg.register("Sleeper", domain="test.fuzz")(_Sleeper)
    node = helper.make_node("Sleeper", ["x"], ["y"], domain="test.fuzz", where=where)
    model = helper.make_model(helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])]),
        opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid("test.fuzz", 1)])

    def run(data: bytes) -> str:
        graphc.compile(graphc.load_model(data), target="numpy", layers=reg).run({"x": np.ones(2, np.float32)})
        return "ran"

    with pytest.raises(AssertionError, match="no result within 1 s"):
        _outcome(model.SerializeToString(), run=run, seconds=1)
