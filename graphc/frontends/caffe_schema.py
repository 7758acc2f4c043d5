"""Caffe's NetParameter schema, declared in Python (no Caffe, no protoc).

Field names, numbers, types and defaults are those of BVLC ``caffe.proto`` (proto2) for
every ``*_param`` message a deploy net can hold (fillers and engines included; the data,
loss and solver messages are left out). SSD's parameters are declared at the numbers of
its fork (``permute_param = 202``, ``prior_box_param = 203``, ``detection_output_param =
204``, ``norm_param = 206``) and DeepLab's ``interp_param`` at 2143, as OpenCV's merged
``caffe.proto`` does (DeepLab's own 143 collides with BVLC's ``input_param``).

A block read by its schema has stable types whatever the spelling: a repeated field is
always a list, a float field always a float (``step: 8`` is 8.0), an enum its name.
Other forks' blocks are declared with :func:`register_caffe_param`::

    register_caffe_param("upsample_param", 5137, "UpsampleParameter", [
        field("scale", 1, "uint32", default=2), field("upsample_h", 4, "uint32")])

A block nobody declared is skipped by the protobuf parsers; :mod:`.caffe` recovers it
from the prototxt text, untyped (see ``docs/frontends.md``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Sequence

from ..errors import ModelFormatError
from .proto_schema import Field, FileSchema, field

__all__ = ["caffe_messages", "LAYER_PARAM_FIELDS", "ParamSchema", "CaffeParamRegistry", "CAFFE_PARAMS",
           "register_caffe_param", "field"]

#: LayerParameter's *_param fields graphc declares: name -> (number, message)
LAYER_PARAM_FIELDS: dict[str, tuple[int, str]] = {
    "batch_norm_param": (139, "BatchNormParameter"),
    "concat_param": (104, "ConcatParameter"),
    "convolution_param": (106, "ConvolutionParameter"),
    "crop_param": (144, "CropParameter"),
    "dropout_param": (108, "DropoutParameter"),
    "eltwise_param": (110, "EltwiseParameter"),
    "flatten_param": (135, "FlattenParameter"),
    "inner_product_param": (117, "InnerProductParameter"),
    "input_param": (143, "InputParameter"),
    "lrn_param": (118, "LRNParameter"),
    "pooling_param": (121, "PoolingParameter"),
    "power_param": (122, "PowerParameter"),
    "relu_param": (123, "ReLUParameter"),
    "reshape_param": (133, "ReshapeParameter"),
    "scale_param": (142, "ScaleParameter"),
    "slice_param": (126, "SliceParameter"),
    "softmax_param": (125, "SoftmaxParameter"),
    "argmax_param": (103, "ArgMaxParameter"),
    "bias_param": (141, "BiasParameter"),
    "clip_param": (148, "ClipParameter"),
    "elu_param": (140, "ELUParameter"),
    "embed_param": (137, "EmbedParameter"),
    "exp_param": (111, "ExpParameter"),
    "log_param": (134, "LogParameter"),
    "mvn_param": (120, "MVNParameter"),
    "parameter_param": (145, "ParameterParameter"),
    "prelu_param": (131, "PReLUParameter"),
    "python_param": (130, "PythonParameter"),
    "recurrent_param": (146, "RecurrentParameter"),
    "reduction_param": (136, "ReductionParameter"),
    "sigmoid_param": (124, "SigmoidParameter"),
    "spp_param": (132, "SPPParameter"),
    "swish_param": (147, "SwishParameter"),
    "tanh_param": (127, "TanHParameter"),
    "threshold_param": (128, "ThresholdParameter"),
    "tile_param": (138, "TileParameter"),
    # forks, at the numbers of OpenCV's merged caffe.proto
    "interp_param": (2143, "InterpParameter"),
    "shuffle_channel_param": (164, "ShuffleChannelParameter"),  # ShuffleNet's (farmingyard/ShuffleNet)
    "roi_pooling_param": (8266711, "ROIPoolingParameter"),  # Fast R-CNN's (rbgirshick/caffe-fast-rcnn)
    "psroi_pooling_param": (10002, "PSROIPoolingParameter"),  # R-FCN's (daijifeng001/caffe-rfcn)
    "proposal_param": (201, "ProposalParameter"),  # Faster R-CNN's Proposal, as OpenCV declares it
    "permute_param": (202, "PermuteParameter"),
    "prior_box_param": (203, "PriorBoxParameter"),
    "detection_output_param": (204, "DetectionOutputParameter"),
    "norm_param": (206, "NormalizeParameter"),
}

_ENGINE = [("DEFAULT", 0), ("CAFFE", 1), ("CUDNN", 2)]


@dataclass(frozen=True)
class ParamSchema:
    """A fork's ``*_param`` block: the LayerParameter field and the message it holds."""

    param_field: str
    number: int
    message: str
    fields: tuple[Field, ...]
    enums: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()


class CaffeParamRegistry:
    """``*_param`` messages of Caffe forks, declared by users (built-ins are in the schema).

    Registering changes the message classes :func:`caffe_messages` returns from then on:
    prototxts and caffemodels parsed later read the block with its types.
    """

    def __init__(self) -> None:
        self._schemas: dict[str, ParamSchema] = {}
        self._lock = threading.Lock()
        self._built: tuple[tuple[ParamSchema, ...], dict[str, type]] | None = None

    def register(self, param_field: str, number: int, message: str, fields: Sequence[Field],
                 enums: dict[str, list[tuple[str, int]]] | None = None) -> ParamSchema:
        """Declare LayerParameter field ``param_field = number`` holding message ``message``.

        Declaring ``param_field`` again replaces its declaration (a layer file imported again
        after an edit). Raises ModelFormatError when the field name, number or message name
        is taken by a block graphc declares or by another registered block.
        """
        schema = ParamSchema(param_field, int(number), message, tuple(fields),
                             tuple((k, tuple(v)) for k, v in (enums or {}).items()))
        with self._lock:
            _check_free(schema, self._schemas)
            self._schemas[param_field] = schema
        return schema

    def remove(self, param_field: str) -> None:
        """Forget a registered block (tests that declared one temporarily)."""
        with self._lock:
            self._schemas.pop(param_field, None)

    def schemas(self) -> tuple[ParamSchema, ...]:
        """The registered schemas, in registration order."""
        with self._lock:
            return tuple(self._schemas.values())

    def messages(self) -> dict[str, type]:
        """Message classes for the built-in schema plus the registered blocks (built once per set)."""
        current = self.schemas()
        built = self._built
        if built is None or built[0] != current:
            built = (current, _schema(current).build())
            self._built = built
        return built[1]


def _check_free(schema: ParamSchema, registered: dict[str, ParamSchema]) -> None:
    if not schema.param_field.endswith("_param") or not schema.param_field.isidentifier():
        raise ModelFormatError(f"Caffe parameter block {schema.param_field!r}: the field name must be an "
                               "identifier ending in '_param' (as in the fork's caffe.proto)")
    taken = {name: (num, msg) for name, (num, msg) in LAYER_PARAM_FIELDS.items()}
    taken.update({s.param_field: (s.number, s.message) for s in registered.values()
                  if s.param_field != schema.param_field})
    builtin_messages = {msg for _, msg in LAYER_PARAM_FIELDS.values()} | _OTHER_MESSAGES
    for name, (num, msg) in taken.items():
        if name == schema.param_field or num == schema.number or msg == schema.message:
            raise ModelFormatError(
                f"Caffe parameter block {schema.param_field!r} = {schema.number} ({schema.message}) collides with "
                f"{name!r} = {num} ({msg}), which graphc already declares: use the fork's own field name, number "
                "and message name, and leave blocks graphc declares alone")
    if schema.message in builtin_messages:
        raise ModelFormatError(f"Caffe parameter block {schema.param_field!r}: message name {schema.message!r} is "
                               "a message of graphc's caffe.proto; give the fork's message another name")


def _schema(extra: Sequence[ParamSchema] = ()) -> FileSchema:
    f = FileSchema("graphc/caffe.proto", "caffe", syntax="proto2")
    f.message("BlobShape", [field("dim", 1, "int64", repeated=True, packed=True)])
    f.message("BlobProto", [
        field("shape", 7, "msg:BlobShape"),
        field("data", 5, "float", repeated=True, packed=True),
        field("diff", 6, "float", repeated=True, packed=True),
        field("double_data", 8, "double", repeated=True, packed=True),
        field("double_diff", 9, "double", repeated=True, packed=True),
        field("raw_data_type", 10, "enum:BlobProto.Type", default="DOUBLE"),  # NVCaffe/OpenCV: fp16 models
        field("raw_data", 12, "bytes"),
        field("num", 1, "int32", default=0), field("channels", 2, "int32", default=0),
        field("height", 3, "int32", default=0), field("width", 4, "int32", default=0),
    ], enums={"Type": [("DOUBLE", 0), ("FLOAT", 1), ("FLOAT16", 2), ("INT", 3), ("UINT", 4)]})
    f.message("FillerParameter", [
        field("type", 1, "string", default="constant"), field("value", 2, "float", default=0.0),
        field("min", 3, "float", default=0.0), field("max", 4, "float", default=1.0),
        field("mean", 5, "float", default=0.0), field("std", 6, "float", default=1.0),
        field("sparse", 7, "int32", default=-1),
        field("variance_norm", 8, "enum:FillerParameter.VarianceNorm", default="FAN_IN"),
    ], enums={"VarianceNorm": [("FAN_IN", 0), ("FAN_OUT", 1), ("AVERAGE", 2)]})
    f.message("ConvolutionParameter", [
        field("num_output", 1, "uint32"), field("bias_term", 2, "bool", default=True),
        field("weight_filler", 7, "msg:FillerParameter"), field("bias_filler", 8, "msg:FillerParameter"),
        field("engine", 15, "enum:ConvolutionParameter.Engine", default="DEFAULT"),
        field("pad", 3, "uint32", repeated=True), field("kernel_size", 4, "uint32", repeated=True),
        field("stride", 6, "uint32", repeated=True), field("dilation", 18, "uint32", repeated=True),
        field("pad_h", 9, "uint32", default=0), field("pad_w", 10, "uint32", default=0),
        field("kernel_h", 11, "uint32"), field("kernel_w", 12, "uint32"),
        field("stride_h", 13, "uint32"), field("stride_w", 14, "uint32"),
        field("group", 5, "uint32", default=1), field("axis", 16, "int32", default=1),
        field("force_nd_im2col", 17, "bool", default=False),
    ], enums={"Engine": _ENGINE})
    f.message("PoolingParameter", [
        field("pool", 1, "enum:PoolingParameter.PoolMethod", default="MAX"),
        field("pad", 4, "uint32", default=0), field("pad_h", 9, "uint32", default=0),
        field("pad_w", 10, "uint32", default=0), field("kernel_size", 2, "uint32"),
        field("kernel_h", 5, "uint32"), field("kernel_w", 6, "uint32"),
        field("stride", 3, "uint32", default=1), field("stride_h", 7, "uint32"), field("stride_w", 8, "uint32"),
        field("global_pooling", 12, "bool", default=False),
        field("round_mode", 13, "enum:PoolingParameter.RoundMode", default="CEIL"),
        field("engine", 11, "enum:PoolingParameter.Engine", default="DEFAULT"),
    ], enums={"PoolMethod": [("MAX", 0), ("AVE", 1), ("STOCHASTIC", 2)],
              "RoundMode": [("CEIL", 0), ("FLOOR", 1)], "Engine": _ENGINE})
    f.message("InnerProductParameter", [
        field("num_output", 1, "uint32"), field("bias_term", 2, "bool", default=True),
        field("weight_filler", 3, "msg:FillerParameter"), field("bias_filler", 4, "msg:FillerParameter"),
        field("axis", 5, "int32", default=1), field("transpose", 6, "bool", default=False),
    ])
    f.message("EltwiseParameter", [
        field("operation", 1, "enum:EltwiseParameter.EltwiseOp", default="SUM"),
        field("coeff", 2, "float", repeated=True), field("stable_prod_grad", 3, "bool", default=True),
    ], enums={"EltwiseOp": [("PROD", 0), ("SUM", 1), ("MAX", 2)]})
    f.message("BatchNormParameter", [
        field("use_global_stats", 1, "bool"), field("moving_average_fraction", 2, "float", default=0.999),
        field("eps", 3, "float", default="1e-05"),
    ])
    f.message("ScaleParameter", [
        field("axis", 1, "int32", default=1), field("num_axes", 2, "int32", default=1),
        field("filler", 3, "msg:FillerParameter"), field("bias_term", 4, "bool", default=False),
        field("bias_filler", 5, "msg:FillerParameter"),
    ])
    f.message("LRNParameter", [
        field("local_size", 1, "uint32", default=5), field("alpha", 2, "float", default=1.0),
        field("beta", 3, "float", default=0.75),
        field("norm_region", 4, "enum:LRNParameter.NormRegion", default="ACROSS_CHANNELS"),
        field("k", 5, "float", default=1.0), field("engine", 6, "enum:LRNParameter.Engine", default="DEFAULT"),
    ], enums={"NormRegion": [("ACROSS_CHANNELS", 0), ("WITHIN_CHANNEL", 1)], "Engine": _ENGINE})
    f.message("ConcatParameter", [field("axis", 2, "int32", default=1), field("concat_dim", 1, "uint32", default=1)])
    f.message("ReshapeParameter", [
        field("shape", 1, "msg:BlobShape"), field("axis", 2, "int32", default=0),
        field("num_axes", 3, "int32", default=-1),
    ])
    f.message("SliceParameter", [
        field("axis", 3, "int32", default=1), field("slice_point", 2, "uint32", repeated=True),
        field("slice_dim", 1, "uint32", default=1),
    ])
    f.message("PowerParameter", [
        field("power", 1, "float", default=1.0), field("scale", 2, "float", default=1.0),
        field("shift", 3, "float", default=0.0),
    ])
    f.message("CropParameter", [field("axis", 1, "int32", default=2), field("offset", 2, "uint32", repeated=True)])
    f.message("SoftmaxParameter", [field("engine", 1, "enum:SoftmaxParameter.Engine", default="DEFAULT"),
                                    field("axis", 2, "int32", default=1)], enums={"Engine": _ENGINE})
    f.message("DropoutParameter", [field("dropout_ratio", 1, "float", default=0.5)])
    f.message("InputParameter", [field("shape", 1, "msg:BlobShape", repeated=True)])
    f.message("ReLUParameter", [field("negative_slope", 1, "float", default=0.0),
                                 field("engine", 2, "enum:ReLUParameter.Engine", default="DEFAULT")],
              enums={"Engine": _ENGINE})
    f.message("FlattenParameter", [field("axis", 1, "int32", default=1), field("end_axis", 2, "int32", default=-1)])
    f.message("InterpParameter", [
        field("height", 1, "int32", default=0), field("width", 2, "int32", default=0),
        field("zoom_factor", 3, "int32", default=1), field("shrink_factor", 4, "int32", default=1),
        field("pad_beg", 5, "int32", default=0), field("pad_end", 6, "int32", default=0),
    ])
    f.message("ShuffleChannelParameter", [field("group", 1, "uint32", default=1)])
    f.message("ROIPoolingParameter", [field("pooled_h", 1, "uint32", default=0),
                                      field("pooled_w", 2, "uint32", default=0),
                                      field("spatial_scale", 3, "float", default=1.0)])
    f.message("ProposalParameter", [
        field("feat_stride", 1, "uint32", default=16), field("base_size", 2, "uint32", default=16),
        field("min_size", 3, "uint32", default=16), field("ratio", 4, "float", repeated=True),
        field("scale", 5, "float", repeated=True), field("pre_nms_topn", 6, "uint32", default=6000),
        field("post_nms_topn", 7, "uint32", default=300), field("nms_thresh", 8, "float", default=0.7)])
    f.message("PSROIPoolingParameter", [field("spatial_scale", 1, "float"), field("output_dim", 2, "int32"),
                                        field("group_size", 3, "int32")])
    f.message("PriorBoxParameter", [
        field("min_size", 1, "float", repeated=True), field("max_size", 2, "float", repeated=True),
        field("aspect_ratio", 3, "float", repeated=True), field("flip", 4, "bool", default=True),
        field("clip", 5, "bool", default=False), field("variance", 6, "float", repeated=True),
        field("img_size", 7, "uint32"), field("img_h", 8, "uint32"), field("img_w", 9, "uint32"),
        field("step", 10, "float"), field("step_h", 11, "float"), field("step_w", 12, "float"),
        field("offset", 13, "float", default=0.5),
    ], enums={"CodeType": [("CORNER", 1), ("CENTER_SIZE", 2), ("CORNER_SIZE", 3)]})
    _bvlc_messages(f)
    _ssd_messages(f)
    layer = [
        field("name", 1, "string"), field("type", 2, "string"),
        field("bottom", 3, "string", repeated=True), field("top", 4, "string", repeated=True),
        field("phase", 10, "enum:Phase"), field("loss_weight", 5, "float", repeated=True),
        field("blobs", 7, "msg:BlobProto", repeated=True),
    ]
    layer += [field(name, num, f"msg:{msg}") for name, (num, msg) in LAYER_PARAM_FIELDS.items()]
    for schema in extra:
        f.message(schema.message, list(schema.fields), enums={k: list(v) for k, v in schema.enums})
        layer.append(field(schema.param_field, schema.number, f"msg:{schema.message}"))
    f.enum("Phase", [("TRAIN", 0), ("TEST", 1)])
    f.message("LayerParameter", layer)
    f.message("NetParameter", [
        field("name", 1, "string"), field("input", 3, "string", repeated=True),
        field("input_shape", 8, "msg:BlobShape", repeated=True), field("input_dim", 4, "int32", repeated=True),
        field("layer", 100, "msg:LayerParameter", repeated=True),
    ])
    return f


def _bvlc_messages(f: FileSchema) -> None:
    """BVLC's parameter messages of the other layers (those :mod:`.caffe_layers` maps and those that
    become caffe nodes)."""
    f.message("ArgMaxParameter", [field("out_max_val", 1, "bool", default=False),
                                  field("top_k", 2, "uint32", default=1), field("axis", 3, "int32")])
    f.message("BiasParameter", [field("axis", 1, "int32", default=1), field("num_axes", 2, "int32", default=1),
                                field("filler", 3, "msg:FillerParameter")])
    f.message("ClipParameter", [field("min", 1, "float"), field("max", 2, "float")])
    f.message("ELUParameter", [field("alpha", 1, "float", default=1.0)])
    f.message("EmbedParameter", [
        field("num_output", 1, "uint32"), field("input_dim", 2, "uint32"), field("bias_term", 3, "bool", default=True),
        field("weight_filler", 4, "msg:FillerParameter"), field("bias_filler", 5, "msg:FillerParameter")])
    for name in ("ExpParameter", "LogParameter"):
        f.message(name, [field("base", 1, "float", default=-1.0), field("scale", 2, "float", default=1.0),
                         field("shift", 3, "float", default=0.0)])
    f.message("MVNParameter", [field("normalize_variance", 1, "bool", default=True),
                               field("across_channels", 2, "bool", default=False),
                               field("eps", 3, "float", default="1e-09")])
    f.message("ParameterParameter", [field("shape", 1, "msg:BlobShape")])
    f.message("PReLUParameter", [field("filler", 1, "msg:FillerParameter"),
                                 field("channel_shared", 2, "bool", default=False)])
    f.message("PythonParameter", [field("module", 1, "string"), field("layer", 2, "string"),
                                  field("param_str", 3, "string", default=""),
                                  field("share_in_parallel", 4, "bool", default=False)])
    f.message("RecurrentParameter", [
        field("num_output", 1, "uint32", default=0), field("weight_filler", 2, "msg:FillerParameter"),
        field("bias_filler", 3, "msg:FillerParameter"), field("debug_info", 4, "bool", default=False),
        field("expose_hidden", 5, "bool", default=False)])
    f.message("ReductionParameter", [
        field("operation", 1, "enum:ReductionParameter.ReductionOp", default="SUM"),
        field("axis", 2, "int32", default=0), field("coeff", 3, "float", default=1.0),
    ], enums={"ReductionOp": [("SUM", 1), ("ASUM", 2), ("SUMSQ", 3), ("MEAN", 4)]})
    for name in ("SigmoidParameter", "TanHParameter"):
        f.message(name, [field("engine", 1, f"enum:{name}.Engine", default="DEFAULT")], enums={"Engine": _ENGINE})
    f.message("SPPParameter", [
        field("pyramid_height", 1, "uint32"), field("pool", 2, "enum:SPPParameter.PoolMethod", default="MAX"),
        field("engine", 6, "enum:SPPParameter.Engine", default="DEFAULT"),
    ], enums={"PoolMethod": [("MAX", 0), ("AVE", 1), ("STOCHASTIC", 2)], "Engine": _ENGINE})
    f.message("SwishParameter", [field("beta", 1, "float", default=1.0)])
    f.message("ThresholdParameter", [field("threshold", 1, "float", default=0.0)])
    f.message("TileParameter", [field("axis", 1, "int32", default=1), field("tiles", 2, "int32")])


def _ssd_messages(f: FileSchema) -> None:
    """SSD's (weiliu89/caffe) Permute, Normalize and DetectionOutput parameters."""
    f.message("PermuteParameter", [field("order", 1, "uint32", repeated=True)])
    f.message("NormalizeParameter", [
        field("across_spatial", 1, "bool", default=True), field("scale_filler", 2, "msg:FillerParameter"),
        field("channel_shared", 3, "bool", default=True), field("eps", 4, "float", default="1e-10")])
    f.message("NonMaximumSuppressionParameter", [
        field("nms_threshold", 1, "float", default=0.3), field("top_k", 2, "int32"),
        field("eta", 3, "float", default=1.0)])
    f.message("DetectionOutputParameter", [
        field("num_classes", 1, "uint32"), field("share_location", 2, "bool", default=True),
        field("background_label_id", 3, "int32", default=0),
        field("nms_param", 4, "msg:NonMaximumSuppressionParameter"),
        field("code_type", 6, "enum:PriorBoxParameter.CodeType", default="CORNER"),
        field("keep_top_k", 7, "int32", default=-1), field("variance_encoded_in_target", 8, "bool", default=False),
        field("confidence_threshold", 9, "float"), field("visualize", 10, "bool", default=False),
        field("visualize_threshold", 11, "float"), field("save_file", 12, "string")])


#: messages of the built-in schema that are not *_param blocks themselves (a fork may not redefine them)
_OTHER_MESSAGES = frozenset({"BlobShape", "BlobProto", "FillerParameter", "NonMaximumSuppressionParameter",
                             "LayerParameter", "NetParameter"})

#: the registry of fork *_param blocks declared by users
CAFFE_PARAMS = CaffeParamRegistry()


def register_caffe_param(param_field: str, number: int, message: str, fields: Sequence[Field],
                         enums: dict[str, list[tuple[str, int]]] | None = None) -> ParamSchema:
    """Declare a Caffe fork's ``*_param`` block so its layers' parameters are typed.

    ``param_field = number`` is the LayerParameter field of the fork's ``caffe.proto``
    (the number matters for binary ``.caffemodel`` files), ``message`` its message name,
    ``fields`` its fields (:func:`field`: name, number, type, ``repeated=``, ``default=``),
    ``enums`` the message's nested enums (referenced as ``"enum:Message.Enum"``)::

        register_caffe_param("upsample_param", 5137, "UpsampleParameter", [
            field("scale", 1, "uint32", default=2), field("upsample_h", 4, "uint32")])
    """
    return CAFFE_PARAMS.register(param_field, number, message, fields, enums)


def caffe_messages() -> dict[str, type]:
    """Message classes by name: ``caffe_messages()["NetParameter"]`` etc. (built once per set of
    registered fork blocks)."""
    return CAFFE_PARAMS.messages()
