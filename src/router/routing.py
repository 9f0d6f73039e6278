"""The routing decision: one pure function from a proposal's text to a suggestion.

It combines the calibrated model (which unit, or not police business at all) with the
jurisdiction rules (which words point to which other department) and says when a person
should look: low confidence, a close second, or rules and model that disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy import sparse

from router.labels import LabelSet, load_labels
from router.model import TextModel
from router.rules import RuleBook, RuleHit
from router.text import prepare

Jurisdiction = Literal["police", "partial", "outside"]


class InputError(ValueError):
    """The text cannot be routed; the message is for the dispatcher (Chinese)."""


@dataclass(frozen=True)
class Thresholds:
    review_confidence: float = 0.6
    review_margin: float = 0.15
    co_unit: float = 0.2
    partial_outside: float = 0.1
    max_chars: int = 20_000


class Scored(BaseModel):
    unit: str
    confidence: float


class EvidenceOut(BaseModel):
    word: str
    start: int = Field(description="Offset in the normalised text (title, newline, content).")
    end: int
    rule: str
    departments: list[str]


class OutsidePart(BaseModel):
    departments: list[str]
    part: str
    words: list[str]


class Term(BaseModel):
    term: str
    weight: float


class Decision(BaseModel):
    unit: str | None = Field(description="Lead unit; null when wholly outside police jurisdiction.")
    unit_name: str | None
    confidence: float
    alternatives: list[Scored]
    co_units: list[str]
    jurisdiction: Jurisdiction
    outside_probability: float
    departments: list[str]
    outside_parts: list[OutsidePart]
    evidence: list[EvidenceOut]
    needs_review: bool
    review_reasons: list[str]
    top_terms: list[Term]
    model_version: str


@dataclass(frozen=True)
class Router:
    """What a decision needs: a fitted model, its version, the rules and the label set."""

    model: TextModel
    version: str
    rules: RuleBook
    labels: LabelSet
    thresholds: Thresholds = Thresholds()


def check_text(title: str | None, content: str | None, max_chars: int) -> str:
    text = prepare(title, content)
    if not text:
        raise InputError("标题和内容不能同时为空。")
    if len(text) > max_chars:
        raise InputError(f"文本过长：{len(text)} 字，上限为 {max_chars} 字。")
    return text


def route(router: Router, title: str | None, content: str | None = None) -> Decision:
    """Route one proposal. Raises :class:`InputError` for empty or oversized text."""
    text = check_text(title, content, router.thresholds.max_chars)
    proba, row = router.model.score_one(text)
    return _decide(router, text, proba, row)


def route_many(
    router: Router, items: Sequence[tuple[str | None, str | None]]
) -> list[Decision | InputError]:
    """Route many proposals with one vectorisation; a bad item yields its error in place."""
    results: list[Decision | InputError | None] = [None] * len(items)
    texts, where = [], []
    for i, (title, content) in enumerate(items):
        try:
            texts.append(check_text(title, content, router.thresholds.max_chars))
            where.append(i)
        except InputError as exc:
            results[i] = exc
    if texts:
        x = router.model.vectorize(texts)
        proba = router.model.proba_from_features(x)
        for j, i in enumerate(where):
            results[i] = _decide(router, texts[j], proba[j], x[j])
    return [r for r in results if r is not None]


def _departments(hits: list[RuleHit]) -> list[str]:
    seen: dict[str, int] = {}
    for hit in hits:
        for dep in hit.rule.departments:
            seen.setdefault(dep, hit.evidence[0].start)
    return sorted(seen, key=lambda d: seen[d])


def _decide(
    router: Router,
    text: str,
    proba: np.ndarray,
    x_row: sparse.csr_matrix | tuple[np.ndarray, np.ndarray],
) -> Decision:
    th, labels, classes = router.thresholds, router.labels, router.model.classes
    outside = labels.outside
    p_out = float(proba[classes.index(outside)]) if outside in classes else 0.0
    order = [int(i) for i in np.argsort(-proba)]
    police = [i for i in order if classes[i] != outside]
    top = order[0]
    hits = router.rules.match(text)
    departments = _departments(hits)
    reasons: list[str] = []

    if classes[top] == outside:
        jurisdiction: Jurisdiction = "outside"
        unit, confidence, chosen = None, p_out, top
        alternatives = police[:2]
        if not hits:
            reasons.append("模型判为非公安职责，但规则未找到责任部门的依据")
    else:
        unit, confidence, chosen = classes[top], float(proba[top]), top
        alternatives = [i for i in order[1:] if i != top][:2]
        if hits and (
            p_out >= th.partial_outside or len({e.word for h in hits for e in h.evidence}) >= 2
        ):
            jurisdiction = "partial"
        else:
            jurisdiction = "police"
            if hits:
                reasons.append("规则提示部分内容可能属其他部门职责，模型判为公安职责")
            departments = []

    second = float(proba[order[1]]) if len(order) > 1 else 0.0
    if confidence < th.review_confidence:
        reasons.insert(0, f"置信度偏低（{confidence:.2f}）")
    if confidence - second < th.review_margin:
        reasons.insert(
            0,
            f"第一、第二候选接近（{classes[order[0]]} {float(proba[order[0]]):.2f} / {classes[order[1]]} {second:.2f}）",
        )

    co_units = (
        [classes[i] for i in police if classes[i] != unit and proba[i] >= th.co_unit][:2]
        if unit
        else []
    )
    unit_name = next((u.unit for u in labels.units if u.label == unit), None)
    evidence = [
        EvidenceOut(
            word=e.word, start=e.start, end=e.end, rule=e.rule, departments=list(e.departments)
        )
        for h in hits
        for e in h.evidence
    ]
    parts = (
        [
            OutsidePart(
                departments=list(h.rule.departments),
                part=h.rule.part,
                words=sorted({e.word for e in h.evidence}),
            )
            for h in hits
        ]
        if jurisdiction != "police"
        else []
    )
    return Decision(
        unit=unit,
        unit_name=unit_name,
        confidence=round(confidence, 4),
        alternatives=[
            Scored(unit=classes[i], confidence=round(float(proba[i]), 4)) for i in alternatives
        ],
        co_units=co_units,
        jurisdiction=jurisdiction,
        outside_probability=round(p_out, 4),
        departments=departments,
        outside_parts=parts,
        evidence=evidence,
        needs_review=bool(reasons),
        review_reasons=reasons,
        top_terms=[Term(term=t, weight=w) for t, w in router.model.top_terms(x_row, chosen)],
        model_version=router.version,
    )


def default_labels() -> LabelSet:
    return load_labels()
