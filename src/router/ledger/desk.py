"""The 分办人员's desk over the ledger: bulk confirmation, undoing a decision, precedents.

Plain functions over a SQLAlchemy session that flush and never commit, like :mod:`ops`.
A bulk confirmation is one :func:`ops.decide` per proposal, each with its own audit event
marked ``bulk``, so that each can be undone on its own (:func:`undo_decision`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from router.core.places import text_places
from router.core.text import prepare, tokenize
from router.ledger.assign import sync_assignments
from router.ledger.models import Proposal
from router.ledger.ops import (
    ConflictError,
    InvalidError,
    _check_version,
    _commit_change,
    _decision_snapshot,
    decide,
    get_proposal,
    utcnow,
)
from router.ledger.schemas import DecisionCreate

# A named place shared by two proposals counts for this many shared words.
PLACE_WEIGHT = 3.0
UNDOABLE = ("已分办", "已退办")  # a unit has not started on it yet


# -- bulk confirmation --------------------------------------------------------------------
def bulk_candidates(
    db: Session, *, session: str | None = None, ids: Sequence[int] | None = None
) -> list[Proposal]:
    """Undecided proposals whose stored suggestion is ``bulk_confirmable``, oldest first.

    Only a suggestion naming a lead unit qualifies: a referral out needs a written reason.
    """
    stmt = select(Proposal).where(Proposal.status == "待分办", Proposal.decided_at.is_(None))
    if session:
        stmt = stmt.where(Proposal.session == session)
    if ids:
        stmt = stmt.where(Proposal.id.in_(list(ids)))
    rows = db.scalars(stmt.order_by(Proposal.id))
    return [
        p
        for p in rows
        if p.suggested_unit is not None and bool((p.suggestion or {}).get("bulk_confirmable"))
    ]


def bulk_track_record(db: Session) -> tuple[int, int]:
    """How bulk-confirmable suggestions fared when a person decided them one by one.

    Returns (decided one by one, kept as suggested) over the whole ledger: the measured
    accuracy of such items here, as opposed to the model's validation figure.
    """
    rows = db.scalars(
        select(Proposal)
        .where(Proposal.decided_at.is_not(None))
        .options(selectinload(Proposal.events))
    )
    checked = agreed = 0
    for p in rows:
        if not (p.suggestion or {}).get("bulk_confirmable"):
            continue
        last = next((e for e in reversed(p.events) if e.action in ("decided", "redecided")), None)
        if last is None or (last.data or {}).get("bulk"):
            continue
        checked += 1
        agreed += bool(p.follows_suggestion) and p.reason_code is None
    return checked, agreed


def _from_suggestion(p: Proposal) -> DecisionCreate:
    s = p.suggestion or {}
    partial = s.get("jurisdiction") == "partial"
    return DecisionCreate(
        expected_version=p.version,
        lead_unit=p.suggested_unit,
        co_units=list(s.get("co_units") or []),
        referral_departments=list(s.get("departments") or []) if partial else [],
    )


@dataclass
class BulkResult:
    confirmed: list[Proposal] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (id, why)


def bulk_confirm(
    db: Session,
    *,
    actor: str,
    due_days: int,
    session: str | None = None,
    ids: Sequence[int] | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> BulkResult:
    """Confirm every bulk-confirmable suggestion (of a 届次, or among ``ids``) as it stands.

    Each is recorded as its own decision with ``bulk`` in the audit event. A proposal whose
    stored suggestion no longer validates is skipped and named, never guessed.
    """
    if not session and not ids:
        raise InvalidError("批量确认须指定届次或建议序号。")
    now = now or utcnow()
    result = BulkResult()
    for p in bulk_candidates(db, session=session, ids=ids):
        try:
            body = _from_suggestion(p)
        except ValueError as exc:  # a unit renamed since the suggestion was stored
            result.skipped.append((p.id, str(exc)))
            continue
        decide(db, p.id, body, actor=actor, due_days=due_days, today=today, now=now, bulk=True)
        result.confirmed.append(p)
    return result


def undo_decision(
    db: Session,
    proposal_id: int,
    *,
    expected_version: int,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Proposal:
    """Return a decided proposal to 待分办 (撤销分办); the undone decision stays in the trail.

    Only while no unit has started on it (已分办 or 已退办).
    """
    now = now or utcnow()
    p = get_proposal(db, proposal_id)
    _check_version(p, expected_version)
    if p.decided_at is None:
        raise ConflictError("该建议尚未分办，无需撤销。", p.version)
    if p.status not in UNDOABLE:
        raise ConflictError(f"当前状态为“{p.status}”，承办单位已在办理，不能撤销分办。", p.version)
    undone = _decision_snapshot(p)
    old_status = p.status
    p.lead_unit = None
    p.co_units = []
    p.referral_departments = []
    p.referral_reason = None
    p.reason_code = None
    p.decision_note = None
    p.decided_by = None
    p.decided_at = None
    p.follows_suggestion = None
    p.due_on = None
    p.status = "待分办"
    data: dict[str, Any] = {"undone": undone, "status": [old_status, p.status], "note": note}
    p = _commit_change(db, p, expected_version, actor, "undone", data, now)
    sync_assignments(db, p, now.date())  # out of the unit's inbox again
    return p


# -- precedents ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Doc:
    words: dict[str, float]  # term frequency, places already weighted
    places: tuple[str, ...]


@lru_cache(maxsize=50_000)
def _doc(title: str, content: str) -> _Doc:
    text = prepare(title, content)
    found = text_places(text)
    counts: Counter[str] = Counter(tokenize(text))
    words = {w: 1.0 + math.log(c) for w, c in counts.items()}
    for name in found:
        words["§" + name] = PLACE_WEIGHT
    return _Doc(words, tuple(found))


@dataclass(frozen=True)
class Match:
    proposal: Proposal
    score: float
    words: list[str]  # shared words, heaviest first
    places: list[str]  # shared named places


def similar(
    db: Session,
    title: str,
    content: str,
    *,
    exclude_id: int | None = None,
    session: str | None = None,
    same_session: bool = False,
    decided_only: bool = False,
    limit: int = 5,
    min_score: float = 0.0,
) -> list[Match]:
    """Ledger proposals most like this text: TF-IDF cosine over words, places weighted.

    IDF comes from the ledger itself, so that words every proposal uses count for little.
    ``same_session`` keeps only the 届次 ``session``; ``decided_only`` only decided ones.
    """
    target = _doc(title, content)
    if not target.words:
        return []
    # only the texts to score (not whole rows): the few that match are loaded at the end
    stmt = select(Proposal.id, Proposal.title, Proposal.content)
    if same_session:
        if not session:
            return []
        stmt = stmt.where(Proposal.session == session)
    if decided_only:
        stmt = stmt.where(Proposal.decided_at.is_not(None))
    rows = [r for r in db.execute(stmt) if r.id != exclude_id]
    if not rows:
        return []
    docs = [_doc(r.title, r.content) for r in rows]
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.words.keys())
    n = len(docs) + 1

    def idf(word: str) -> float:
        return math.log((n + 1) / (df.get(word, 0) + 1)) + 1.0

    tvec = {w: v * idf(w) for w, v in target.words.items()}
    tnorm = math.sqrt(sum(v * v for v in tvec.values()))
    scored: list[tuple[float, int, dict[str, float]]] = []
    for i, d in enumerate(docs):
        shared = {w: tvec[w] * d.words[w] * idf(w) for w in d.words.keys() & tvec.keys()}
        if not shared:
            continue
        dnorm = math.sqrt(sum((v * idf(w)) ** 2 for w, v in d.words.items()))
        score = sum(shared.values()) / (tnorm * dnorm)
        if score >= min_score:
            scored.append((score, i, shared))
    scored.sort(key=lambda t: (-t[0], -rows[t[1]].id))
    top = scored[:limit]
    wanted = [rows[i].id for _s, i, _w in top]
    loaded = {p.id: p for p in db.scalars(select(Proposal).where(Proposal.id.in_(wanted)))}
    out = []
    for score, i, shared in top:
        heavy = sorted(shared, key=lambda w: -shared[w])
        named = [w[1:] for w in heavy if w.startswith("§")]
        words = [w for w in heavy if not w.startswith("§") and not any(w in x for x in named)]
        out.append(Match(loaded[rows[i].id], round(score, 4), words[:6], named))
    return out
