"""Jurisdiction rules: keyword patterns, kept as data, that flag what is not police business.

The rules only find evidence; :mod:`router.routing` weighs it against the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Evidence:
    """One matched word: where it stands in the normalised text and whom it points to."""

    word: str
    start: int
    end: int
    rule: str
    departments: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    id: str
    departments: tuple[str, ...]
    part: str
    pattern: re.Pattern[str] | None
    ambiguous: re.Pattern[str] | None
    unless: re.Pattern[str] | None


@dataclass(frozen=True)
class RuleHit:
    rule: Rule
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class RuleBook:
    version: int
    window: int
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def match(self, text: str) -> list[RuleHit]:
        """Every rule with at least one hit that no exception nearby cancels."""
        hits = []
        for rule in self.rules:
            found = []
            if rule.pattern is not None:
                for m in rule.pattern.finditer(text):
                    found.append(
                        Evidence(m.group(0), m.start(), m.end(), rule.id, rule.departments)
                    )
            if rule.ambiguous is not None:
                for m in rule.ambiguous.finditer(text):
                    lo, hi = max(0, m.start() - self.window), m.end() + self.window
                    if rule.unless is not None and rule.unless.search(text, lo, hi):
                        continue
                    found.append(
                        Evidence(m.group(0), m.start(), m.end(), rule.id, rule.departments)
                    )
            found.sort(key=lambda e: e.start)
            if found:
                hits.append(RuleHit(rule, tuple(found)))
        return hits


class RulesError(ValueError):
    """The rules file is malformed."""


def _compile(patterns: list[str] | None) -> re.Pattern[str] | None:
    if not patterns:
        return None
    # Longest first, so that a longer phrase wins over its prefix.
    return re.compile("|".join(f"(?:{p})" for p in sorted(patterns, key=len, reverse=True)))


def parse_rules(data: dict[str, Any], departments: set[str] | None = None) -> RuleBook:
    rules = []
    for item in data.get("rules", []):
        try:
            deps = tuple(item["departments"])
            if departments is not None and not set(deps) <= departments:
                raise RulesError(f"规则 {item['id']} 含未知部门：{set(deps) - departments}")
            pattern = _compile(item.get("patterns"))
            ambiguous = _compile(item.get("ambiguous"))
            unless = _compile(item.get("unless"))
            if pattern is None and ambiguous is None:
                raise RulesError(f"规则 {item['id']} 没有任何模式")
        except (KeyError, TypeError, re.error) as exc:
            raise RulesError(f"规则文件格式错误（{item.get('id', '?')}）：{exc}") from exc
        rules.append(
            Rule(str(item["id"]), deps, str(item.get("part", "")), pattern, ambiguous, unless)
        )
    return RuleBook(int(data.get("version", 1)), int(data.get("window", 12)), tuple(rules))


def load_rules(path: Path | None = None) -> RuleBook:
    from router.labels import load_labels

    if path is None:
        return _default_rules()
    return parse_rules(
        yaml.safe_load(path.read_text(encoding="utf-8")), set(load_labels().departments)
    )


@cache
def _default_rules() -> RuleBook:
    from router.labels import load_labels

    raw = (
        resources.files("router")
        .joinpath("resources/jurisdiction_rules.yaml")
        .read_text(encoding="utf-8")
    )
    return parse_rules(yaml.safe_load(raw), set(load_labels().departments))
