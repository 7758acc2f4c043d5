"""Fast R-CNN's ROIPooling and R-FCN's PSROIPooling load with no user code (issue 17, item 3):
caffe nodes graphc's built-in layers run (graphc/layers/builtin/caffe_rcnn.py), on both targets,
against element-by-element ports of the forks' kernels (tests/frontends/frontend_refs.py) and,
where cv2 is importable, against OpenCV's dnn."""

from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.frontends.caffe import load_caffe, parse_net

from tests.frontends import frontend_refs as refs

TARGETS = ["numpy", "ort"]
INPUTS = ('layer { name: "in" type: "Input" top: "data" top: "rois" input_param { shape { dim: 2 dim: 18 dim: 12 '
          'dim: 10 } shape { dim: 7 dim: 5 } } }\n')
LAYERS = {
    "ROIPooling": 'roi_pooling_param { pooled_h: 3 pooled_w: 4 spatial_scale: 0.125 }',
    "PSROIPooling": 'psroi_pooling_param { spatial_scale: 0.125 output_dim: 2 group_size: 3 }',
}
#: regions (batch, x1, y1, x2, y2) in image pixels: the whole map, fractions rounding both ways,
#: a one-cell region, one past every border, an inverted one and one wholly outside the map
ROIS = np.array([[0, 0, 0, 79, 95], [1, 10.5, 20.4, 50, 60], [0, 30, 30, 31, 31], [1, -20, -8, 200, 300],
                 [0, 60, 70, 40, 50], [1, 2.5, 3.5, 13.5, 17.5], [0, 500, 500, 600, 600]], np.float32)


def _reference(kind: str, x: np.ndarray) -> np.ndarray:
    if kind == "ROIPooling":
        return refs.fast_rcnn_roi_pool(x, ROIS, 3, 4, 0.125)
    return refs.rfcn_psroi_pool(x, ROIS, 0.125, 2, 3)


def _net(tmp_path, kind: str):
    path = tmp_path / f"{kind}.prototxt"
    path.write_text(INPUTS + f'layer {{ name: "pool" type: "{kind}" bottom: "data" bottom: "rois" top: "pool" '
                             f'{LAYERS[kind]} }}\n')
    return path


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_region_pooling_runs_with_no_layers_flag(tmp_path, kind, target):
    path = _net(tmp_path, kind)
    assert load_caffe(path).ops["pool"].qualified_type == f"caffe::{kind}"
    x = np.random.default_rng(0).standard_normal((2, 18, 12, 10)).astype(np.float32)
    (got,) = graphc.compile(path, target=target).run({"data": x, "rois": ROIS}).values()
    np.testing.assert_allclose(got, _reference(kind, x), rtol=1e-6, atol=1e-6)
    assert not got[-1].any()  # the region outside the map: every bin empty


def test_blocks_are_typed_at_the_forks_numbers(tmp_path):
    """roi_pooling_param = 8266711 and psroi_pooling_param = 10002, as OpenCV's caffe.proto has them."""
    for kind, want in (("ROIPooling", {"pooled_h": 3, "pooled_w": 4, "spatial_scale": 0.125}),
                       ("PSROIPooling", {"spatial_scale": 0.125, "output_dim": 2, "group_size": 3})):
        net, _ = parse_net(_net(tmp_path, kind))
        binary = tmp_path / f"{kind}.caffemodel"
        binary.write_bytes(net.SerializeToString())
        assert load_caffe(binary).ops["pool"].attrs == want


def test_wrong_channel_count_is_an_error(tmp_path):
    path = tmp_path / "bad.prototxt"
    path.write_text(INPUTS + 'layer { name: "pool" type: "PSROIPooling" bottom: "data" bottom: "rois" top: "pool" '
                             'psroi_pooling_param { spatial_scale: 0.125 output_dim: 3 group_size: 3 } }\n')
    with pytest.raises(graphc.GraphcError, match="the input has 18 channels; output_dim 3 x group_size 3\\^2 needs 27"):
        graphc.compile(path, target="numpy")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_same_output_as_opencv_dnn_when_installed(tmp_path, kind, target):
    """OpenCV 4.x itself, where it is installed (graphc does not depend on it): checked with 4.14."""
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2.dnn, "readNetFromCaffe"):
        pytest.skip(f"OpenCV {cv2.__version__} has no Caffe importer")
    path = _net(tmp_path, kind)
    x = np.random.default_rng(1).standard_normal((2, 18, 12, 10)).astype(np.float32)
    net = cv2.dnn.readNetFromCaffe(str(path))
    net.setInput(x, "data")
    net.setInput(ROIS, "rois")
    want = net.forward()
    (got,) = graphc.compile(path, target=target).run({"data": x, "rois": ROIS}).values()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
