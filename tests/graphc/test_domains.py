"""One spelling rule for the default ONNX domain: only graphc/domains.py names "ai.onnx"."""

from __future__ import annotations

from pathlib import Path

from graphc.domains import canonical_domain, display_domain, is_onnx_domain

ROOT = Path(__file__).resolve().parents[2]


def test_the_rule():
    assert canonical_domain("ai.onnx") == "" == canonical_domain("")
    assert canonical_domain("com.microsoft") == "com.microsoft"
    assert is_onnx_domain("") and is_onnx_domain("ai.onnx") and not is_onnx_domain("ai.onnx.ml")
    assert display_domain("") == "ai.onnx" and display_domain("caffe") == "caffe"


def test_no_other_module_compares_with_the_name():
    offenders = [f"{p.relative_to(ROOT)}:{i}" for pkg in ("graphc", "passes", "targets")
                 for p in (ROOT / pkg).rglob("*.py") if p.name != "domains.py" or p.parent.name != "graphc"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if '"ai.onnx"' in line]
    assert not offenders, f"use graphc.domains instead of the literal: {offenders}"
