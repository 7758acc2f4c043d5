"""Exporters: graphc Graph -> model formats."""

from __future__ import annotations

from .onnx import to_onnx

__all__ = ["to_onnx"]
