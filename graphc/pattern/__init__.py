"""The pass-authoring API: patterns over op builders, rules, a rewrite engine, a tracer.

>>> from graphc.pattern import P, Rule, RuleSet, const, var
>>> pat = P.Relu(P.Conv(var("x"), const("w"), var("b", optional=True), name="conv"))
>>> pat = pat.where(lambda m: m["w"].const.ndim == 4, "weight must be 4-D")  # a new pattern
>>> # rule_pass("fuse-conv-relu", "doc", [Rule("conv-relu", pat, lambda m, b: ...)])

See docs/writing-passes.md for a tutorial.
"""

from __future__ import annotations

from .explain import Explanation, NodeReport, describe, explain
from .matcher import Failure, Match, Refuse, Trace, fail, find_matches, match_at
from .patterns import COMMUTATIVE, Capture, OpPattern, OutputPattern, P, Pattern, ValuePattern, capture, const, op, var
from .registry import RULES, RuleRegistry, register_rules
from .rewrite import Builder, Rule, RuleSet, rewrite, rule
from .rulepass import rule_pass

__all__ = [
    "P", "op", "var", "const", "capture", "Pattern", "OpPattern", "ValuePattern", "OutputPattern", "Capture",
    "COMMUTATIVE", "Match", "Refuse", "fail", "Trace", "Failure", "find_matches", "match_at",
    "Rule", "rule", "RuleSet", "Builder", "rewrite", "rule_pass", "RULES", "RuleRegistry", "register_rules",
    "Explanation", "NodeReport", "explain", "describe",
]
