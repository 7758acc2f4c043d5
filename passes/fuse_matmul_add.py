"""fuse-matmul-add: MatMul(2-D A, constant 2-D B) + constant bias -> Gemm."""

from __future__ import annotations

import numpy as np

from graphc.pattern import Builder, Match, P, const, fail, rule, rule_pass, var

__all__ = ["RULES", "matmul_add"]

_FLOATS = ("float16", "float32", "float64")


def _bias_fits(m: Match) -> bool:
    n = m["a"].shape[0]
    cols = m.array("B").shape[1]
    c = m.array("c").shape
    if len(c) > 2:
        fail(f"the bias has rank {len(c)}; Gemm's C is at most 2-D")
    rows = n if isinstance(n, int) else None
    full = (rows if rows is not None else -1, cols)
    try:
        out = np.broadcast_shapes(c, (rows or 1, cols))
    except ValueError:
        fail(f"the bias of shape {c} does not broadcast to the output {full}")
    if out != (rows or 1, cols) or (rows is None and len(c) == 2 and c[0] != 1):
        fail(f"the bias of shape {c} would change the output shape {full}")
    return True


_PATTERN = P.Add(P.MatMul(var("a", rank=2), const("B", rank=2), name="matmul"), const("c"), name="add").where(
    lambda m: str(m.array("B").dtype) in _FLOATS and m["a"].dtype == m.array("B").dtype == m.array("c").dtype,
    "A, B and the bias must share one floating-point dtype",
).where(_bias_fits, "the bias does not broadcast to the MatMul output")


@rule("matmul-add", _PATTERN, "MatMul(A, B) + c with constant B (2-D) and c -> Gemm(A, B, c)")
def matmul_add(m: Match, b: Builder):
    c = m.array("c")
    if c.ndim == 0:
        c = c.reshape(1)
    bias = m["c"] if c is m.array("c") else b.const(c, f"{m['c'].name}_1d")
    return b.Gemm(m["a"], m["B"], bias)


RULES = rule_pass("fuse-matmul-add", """MatMul(2-D A, constant 2-D B) + constant bias -> Gemm

    Rewrite ``Add(MatMul(A, B), c)`` (either Add input order) into ``Gemm(A, B, c)`` when:

    1. A has rank 2 (known: run infer-shapes first) and B is a 2-D constant;
    2. c is a constant that broadcasts to the (N, M) output without growing it;
    3. A, B and c share a floating-point dtype;
    4. the MatMul's output is read only by the Add.
    Refused otherwise (``graphc explain MODEL --rule matmul-add`` says which case).
    """, [matmul_add], uses=("shapes-known",))
