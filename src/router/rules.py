"""Jurisdiction rules: keyword patterns, kept as data, that flag what is not police business.

The rules only find evidence; :mod:`router.routing` weighs it against the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property
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

    @cached_property
    def _any(self) -> re.Pattern[str] | None:
        """One pattern that matches wherever any rule's pattern could (None: not combinable)."""
        parts = [p for r in self.rules for p in (r.pattern, r.ambiguous) if p is not None]
        if not parts or any(p.groups or p.flags != re.UNICODE for p in parts):
            return None
        try:
            return re.compile("|".join(p.pattern for p in parts))
        except re.error:
            return None

    def match(self, text: str) -> list[RuleHit]:
        """Every rule with at least one hit that no exception nearby cancels."""
        hits: list[RuleHit] = []
        if self._any is not None and self._any.search(text) is None:
            return hits  # no rule's pattern matches anywhere: one scan instead of one per rule
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


_WORD = r"[^()|\\\[\].*+?{}^$]+"
_LEADING_WORDS = re.compile(rf"\(\?:((?:{_WORD}\|)+{_WORD})\)(.*)", re.S)


def _top_level_bar(pattern: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
        i += 1
    return False


def _branches(pattern: str) -> list[str]:
    """A pattern opening with a group of plain words, "(?:道路|公路)破损", written out as
    "道路破损", "公路破损": the same matches, tried in the same order, but each branch now
    starts with a plain character, which lets the regex engine skip ahead (3-4 times faster).
    """
    m = _LEADING_WORDS.fullmatch(pattern)
    if m is None:
        return [pattern]
    rest = m.group(2)
    if rest[:1] in ("*", "+", "?", "{") or _top_level_bar(rest) or re.compile(rest).groups:
        return [pattern]
    return [word + rest for word in m.group(1).split("|")]


def _compile(patterns: list[str] | None) -> re.Pattern[str] | None:
    if not patterns:
        return None
    # Longest first, so that a longer phrase wins over its prefix.
    ordered = sorted(patterns, key=len, reverse=True)
    return re.compile("|".join(f"(?:{b})" for p in ordered for b in _branches(p)))


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
