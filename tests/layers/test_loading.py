"""load_layer_modules: fresh registries over DEFAULT_LAYERS, the default one untouched."""

from __future__ import annotations

import sys

import pytest

from graphc import LayerError
from graphc.layers import DEFAULT_LAYERS, LayerRegistry, load_layer_modules, resolve_registry
from graphc.layers.registry import is_builtin

from tests.layers.models import CAFFE_LAYERS, CROP_LAYERS

LAYER_SRC = '''
import graphc

@graphc.register_layer("Gain", domain="demo")
class Gain(graphc.Layer):
    k = graphc.Param(float, default={k})

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = inputs[0] * self.k
'''


def test_file_layers_go_to_a_fresh_registry_not_the_default():
    before = DEFAULT_LAYERS.entries()
    reg = load_layer_modules([str(CAFFE_LAYERS), str(CROP_LAYERS)])
    assert sorted(e.op_type for e in reg.entries() if not is_builtin(e)) == ["CenterCropPad", "Interp", "PriorBox"]
    assert DEFAULT_LAYERS.entries() == before and DEFAULT_LAYERS.lookup("caffe", "Interp") is None
    assert reg.lookup("", "CenterCropPad", 18) is not None and reg.lookup("", "CenterCropPad", 17) is None
    # a second load replays the same classes without importing the file again
    again = load_layer_modules([str(CAFFE_LAYERS)])
    assert again.lookup("caffe", "Interp").cls is reg.lookup("caffe", "Interp").cls
    assert again.lookup("", "CenterCropPad", 18) is None


def test_changed_file_is_imported_again(tmp_path):
    path = tmp_path / "gain_layers.py"
    path.write_text(LAYER_SRC.format(k=2.0))
    first = load_layer_modules([str(path)]).lookup("demo", "Gain").cls
    path.write_text(LAYER_SRC.format(k=3.0) + "\n# edited\n")
    second = load_layer_modules([str(path)]).lookup("demo", "Gain").cls
    assert first.k.default == 2.0 and second.k.default == 3.0


def test_module_names_and_registry_composition(tmp_path, monkeypatch):
    (tmp_path / "demo_gain_mod.py").write_text(LAYER_SRC.format(k=5.0))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        reg = resolve_registry(["demo_gain_mod"])
        assert reg.lookup("demo", "Gain").cls.k.default == 5.0
        assert load_layer_modules(["demo_gain_mod"]).lookup("demo", "Gain") is not None  # remembered on the module
        assert DEFAULT_LAYERS.lookup("demo", "Gain") is None
    finally:
        sys.modules.pop("demo_gain_mod", None)


def test_scoped_registry_sees_extra_layers_only_inside_the_block():
    extra = load_layer_modules([str(CAFFE_LAYERS)])
    base = LayerRegistry()
    with base.scope(extra):
        assert base.lookup("caffe", "PriorBox") is not None
    assert base.lookup("caffe", "PriorBox") is None


def test_import_errors_name_the_module(tmp_path):
    bad = tmp_path / "broken_layers.py"
    bad.write_text("import graphc\nraise RuntimeError('oops in layer file')\n")
    with pytest.raises(LayerError, match="cannot import layer file .*broken_layers.py.*RuntimeError: oops in layer file"):
        load_layer_modules([str(bad)])
    with pytest.raises(LayerError, match="does not exist"):
        load_layer_modules([str(tmp_path / "missing.py")])
    with pytest.raises(LayerError, match="cannot import layer module 'no_such_layer_pkg_xyz'"):
        load_layer_modules(["no_such_layer_pkg_xyz"])
