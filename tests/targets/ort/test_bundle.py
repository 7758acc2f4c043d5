"""The ort bundle: checker-clean model.onnx, manifest, trust rules, atomic writes, zip or folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

import graphc
from graphc import LayerError
from graphc.layers import load_layer_modules
from targets.ort import load_bundle

from tests.layers.models import CAFFE_LAYERS, interp_model

ROOT = Path(__file__).resolve().parents[3]
X = np.linspace(-1, 1, 60, dtype=np.float32).reshape(1, 3, 4, 5)


@pytest.fixture(scope="module")
def layers():
    return load_layer_modules([str(CAFFE_LAYERS)])


@pytest.mark.parametrize("suffix", ["", ".zip"])
def test_bundle_round_trip_with_named_layers(layers, tmp_path, suffix):
    art = graphc.compile(interp_model(9, 8), "ort", layers=layers)
    want = art.run({"x": X})["y"]
    path = tmp_path / f"interp{suffix}"
    art.save(path)
    again = load_bundle(path, layers=layers)
    np.testing.assert_array_equal(again.run({"x": X})["y"], want)
    manifest = again.manifest
    assert manifest["target"] == "ort" and manifest["graphc_version"] == graphc.__version__
    assert manifest["onnxruntime"]["min"] <= manifest["onnxruntime"]["built_with"]
    (op,) = manifest["custom_ops"]
    assert op["layer"].endswith(":Interp") and op["source"] == {"op_type": "Interp", "domain": "caffe", "opset": 1}
    assert json.loads(op["params"]) == {"height": 9, "width": 8}
    module = op["layer"].partition(":")[0]
    assert len(manifest["layer_modules"][module]["sha256"]) == 64
    onnx.checker.check_model(again.model)


def _write_layer_module(folder: Path, body_extra: str = "") -> Path:
    path = folder / "acme_layers.py"
    path.write_text(
        "import numpy as np, graphc\n"
        "@graphc.register_layer('Interp', domain='caffe')\n"
        "class Interp(graphc.Layer):\n"
        "    height = graphc.Param(int)\n"
        "    width = graphc.Param(int)\n"
        "    def output_shapes(self, s):\n"
        "        return [(s[0][0], s[0][1], self.height, self.width)]\n"
        "    def forward(self, inputs, outputs, internals):\n"
        "        outputs[0][...] = inputs[0].mean()\n" + body_extra)
    return path


def _load_in_fresh_process(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    script = ("import sys, numpy as np\nfrom targets.ort import load_bundle\n"
              "kw = eval(sys.argv[2])\n"
              "art = load_bundle(sys.argv[1], **kw)\n"
              "print(float(art.run({'x': np.ones((1, 3, 4, 5), np.float32)})['y'].mean()))\n")
    return subprocess.run([sys.executable, "-c", script, str(bundle), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_a_bundle_naming_a_module_is_refused_until_trusted(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    module_file = _write_layer_module(src)
    bundle = tmp_path / "b.zip"
    graphc.compile(interp_model(), "ort", layers=[str(module_file)]).save(bundle)
    module_file.unlink()  # only the bundle's own copy is left
    refused = _load_in_fresh_process(bundle, "{}")
    assert refused.returncode != 0
    assert "LayerError" in refused.stderr and "is missing" in refused.stderr and "trust=True" in refused.stderr
    trusted = _load_in_fresh_process(bundle, "{'trust': True}")
    assert trusted.returncode == 0, trusted.stderr
    assert abs(float(trusted.stdout.strip().splitlines()[-1]) - 1 / (1 + np.exp(-1))) < 1e-6  # sigmoid(mean(relu(1)))


def test_a_changed_layer_module_is_named(tmp_path):
    module_file = _write_layer_module(tmp_path)
    bundle = tmp_path / "b"
    graphc.compile(interp_model(), "ort", layers=[str(module_file)]).save(bundle)
    module_file.write_text(module_file.read_text() + "# edited\n")
    with pytest.raises(LayerError, match=r"layer module '.*' changed since the bundle was written"):
        load_bundle(bundle, layers=[str(module_file)])
    assert load_bundle(bundle, layers=[str(module_file)], trust=True).run({"x": X})["y"].shape == (1, 3, 9, 8)


def test_graphc_load_dispatches_to_the_ort_target(layers, tmp_path):
    art = graphc.compile(interp_model(), "ort", layers=layers)
    art.save(tmp_path / "b")
    again = graphc.load(tmp_path / "b", layers=layers)
    np.testing.assert_array_equal(again.run({"x": X})["y"], art.run({"x": X})["y"])


def test_saving_over_a_bundle_replaces_each_file_whole(layers, tmp_path):
    path = tmp_path / "b"
    graphc.compile(interp_model(4, 4), "ort", layers=layers).save(path)
    graphc.compile(interp_model(6, 7), "ort", layers=layers).save(path)
    assert sorted(p.name for p in path.iterdir()) == ["layers", "manifest.json", "model.onnx"]
    assert load_bundle(path, layers=layers).run({"x": X})["y"].shape == (1, 3, 6, 7)
