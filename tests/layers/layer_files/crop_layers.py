"""The HED lesson: a center crop that overrides the built-in CenterCropPad.

The model was trained with torchvision-style centering (offset ``round((in - out) / 2)``)
while ONNX's CenterCropPad floors the offset; registering this layer for the
standard op makes graphc run it instead of the built-in kernel.
"""

from __future__ import annotations

import graphc
from graphc import Param


@graphc.register_layer("CenterCropPad", since_version=18)
class RoundedCenterCrop(graphc.Layer):
    """Two inputs: data and the target sizes of ``axes`` (a blob once folded)."""

    axes = Param(list, default=[])

    def _target(self, shape):
        sizes = [int(s) for s in self.blobs[0]]
        axes = [a % len(shape) for a in (self.axes or range(len(shape)))]
        out = list(shape)
        for a, s in zip(axes, sizes):
            out[a] = s
        return tuple(out)

    def output_shapes(self, input_shapes):
        return [self._target(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        x = inputs[0]
        target = self._target(x.shape)
        index = tuple(slice(int(round((n - t) / 2.0)), int(round((n - t) / 2.0)) + t) for n, t in zip(x.shape, target))
        return [x[index]]
