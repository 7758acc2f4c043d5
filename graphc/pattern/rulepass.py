"""rule_pass: a pass made of rewrite rules, declared once (its name written in one place).

>>> RULES = rule_pass("fuse-conv-bn", '''fold inference BatchNormalization into the Conv before it
...
... Rewrites BatchNormalization(Conv(x, W, b?), ...) when ...''', [conv_bn])  # doctest: +SKIP

registers the rules (``graphc explain --rule conv-bn``) and the pass (``--passes fuse-conv-bn``)
under that one name, and returns the :class:`RuleSet` the pass applies.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Sequence

from ..passinfra.declare import PassRegistry, PassResult, graph_pass
from .registry import RuleRegistry, register_rules
from .rewrite import Rule, RuleSet

if TYPE_CHECKING:
    from ..ir import Graph
    from ..passinfra.context import PassContext

__all__ = ["rule_pass"]


def rule_pass(
    name: str,
    doc: str,
    rules: Sequence[Rule],
    *,
    requires: tuple[str, ...] = (),
    uses: tuple[str, ...] = (),
    establishes: tuple[str, ...] = (),
    invalidates: tuple[str, ...] = (),
    max_iterations: int = 1,
    registry: PassRegistry | None = None,
    rule_registry: RuleRegistry | None = None,
) -> RuleSet:
    """Declare the pass ``name`` that applies ``rules`` (one sweep, or up to ``max_iterations``
    to a fixed point) and register the rules under it.

    ``doc``'s first line is the one-line description ``graphc passes`` lists; the whole text is
    the pass's documentation (say when each rule applies and when it refuses). ``requires``,
    ``uses``, ``establishes`` and ``invalidates`` are the pass contracts of
    :func:`graphc.passinfra.graph_pass`. Returns the RuleSet (``.apply(graph, ctx)`` runs it
    outside a pipeline).
    """
    doc = inspect.cleandoc(doc)
    description = doc.split("\n")[0].strip()
    if not description:
        raise ValueError(f"rule_pass {name!r}: doc must start with a one-line description")
    rule_set = RuleSet(list(rules), name=name, max_iterations=max_iterations)
    register_rules(rule_set, name, rule_registry)

    def run(graph: Graph, ctx: PassContext) -> PassResult:
        return rule_set.apply(graph, ctx, pass_name=name)

    run.__name__ = run.__qualname__ = name.replace("-", "_")
    run.__doc__ = doc
    graph_pass(name, description, requires=requires, uses=uses, establishes=establishes,
               invalidates=invalidates, registry=registry)(run)
    return rule_set
