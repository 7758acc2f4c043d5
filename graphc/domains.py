"""ONNX domain names: the one place that knows ``"ai.onnx"`` and ``""`` name the same default domain."""

from __future__ import annotations

__all__ = ["ONNX_DOMAIN_NAME", "GRAPHC_DOMAIN", "canonical_domain", "is_onnx_domain", "display_domain"]

#: the default domain's explicit name; graphc's IR always spells it ""
ONNX_DOMAIN_NAME = "ai.onnx"

#: graphc's own domain: internal ops a target's passes create for its own kernels (never for onnxruntime)
GRAPHC_DOMAIN = "graphc"


def canonical_domain(domain: str) -> str:
    """``domain`` as graphc's IR spells it: "" for the default ONNX domain."""
    return "" if domain == ONNX_DOMAIN_NAME else domain


def is_onnx_domain(domain: str) -> bool:
    """True for the default ONNX domain, however it is spelled."""
    return domain in ("", ONNX_DOMAIN_NAME)


def display_domain(domain: str) -> str:
    """How messages and summaries name ``domain`` ("ai.onnx" for the default one)."""
    return domain or ONNX_DOMAIN_NAME
