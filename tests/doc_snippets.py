"""Shared by the tests that execute documentation: python blocks, and the check that a block
demonstrating an error fails when the error is not raised."""

from __future__ import annotations

import ast
import re


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def _raises(statements: list[ast.stmt]) -> bool:
    return any(isinstance(node, ast.Raise) for stmt in statements for node in ast.walk(stmt))


def unguarded_excepts(block: str) -> list[int]:
    """Line numbers of the `try:` statements in `block` whose handlers would let the block pass
    when the expected error is not raised: neither an `else:` that raises nor a `raise` at the end
    of the try body. (docs/custom-layers.md had four `try: compile(...) except graphc.LayerError:
    assert ...` blocks that passed silently if compile stopped raising; issue 21 item 6.)"""
    found = []
    for node in ast.walk(ast.parse(block)):
        if isinstance(node, ast.Try) and node.handlers:
            if not (_raises(node.orelse) or isinstance(node.body[-1], ast.Raise)):
                found.append(node.lineno)
    return found
