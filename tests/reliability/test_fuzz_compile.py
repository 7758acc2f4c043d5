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
import signal
from pathlib import Path

import numpy as np
import onnx

import graphc
from graphc import GraphcError
from graphc.examples import example_path
from tests.node_cases import node_cases
from tests.reliability.test_fuzz_load import _mutate_bytes, _mutate_structure

COUNT = int(os.environ.get("GRAPHC_FUZZ_COMPILE_COUNT", "150"))
SECONDS_PER_CASE = 30
BUDGET = 512 << 20
CORPUS = Path(__file__).parent / "corpus"


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang


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


def _outcome(data: bytes) -> str:
    """The outcome class of one case; raises AssertionError for anything not allowed."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_CASE)
    try:
        with np.errstate(all="ignore"):
            return _one(data)
    except GraphcError as e:
        assert str(e), "a GraphcError must say what is wrong"
        return type(e).__name__
    except Hang:
        raise AssertionError(f"no result within {SECONDS_PER_CASE} s") from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


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
