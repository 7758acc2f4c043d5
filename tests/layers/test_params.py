"""Parameter validation (declared Params, get_config-only layers) and JSON serialization."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import graphc
from graphc import LayerError, Param
from graphc.frontends.onnx import load_onnx
from graphc.layers import LayerRegistry, bind_layer, decode_params, encode_params, layer_config
from graphc.layers.serialize import check_round_trip, params_equal

from tests.layers.models import F, _model


def _op(**attrs):
    """A graph with one custom op caffe::Thing(x, w=const) carrying ``attrs``; returns the op."""
    w = helper.make_tensor("w", F, [2], [0.5, 2.0])
    node = helper.make_node("Thing", ["x", "w"], ["y"], name="thing", domain="caffe", **attrs)
    g = load_onnx(_model([node], [helper.make_tensor_value_info("x", F, [2])],
                         [helper.make_tensor_value_info("y", F, [2])], inits=[w],
                         opsets=(("", 18), ("caffe", 1))))
    return g.op("thing")


def _entry(cls):
    reg = LayerRegistry()
    reg.register("Thing", domain="caffe")(cls)
    return reg.lookup("caffe", "Thing")


class Declared(graphc.Layer):
    scale = Param(float)
    mode = Param(str, default="linear")
    axes = Param(list, default=[])
    keep = Param(bool, default=False)
    table = Param(np.ndarray, default=None)


def test_declared_params_are_validated_and_defaulted():
    b = bind_layer(_op(scale=2, keep=1, axes=[1, 2]), _entry(Declared))
    assert b.params == {"scale": 2.0, "mode": "linear", "axes": [1, 2], "keep": True, "table": None}
    assert isinstance(b.params["scale"], float) and b.import_path.endswith(":Declared") and not b.override
    assert decode_params(b.config) == b.params


def test_tensor_param_accepts_a_tensor_attribute():
    t = helper.make_tensor("t", F, [2, 2], [1, 2, 3, 4])
    b = bind_layer(_op(scale=1.0, table=t), _entry(Declared))
    assert b.params["table"].dtype == np.float32 and b.params["table"].shape == (2, 2)
    assert params_equal(decode_params(b.config), b.params)


def test_unknown_attribute_names_node_op_attribute_and_declared():
    with pytest.raises(LayerError) as e:
        bind_layer(_op(scale=1.0, colour="red"), _entry(Declared))
    msg = str(e.value)
    assert "'thing'" in msg and "caffe::Thing" in msg and "'colour'" in msg and "declared: axes, keep, mode, scale" in msg
    assert "graphc.Param(str)" in msg


def test_mistyped_attribute_names_expected_type():
    with pytest.raises(LayerError, match=r"node 'thing' \(caffe::Thing\).*attribute 'mode' is 3 \(int\), expected str"):
        bind_layer(_op(scale=1.0, mode=3), _entry(Declared))
    with pytest.raises(LayerError, match=r"attribute 'keep' is 2 \(int\), expected bool"):
        bind_layer(_op(scale=1.0, keep=2), _entry(Declared))


def test_missing_required_param():
    with pytest.raises(LayerError, match=r"required parameter 'scale' \(float\) is missing"):
        bind_layer(_op(mode="x"), _entry(Declared))


def test_declared_param_of_unsupported_type_is_refused():
    class Odd(graphc.Layer):
        cb = Param(dict)

    with pytest.raises(LayerError, match="parameter 'cb' is declared as dict; use one of int, float"):
        bind_layer(_op(), _entry(Odd))


class OpenCVStyle(graphc.Layer):
    """Only __init__(params, blobs) and get_config, like an OpenCV custom layer."""

    def __init__(self, params, blobs):  # noqa: D107 - no super().__init__ on purpose
        self.gain = float(params.get("gain", 1.0))
        self.names = list(params.get("names", []))
        self.w = blobs[0]

    def get_config(self):
        return {"gain": self.gain, "names": self.names}


def test_get_config_only_layer_is_built_with_params_and_blobs():
    b = bind_layer(_op(gain=3, names=["a", "b"]), _entry(OpenCVStyle))
    assert b.params == {"gain": 3.0, "names": ["a", "b"]}
    layer = b.build([np.ones(2, np.float32)], [1])
    assert layer.get_config() == b.params and layer.blob_slots == [1] and layer.w.shape == (2,)


def test_layer_without_declaration_or_get_config_is_refused_with_what_to_add():
    class Bare(graphc.Layer):
        pass

    with pytest.raises(LayerError) as e:
        bind_layer(_op(gain=1), _entry(Bare))
    assert "declares no parameters and has no get_config()" in str(e.value)
    assert "graphc.Param(int)" in str(e.value) and "implement get_config()" in str(e.value)


@pytest.mark.parametrize("bad, where", [({1, 2}, "set"), (object(), "object"), ((lambda: 0), "function")])
def test_get_config_with_non_json_values_is_refused(bad, where):
    class Leaky(OpenCVStyle):
        def get_config(self):
            return {"gain": self.gain, "extra": bad}

    with pytest.raises(LayerError) as e:
        bind_layer(_op(gain=1), _entry(Leaky))
    assert "params['extra']" in str(e.value) and where in str(e.value) and "JSON data" in str(e.value)


def test_get_config_that_does_not_rebuild_the_layer_is_refused():
    class Drifting(OpenCVStyle):
        def get_config(self):
            return {"gain": self.gain * 2}

    with pytest.raises(LayerError, match="does not rebuild the layer"):
        bind_layer(_op(gain=1), _entry(Drifting))


def test_constructor_failure_names_node():
    class Picky(OpenCVStyle):
        def __init__(self, params, blobs):
            raise ValueError("gain must be positive")

    with pytest.raises(LayerError, match=r"node 'thing' \(caffe::Thing\).*ValueError: gain must be positive"):
        bind_layer(_op(gain=-1), _entry(Picky))


def test_encode_decode_round_trip():
    params = {"a": 1, "b": 2.5, "c": "s", "d": [1, [2.0, "x"]], "e": {"k": True}, "f": None,
              "arr": np.arange(6, dtype=np.int16).reshape(2, 3), "nan": float("nan"), "inf": float("-inf"),
              "scalar": np.float32(0.5), "tup": (1, 2)}
    back = decode_params(encode_params(params))
    assert back["arr"].dtype == np.int16 and back["arr"].shape == (2, 3) and back["arr"][1, 2] == 5
    assert back["tup"] == [1, 2] and back["scalar"] == 0.5 and np.isnan(back["nan"]) and back["inf"] == float("-inf")
    assert check_round_trip(params, "here")


def test_object_arrays_and_non_string_keys_are_not_serializable():
    with pytest.raises(LayerError, match="neither JSON data"):
        check_round_trip({"s": np.array(["a"], dtype=object)}, "layer X")
    with pytest.raises(LayerError, match="key 1"):
        check_round_trip({"d": {1: 2}}, "layer X")


def test_layer_config_of_instances_and_bindings():
    assert layer_config(Declared({"scale": 2.0})) == {"scale": 2.0, "mode": "linear", "axes": [], "keep": False, "table": None}
    b = bind_layer(_op(gain=2), _entry(OpenCVStyle))
    assert layer_config(b) == {"gain": 2.0, "names": []}

    class Bare(graphc.Layer):
        pass

    assert layer_config(Bare({})) == {}  # no parameters, Layer's constructor: nothing to save (issue 16 item 9)

    class OwnConstructor(graphc.Layer):
        def __init__(self, params, blobs):
            self.size = params["size"]

    with pytest.raises(LayerError, match="does not implement get_config"):
        layer_config(OwnConstructor({"size": 2}, []))
