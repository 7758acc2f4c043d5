"""Keras core layers beyond the CNN basics, mapped with no user code (issue 17 item 3), against tf.keras
2.15: ``keras2_layers.h5`` (``model.save``) and the outputs Keras computed (``keras2_layers.npz``;
``tools/make_frontend_fixtures.py keras2-layers``). PReLU (shared axes), ELU, ReLU with a threshold and
with slope + max_value, Conv2DTranspose (SAME, VALID with stride > kernel, dilated, output_padding),
LayerNormalization, GroupNormalization, Normalization (adapted), Conv1D (causal dilated, strided SAME),
MaxPooling1D, AveragePooling1D, ZeroPadding1D, Cropping1D, GlobalAverage/MaxPooling1D/3D, RepeatVector,
Embedding, Conv3D, MaxPooling3D, AveragePooling3D, ZeroPadding3D, Cropping3D, UpSampling1D/3D, the gelu,
mish and exponential activations, Dot (a batch matrix product; normalized rank-2 vectors), Attention
(use_scale, separate keys)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graphc

pytest.importorskip("h5py")

DATA = Path(__file__).parent / "data"
REF = np.load(DATA / "keras2_layers.npz")
INPUTS = ["image", "seq", "ids", "volume"]


def test_no_layer_stays_a_keras_node():
    g = graphc.load_model(DATA / "keras2_layers.h5")
    assert not [f"{op.domain}::{op.op_type}" for op in g if op.domain]
    types = {op.op_type for op in g}
    assert {"PRelu", "Elu", "ConvTranspose", "LayerNormalization", "Gather", "Tile", "Einsum"} <= types


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_outputs_match_tf_keras(target):
    art = graphc.compile(DATA / "keras2_layers.h5", target)
    got = art.run({k: REF[k] for k in INPUTS})
    expected = {k: REF[k] for k in REF.files if k not in INPUTS}
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        # atol: layer_norm's O(1) outputs after two normalizations carry a few float32 steps of their sums
        np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=5e-6, err_msg=f"{target} {name}")
