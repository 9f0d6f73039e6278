"""The routing decision: one pure function from a proposal's text to a suggestion.

It combines the calibrated model (which unit, or not police business at all) with the
jurisdiction rules (which words point to which other department) and says when a person
should look: low confidence, a close second, or rules and model that disagree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from router import yamltext
from router.core.local import CONTESTED, LocalJurisdiction, LocalMatch
from router.core.parallel import Progress, Tick, paused, split
from router.core.rules import PoliceCues, RuleBook, RuleHit, load_cues
from router.core.scorer import Scorer
from router.core.suggestion import (
    Decision,
    InputError,
    Jurisdiction,
)
from router.core.text import prepare
from router.labels import LabelSet

if TYPE_CHECKING:
    from router.settings import Settings


@dataclass(frozen=True)
class Thresholds:
    """Operating points; the shipped values are chosen on real text (resources/thresholds.yaml)."""

    review_confidence: float = 0.6
    review_margin: float = 0.15
    co_unit: float = 0.2
    # a rule hit makes a police item partial when the model gives outside this much, or when
    # the rules found this many distinct words
    partial_outside: float = 0.05
    partial_words: int = 2
    department: float = 0.5
    bulk_confidence: float = 0.9
    thin_chars: int = 10  # fewer meaningful characters than this: too little to judge
    thin_cap: float = 0.5  # the confidence such a text can have at most
    unfamiliar: float = 0.0  # below this similarity to every training text: review
    outside_floor: float = 0.0  # "outside" stands only this sure; below, the best police unit
    cue_outside: float = 0.0  # "outside" below this, with a police cue in the text: partial
    max_chars: int = 20_000

    @classmethod
    def shipped(cls) -> Thresholds:
        raw = yamltext.safe_load(
            resources.files("router.resources").joinpath("thresholds.yaml").read_text("utf-8")
        )
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        """The shipped operating points, with whatever the settings override."""
        base = cls.shipped()
        overrides: dict[str, Any] = {
            "review_confidence": settings.review_confidence,
            "review_margin": settings.review_margin,
            "co_unit": settings.co_unit_threshold,
            "bulk_confidence": settings.bulk_confidence,
            "unfamiliar": settings.unfamiliar_similarity,
        }
        return replace(
            base,
            max_chars=settings.max_text_chars,
            **{k: v for k, v in overrides.items() if v is not None},
        )


@dataclass(frozen=True)
class Router:
    """What a decision needs: a fitted model, its version, the rules and the label set."""

    model: Scorer
    version: str
    rules: RuleBook
    labels: LabelSet
    thresholds: Thresholds = Thresholds()
    local: LocalJurisdiction | None = None
    cues: PoliceCues = field(default_factory=load_cues)


def check_text(title: str | None, content: str | None, max_chars: int) -> str:
    text = prepare(title, content)
    if not text:
        raise InputError("标题和内容不能同时为空。")
    if len(text) > max_chars:
        raise InputError(f"文本过长：{len(text)} 字，上限为 {max_chars} 字。", "too_long")
    return text


def route(router: Router, title: str | None, content: str | None = None) -> Decision:
    """Route one proposal. Raises :class:`InputError` for empty or oversized text."""
    return route_text(router, check_text(title, content, router.thresholds.max_chars))


def route_text(router: Router, text: str) -> Decision:
    """Route a text already prepared and checked (:func:`check_text`), so that a caller that
    also needs the text prepares it once."""
    return _decide_many(router, [text])[0][0]


def _as_json(results: Sequence[Decision | InputError]) -> list[tuple[bool, str]]:
    return [
        (True, r.model_dump_json()) if isinstance(r, Decision) else (False, str(r)) for r in results
    ]


@dataclass(frozen=True, slots=True)
class Routed:
    """One item of a batch: its decision (or why it was refused), the text the model read
    (empty when refused) and that text's tokens (:func:`router.core.text.tokenize`), which
    并案 and registering use instead of preparing and segmenting the text again."""

    result: Decision | InputError
    text: str
    tokens: list[str]


def route_many(
    router: Router,
    items: Sequence[tuple[str | None, str | None]],
    processes: int = 1,
    *,
    progress: Progress | None = None,
) -> list[Decision | InputError]:
    """Route many proposals with one vectorisation; a bad item yields its error in place.

    ``processes`` > 1 splits a large batch over that many processes, this one and warm
    forked workers (:func:`router.core.parallel.split`: same results; about 1.6 times the
    rows per second on two cores for 5,000 items); where no worker can be had it runs here.
    ``progress(done, total)`` follows every process.
    """
    if not _forks(items, processes):
        return _route_here(router, items, _ticks(progress, len(items)))[0]
    own, others = split(
        _wire_share,
        items,
        processes,
        state=router,
        local=_results_share,
        cost=_costs(items),
        progress=progress,
    )
    with paused(len(items)):
        rebuilt = [_revive(*r) for share in others for r in share]
    return [*own, *rebuilt]


def route_many_json(
    router: Router, items: Sequence[tuple[str | None, str | None]], processes: int = 1
) -> list[tuple[bool, str]]:
    """Like :func:`route_many`, each result already as JSON (or the error's message).

    What a pipe writes: results from forked processes are passed on as the text they arrive
    as, not rebuilt into objects first.
    """
    if not _forks(items, processes):
        return _as_json(_route_here(router, items)[0])
    own, others = split(
        _json_share, items, processes, state=router, local=_json_share, cost=_costs(items)
    )
    return [*own, *(r for share in others for r in share)]


def route_items(
    router: Router,
    items: Sequence[tuple[str | None, str | None]],
    processes: int = 1,
    *,
    progress: Progress | None = None,
    chunk: int | None = None,
) -> list[Routed]:
    """Like :func:`route_many`, each result with its prepared text and tokens (:class:`Routed`):
    what a batch needs for 并案 and registering. ``chunk`` rows at a time (at most the
    scoring chunk) between two calls of ``progress``."""
    if not _forks(items, processes):
        return _routed(*_route_here(router, items, _ticks(progress, len(items)), True, chunk))
    own, others = split(
        _items_share,
        items,
        processes,
        state=router,
        local=_routed_share,
        args=(chunk,),
        cost=_costs(items),
        progress=progress,
    )
    with paused(len(items)):
        rebuilt = [
            Routed(_revive(ok, payload, kind), text, words.split("\n") if words else [])
            for share in others
            for ok, payload, kind, text, words in share
        ]
    return [*own, *rebuilt]


def _forks(items: Sequence[tuple[str | None, str | None]], processes: int) -> bool:
    return processes > 1 and len(items) >= 2 * processes


def _costs(items: Sequence[tuple[str | None, str | None]]) -> list[int]:
    """Shares equal in characters, not rows: time grows with length, and a ledger's long
    proposals may well sit together (20: the work every row costs)."""
    return [len(t or "") + len(c or "") + 20 for t, c in items]


def _ticks(progress: Progress | None, total: int) -> Tick | None:
    if progress is None:
        return None
    done = [0]
    progress(0, total)

    def tick(n: int) -> None:
        done[0] += n
        progress(done[0], total)

    return tick


def _routed(
    results: list[Decision | InputError], texts: list[str], tokens: list[list[str]] | None
) -> list[Routed]:
    assert tokens is not None
    return [Routed(*r) for r in zip(results, texts, tokens, strict=True)]


# What one share of a batch gives, in this process (objects) and in a worker (pipe-friendly:
# JSON, and each row's tokens as one line-joined string, several times cheaper to pass than
# lists of short strings; no token holds a line break).
def _results_share(
    router: Router, items: Sequence[tuple[str | None, str | None]], tick: Tick
) -> list[Decision | InputError]:
    return _route_here(router, items, tick)[0]


def _json_share(
    router: Router, items: Sequence[tuple[str | None, str | None]], tick: Tick
) -> list[tuple[bool, str]]:
    return _as_json(_route_here(router, items, tick)[0])


_Wired = tuple[bool, str, str]  # (decided, its JSON or the error's message, the error's kind)


def _wired(results: Sequence[Decision | InputError]) -> list[_Wired]:
    return [
        (True, r.model_dump_json(), "") if isinstance(r, Decision) else (False, str(r), r.kind)
        for r in results
    ]


def _revive(ok: bool, payload: str, kind: str) -> Decision | InputError:
    if ok:
        return Decision.model_validate_json(payload)
    return InputError(payload, "too_long" if kind == "too_long" else "empty")


def _wire_share(
    router: Router, items: Sequence[tuple[str | None, str | None]], tick: Tick
) -> list[_Wired]:
    return _wired(_route_here(router, items, tick)[0])


def _routed_share(
    router: Router,
    items: Sequence[tuple[str | None, str | None]],
    tick: Tick,
    chunk: int | None = None,
) -> list[Routed]:
    return _routed(*_route_here(router, items, tick, True, chunk))


def _items_share(
    router: Router,
    items: Sequence[tuple[str | None, str | None]],
    tick: Tick,
    chunk: int | None = None,
) -> list[tuple[bool, str, str, str, str]]:
    results, texts, tokens = _route_here(router, items, tick, True, chunk)
    assert tokens is not None
    return [
        (*wired, text, "\n".join(words))
        for wired, text, words in zip(_wired(results), texts, tokens, strict=True)
    ]


def _route_here(
    router: Router,
    items: Sequence[tuple[str | None, str | None]],
    tick: Tick | None = None,
    tokens: bool = False,
    chunk: int | None = None,
) -> tuple[list[Decision | InputError], list[str], list[list[str]] | None]:
    """Route in this process, ``chunk`` rows at a time: each item's decision or error, its
    prepared text ("" when refused) and, with ``tokens``, its tokens ([] when refused)."""
    step = max(1, min(chunk or _CHUNK, _CHUNK))
    results: list[Decision | InputError] = []
    prepared: list[str] = []
    words: list[list[str]] | None = [] if tokens else None
    with paused(len(items)):
        for lo in range(0, len(items), step):
            part = items[lo : lo + step]
            refused: list[InputError | None] = []
            texts: list[str] = []
            for title, content in part:
                try:
                    texts.append(check_text(title, content, router.thresholds.max_chars))
                    refused.append(None)
                except InputError as exc:
                    refused.append(exc)
            decided, made = _decide_many(router, texts, tokens=tokens)
            rows = made if made is not None else [[]] * len(texts)
            each = iter(zip(decided, texts, rows, strict=True))
            for error in refused:
                if error is None:
                    decision, text, mine = next(each)
                    results.append(decision)
                    prepared.append(text)
                    if words is not None:
                        words.append(mine)
                else:
                    results.append(error)
                    prepared.append("")
                    if words is not None:
                        words.append([])
            if tick is not None:
                tick(len(part))
    return results, prepared, words


def _learned_department(
    router: Router, dept_proba: list[float] | None, threshold: float
) -> str | None:
    """The department model's first choice, when it is sure enough to name it."""
    if not dept_proba:
        return None
    j = max(range(len(dept_proba)), key=dept_proba.__getitem__)
    return router.model.departments[j] if dept_proba[j] >= threshold else None


def _departments(hits: list[RuleHit]) -> list[str]:
    seen: dict[str, int] = {}
    for hit in hits:
        for dep in hit.rule.departments:
            seen.setdefault(dep, hit.evidence[0].start)
    return sorted(seen, key=lambda d: seen[d])


_CHUNK = 512  # rows whose arithmetic is done at once: fast, and bounded memory for any batch


def _decide_many(
    router: Router, texts: Sequence[str], *, tokens: bool = False
) -> tuple[list[Decision], list[list[str]] | None]:
    """Decisions for checked texts (and, with ``tokens``, each text's tokens): the model's
    arithmetic once a chunk, then each text."""
    if len(texts) > _CHUNK:
        decisions: list[Decision] = []
        words: list[list[str]] | None = [] if tokens else None
        with paused(len(texts)):
            for i in range(0, len(texts), _CHUNK):
                got, made = _decide_many(router, texts[i : i + _CHUNK], tokens=tokens)
                decisions += got
                if words is not None and made is not None:
                    words += made
        return decisions, words
    if not texts:
        return [], [] if tokens else None
    with paused(len(texts)):
        x, made = router.model.features(texts, tokens=tokens)
        proba, dept = router.model.proba(x), router.model.department_proba(x)
        chosen = proba.argmax(axis=1)  # the first of equal maxima, as the stable sort below
        terms = router.model.top_terms(x, chosen)
        gates, starts = router.rules.openings(texts)
        familiar = router.model.familiarity(x)
        near = familiar.tolist() if familiar is not None else [None] * len(texts)
        rows = proba.tolist()  # plain floats: per-item work on eight numbers is faster in Python
        dept_rows = dept.tolist() if dept is not None else [None] * len(texts)
        choices = router.local.choices() if router.local is not None else {}
        topics = router.local.candidates(texts) if router.local is not None else [0] * len(texts)
        meaningful = _meaningful_many(texts)
        decided = [
            _decide(
                router,
                text,
                rows[j],
                terms[j],
                dept_rows[j],
                gates[j],
                near[j],
                router.local.match(text, choices, topics[j]) if router.local is not None else [],
                meaningful[j],
                starts[j],
            )
            for j, text in enumerate(texts)
        ]
        return decided, made


def _decide(
    router: Router,
    text: str,
    proba: list[float],
    terms: list[tuple[str, float]],
    dept_proba: list[float] | None = None,
    rule_gate: int | None = None,
    familiarity: float | None = None,
    local: Sequence[LocalMatch] = (),
    meaningful: int | None = None,
    rule_starts: Sequence[int] | None = None,
) -> Decision:
    th, labels, classes = router.thresholds, router.labels, router.model.classes
    outside = labels.outside
    p_out = proba[classes.index(outside)] if outside in classes else 0.0
    order = sorted(range(len(proba)), key=proba.__getitem__, reverse=True)  # stable
    police = [i for i in order if classes[i] != outside]
    top = order[0]
    hits = router.rules.match(text, rule_gate, rule_starts)
    departments = _departments(hits)
    learned = _learned_department(router, dept_proba, th.department)
    reasons: list[str] = []

    cued = False
    if classes[top] == outside and police and p_out < max(th.outside_floor, th.cue_outside):
        cues = router.cues.find(text) if p_out < th.cue_outside else []
        if cues:
            # police business is asked for in so many words: keep that part, send the rest out
            ranked = {classes[i]: i for i in police}
            top = next((ranked[u] for u, _ in cues if u in ranked), police[0])
            cued = True
            reasons.append(
                f"模型倾向非公安职责，但文中有公安事项（{'、'.join(w for _, w in cues[:3])}）"
            )
        elif p_out < th.outside_floor and not hits:
            # unsure, and no keyword names another department: a person decides
            top = police[0]
            reasons.append(f"模型倾向非公安职责但把握不足（{p_out:.2f}）")
    if classes[top] == outside:
        jurisdiction: Jurisdiction = "outside"
        unit, confidence = None, p_out
        alternatives = police[:2]
        if learned and learned not in departments:
            departments.append(learned)
        if not departments:
            reasons.append("模型判为非公安职责，但未能确定责任部门")
        elif not hits:
            reasons.append("责任部门仅由模型推断，无关键词依据")
    else:
        unit, confidence = classes[top], proba[top]
        alternatives = [i for i in order if i != top][:2]
        words = {e.word for h in hits for e in h.evidence}
        if cued:
            jurisdiction = "partial"
            if learned and learned not in departments:
                departments.append(learned)
        elif hits and (p_out >= th.partial_outside or len(words) >= th.partial_words):
            jurisdiction = "partial"
        else:
            jurisdiction = "police"
            if hits:
                reasons.append("规则提示部分内容可能属其他部门职责，模型判为公安职责")
            departments = []

    second = proba[order[1]] if len(order) > 1 else 0.0
    local_note: dict[str, Any] | None = None
    for m in local:
        handlers = m.topic.candidates
        units_here = [h for h in handlers if h in classes]
        if unit is not None and unit not in units_here and not set(handlers) & set(departments):
            continue  # the text is about something else that merely mentions the topic
        local_note = {
            "topic": m.topic.id,
            "name": m.topic.name,
            "candidates": list(handlers),
            "words": m.words,
            "handler": m.choice.handler if m.choice else None,
        }
        if m.choice is None:
            reasons.append(f"{CONTESTED}（{m.topic.name}：可由 {'或'.join(handlers)} 承办）")
            break
        # The bureau has said who handles this topic: every candidate's share goes to it.
        share = sum(proba[classes.index(u)] for u in units_here)
        if any(h not in classes for h in handlers):
            share += p_out
        handler = m.choice.handler
        if handler in classes:
            if unit != handler:
                alternatives = [i for i in order if classes[i] not in (handler, outside)][:2]
            unit = handler
            if jurisdiction == "outside":
                jurisdiction = "police"
                departments = []
        else:
            unit, jurisdiction = None, "outside"
            departments = [handler, *(d for d in departments if d != handler)]
            alternatives = police[:2]
        confidence = min(1.0, share)
        second = 0.0
        reasons = [r for r in reasons if not r.startswith("模型判为非公安职责")]
        local_note["applied"] = True
        break

    thin = _meaningful_chars(text) if meaningful is None else meaningful
    if thin < th.thin_chars:
        confidence = min(confidence, th.thin_cap)
        reasons.insert(0, f"文字过少（{thin} 字），难以判断")
    if confidence < th.review_confidence:
        reasons.insert(0, f"置信度偏低（{confidence:.2f}）")
    if local_note is None or not local_note.get("applied"):
        if confidence - second < th.review_margin:
            reasons.insert(
                0,
                f"第一、第二候选接近（{classes[order[0]]} {proba[order[0]]:.2f} / {classes[order[1]]} {second:.2f}）",
            )
    if familiarity is not None and familiarity < th.unfamiliar:
        reasons.append(f"与以往建议差异较大（相似度 {familiarity:.2f}）")

    co_units = (
        [classes[i] for i in police if classes[i] != unit and proba[i] >= th.co_unit][:2]
        if unit
        else []
    )
    unit_name = next((u.unit for u in labels.units if u.label == unit), None)
    evidence = [
        {
            "word": e.word,
            "start": e.start,
            "end": e.end,
            "rule": e.rule,
            "departments": e.departments,
        }
        for h in hits
        for e in h.evidence
    ]
    parts: list[dict[str, Any]] = (
        [
            {
                "departments": h.rule.departments,
                "part": h.rule.part,
                "words": sorted({e.word for e in h.evidence}),
            }
            for h in hits
        ]
        if jurisdiction != "police"
        else []
    )
    ruled = {d for h in hits for d in h.rule.departments}
    if jurisdiction == "outside" and learned and learned not in ruled:
        part = labels.departments.get(learned, "")
        parts.append({"departments": [learned], "part": part, "words": [], "basis": "model"})
    # One validation of plain data is several times faster than building each nested model.
    return Decision.model_validate(
        {
            "unit": unit,
            "unit_name": unit_name,
            "confidence": round(confidence, 4),
            "alternatives": [
                {"unit": classes[i], "confidence": round(proba[i], 4)} for i in alternatives
            ],
            "co_units": co_units,
            "jurisdiction": jurisdiction,
            "outside_probability": round(p_out, 4),
            "departments": departments,
            "outside_parts": parts,
            "evidence": evidence,
            "local": local_note,
            "familiarity": None if familiarity is None else round(familiarity, 4),
            "needs_review": bool(reasons),
            # a mixed item needs a person to split it between the unit and the department
            "bulk_confirmable": confidence >= th.bulk_confidence
            and jurisdiction != "partial"
            and all(r.startswith(_SOFT_REASONS) for r in reasons),
            "review_reasons": reasons,
            "top_terms": [{"term": t, "weight": w} for t, w in terms],
            "model_version": router.version,
        }
    )


# Reasons that ask a person to check the department named, not the 分办 decision itself. Bulk
# confirmation confirms the decision (a unit, or 非公安职责), whose accuracy is what was measured;
# the department to refer an outside item to stays a suggestion for the office to settle.
_SOFT_REASONS = ("责任部门仅由模型推断", "模型判为非公安职责，但未能确定责任部门")

_NOT_MEANINGFUL = re.compile(r"[\W_]+")


def _meaningful_chars(text: str) -> int:
    """Characters that carry meaning: no punctuation, white space or symbols."""
    return len(_NOT_MEANINGFUL.sub("", text))


# By code point: 0 not yet known, 1 no meaning, 2 meaning (a word character other than "_",
# which for the regular expression above is exactly what str.isalnum() says)
_ALNUM = np.zeros(0x110000, dtype=np.int8)


def _meaningful_many(texts: Sequence[str]) -> list[int]:
    """:func:`_meaningful_chars` of each text, for a batch in one pass over its code points
    (each character's class looked up once per process) instead of one substitution a text."""
    if len(texts) < 16:
        return [_meaningful_chars(t) for t in texts]
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    known = _ALNUM[codes]
    if not known.all():
        for c in np.unique(codes[known == 0]).tolist():
            _ALNUM[c] = 2 if chr(c).isalnum() else 1
        known = _ALNUM[codes]
    seen = np.zeros(codes.size + 1, dtype=np.int64)
    np.cumsum(known == 2, out=seen[1:])
    ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
    counts: list[int] = (seen[ends] - seen[np.concatenate(([0], ends[:-1]))]).tolist()
    return counts
