"""Frontends: model formats -> graphc Graph."""

from __future__ import annotations

from .onnx import load_onnx

__all__ = ["load_onnx"]
