"""Caffe-style layers used by the custom-layer tests: Interp and SSD's PriorBox."""

from __future__ import annotations

import math

import numpy as np

import graphc
from graphc import Param
from tests.layers.resample import bilinear_nchw


@graphc.register_layer("Interp", domain="caffe")
class Interp(graphc.Layer):
    """Resize N x C x Hi x Wi to N x C x height x width (Caffe's Interp, align corners)."""

    height = Param(int, doc="output height")
    width = Param(int, doc="output width")

    def output_shapes(self, input_shapes):
        n, c, _, _ = input_shapes[0]
        return [(n, c, self.height, self.width)]

    def forward(self, inputs, outputs, internals):
        outputs[0][...] = bilinear_nchw(inputs[0], self.height, self.width)


@graphc.register_layer("PriorBox", domain="caffe")
class PriorBox(graphc.Layer):
    """SSD's PriorBox: anchor boxes for a feature map, Caffe's algorithm.

    Inputs: the feature map (N, C, fh, fw) and the image (N, 3, H, W). Output
    (1, 2, fh * fw * num_priors * 4): boxes, then their variances.
    """

    img_size = Param(int, default=0, doc="image side; 0: take it from the image input")
    min_size = Param(list)
    max_size = Param(list, default=[])
    aspect_ratios = Param(list, default=[])
    flip = Param(bool, default=True)
    variances = Param(list, default=[0.1])
    clip = Param(bool, default=False)

    def __init__(self, params, blobs=(), blob_slots=()):
        super().__init__(params, blobs, blob_slots)
        ratios = [1.0]
        for r in self.aspect_ratios:
            for cand in ([r, 1.0 / r] if self.flip else [r]):
                if all(abs(cand - q) > 1e-6 for q in ratios):
                    ratios.append(cand)
        self.ratios = ratios
        self.num_priors = len(ratios) * len(self.min_size) + len(self.max_size)

    def output_shapes(self, input_shapes):
        fh, fw = input_shapes[0][2:]
        return [(1, 2, fh * fw * self.num_priors * 4)]

    def forward(self, inputs, outputs, internals):
        fh, fw = inputs[0].shape[2:]
        img_h, img_w = (self.img_size, self.img_size) if self.img_size else inputs[1].shape[2:]
        step_h, step_w = img_h / fh, img_w / fw
        boxes = []
        for i in range(fh):
            for j in range(fw):
                cx, cy = (j + 0.5) * step_w, (i + 0.5) * step_h
                for k, min_size in enumerate(self.min_size):
                    sizes = [(min_size, min_size)]
                    if self.max_size:
                        s = math.sqrt(min_size * self.max_size[k])
                        sizes.append((s, s))
                    sizes += [(min_size * math.sqrt(r), min_size / math.sqrt(r)) for r in self.ratios[1:]]
                    for bw, bh in sizes:
                        boxes.append([(cx - bw / 2) / img_w, (cy - bh / 2) / img_h,
                                      (cx + bw / 2) / img_w, (cy + bh / 2) / img_h])
        out = np.asarray(boxes, dtype=np.float32).reshape(-1)
        if self.clip:
            out = np.clip(out, 0.0, 1.0)
        var = np.asarray(self.variances if len(self.variances) == 4 else self.variances[:1] * 4, dtype=np.float32)
        outputs[0][0, 0] = out
        outputs[0][0, 1] = np.tile(var, out.size // 4)
