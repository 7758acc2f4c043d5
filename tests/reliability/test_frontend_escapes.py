"""Damaged TensorFlow and Keras files fail with a ModelFormatError naming what is wrong: before, a
TensorFlow BiasAdd with one input escaped as ValueError, and byte-flipped Keras ``.weights.h5`` files
as h5py's RuntimeError, KeyError or OverflowError."""

from __future__ import annotations

import pytest

import graphc
from graphc import ModelFormatError

_PLACEHOLDER = ('node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } '
                'attr { key: "shape" value { shape { dim { size: 1 } dim { size: 3 } } } } }\n')


@pytest.mark.parametrize("op", ["BiasAdd", "MatMul", "AddV2", "ConcatV2", "FusedBatchNormV3"])
def test_a_tensorflow_op_missing_inputs_is_a_model_format_error_naming_the_node(tmp_path, op):
    """A mapped op with fewer data inputs than TensorFlow's registry gives it (BiasAdd with one: ValueError;
    AddV2 with one became a one-input Add)."""
    path = tmp_path / "g.pbtxt"
    path.write_text(_PLACEHOLDER + f'node {{ name: "n" op: "{op}" input: "x" attr {{ key: "T" value {{ type: DT_FLOAT }} }} }}\n')
    with pytest.raises(ModelFormatError, match=rf"node 'n' \({op}\) has 1 data input\(s\); {op} takes at least"):
        graphc.load_model(path)


def test_every_flipped_byte_of_a_keras_weights_file_is_a_model_format_error(tmp_path):
    """200 single-byte flips of a Keras 3 ``.weights.h5``: each loads or is a ModelFormatError (16 escaped as
    h5py's RuntimeError or KeyError)."""
    import json
    from collections import Counter

    import numpy as np

    h5py = pytest.importorskip("h5py")
    config = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "InputLayer", "config": {"name": "inp", "batch_shape": [None, 3], "dtype": "float32"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "softmax", "use_bias": True}}]}}
    (tmp_path / "m.json").write_text(json.dumps(config))
    with h5py.File(tmp_path / "w.weights.h5", "w") as f:
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", data=np.ones((3, 2), np.float32))
        group.create_dataset("1", data=np.zeros(2, np.float32))
    data = (tmp_path / "w.weights.h5").read_bytes()
    rng = np.random.default_rng(0)
    outcomes: Counter[str] = Counter()
    for _ in range(200):
        flipped = bytearray(data)
        flipped[int(rng.integers(len(flipped)))] ^= 0xFF
        (tmp_path / "f.weights.h5").write_bytes(bytes(flipped))
        try:
            graphc.load_model(tmp_path / "m.json", weights=tmp_path / "f.weights.h5")
            outcomes["ok"] += 1
        except ModelFormatError as e:
            assert "weights" in str(e) or "HDF5" in str(e), str(e)
            outcomes["ModelFormatError"] += 1
    assert outcomes["ModelFormatError"] > 0, outcomes


def test_a_keras_weights_member_over_the_budget_is_refused_before_inflating(tmp_path, monkeypatch):
    """A ``.keras`` whose ``model.weights.h5`` is 200 MB of zeros (200 KB in the zip) under a 64 MiB budget:
    refused from its declared size with the figures, having inflated nothing (an 805 MB member of zeros,
    783 KB on disk, peaked at 1.6 GB)."""
    import json
    import tracemalloc
    import zipfile

    from graphc import PlanError

    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": []}}))
        with z.open("model.weights.h5", "w", force_zip64=True) as member:
            for _ in range(200):
                member.write(bytes(1_000_000))
    assert path.stat().st_size < 1_000_000
    monkeypatch.setenv("GRAPHC_MEMORY_BUDGET", str(64 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(PlanError, match=r"model.weights.h5 is 200000000 bytes.*memory budget of 67108864"):
            graphc.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"the refused load allocated {peak} bytes"  # 200 MB before
