"""Models for the custom-layer tests, built with onnx.helper, and the layer files they need."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

F = TensorProto.FLOAT
LAYER_FILES = Path(__file__).resolve().parent / "layer_files"
CAFFE_LAYERS = LAYER_FILES / "caffe_layers.py"
TF_LAYERS = LAYER_FILES / "tf_layers.py"
CROP_LAYERS = LAYER_FILES / "crop_layers.py"


def _model(nodes, inputs, outputs, inits=(), opsets=(("", 18),)) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets], ir_version=9)


def interp_model(height: int = 9, width: int = 8) -> onnx.ModelProto:
    """x (1,3,4,5) -> Relu -> caffe::Interp(height, width) -> Sigmoid -> y."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Interp", ["r"], ["i"], name="interp", domain="caffe", height=height, width=width),
        helper.make_node("Sigmoid", ["i"], ["y"], name="sigmoid"),
    ]
    return _model(nodes, [helper.make_tensor_value_info("x", F, [1, 3, 4, 5])],
                  [helper.make_tensor_value_info("y", F, None)], opsets=(("", 18), ("caffe", 1)))


def resize_bilinear_model(align_corners: int = 0) -> onnx.ModelProto:
    """x (1,4,5,3) NHWC; size = Const [9, 8] int32 (a Constant node); tf::ResizeBilinear(x, size)."""
    size = helper.make_tensor("size_value", TensorProto.INT32, [2], [9, 8])
    nodes = [
        helper.make_node("Constant", [], ["size"], name="size_const", value=size),
        helper.make_node("ResizeBilinear", ["x", "size"], ["y"], name="resize", domain="tf",
                         align_corners=align_corners),
    ]
    return _model(nodes, [helper.make_tensor_value_info("x", F, [1, 4, 5, 3])],
                  [helper.make_tensor_value_info("y", F, None)], opsets=(("", 18), ("tf", 1)))


def center_crop_model() -> onnx.ModelProto:
    """CenterCropPad(x (1,2,7,9), sizes of ref's H, W) -> (1,2,4,4): offsets 1.5 and 2.5 (the HED case)."""
    nodes = [
        helper.make_node("Shape", ["ref"], ["ref_shape"], name="ref_shape", start=2),
        helper.make_node("CenterCropPad", ["x", "ref_shape"], ["y"], name="crop", axes=[2, 3]),
    ]
    return _model(nodes, [helper.make_tensor_value_info("x", F, [1, 2, 7, 9]),
                          helper.make_tensor_value_info("ref", F, [1, 2, 4, 4])],
                  [helper.make_tensor_value_info("y", F, None)])


PRIORBOX_ATTRS = dict(img_size=0, min_size=[30.0], max_size=[60.0], aspect_ratios=[2.0, 3.0], flip=1,
                      variances=[0.1, 0.1, 0.2, 0.2], clip=1)


def priorbox_model(**overrides) -> onnx.ModelProto:
    """feature (1,8,3,4), image (1,3,60,80) -> caffe::PriorBox -> priors (1, 2, 3*4*6*4)."""
    attrs = {**PRIORBOX_ATTRS, **overrides}
    nodes = [helper.make_node("PriorBox", ["feature", "image"], ["priors"], name="priorbox", domain="caffe", **attrs)]
    return _model(nodes, [helper.make_tensor_value_info("feature", F, [1, 8, 3, 4]),
                          helper.make_tensor_value_info("image", F, [1, 3, 60, 80])],
                  [helper.make_tensor_value_info("priors", F, None)], opsets=(("", 18), ("caffe", 1)))


def three_unknown_model() -> onnx.ModelProto:
    """Relu, then three unknown ops (Interp twice, Permute, Normalize) in domain caffe."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("Interpolate", ["a"], ["b"], name="interp1", domain="caffe", height=4, width=4),
        helper.make_node("Permute", ["b"], ["c"], name="permute", domain="caffe", order=[0, 2, 3, 1]),
        helper.make_node("Interpolate", ["c"], ["d"], name="interp2", domain="caffe", height=2, width=2),
        helper.make_node("Normalise", ["d"], ["y"], name="norm", domain="caffe", eps=1e-5),
    ]
    return _model(nodes, [helper.make_tensor_value_info("x", F, [1, 3, 4, 4])],
                  [helper.make_tensor_value_info("y", F, None)], opsets=(("", 18), ("caffe", 1)))


def priorbox_reference(feature_hw, image_hw, min_size, max_size, aspect_ratios, flip, variances, clip) -> np.ndarray:
    """Caffe's PriorBox written out independently (ratios in Caffe's order), as (1, 2, N)."""
    fh, fw = feature_hw
    ih, iw = image_hw
    ratios = [1.0]
    for r in aspect_ratios:
        for q in ([r, 1 / r] if flip else [r]):
            if not any(abs(q - p) < 1e-6 for p in ratios):
                ratios.append(q)
    out = []
    for i in range(fh):
        for j in range(fw):
            cx, cy = (j + 0.5) * iw / fw, (i + 0.5) * ih / fh
            for k, m in enumerate(min_size):
                whs = [(m, m)] + ([(np.sqrt(m * max_size[k]),) * 2] if max_size else [])
                whs += [(m * np.sqrt(r), m / np.sqrt(r)) for r in ratios[1:]]
                for w, h in whs:
                    out += [(cx - w / 2) / iw, (cy - h / 2) / ih, (cx + w / 2) / iw, (cy + h / 2) / ih]
    boxes = np.array(out, dtype=np.float32)
    if clip:
        boxes = np.clip(boxes, 0, 1)
    var = np.tile(np.array(variances, dtype=np.float32), boxes.size // 4)
    return np.stack([boxes, var])[None]


class StandardOnlyTarget:
    """A stand-in target for pass tests: runs every standard-domain op ONNX has a schema for."""

    name = "standard-only"

    def supports(self, op) -> bool:
        if op.domain != "":
            return False
        try:
            onnx.defs.get_schema(op.op_type, op.opset, op.domain)
        except Exception:  # noqa: BLE001
            return False
        return True

    def pipeline(self) -> str:
        return "canonicalize,legalize,[fold-constants,dce]*8,infer-shapes,fold-blobs,dce"


#: the input shapes of :func:`priorbox_model`; its feeds are zeros (PriorBox reads shapes only)
PRIORBOX_SHAPES = {"feature": (1, 8, 3, 4), "image": (1, 3, 60, 80)}
#: the same feeds as Python source, for a fresh interpreter
PRIORBOX_FEEDS_SRC = "{" + ", ".join(f"{k!r}: np.zeros({s}, np.float32)" for k, s in PRIORBOX_SHAPES.items()) + "}"


def priorbox_feeds() -> dict[str, np.ndarray]:
    """The feeds of :func:`priorbox_model`."""
    return {k: np.zeros(s, np.float32) for k, s in PRIORBOX_SHAPES.items()}


def priorbox_expected() -> np.ndarray:
    """What :func:`priorbox_model` must give on :func:`priorbox_feeds` (3x4 feature map, 60x80 image)."""
    return priorbox_reference((3, 4), (60, 80), **{k: v for k, v in PRIORBOX_ATTRS.items() if k != "img_size"})


def run_priorbox_in_fresh_process(saved: Path, layer_file: Path, params_expr: str) -> tuple[np.ndarray, dict]:
    """Load ``saved`` with ``layer_file`` in a new interpreter, run it on the PriorBox feeds and
    return its priors and the parameters ``params_expr`` reads from ``art`` there."""
    import json
    import subprocess
    import sys

    script = (
        "import json, sys, numpy as np, onnx, graphc\n"
        "art = graphc.load(sys.argv[1], layers=[sys.argv[2]])\n"
        f"y = art.run({PRIORBOX_FEEDS_SRC})['priors']\n"
        f"print(json.dumps({{'y': y.tolist(), 'params': {params_expr}}}))\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", script, str(saved), str(layer_file)], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return np.array(got["y"], np.float32), got["params"]
