"""graphc's built-in layers are graphc's own code: artifacts record no source digest for them (as for
kernels), so upgrading graphc never makes an artifact that uses one refuse to load as "changed"."""

from __future__ import annotations

from graphc.layers.builtin.caffe_ssd import DetectionOutput
from graphc.layers.loading import layer_source, layer_source_digest
from targets.ort.bundle import source_digest


def test_built_in_layers_have_no_recorded_source():
    assert layer_source(DetectionOutput) == ("", None)
    assert layer_source_digest(DetectionOutput) == "" and source_digest(DetectionOutput) == ("", None)


def test_a_user_layer_file_is_still_digested(tmp_path, monkeypatch):
    import hashlib
    import importlib.util
    import sys

    path = tmp_path / "my_layer.py"
    path.write_text("import graphc\n\nclass Mine(graphc.Layer):\n    pass\n")
    spec = importlib.util.spec_from_file_location("my_layer_for_digest", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "my_layer_for_digest", module)
    spec.loader.exec_module(module)
    digest, data = layer_source(module.Mine)
    assert data == path.read_bytes() and digest == hashlib.sha256(data).hexdigest()
