"""TensorFlow GraphDef frontend: the OpenCV custom-layer graph (case 1) and the mapped
op set checked numerically against numpy references (case 4)."""

from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.errors import ModelFormatError
from graphc.frontends.tensorflow import load_tensorflow, parse_graphdef, tensor_to_array
from graphc.frontends.tf_schema import tf_messages

from tests.frontends.frontend_refs import (conv_nhwc, depthwise_nhwc, pool_nhwc,
                           resize_bilinear_tf, run_ort)


# ----------------------------------------------------------------- pbtxt writing
def _tensor(arr: np.ndarray, content: bool = True) -> str:
    dt = {np.float32: "DT_FLOAT", np.int32: "DT_INT32", np.int64: "DT_INT64"}[arr.dtype.type]
    dims = " ".join(f"dim {{ size: {d} }}" for d in arr.shape)
    if content:
        raw = "".join(f"\\{b:03o}" for b in arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        body = f'tensor_content: "{raw}"'
    else:
        key = {"DT_FLOAT": "float_val", "DT_INT32": "int_val", "DT_INT64": "int64_val"}[dt]
        body = " ".join(f"{key}: {v}" for v in arr.reshape(-1).tolist())
    return f"tensor {{ dtype: {dt} tensor_shape {{ {dims} }} {body} }}"


def _attr(key: str, value: str) -> str:
    return f'attr {{ key: "{key}" value {{ {value} }} }}'


class GraphText:
    """Builds a GraphDef in text format."""

    def __init__(self):
        self.lines: list[str] = []

    def node(self, name: str, op: str, inputs=(), **attrs: str) -> str:
        ins = " ".join(f'input: "{i}"' for i in inputs)
        ats = " ".join(_attr(k, v) for k, v in attrs.items())
        self.lines.append(f'node {{ name: "{name}" op: "{op}" {ins} {ats} }}')
        return name

    def placeholder(self, name: str, shape) -> str:
        dims = " ".join(f"dim {{ size: {d} }}" for d in shape)
        return self.node(name, "Placeholder", dtype="type: DT_FLOAT", shape=f"shape {{ {dims} }}")

    def const(self, name: str, arr: np.ndarray, content: bool = True) -> str:
        dt = {np.float32: "DT_FLOAT", np.int32: "DT_INT32", np.int64: "DT_INT64"}[arr.dtype.type]
        return self.node(name, "Const", dtype=f"type: {dt}", value=_tensor(arr, content))

    def text(self) -> str:
        return "\n".join(self.lines) + "\nversions { producer: 27 }\n"


def _ints(*v: int) -> str:
    return "list { " + " ".join(f"i: {x}" for x in v) + " }"


# ------------------------------------------------------------------------ case 1
OPENCV_GRAPH = r'''
node { name: "input" op: "Placeholder"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "shape" value { shape { dim { size: 2 } dim { size: 3 } dim { size: 4 } dim { size: 5 } } } } }
node { name: "resize_bilinear/size" op: "Const"
  attr { key: "dtype" value { type: DT_INT32 } }
  attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 2 } }
                                       tensor_content: "\t\000\000\000\010\000\000\000" } } } }
node { name: "resize_bilinear" op: "ResizeBilinear" input: "input" input: "resize_bilinear/size"
  attr { key: "T" value { type: DT_FLOAT } }
  attr { key: "align_corners" value { b: false } } }
'''


#: an op graphc does not map (OpenCV's TF importer has no bicubic resize either): a ``tf`` node
UNMAPPED_GRAPH = OPENCV_GRAPH.replace('op: "ResizeBilinear"', 'op: "ResizeBicubic"')


def test_unmapped_op_imports_as_tf_node(tmp_path):
    path = tmp_path / "resize.pbtxt"
    path.write_text(UNMAPPED_GRAPH)
    g = graphc.load_model(path)
    (op,) = g.ops.values()
    assert (op.domain, op.op_type) == ("tf", "ResizeBicubic")
    assert op.attrs == {"T": "float32", "align_corners": False}
    assert op.inputs[0] is g.inputs[0] and g.inputs[0].shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(op.inputs[1].const, np.array([9, 8], np.int32))
    assert [v.name for v in g.outputs] == ["resize_bilinear"]
    assert g.model.opset_imports["tf"] == 1


def test_binary_pb_parses_like_text(tmp_path):
    gd = parse_graphdef(UNMAPPED_GRAPH.encode(), text=True)
    (tmp_path / "resize.pb").write_bytes(gd.SerializeToString())
    g = graphc.load_model(tmp_path / "resize.pb")
    assert [op.op_type for op in g] == ["ResizeBicubic"]
    np.testing.assert_array_equal(g.ops["resize_bilinear"].inputs[1].const, [9, 8])


@pytest.mark.parametrize("target", ["numpy", "ort"])
def test_opencv_resize_bilinear_graph_maps_to_resize(tmp_path, target):
    """ResizeBilinear needs no layer: known values of tf.image.resize_bilinear (legacy coordinates)."""
    path = tmp_path / "resize.pbtxt"
    path.write_text(OPENCV_GRAPH)
    assert not [op for op in graphc.load_model(path) if op.domain]
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    (y,) = graphc.compile(path, target).run({"input": x}).values()
    assert y.shape == (2, 9, 8, 5)
    # row 0 of channel 0 samples input columns 0, 0.5, 1, ... (scale 4/8); input[0,0,:,0] = 0,5,10,15
    np.testing.assert_allclose(y[0, 0, :, 0], [0, 2.5, 5, 7.5, 10, 12.5, 15, 15], atol=1e-5)
    # column 0 samples input rows 0, 1/3, 2/3, ... (scale 3/9); input[0,:,0,0] = 0,20,40
    np.testing.assert_allclose(y[0, :, 0, 0], [0, 20 / 3, 40 / 3, 20, 80 / 3, 100 / 3, 40, 40, 40], atol=1e-4)
    np.testing.assert_allclose(y, resize_bilinear_tf(x, 9, 8), atol=1e-5)


def test_typed_values_fill_to_shape():
    T = tf_messages()["TensorProto"]
    t = T(dtype=1, float_val=[2.5])
    t.tensor_shape.dim.add(size=2)
    t.tensor_shape.dim.add(size=3)
    np.testing.assert_array_equal(tensor_to_array(t), np.full((2, 3), 2.5, np.float32))
    t = T(dtype=3, int_val=[1, 2])
    t.tensor_shape.dim.add(size=4)
    np.testing.assert_array_equal(tensor_to_array(t), np.array([1, 2, 2, 2], np.int32))
    t = T(dtype=9)
    np.testing.assert_array_equal(tensor_to_array(t), np.zeros((), np.int64))


def test_bad_graphdefs_are_model_format_errors(tmp_path):
    (tmp_path / "bad.pbtxt").write_text("node { name: ")
    with pytest.raises(ModelFormatError, match="not a valid text TensorFlow GraphDef"):
        graphc.load_model(tmp_path / "bad.pbtxt")
    (tmp_path / "dangling.pbtxt").write_text('node { name: "r" op: "Relu" input: "missing" }')
    with pytest.raises(ModelFormatError, match="'r' \\(Relu\\) reads 'missing'"):
        graphc.load_model(tmp_path / "dangling.pbtxt")


class ResizeBilinearLayer(graphc.Layer):
    """tf.image.resize_bilinear (align_corners / half_pixel_centers False): size in blobs[0]."""

    def output_shapes(self, input_shapes):
        n, _, _, c = input_shapes[0]
        h, w = (int(v) for v in self.blobs[0])
        return [(n, h, w, c)]

    def get_config(self):
        return {"align_corners": bool(self.params.get("align_corners", False))}

    def forward(self, inputs, outputs, internals):
        assert self.blob_slots == [1]
        h, w = (int(v) for v in self.blobs[0])
        outputs[0][...] = resize_bilinear_tf(inputs[0], h, w)


def test_opencv_graph_compiles_with_registered_resize_layer(tmp_path):
    """A registered tf::ResizeBilinear layer takes the op over from graphc's Resize mapping."""
    path = tmp_path / "resize.pbtxt"
    path.write_text(OPENCV_GRAPH)
    reg = graphc.LayerRegistry()
    reg.register("ResizeBilinear", domain="tf")(ResizeBilinearLayer)
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    (y,) = graphc.compile(path, "numpy", layers=reg).run({"input": x}).values()
    assert y.shape == (2, 9, 8, 5)
    # known values of tf.image.resize_bilinear (half_pixel_centers=False): row 0 of
    # channel 0 samples input columns 0, 0.5, 1, ... (scale 4/8); input[0,0,:,0] = 0,5,10,15
    np.testing.assert_allclose(y[0, 0, :, 0], [0, 2.5, 5, 7.5, 10, 12.5, 15, 15], atol=1e-5)
    # column 0 samples input rows 0, 1/3, 2/3, ... (scale 3/9); input[0,:,0,0] = 0,20,40
    np.testing.assert_allclose(y[0, :, 0, 0], [0, 20 / 3, 40 / 3, 20, 80 / 3, 100 / 3, 40, 40, 40], atol=1e-4)
    np.testing.assert_allclose(y, resize_bilinear_tf(x, 9, 8), atol=1e-5)


# ------------------------------------------------------------------------ case 4
def _conv_block_graph(rng, fmt: str):
    """conv (SAME, stride 2: asymmetric) + bias + BN + relu6 + depthwise + pools + mean ..."""
    g = GraphText()
    x = rng.standard_normal((2, 7, 9, 3)).astype(np.float32)
    w1 = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    b1 = rng.standard_normal(4).astype(np.float32)
    dw = rng.standard_normal((3, 3, 4, 2)).astype(np.float32)
    bn = [rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32),
          rng.standard_normal(4).astype(np.float32), rng.random(4).astype(np.float32) + 0.5]
    shape = (2, 7, 9, 3) if fmt == "NHWC" else (2, 3, 7, 9)
    g.placeholder("x", shape)
    g.const("w1", w1)
    g.const("b1", b1, content=False)
    g.const("dw", dw)
    for name, arr in zip(("gamma", "beta", "moving_mean", "moving_var"), bn):
        g.const(name, arr)
    df = f's: "{fmt}"'
    strides = _ints(1, 2, 2, 1) if fmt == "NHWC" else _ints(1, 1, 2, 2)
    ones = _ints(1, 1, 1, 1)
    g.node("w1/read", "Identity", ["w1"])
    g.node("conv", "Conv2D", ["x", "w1/read"], strides=strides, padding='s: "SAME"', data_format=df,
           dilations=ones)
    g.node("bias", "BiasAdd", ["conv", "b1"], data_format=df)
    g.node("bn", "FusedBatchNormV3", ["bias", "gamma", "beta", "moving_mean", "moving_var"], epsilon="f: 0.001",
           data_format=df, is_training="b: false")
    g.node("relu6", "Relu6", ["bn"])
    g.node("dw_conv", "DepthwiseConv2dNative", ["relu6", "dw"], strides=ones, padding='s: "SAME"', data_format=df)
    k3 = _ints(1, 3, 3, 1) if fmt == "NHWC" else _ints(1, 1, 3, 3)
    g.node("maxpool", "MaxPool", ["dw_conv"], ksize=k3, strides=strides, padding='s: "SAME"', data_format=df)
    g.node("avgpool", "AvgPool", ["dw_conv"], ksize=k3, strides=strides, padding='s: "SAME"', data_format=df)
    g.const("axis", np.array(3 if fmt == "NHWC" else 1, np.int32))
    g.node("cat", "ConcatV2", ["maxpool", "avgpool", "axis"], N="i: 2")
    g.const("axes", np.array([1, 2] if fmt == "NHWC" else [2, 3], np.int32))
    g.node("mean", "Mean", ["cat", "axes"], keep_dims="b: false")
    feeds = {"x": x if fmt == "NHWC" else np.ascontiguousarray(x.transpose(0, 3, 1, 2))}
    # reference, in NHWC
    y = conv_nhwc(x, w1, (2, 2), "SAME") + b1
    y = (y - bn[2]) / np.sqrt(bn[3] + 1e-3) * bn[0] + bn[1]
    y = np.clip(y, 0, 6)
    y = depthwise_nhwc(y, dw, (1, 1), "SAME")
    mp = pool_nhwc(y, (3, 3), (2, 2), "SAME", "max")
    ap = pool_nhwc(y, (3, 3), (2, 2), "SAME", "avg")
    cat = np.concatenate([mp, ap], axis=3)
    ref = {"mean": cat.mean(axis=(1, 2)), "cat": cat if fmt == "NHWC" else cat.transpose(0, 3, 1, 2)}
    return g.text(), feeds, ref


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_conv_block_matches_numpy(tmp_path, fmt):
    text, feeds, ref = _conv_block_graph(np.random.default_rng(1), fmt)
    path = tmp_path / "block.pbtxt"
    path.write_text(text)
    g = load_tensorflow(path, outputs=["mean", "cat"])
    assert not [op for op in g.ops.values() if op.domain], "every op of this graph maps to ONNX"
    mean, cat = run_ort(g, feeds)
    np.testing.assert_allclose(cat, ref["cat"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mean, ref["mean"], rtol=1e-4, atol=1e-4)


def test_conv_weights_transposed_at_import_and_transposes_cancel(tmp_path):
    text, _, _ = _conv_block_graph(np.random.default_rng(1), "NHWC")
    (tmp_path / "b.pbtxt").write_text(text)
    g = load_tensorflow(tmp_path / "b.pbtxt")
    conv = g.ops["conv"]
    assert conv.op_type == "Conv" and conv.inputs[1].const.shape == (4, 3, 3, 3)  # OIHW constant
    assert conv.attrs["auto_pad"] == "SAME_UPPER" and conv.attrs["strides"] == [2, 2]


def test_dense_head_ops_match_numpy(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 2, 2, 5)).astype(np.float32)
    w = rng.standard_normal((6, 20)).astype(np.float32)  # used with transpose_b
    c = rng.standard_normal(6).astype(np.float32) + 3
    g = GraphText()
    g.placeholder("x", x.shape)
    g.const("paddings", np.array([[0, 0], [1, 0], [0, 1], [0, 0]], np.int32))
    g.node("pad", "Pad", ["x", "paddings"])
    g.const("perm", np.array([0, 3, 1, 2], np.int32))
    g.node("tr", "Transpose", ["x", "perm"])
    g.const("flat", np.array([-1, 20], np.int32))
    g.node("reshape", "Reshape", ["tr", "flat"])
    g.const("w", w)
    g.node("fc", "MatMul", ["reshape", "w"], transpose_a="b: false", transpose_b="b: true")
    g.const("c", c)
    g.node("sub", "Sub", ["fc", "c"])
    g.node("div", "RealDiv", ["sub", "c"])
    g.node("mul", "Mul", ["div", "div"])
    g.node("add", "AddV2", ["mul", "c"])
    g.node("tanh", "Tanh", ["add"])
    g.node("sig", "Sigmoid", ["tanh"])
    g.node("sm", "Softmax", ["sig"])
    g.const("sq_shape", np.array([3, 1, 6], np.int64))
    g.node("r3", "Reshape", ["sm", "sq_shape"])
    g.node("squeeze", "Squeeze", ["r3"], squeeze_dims=_ints(1))
    g.node("relu", "Relu", ["squeeze"])
    (tmp_path / "head.pbtxt").write_text(g.text())
    graph = load_tensorflow(tmp_path / "head.pbtxt", outputs=["pad", "relu"])
    pad, out = run_ort(graph, {"x": x})
    np.testing.assert_allclose(pad, np.pad(x, ((0, 0), (1, 0), (0, 1), (0, 0))))
    y = x.transpose(0, 3, 1, 2).reshape(-1, 20) @ w.T
    y = (y - c) / c
    y = np.tanh(y * y + c)
    y = 1 / (1 + np.exp(-y))
    y = np.exp(y) / np.exp(y).sum(-1, keepdims=True)
    np.testing.assert_allclose(out, np.maximum(y, 0), rtol=1e-5, atol=1e-6)


def test_registered_layer_takes_a_mapped_op(tmp_path):
    text, _, _ = _conv_block_graph(np.random.default_rng(1), "NHWC")
    (tmp_path / "b.pbtxt").write_text(text)
    reg = graphc.LayerRegistry()
    reg.register("Relu6", domain="tf")(ResizeBilinearLayer)
    g = graphc.load_model(tmp_path / "b.pbtxt", layers=reg)
    assert g.ops["relu6"].qualified_type == "tf::Relu6"
