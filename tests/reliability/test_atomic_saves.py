"""Saves are atomic as a whole: concurrent saves of ort folder bundles never mix one artifact's model with
another's manifest, a mixed or swapped model.onnx is refused at load, and a writer killed mid-write leaves
no temporary file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest

import graphc
from graphc import ModelFormatError
from graphc.layers import load_layer_modules
from tests.layers.models import CAFFE_LAYERS, interp_model

ROOT = Path(__file__).resolve().parents[2]
X = np.linspace(-1, 1, 60, dtype=np.float32).reshape(1, 3, 4, 5)


@pytest.fixture(scope="module")
def layers():
    return load_layer_modules([str(CAFFE_LAYERS)])


def _pairing(path: Path) -> tuple[int, int]:
    """(height in the manifest, height in model.onnx) of the bundle's one Interp node, read raw."""
    manifest = json.loads((path / "manifest.json").read_text())
    model = onnx.load_model_from_string((path / "model.onnx").read_bytes())
    config = next(onnx.helper.get_attribute_value(a) for n in model.graph.node for a in n.attribute
                  if a.name == "config")
    entry = manifest["custom_ops"][0]
    return int(json.loads(entry["params"])["height"]), int(json.loads(config)["height"])


def test_concurrent_saves_to_one_folder_never_mix_model_and_manifest(layers, tmp_path):
    """8 artifacts saved at once to the same folder, 6 rounds: after each round the folder is one of them."""
    arts = [graphc.compile(interp_model(2 + k, 3), "ort", layers=layers, mode="single") for k in range(8)]
    path = tmp_path / "b"
    mixed = []
    for _ in range(6):
        barrier = threading.Barrier(len(arts))

        def save(art):
            barrier.wait()
            art.save(path)

        threads = [threading.Thread(target=save, args=(a,)) for a in arts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        manifest_height, model_height = _pairing(path)
        if manifest_height != model_height:
            mixed.append((manifest_height, model_height))
    assert not mixed, f"manifest/model pairs from different artifacts: {mixed}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"], "temporary folders left behind"
    h = _pairing(path)[0]
    assert graphc.load(path, layers=layers).run({"x": X})["y"].shape == (1, 3, h, 3)


def test_a_model_swapped_inside_a_bundle_is_refused(layers, tmp_path):
    """What an interrupted per-file save (or a tampered folder) leaves: another artifact's model.onnx.
    It used to run, with the manifest's params describing a different model."""
    graphc.compile(interp_model(4, 4), "ort", layers=layers).save(tmp_path / "a")
    graphc.compile(interp_model(6, 7), "ort", layers=layers).save(tmp_path / "b")
    (tmp_path / "a" / "model.onnx").write_bytes((tmp_path / "b" / "model.onnx").read_bytes())
    with pytest.raises(ModelFormatError, match="not the model the manifest records"):
        graphc.load(tmp_path / "a", layers=layers)


def test_saving_over_a_folder_that_is_not_a_bundle_is_refused(tmp_path):
    """A folder save replaces the whole folder, so a folder holding anything else is never replaced."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    art = graphc.compile(interp_model(2, 2), "ort", layers=load_layer_modules([str(CAFFE_LAYERS)]))
    with pytest.raises(ModelFormatError, match="notes.txt"):
        art.save(tmp_path / "home")
    assert (tmp_path / "home" / "notes.txt").read_text() == "mine"


WRITER = """
import sys
from pathlib import Path
from graphc.atomic import atomic_write_bytes

data = bytes(256 << 20)
print("writing", flush=True)
while True:
    atomic_write_bytes(Path(sys.argv[1]), data)
"""


def test_a_writer_killed_mid_write_leaves_no_temporary_file(tmp_path):
    """kill -9 while 256 MiB are being written, repeatedly: the folder holds the target (or nothing), never a
    .tmp file (the data goes to an unnamed O_TMPFILE file that gets its name only when complete)."""
    if not hasattr(os, "O_TMPFILE"):
        pytest.skip("no O_TMPFILE on this system")
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for delay in (0.05, 0.1, 0.2, 0.3):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(out / "model.graphc")], env=env,
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline() == "writing\n"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        leftovers = [p.name for p in out.iterdir() if p.name != "model.graphc"]
        assert not leftovers, f"killed after {delay} s: {leftovers}"
