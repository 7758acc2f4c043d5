"""Caffe parameter types come from caffe.proto's schema, not from how the prototxt is spelled
(issue 16, item 1): repeated fields are lists, float fields floats, enums names; fork blocks
are typed once registered and read untyped otherwise."""

from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.cli.main import main
from graphc.errors import ModelFormatError
from graphc.frontends.caffe import load_caffe
from graphc.frontends.caffe_schema import CAFFE_PARAMS, caffe_messages, field, register_caffe_param
from graphc.layers import load_layer_modules

INPUTS = """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
layer { name: "ref" type: "Input" top: "ref" input_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } } }
"""

CROP = INPUTS + """
layer { name: "crop" type: "Crop" bottom: "data" bottom: "ref" top: "crop" crop_param { axis: 2 OFFSETS } }
"""

# graphc imports SSD's PriorBox, Permute and Normalize itself (issue 17): a fork's own layer types
# reading their blocks stay caffe nodes, whose attributes these tests check
PRIOR_BOXES = INPUTS + """
layer { name: "pb1" type: "MyPriorBox" bottom: "data" bottom: "ref" top: "pb1"
        prior_box_param { min_size: 4 aspect_ratio: 2 step: 8 variance: 0.1 } }
layer { name: "pb2" type: "MyPriorBox" bottom: "data" bottom: "ref" top: "pb2"
        prior_box_param { min_size: 4.5 aspect_ratio: 2 aspect_ratio: 3 step: 8.0
                          variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 } }
"""


class ListOffsetCrop(graphc.Layer):
    """Caffe's Crop with its declared parameter types: ``offset`` is ``repeated uint32``."""

    axis = graphc.Param(int, default=2)
    offset = graphc.Param(list, default=[])

    def output_shapes(self, input_shapes):
        a, ref = input_shapes
        return [tuple(a[: self.axis]) + tuple(ref[self.axis:])]

    def forward(self, inputs, outputs, internals):
        a, ref = inputs
        n = a.ndim - self.axis
        offs = self.offset * n if len(self.offset) == 1 else (self.offset or [0] * n)
        index = [slice(None)] * self.axis + [slice(o, o + s) for o, s in zip(offs, ref.shape[self.axis:])]
        outputs[0][...] = a[tuple(index)]


def _crop_registry():
    reg = graphc.LayerRegistry()
    reg.register("Crop", domain="caffe")(ListOffsetCrop)
    return reg


@pytest.mark.parametrize("offsets, start", [("offset: 0", (0, 0)), ("offset: 1 offset: 2", (1, 2)),
                                            ("offset: [3]", (3, 3))])
def test_repeated_field_is_a_list_however_many_values(tmp_path, offsets, start):
    path = tmp_path / "crop.prototxt"
    path.write_text(CROP.replace("OFFSETS", offsets))
    reg = _crop_registry()
    assert isinstance(graphc.load_model(path, layers=reg).ops["crop"].attrs["offset"], list)
    a = np.arange(3 * 64, dtype=np.float32).reshape(1, 3, 8, 8)
    (y,) = graphc.compile(path, "numpy", layers=reg).run({"data": a, "ref": np.zeros((1, 3, 4, 4), np.float32)}).values()
    np.testing.assert_array_equal(y, a[:, :, start[0]:start[0] + 4, start[1]:start[1] + 4])


def test_float_fields_are_floats_and_repeated_fields_lists(tmp_path):
    path = tmp_path / "ssd.prototxt"
    path.write_text(PRIOR_BOXES)
    g = graphc.load_model(path)
    pb1, pb2 = g.ops["pb1"].attrs, g.ops["pb2"].attrs
    assert pb1 == {"min_size": [4.0], "aspect_ratio": [2.0], "step": 8.0, "variance": [0.1]}
    assert pb2["aspect_ratio"] == [2.0, 3.0] and pb2["variance"] == [0.1, 0.1, 0.2, 0.2]
    for attrs in (pb1, pb2):
        assert type(attrs["step"]) is float and all(type(v) is float for v in attrs["aspect_ratio"])


def test_scaffold_types_prior_box_params_and_the_skeleton_compiles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ssd.prototxt").write_text(PRIOR_BOXES)
    assert main(["scaffold", "ssd.prototxt", "-o", "ssd_layers.py"]) == 0
    skeleton = (tmp_path / "ssd_layers.py").read_text()
    assert "aspect_ratio = Param(list, default=[2.0])" in skeleton
    assert "step = Param(float, default=8.0)" in skeleton
    assert "min_size = Param(list, default=[4.0])" in skeleton
    assert "cannot be a layer parameter" not in skeleton
    layers = load_layer_modules([str(tmp_path / "ssd_layers.py")])
    graphc.compile("ssd.prototxt", "numpy", layers=layers)  # every node binds with its params


def test_enums_are_names(tmp_path):
    """On a type graphc does not map (it maps Pooling, STOCHASTIC included), the enums stay names."""
    path = tmp_path / "pool.prototxt"
    path.write_text(INPUTS + 'layer { name: "p" type: "MyPooling" bottom: "data" top: "p" '
                             "pooling_param { pool: STOCHASTIC kernel_size: 2 stride: 2 engine: CAFFE } }")
    assert graphc.load_model(path).ops["p"].attrs == {"pool": "STOCHASTIC", "kernel_size": 2, "stride": 2,
                                                      "engine": "CAFFE"}


def test_bvlc_blocks_of_unmapped_types_are_typed(tmp_path):
    """graphc maps ELU, Reduction, Permute and Normalize itself: layer types it does not map, reading
    their blocks, stay caffe nodes whose attributes show the typing."""
    path = tmp_path / "bvlc.prototxt"
    path.write_text(INPUTS + """
layer { name: "elu" type: "MyELU" bottom: "data" top: "elu" elu_param { alpha: 1 } }
layer { name: "red" type: "MyReduction" bottom: "elu" top: "red" reduction_param { operation: MEAN axis: 1 coeff: 2 } }
layer { name: "perm" type: "MyPermute" bottom: "data" top: "perm" permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "norm" type: "MyNormalize" bottom: "data" top: "norm"
        norm_param { across_spatial: false channel_shared: false eps: 0.001 } }
""")
    ops = graphc.load_model(path).ops
    assert ops["elu"].attrs == {"alpha": 1.0} and type(ops["elu"].attrs["alpha"]) is float
    assert ops["red"].attrs == {"operation": "MEAN", "axis": 1, "coeff": 2.0}
    assert ops["perm"].attrs == {"order": [0, 2, 3, 1]}
    assert ops["norm"].attrs == {"across_spatial": False, "channel_shared": False, "eps": 0.001}


def test_fields_a_declared_block_lacks_are_kept_untyped(tmp_path):
    """A fork's extra field in a standard block (here interp_param's ``align_corners``) is not dropped."""
    path = tmp_path / "fork.prototxt"
    path.write_text(INPUTS + 'layer { name: "i" type: "MyInterp" bottom: "data" top: "i" '
                             "interp_param { height: 9 width: 8 align_corners: true } }")
    assert graphc.load_model(path).ops["i"].attrs == {"height": 9, "width": 8, "align_corners": True}


UPSAMPLE = INPUTS + """
layer { name: "up" type: "Upsample" bottom: "data" top: "up" upsample_param { scale: 2 SIZES } }
"""


@pytest.fixture
def upsample_schema():
    register_caffe_param("upsample_param", 5137, "UpsampleParameter", [
        field("scale", 1, "float", default=2.0), field("sizes", 2, "uint32", repeated=True),
        field("mode", 3, "enum:UpsampleParameter.Mode", default="NEAREST")],
        enums={"Mode": [("NEAREST", 0), ("BILINEAR", 1)]})
    yield
    CAFFE_PARAMS.remove("upsample_param")


def test_unregistered_fork_block_is_read_untyped(tmp_path):
    path = tmp_path / "up.prototxt"
    path.write_text(UPSAMPLE.replace("SIZES", "sizes: 16"))
    assert graphc.load_model(path).ops["up"].attrs == {"scale": 2, "sizes": 16}  # as written


def test_registered_fork_block_is_typed_in_text_and_binary(tmp_path, upsample_schema):
    for sizes, want in (("sizes: 16", [16]), ("sizes: 16 sizes: 12", [16, 12])):
        path = tmp_path / "up.prototxt"
        path.write_text(UPSAMPLE.replace("SIZES", sizes + " mode: BILINEAR"))
        attrs = graphc.load_model(path).ops["up"].attrs
        assert attrs == {"scale": 2.0, "sizes": want, "mode": "BILINEAR"} and type(attrs["scale"]) is float
    # a .caffemodel alone carries the block at the fork's field number
    net = caffe_messages()["NetParameter"]()
    net.input.append("data")
    net.input_shape.add().dim.extend([1, 3, 8, 8])
    layer = net.layer.add(name="up", type="Upsample", bottom=["data"], top=["up"])
    layer.upsample_param.sizes.extend([16])
    (tmp_path / "up.caffemodel").write_bytes(net.SerializeToString())
    assert load_caffe(tmp_path / "up.caffemodel").ops["up"].attrs == {"sizes": [16]}


def test_registering_a_block_graphc_declares_is_refused(upsample_schema):
    with pytest.raises(ModelFormatError, match="'crop_param'"):
        register_caffe_param("crop_param", 144, "MyCrop", [field("offset", 1, "int32")])
    with pytest.raises(ModelFormatError, match="collides with 'upsample_param'"):
        register_caffe_param("upsample2_param", 5137, "Upsample2Parameter", [])
    with pytest.raises(ModelFormatError, match="ending in '_param'"):
        register_caffe_param("upsample", 9999, "U", [])
    register_caffe_param("upsample_param", 5137, "UpsampleParameter", [  # declaring it again replaces it
        field("scale", 1, "float", default=2.0), field("sizes", 2, "uint32", repeated=True),
        field("mode", 3, "enum:UpsampleParameter.Mode", default="NEAREST")],
        enums={"Mode": [("NEAREST", 0), ("BILINEAR", 1)]})
