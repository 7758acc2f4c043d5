"""Dilated convolutions as TensorFlow writes them, SpaceToBatchND / BatchToSpaceND alone and TF1's
Concat, against TF 2.15.1 (``tf_atrous.pb`` / ``.npz``, ``tools/make_frontend_fixtures.py tf-atrous``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc.frontends.tensorflow import parse_graphdef

DATA = Path(__file__).parent / "data"
REF = np.load(DATA / "tf_atrous.npz")
OUTPUTS = [k for k in REF.files if k != "input"]


def test_the_triples_fold_into_dilated_convolutions():
    """Every SpaceToBatchND -> conv -> BatchToSpaceND of the file becomes one dilated Conv; the lone pair
    maps to Pad / Reshape / Transpose / Slice."""
    gd = parse_graphdef(DATA / "tf_atrous.pb")
    source = Counter(n.op for n in gd.node)
    assert source["SpaceToBatchND"] >= 3  # the fixture does exercise the pattern
    g = graphc.load_model(DATA / "tf_atrous.pb", outputs=OUTPUTS)
    assert not [op for op in g if op.domain]
    convs = [op for op in g if op.op_type == "Conv"]
    assert len(convs) == source["Conv2D"] + source["DepthwiseConv2dNative"]
    dilated = [op for op in convs if max(op.attrs.get("dilations", [1, 1])) > 1]
    assert len(dilated) == source["BatchToSpaceND"] - 1  # all but the lone pair's


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_outputs_match_tensorflow(target):
    got = graphc.compile(DATA / "tf_atrous.pb", target, outputs=OUTPUTS).run({"input": REF["input"]})
    for name in OUTPUTS:
        assert got[name].shape == REF[name].shape, name
        np.testing.assert_allclose(got[name], REF[name], rtol=1e-5, atol=2e-6, err_msg=f"{target} {name}")


def test_a_malformed_triple_is_a_model_format_error():
    """Paddings of 3 values: not folded, and the op's own import names it (no bare ValueError)."""
    from graphc.errors import ModelFormatError
    from graphc.frontends.tensorflow import graphdef_to_graph

    def const(name: str, dtype: str, dims: list[int], vals: str) -> str:
        shape = " ".join(f"dim {{ size: {d} }}" for d in dims)
        return (f'node {{ name: "{name}" op: "Const" attr {{ key: "dtype" value {{ type: {dtype} }} }} attr {{ key: '
                f'"value" value {{ tensor {{ dtype: {dtype} tensor_shape {{ {shape} }} {vals} }} }} }} }}\n')

    text = ('node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\n'
            + const("bs", "DT_INT32", [2], "int_val: 2") + const("pd", "DT_INT32", [3], "int_val: 1")
            + const("w", "DT_FLOAT", [1, 1, 1, 1], "float_val: 1")
            + 'node { name: "s2b" op: "SpaceToBatchND" input: "x" input: "bs" input: "pd" }\n'
            + 'node { name: "c" op: "Conv2D" input: "s2b" input: "w" attr { key: "padding" value { s: "VALID" } } }\n'
            + 'node { name: "b2s" op: "BatchToSpaceND" input: "c" input: "bs" input: "pd" }\n')
    with pytest.raises(ModelFormatError, match=r"'s2b' \(SpaceToBatchND\)"):
        graphdef_to_graph(parse_graphdef(text.encode(), text=True))
