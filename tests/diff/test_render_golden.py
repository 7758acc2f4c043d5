"""Golden tests of the plain-text diff rendering, one per change kind, and the JSON form."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from graphc import load_model
from graphc.diff import GraphDiff, to_json_text
from tests.diff.cases import pairs


def _short_hash(a: np.ndarray) -> str:
    """What the diff promises for a weight: 8 hex digits of blake2b over its bytes, dtype and shape,
    computed here from the case's arrays (the golden once held the digests graphc printed)."""
    return hashlib.blake2b(a.tobytes() + str(a.dtype).encode() + str(a.shape).encode(), digest_size=4).hexdigest()


ONES, TWOS = _short_hash(np.ones(4, np.float32)), _short_hash(np.full(4, 2, np.float32))

GOLDEN = {
    "added": """\
graph diff: +1 −0 ~1   ops 2 → 3
Ops added (1)
  + Sigmoid sig  (r) -> s
      ← r (Relu relu)
      → add (Add)
Ops rewired (1)
  ~ Add add  input 0: r → s
      ← s (Sigmoid sig), c (const float32[4])
      → y (graph output)""",
    "removed": """\
graph diff: +0 −1 ~1   ops 2 → 1
Ops removed (1)
  - Relu relu  (x) -> r
      ← x (graph input)
      → add (Add)
Ops rewired (1)
  ~ Add add  input 0: r → x
      ← x (graph input), c (const float32[4])
      → y (graph output)""",
    "rewired": """\
graph diff: +1 −0 ~2   ops 2 → 2
Graph inputs/outputs (1)
  + graph output r: float32[1,4]
Ops rewired (1)
  ~ Add add  input 0: r → x
      ← x (graph input), c (const float32[4])
      → y (graph output)
Value types (1)
  ~ r  ?[...] → float32[1,4]""",
    "attribute": f"""\
graph diff: +0 −0 ~2   ops 2 → 2
Attributes (1)
  ~ LeakyRelu relu  alpha: 0.1 → 0.2
Weights (1)
  ~ c  float32[4] #{ONES} → float32[4] #{TWOS}""",
    "shape": """\
graph diff: +0 −0 ~3   ops 2 → 2
Graph inputs/outputs (2)
  ~ graph input x: float32[1,4] → float32[n,4]
  ~ graph output y: float32[1,4] → float32[n,4]
Value types (1)
  ~ r  ?[...] → float32[n,4]""",
}


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_plain_text_golden(case):
    before, after = pairs()[case]
    assert GraphDiff(load_model(before), load_model(after)).to_text() == GOLDEN[case]


def test_weight_hash_tells_content_dtype_and_shape_apart():
    from graphc.diff.core import checksum

    a = np.arange(6, dtype=np.float32)
    last_bit = a.copy()
    last_bit[5] = np.nextafter(last_bit[5], np.float32(6))  # one bit of one element
    others = [last_bit, a.astype(np.int32), a.reshape(2, 3), a[::-1]]
    assert checksum(a) == _short_hash(a) and checksum(a.copy()) == checksum(a)
    assert len({checksum(b) for b in [a, *others]}) == 5
    assert checksum(a.reshape(3, 2).T) == _short_hash(np.ascontiguousarray(a.reshape(3, 2).T))


def test_identical_graphs_have_no_changes():
    before, _ = pairs()["added"]
    diff = GraphDiff(load_model(before), load_model(before))
    assert diff.empty and diff.summary == {"added": 0, "removed": 0, "changed": 0}
    assert diff.to_text() == "graph diff: +0 −0 ~0   ops 2 → 2\n  (no changes)"


def test_renamed_op_pairs_by_structure():
    before = load_model(pairs()["added"][0])
    after = before.copy()
    after.rename_op(after.op("relu"), "relu_renamed")
    diff = GraphDiff(before, after)
    assert [(c.kind, c.detail) for c in diff.changes] == [("renamed", "relu → relu_renamed")]


def test_json_is_stable_and_complete():
    before, after = pairs()["attribute"]
    text = to_json_text(GraphDiff(load_model(before), load_model(after)))
    assert text == to_json_text(GraphDiff(load_model(before), load_model(after)))
    data = json.loads(text)
    assert data["summary"] == {"added": 0, "removed": 0, "changed": 2}
    kinds = {c["kind"]: c for c in data["changes"]}
    assert kinds["attribute"]["before"] == pytest.approx(0.1) and kinds["attribute"]["after"] == pytest.approx(0.2)
    assert kinds["weight"]["subject"] == "c"


def test_no_neighbourhood_mode():
    before, after = pairs()["removed"]
    text = GraphDiff(load_model(before), load_model(after)).to_text(neighbourhood=False)
    assert "←" not in text and "  - Relu relu  (x) -> r" in text
