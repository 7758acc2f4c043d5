"""Frontends: model formats -> graphc Graph (ONNX, TensorFlow GraphDef, Caffe, Keras)."""

from __future__ import annotations

from .caffe import load_caffe
from .keras import load_keras
from .onnx import load_onnx
from .tensorflow import load_tensorflow

__all__ = ["load_onnx", "load_tensorflow", "load_caffe", "load_keras"]
