"""Layers for the partitioned-execution tests: none has ``to_onnx``, so each is a Python node."""

from __future__ import annotations

import numpy as np

import graphc
from graphc import Param


@graphc.register_layer("Scale", domain="acme")
class Scale(graphc.Layer):
    """y = x * factor (any shape, the input's dtype)."""

    factor = Param(float, default=2.0)

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        np.multiply(inputs[0], inputs[0].dtype.type(self.factor), out=outputs[0])


@graphc.register_layer("Mix", domain="acme")
class Mix(graphc.Layer):
    """y = a + weight * b (two runtime inputs of one shape)."""

    weight = Param(float, default=0.5)

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        a, b = inputs
        outputs[0][...] = a + a.dtype.type(self.weight) * b


@graphc.register_layer("Boom", domain="acme")
class Boom(graphc.Layer):
    """Raises in forward when the input holds a value above ``limit``; else y = x."""

    limit = Param(float, default=1e9)

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        if np.any(inputs[0] > self.limit):
            raise ValueError(f"value above {self.limit}")
        outputs[0][...] = inputs[0]


@graphc.register_layer("Words", domain="acme")
class Words(graphc.Layer):
    """One string per element (``v<value>``); ``bad`` puts a None among them."""

    bad = Param(int, default=0)

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def output_dtypes(self, input_dtypes):
        return [np.dtype(object)]

    def forward(self, inputs, outputs, internals):
        out = np.array([f"v{v:g}" for v in inputs[0].reshape(-1)], dtype=object).reshape(inputs[0].shape)
        if self.bad:
            out.reshape(-1)[0] = None
        return [out]


#: data pointers of the arrays Spy layers were given, by node name (tests read it)
SEEN: dict[str, list[int]] = {}


@graphc.register_layer("Spy", domain="acme")
class Spy(graphc.Layer):
    """y = x; records the address of the input's data."""

    tag = Param(str, default="spy")

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        SEEN.setdefault(self.tag, []).append(inputs[0].__array_interface__["data"][0])
        outputs[0][...] = inputs[0]
