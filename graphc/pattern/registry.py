"""The rule registry: built-in and user rules by name (``graphc explain --rule NAME``)."""

from __future__ import annotations

import difflib
import importlib

from ..errors import GraphcError
from .rewrite import Rule, RuleSet

__all__ = ["RuleRegistry", "RULES", "register_rules"]


class RuleRegistry:
    """Rules by name, each with the pass that applies it. The default registry imports the
    built-in ``passes`` package on first lookup, so the fusion rules are found."""

    def __init__(self, builtin_package: str | None = None):
        self._rules: dict[str, tuple[Rule, str]] = {}
        self._builtin_package = builtin_package
        self._loaded = builtin_package is None

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self._builtin_package)  # type: ignore[arg-type]
            if self is RULES:  # installed graphc.passes plugins register rules too
                from ..passinfra.declare import PASSES

                PASSES.ensure_loaded()

    def add(self, rule: Rule, pass_name: str = "") -> None:
        known = self._rules.get(rule.name)
        if known is not None and known[0] is not rule:
            raise GraphcError(f"a rule named {rule.name!r} is already registered (by pass {known[1]!r})")
        self._rules[rule.name] = (rule, pass_name)

    def get(self, name: str) -> Rule:
        self._load()
        try:
            return self._rules[name][0]
        except KeyError:
            close = difflib.get_close_matches(name, self._rules, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise GraphcError(f"unknown rule {name!r}.{hint} Known rules: {', '.join(self.names())}. "
                              "A rule of your own needs --plugins FILE.py|module (docs/writing-passes.md).") from None

    def pass_of(self, name: str) -> str:
        self.get(name)
        return self._rules[name][1]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._rules)


RULES = RuleRegistry(builtin_package="passes")


def register_rules(rules: RuleSet, pass_name: str | None = None, registry: RuleRegistry | None = None) -> RuleSet:
    """Register every rule of ``rules`` (applied by ``pass_name``) so tools find them by name."""
    for r in rules.rules:
        (registry or RULES).add(r, pass_name or rules.name)
    return rules
