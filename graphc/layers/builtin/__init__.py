"""graphc's built-in layers: framework ops no ONNX graph expresses, implemented with numpy.

Importing this package registers them in :data:`graphc.layers.registry.BUILTIN_LAYERS`,
the parent of ``DEFAULT_LAYERS``: a frontend's node binds to them with no ``--layers``,
and an artifact or bundle saved with them loads in a fresh process (``graphc.layers``
imports this package). A layer a user registers for the same op takes precedence.

* :mod:`.caffe_ssd`: SSD's ``caffe::DetectionOutput`` (box decoding, per-class NMS, keep_top_k).
* :mod:`.caffe_rcnn`: Faster R-CNN's ``caffe::Proposal``, Fast R-CNN's ``caffe::ROIPooling`` and
  R-FCN's ``caffe::PSROIPooling``.
* :mod:`.tf_image`: TensorFlow's ``tf::CropAndResize`` (a Faster R-CNN's second stage).
"""

from __future__ import annotations

from ..registry import BUILTIN_LAYERS
from . import caffe_rcnn, caffe_ssd, tf_image

__all__ = ["BUILTIN_LAYERS", "caffe_rcnn", "caffe_ssd", "tf_image"]
