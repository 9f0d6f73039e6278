"""The behaviour suite: cases every serving model must keep, kept as data (``data/behaviour``).

Three kinds of case (Made-With-ML's model tests, written for this domain):

- **mft** (minimum functionality): a clear proposal must get its unit, or 非公安职责 naming
  the responsible department;
- **invariance**: the answer must not change when place names are swapped, nor under
  full-width or half-width forms and changed punctuation;
- **directional**: adding a clear outside part to a police item makes it partial and keeps
  its unit.

A candidate that breaks any case is not promoted automatically, whatever its aggregate figures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from router.core.routing import Router, route_many
from router.core.suggestion import Decision

SUITE_FILE = Path("data") / "behaviour" / "suite.yaml"


class SuiteError(ValueError):
    """The suite file cannot be read; the message says where (Chinese)."""


@dataclass(frozen=True)
class Case:
    """One routed item and what it must get."""

    kind: str  # mft, invariance, directional
    name: str  # the base item's title, for reports
    variant: str  # which form of the item this is ("原文", "地名替换", "全角", ...)
    title: str
    content: str
    expect: str  # a unit label or the outside label
    jurisdiction: str | None = None  # required jurisdiction, when the case says
    department: str | None = None  # an outside department that must be named


@dataclass(frozen=True)
class Failure:
    case: Case
    got: str
    got_jurisdiction: str
    got_departments: tuple[str, ...]
    confidence: float

    def describe(self) -> str:
        c = self.case
        want = c.expect + (f"（{c.jurisdiction}）" if c.jurisdiction else "")
        want += f"，转 {c.department}" if c.department else ""
        got = f"{self.got}（{self.got_jurisdiction}，{self.confidence:.0%}）"
        if self.got_departments:
            got += f"，转 {'、'.join(self.got_departments)}"
        return f"[{_KIND_NAMES[c.kind]}·{c.variant}] {c.name}：应为 {want}，实为 {got}"


_KIND_NAMES = {"mft": "必答", "invariance": "不变", "directional": "方向"}


@dataclass
class BehaviourResult:
    total: int
    per_kind: dict[str, int]
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "per_kind": self.per_kind,
            "passed": self.passed,
            "failures": [f.describe() for f in self.failures],
        }


# -- variants -----------------------------------------------------------------------------
def to_fullwidth(text: str) -> str:
    """ASCII letters, digits and punctuation as their full-width forms (U+FF01..U+FF5E)."""
    return "".join(
        chr(ord(ch) + 0xFEE0) if 0x21 <= ord(ch) <= 0x7E else ("\u3000" if ch == " " else ch)
        for ch in text
    )


def to_halfwidth(text: str) -> str:
    """Full-width forms (including Chinese commas, colons, brackets) as plain ASCII."""
    return "".join(
        chr(ord(ch) - 0xFEE0) if 0xFF01 <= ord(ch) <= 0xFF5E else (" " if ch == "\u3000" else ch)
        for ch in text
    )


_ASCII_PUNCT = str.maketrans(
    {"，": ",", "。": ".", "、": ",", "；": ";", "：": ":", "“": '"', "”": '"'}
)
_PUNCT_RE = re.compile(r"[，。、；：“”（）()！？!?,.;:\"'《》]")


def ascii_punctuation(text: str) -> str:
    return to_halfwidth(text).translate(_ASCII_PUNCT)


def no_punctuation(text: str) -> str:
    return _PUNCT_RE.sub(" ", text)


def swap_places(text: str, swap: dict[str, str]) -> str:
    if not swap:
        return text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(swap, key=len, reverse=True)))
    return pattern.sub(lambda m: swap[m.group(0)], text)


_FORMS: list[tuple[str, Callable[[str], str]]] = [
    ("全角", to_fullwidth),
    ("半角", to_halfwidth),
    ("英文标点", ascii_punctuation),
    ("去标点", no_punctuation),
]


# -- loading ------------------------------------------------------------------------------
def suite_path(home: Path) -> Path:
    return home / SUITE_FILE


def _text(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(f"行为测试集 {where} 缺少“{key}”。")
    return value.strip()


def load_suite(path: Path, outside_label: str = "非公安职责") -> list[Case]:
    """Every case of the suite, variants included, in file order."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SuiteError(f"无法读取行为测试集 {path}：{exc}") from exc
    if not isinstance(data, dict):
        raise SuiteError(f"行为测试集 {path} 格式不对：应为一个映射。")
    cases: list[Case] = []
    for g, group in enumerate(data.get("mft") or []):
        expect = _text(group, "expect", f"mft 第 {g + 1} 组")
        department = group.get("department")
        for i, item in enumerate(group.get("cases") or []):
            where = f"mft 第 {g + 1} 组第 {i + 1} 条"
            title, content = _text(item, "title", where), _text(item, "content", where)
            cases.append(
                Case(
                    "mft",
                    title,
                    "原文",
                    title,
                    content,
                    expect,
                    "outside" if expect == outside_label else None,
                    department,
                )
            )
    for i, item in enumerate(data.get("invariance") or []):
        where = f"invariance 第 {i + 1} 条"
        title, content = _text(item, "title", where), _text(item, "content", where)
        expect = _text(item, "expect", where)
        swap = {str(k): str(v) for k, v in (item.get("swap") or {}).items()}
        forms = [("原文", title, content)]
        if swap:
            forms.append(("地名替换", swap_places(title, swap), swap_places(content, swap)))
        forms += [(name, fn(title), fn(content)) for name, fn in _FORMS]
        cases += [Case("invariance", title, v, t, c, expect) for v, t, c in forms]
    for i, item in enumerate(data.get("directional") or []):
        where = f"directional 第 {i + 1} 条"
        title, content = _text(item, "title", where), _text(item, "content", where)
        expect, add = _text(item, "expect", where), _text(item, "add", where)
        cases.append(Case("directional", title, "原文", title, content, expect, "police"))
        cases.append(
            Case("directional", title, "加入职责外内容", title, content + add, expect, "partial")
        )
    if not cases:
        raise SuiteError(f"行为测试集 {path} 中没有测试用例。")
    return cases


# -- running ------------------------------------------------------------------------------
def answer(decision: Decision, outside_label: str) -> str:
    """The label a decision gives: its unit, or the outside label when wholly outside."""
    if decision.jurisdiction == "outside" or decision.unit is None:
        return outside_label
    return decision.unit


def _holds(case: Case, d: Decision, outside_label: str) -> bool:
    if answer(d, outside_label) != case.expect:
        return False
    if case.jurisdiction is not None and d.jurisdiction != case.jurisdiction:
        return False
    return case.department is None or case.department in d.departments


def run_suite(router: Router, cases: Sequence[Case]) -> BehaviourResult:
    """Route every case with one model; a case whose answer differs is a failure."""
    outside = router.labels.outside
    decisions = route_many(router, [(c.title, c.content) for c in cases])
    per_kind: dict[str, int] = {}
    result = BehaviourResult(len(cases), per_kind)
    for case, d in zip(cases, decisions, strict=True):
        per_kind[case.kind] = per_kind.get(case.kind, 0) + 1
        if not isinstance(d, Decision):
            result.failures.append(Failure(case, f"无法分办：{d}", "", (), 0.0))
        elif not _holds(case, d, outside):
            result.failures.append(
                Failure(
                    case, answer(d, outside), d.jurisdiction, tuple(d.departments), d.confidence
                )
            )
    return result
