"""TensorFlow image and NN ops OpenCV's TF importer runs, mapped with no user code (issue 17 item 3).

``tf_image_ops.pb`` is a TF 2.15.1 frozen graph and ``tf_image_ops.npz`` what TensorFlow computed on
the stored input (``tools/make_frontend_fixtures.py tf-image``): ResizeBilinear / ResizeNearestNeighbor
with each coordinate mapping (legacy, align_corners, half_pixel_centers) down- and up-sampling, a
computed size and a uint8 image; CropAndResize (bilinear with an extrapolation value, nearest, 1x1
crops; flipped and out-of-image boxes); LRN, MirrorPad REFLECT and SYMMETRIC, ClipByValue,
ArgMax/ArgMin; conv2d_transpose SAME / VALID / with a stacked output shape; FusedResizeAndPadConv2D
(align_corners, SYMMETRIC, strided VALID) and FusedPadConv2D (REFLECT, SAME).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc.layers.builtin.tf_image import crop_and_resize

DATA = Path(__file__).parent / "data"
REF = np.load(DATA / "tf_image_ops.npz")
OUTPUTS = [k for k in REF.files if k != "input"]


def test_every_op_maps_with_no_user_layer():
    """Only CropAndResize stays a tf node, and the built-in layer runs it (no --layers)."""
    g = graphc.load_model(DATA / "tf_image_ops.pb", outputs=OUTPUTS)
    framework = sorted({op.op_type for op in g if op.domain})
    assert framework == ["CropAndResize"]
    assert {"Resize", "LRN", "ConvTranspose", "ArgMax", "ArgMin"} <= {op.op_type for op in g}


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_outputs_match_tensorflow(target):
    art = graphc.compile(DATA / "tf_image_ops.pb", target, outputs=OUTPUTS)
    got = art.run({"input": REF["input"]})
    for name in OUTPUTS:
        want, have = REF[name], got[name]
        assert have.dtype == want.dtype, name
        if "fused" in name:  # TF 2.15's CPU kernels of the fused ops give image 0's result for every image
            np.testing.assert_array_equal(want[1], want[0])
            want, have = want[:1], have[:1]
        if want.dtype.kind in "iu":  # indices and nearest picks: exact
            np.testing.assert_array_equal(have, want, err_msg=f"{target} {name}")
        else:
            # TF computes the source coordinates in float32: a few float32 steps of the coordinate times
            # the pixel gradient (the data is unit normal)
            np.testing.assert_allclose(have, want, rtol=1e-5, atol=5e-6, err_msg=f"{target} {name}")


def test_nearest_resizes_pick_exactly_tensorflows_pixels():
    """A nearest resize copies pixels: any wrong index shows as a whole-pixel difference, so exact."""
    art = graphc.compile(DATA / "tf_image_ops.pb", "numpy", outputs=[k for k in OUTPUTS if k.startswith("out_nearest")])
    got = art.run({"input": REF["input"]})
    assert len(got) == 7  # 3 coordinate mappings x 2 sizes, and a uint8 image
    for name, value in got.items():
        np.testing.assert_array_equal(value, REF[name], err_msg=name)


def test_crop_and_resize_by_hand():
    """A 2x2 crop of a 3x3 ramp image, hand-computed: box (0, 0.25, 1, 0.75) samples rows 0 and 2 at
    columns 0.5 and 1.5; a box reaching past the image gets the extrapolation value there."""
    img = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)  # value = 3 * row + col
    boxes = np.array([[0, 0.25, 1, 0.75], [0, 0, 1.5, 0]], np.float32)
    out = crop_and_resize(img, boxes, np.array([0, 0]), (2, 2), extrapolation_value=-1.0)
    np.testing.assert_allclose(out[0, :, :, 0], [[0.5, 1.5], [6.5, 7.5]])
    # second box: rows 0 and 3 (outside), columns 0 and 0
    np.testing.assert_allclose(out[1, :, :, 0], [[0, 0], [-1, -1]])
    nearest = crop_and_resize(img, boxes[:1], np.array([0]), (2, 2), method="nearest")
    np.testing.assert_array_equal(nearest[0, :, :, 0], [[1, 2], [7, 8]])  # columns 0.5 -> 1, 1.5 -> 2 (half up)


def test_crop_and_resize_refuses_a_box_index_outside_the_batch():
    from graphc.errors import LayerError

    with pytest.raises(LayerError, match="box index"):
        crop_and_resize(np.zeros((1, 2, 2, 1), np.float32), np.zeros((1, 4), np.float32), np.array([1]), (2, 2))


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_conv3d_and_3d_pools_match_tensorflow(target):
    """``tf_conv3d.pb`` (``make_frontend_fixtures.py tf-3d``): Conv3D SAME strided / dilated SAME / VALID,
    MaxPool3D VALID, AvgPool3D SAME (the padded cells not counted), all NDHWC."""
    ref = np.load(DATA / "tf_conv3d.npz")
    outputs = [k for k in ref.files if k != "input"]
    assert not [op for op in graphc.load_model(DATA / "tf_conv3d.pb", outputs=outputs) if op.domain]
    got = graphc.compile(DATA / "tf_conv3d.pb", target, outputs=outputs).run({"input": ref["input"]})
    for name in outputs:
        assert got[name].shape == ref[name].shape, name
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-5, atol=2e-6, err_msg=f"{target} {name}")
