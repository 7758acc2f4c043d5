"""Caffe's NetParameter schema subset, declared in Python (no Caffe, no protoc).

Field names, numbers and defaults are those of BVLC ``caffe.proto`` (proto2) for the
messages graphc reads. Two parameters of popular forks are declared too, at the numbers
OpenCV's merged ``caffe.proto`` uses: ``prior_box_param = 203`` (SSD) and
``interp_param = 2143`` (DeepLab's own 143 collides with BVLC's ``input_param``).
Anything else — fillers, engines, other forks' ``*_param`` blocks — is skipped by the
text parser and kept as unknown fields by the binary one; :mod:`.caffe` recovers unknown
``*_param`` blocks of a prototxt generically.
"""

from __future__ import annotations

from functools import lru_cache

from .proto_schema import FileSchema, field

__all__ = ["caffe_messages", "LAYER_PARAM_FIELDS"]

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
    "interp_param": (2143, "InterpParameter"),
    "prior_box_param": (203, "PriorBoxParameter"),
}


def _schema() -> FileSchema:
    f = FileSchema("graphc/caffe.proto", "caffe", syntax="proto2")
    f.message("BlobShape", [field("dim", 1, "int64", repeated=True, packed=True)])
    f.message("BlobProto", [
        field("shape", 7, "msg:BlobShape"),
        field("data", 5, "float", repeated=True, packed=True),
        field("diff", 6, "float", repeated=True, packed=True),
        field("double_data", 8, "double", repeated=True, packed=True),
        field("double_diff", 9, "double", repeated=True, packed=True),
        field("num", 1, "int32", default=0), field("channels", 2, "int32", default=0),
        field("height", 3, "int32", default=0), field("width", 4, "int32", default=0),
    ])
    f.message("ConvolutionParameter", [
        field("num_output", 1, "uint32"), field("bias_term", 2, "bool", default=True),
        field("pad", 3, "uint32", repeated=True), field("kernel_size", 4, "uint32", repeated=True),
        field("stride", 6, "uint32", repeated=True), field("dilation", 18, "uint32", repeated=True),
        field("pad_h", 9, "uint32", default=0), field("pad_w", 10, "uint32", default=0),
        field("kernel_h", 11, "uint32"), field("kernel_w", 12, "uint32"),
        field("stride_h", 13, "uint32"), field("stride_w", 14, "uint32"),
        field("group", 5, "uint32", default=1), field("axis", 16, "int32", default=1),
        field("force_nd_im2col", 17, "bool", default=False),
    ])
    f.message("PoolingParameter", [
        field("pool", 1, "enum:PoolingParameter.PoolMethod", default="MAX"),
        field("pad", 4, "uint32", default=0), field("pad_h", 9, "uint32", default=0),
        field("pad_w", 10, "uint32", default=0), field("kernel_size", 2, "uint32"),
        field("kernel_h", 5, "uint32"), field("kernel_w", 6, "uint32"),
        field("stride", 3, "uint32", default=1), field("stride_h", 7, "uint32"), field("stride_w", 8, "uint32"),
        field("global_pooling", 12, "bool", default=False),
        field("round_mode", 13, "enum:PoolingParameter.RoundMode", default="CEIL"),
    ], enums={"PoolMethod": [("MAX", 0), ("AVE", 1), ("STOCHASTIC", 2)],
              "RoundMode": [("CEIL", 0), ("FLOOR", 1)]})
    f.message("InnerProductParameter", [
        field("num_output", 1, "uint32"), field("bias_term", 2, "bool", default=True),
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
        field("bias_term", 4, "bool", default=False),
    ])
    f.message("LRNParameter", [
        field("local_size", 1, "uint32", default=5), field("alpha", 2, "float", default=1.0),
        field("beta", 3, "float", default=0.75),
        field("norm_region", 4, "enum:LRNParameter.NormRegion", default="ACROSS_CHANNELS"),
        field("k", 5, "float", default=1.0),
    ], enums={"NormRegion": [("ACROSS_CHANNELS", 0), ("WITHIN_CHANNEL", 1)]})
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
    f.message("SoftmaxParameter", [field("axis", 2, "int32", default=1)])
    f.message("DropoutParameter", [field("dropout_ratio", 1, "float", default=0.5)])
    f.message("InputParameter", [field("shape", 1, "msg:BlobShape", repeated=True)])
    f.message("ReLUParameter", [field("negative_slope", 1, "float", default=0.0)])
    f.message("FlattenParameter", [field("axis", 1, "int32", default=1), field("end_axis", 2, "int32", default=-1)])
    f.message("InterpParameter", [
        field("height", 1, "int32", default=0), field("width", 2, "int32", default=0),
        field("zoom_factor", 3, "int32", default=1), field("shrink_factor", 4, "int32", default=1),
        field("pad_beg", 5, "int32", default=0), field("pad_end", 6, "int32", default=0),
    ])
    f.message("PriorBoxParameter", [
        field("min_size", 1, "float", repeated=True), field("max_size", 2, "float", repeated=True),
        field("aspect_ratio", 3, "float", repeated=True), field("flip", 4, "bool", default=True),
        field("clip", 5, "bool", default=False), field("variance", 6, "float", repeated=True),
        field("img_size", 7, "uint32"), field("img_h", 8, "uint32"), field("img_w", 9, "uint32"),
        field("step", 10, "float"), field("step_h", 11, "float"), field("step_w", 12, "float"),
        field("offset", 13, "float", default=0.5),
    ])
    layer = [
        field("name", 1, "string"), field("type", 2, "string"),
        field("bottom", 3, "string", repeated=True), field("top", 4, "string", repeated=True),
        field("phase", 10, "enum:Phase"), field("loss_weight", 5, "float", repeated=True),
        field("blobs", 7, "msg:BlobProto", repeated=True),
    ]
    layer += [field(name, num, f"msg:{msg}") for name, (num, msg) in LAYER_PARAM_FIELDS.items()]
    f.enum("Phase", [("TRAIN", 0), ("TEST", 1)])
    f.message("LayerParameter", layer)
    f.message("NetParameter", [
        field("name", 1, "string"), field("input", 3, "string", repeated=True),
        field("input_shape", 8, "msg:BlobShape", repeated=True), field("input_dim", 4, "int32", repeated=True),
        field("layer", 100, "msg:LayerParameter", repeated=True),
    ])
    return f


@lru_cache(maxsize=1)
def caffe_messages() -> dict[str, type]:
    """Message classes by name: ``caffe_messages()["NetParameter"]`` etc. (built once)."""
    return _schema().build()
