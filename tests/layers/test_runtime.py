"""LayerRunner called directly with an OpContext: planning, buffers, returned arrays, errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc import LayerError, Param
from graphc.layers import LayerRunner
from targets.numpy.kernels.registry import OpContext


class Scale(graphc.Layer):
    """y = x * blobs[0]; counts finalize calls; asks for one scratch buffer."""

    factor = Param(float, default=1.0)

    def __init__(self, params, blobs=(), blob_slots=()):
        super().__init__(params, blobs, blob_slots)
        self.finalized = []

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])], [tuple(input_shapes[0])]

    def finalize(self, input_types, output_types):
        self.finalized.append((input_types, output_types))

    def forward(self, inputs, outputs, internals):
        np.multiply(inputs[0], self.blobs[0], out=internals[0])
        np.multiply(internals[0], self.factor, out=outputs[0])


def _ctx(outs=None):
    return OpContext("scale_node", "caffe::Scale", outs=outs)


def test_writes_into_planned_buffer_and_finalizes_once_per_signature():
    w = np.array([1.0, 2.0, 3.0], np.float32)
    r = LayerRunner("scale_node", "caffe::Scale", Scale, {"factor": 2.0}, [w], [1])
    assert r.layer.blob_slots == [1]
    buf = np.empty((2, 3), np.float32)
    x = np.ones((2, 3), np.float32)
    (y,) = r(_ctx([buf]), x)
    assert y is buf and np.array_equal(y, np.tile(w * 2, (2, 1)))
    r(_ctx([buf]), x + 1)
    r(_ctx(), np.ones((4, 3), np.float32))
    assert len(r.layer.finalized) == 2
    assert r.layer.finalized[0] == ([((2, 3), np.dtype(np.float32))], [((2, 3), np.dtype(np.float32))])


class Returning(graphc.Layer):
    """Returns arrays; ``bad`` chooses how they break the promise."""

    bad = Param(str, default="")

    def output_shapes(self, input_shapes):
        return [tuple(input_shapes[0])]

    def forward(self, inputs, outputs, internals):
        x = inputs[0]
        if self.bad == "shape":
            return [x[:1]]
        if self.bad == "dtype":
            return [x.astype(np.float64)]
        if self.bad == "count":
            return [x, x]
        if self.bad == "raise":
            raise ZeroDivisionError("division by zero in my layer")
        return [x[::-1]]  # a view of the input


def _run(bad, x):
    r = LayerRunner("my_node", "caffe::Ret", Returning, {"bad": bad})
    return r(_ctx(), x)


def test_returned_arrays_are_checked_and_copied_out_of_input_views():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    (y,) = _run("", x)
    assert np.array_equal(y, x[::-1]) and not np.shares_memory(y, x)


@pytest.mark.parametrize("bad, text", [
    ("shape", r"returned output 0 as float32\[1, 2\].*promised float32\[3, 2\]"),
    ("dtype", r"returned output 0 as float64\[3, 2\].*promised float32\[3, 2\]"),
    ("count", r"returned 2 arrays, output_shapes\(\) promised 1"),
    ("raise", r"forward\(\) raised with inputs \(float32\[3, 2\]\): ZeroDivisionError: division by zero in my layer"),
])
def test_broken_promises_and_exceptions_become_layer_errors_naming_the_node(bad, text):
    with pytest.raises(LayerError, match=text) as e:
        _run(bad, np.zeros((3, 2), np.float32))
    assert "node 'my_node' (caffe::Ret)" in str(e.value)


def test_errors_in_output_shapes_and_constructor_are_layer_errors():
    class NoShapes(graphc.Layer):
        def output_shapes(self, input_shapes):
            return input_shapes[5]

    with pytest.raises(LayerError, match=r"node 'n' \(T\).*output_shapes\(\) failed.*IndexError"):
        LayerRunner("n", "T", NoShapes, {})(_ctx(), np.zeros(2, np.float32))

    class Boom(graphc.Layer):
        def __init__(self, params, blobs=(), blob_slots=()):
            raise RuntimeError("no GPU")

    with pytest.raises(LayerError, match=r"node 'n' \(T\): building layer .*Boom failed: RuntimeError: no GPU"):
        LayerRunner("n", "T", Boom, {})


def test_wrong_number_of_output_shapes_for_the_node():
    class Two(graphc.Layer):
        def output_shapes(self, input_shapes):
            return [(1,), (2,)]

    r = LayerRunner("n", "T", Two, {}, num_outputs=1)
    with pytest.raises(LayerError, match="returned 2 shapes for a node with 1 outputs"):
        r(_ctx(), np.zeros(1, np.float32))


def test_multi_output_layer_with_custom_dtypes():
    class MinMaxIndex(graphc.Layer):
        num_outputs = 2

        def output_shapes(self, input_shapes):
            return [(), ()]

        def output_dtypes(self, input_dtypes):
            return [input_dtypes[0], np.int64]

        def forward(self, inputs, outputs, internals):
            outputs[0][...] = inputs[0].max()
            outputs[1][...] = inputs[0].argmax()

    mx, idx = LayerRunner("n", "T", MinMaxIndex, {}, num_outputs=2)(_ctx(), np.array([3.0, 7.0, 1.0], np.float32))
    assert mx.dtype == np.float32 and mx == 7.0 and idx.dtype == np.int64 and idx == 1
