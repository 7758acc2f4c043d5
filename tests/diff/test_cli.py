"""graphc diff / explain / blame, and optimize --show-diffs --dump-dir, end to end."""

from __future__ import annotations

import json

import onnx
import pytest

from graphc.cli import main
from tests.diff.cases import pairs
from tests.diff.test_instruments import mlp_model
from tests.diff.test_render_golden import GOLDEN


@pytest.fixture
def files(tmp_path):
    before, after = pairs()["removed"]
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    onnx.save(before, a)
    onnx.save(after, b)
    m = tmp_path / "mlp.onnx"
    onnx.save(mlp_model(), m)
    return a, b, m


def test_diff_plain_and_json(files, capsys):
    a, b, _ = files
    assert main(["diff", str(a), str(b), "--no-color"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == GOLDEN["removed"]
    assert main(["diff", str(a), str(b), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"] == {"added": 0, "removed": 1, "changed": 1}
    assert main(["diff", str(a), str(b)]) == 0
    assert "Ops removed (1)" in capsys.readouterr().out


def test_explain_reports_match_and_failure(files, capsys):
    _, _, m = files
    assert main(["explain", str(m), "--rule", "matmul-add"]) == 0
    out = capsys.readouterr().out
    assert "1 candidate Add op(s); 1 match and rewrite: add" in out
    assert main(["explain", str(m), "--rule", "matmul-add", "--passes", "canonicalize", "--node", "relu"]) == 0
    out = capsys.readouterr().out
    assert "node 'relu' (Relu): no match" in out and "the pattern's root is Add, the node is Relu" in out
    assert main(["explain", str(m), "--rule", "nope"]) == 1
    assert "unknown rule 'nope'" in capsys.readouterr().err


def test_blame_prints_the_provenance_chain(files, capsys):
    _, _, m = files
    assert main(["blame", str(m), "--passes", "canonicalize,infer-shapes,fuse-matmul-add,fuse-activation", "--node", "add"]) == 0
    out = capsys.readouterr().out
    assert "'add' was replaced; it lives on in FusedGemm 'add_Gemm'" in out
    assert "1. pass 'fuse-matmul-add', rule 'matmul-add': replaced add, mm" in out
    assert "2. pass 'fuse-activation', rule 'gemm-activation': replaced relu, add_Gemm" in out
    assert main(["blame", str(m), "--passes", "canonicalize", "--node", "relu"]) == 0
    assert "from the source model" in capsys.readouterr().out


def test_optimize_show_diffs_and_dump_dir(files, tmp_path, capsys):
    _, _, m = files
    out_path, dump = tmp_path / "o.onnx", tmp_path / "stages"
    assert main(["optimize", str(m), "-o", str(out_path), "--passes", "canonicalize,infer-shapes,fuse-matmul-add,dce",
                 "--show-diffs", "--dump-dir", str(dump)]) == 0
    out = capsys.readouterr().out
    assert "fuse-matmul-add" in out and "+ Gemm add_Gemm" in out
    assert sorted(p.name for p in dump.iterdir()) == ["00_input.onnx", "01_infer-shapes.onnx", "02_fuse-matmul-add.onnx"]
