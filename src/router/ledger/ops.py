"""Ledger operations: plain functions over a SQLAlchemy session, no HTTP.

The caller owns the transaction: these functions add, change and flush, never commit, so
that an API request or a whole batch import is one transaction that commits or rolls back as
a unit. Every change appends an audit event in the same transaction, and every update checks
the row's version, so that a concurrent change fails loudly instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from pydantic import ValidationError
from sqlalchemy import Select, and_, case, func, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from router.core.suggestion import Decision
from router.core.text import clean_text, normalize, prepare
from router.labels import load_labels
from router.ledger.assign import sync_assignments
from router.ledger.models import OPEN_STATUSES, Proposal, ProposalEvent
from router.ledger.schemas import (
    DecisionCreate,
    DecisionPublic,
    EvaluationCreate,
    EventPublic,
    ProposalCreate,
    ProposalDetail,
    ProposalPublic,
    StatusChange,
)

# Status changes a unit's progress can make; 已分办 and 已退办 come only from a decision.
_TRANSITIONS: dict[str, tuple[str, ...]] = {"已分办": ("办理中", "已答复"), "办理中": ("已答复",)}
_CHUNK = 500


class LedgerError(Exception):
    """A ledger rule refused the change; ``message`` is for the dispatcher (Chinese)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(LedgerError):
    pass


class InvalidError(LedgerError):
    """The request breaks a ledger rule whatever the current state (HTTP 422)."""


class ConflictError(LedgerError):
    """The proposal changed since the client saw it, or its state forbids this (HTTP 409)."""

    def __init__(self, message: str, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


T = TypeVar("T")


class DuplicateError(ConflictError):
    """Someone registered the same number and session at the same moment; retrying is safe."""


@dataclass(frozen=True)
class Registered:
    proposal: Proposal
    created: bool
    same: bool  # the stored text and deputy equal the submitted ones


class Example(NamedTuple):
    """One decided proposal as training data; ``label`` is the outside label for referrals.

    ``decided_by`` and the suggestion's fields say where the label came from: who decided,
    and what the model proposed (for provenance and for calibration).
    """

    title: str
    content: str
    label: str
    departments: list[str]
    decided_by: str = ""
    suggested_label: str = ""
    suggested_confidence: float | None = None
    model_version: str = ""


@dataclass(frozen=True)
class ProposalFilter:
    session: str | None = None
    unit: str | None = None  # lead unit, or the outside label for referrals
    status: str | None = None
    overdue: bool | None = None
    q: str | None = None
    limit: int = 100
    offset: int = 0
    sort: str | None = None  # a key of SORTS, "-" first for descending; None: overdue first


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- registration -------------------------------------------------------------------------
def commit_retrying(db: Session, work: Callable[[], T]) -> T:
    """Run ``work`` and commit, rolling back on any failure.

    A proposal registered by another writer between our look and our insert (DuplicateError)
    is found on the one retry; the command line and the API register through this alone.
    """
    for attempt in (1, 2):
        try:
            result = work()
            db.commit()
            return result
        except DuplicateError:
            db.rollback()
            if attempt == 2:
                raise
        except BaseException:
            db.rollback()
            raise
    raise AssertionError("unreachable")


def register_proposals(
    db: Session,
    items: Sequence[ProposalCreate],
    suggestions: Sequence[Decision],
    *,
    actor: str,
    now: datetime | None = None,
    texts: Sequence[str] | None = None,
) -> list[Registered]:
    """Register proposals with the model's suggestions, idempotently; does not commit.

    ``suggestions[i]`` is :func:`router.core.routing.route`'s decision for ``items[i]`` (route them
    with :func:`router.core.routing.route_many` first and leave out the items it refuses). A
    proposal is identified by (session, number): one already in the ledger, or repeated in
    ``items``, is not registered again; its result has ``created=False`` and says whether the
    stored text is the ``same``. New rows start as 待分办 with the suggestion and the model
    version recorded, and an audit event each.

    Call it inside one transaction (``with db.begin(): ...`` or ``db.commit()`` after) to
    register a whole batch or nothing. Raises :class:`DuplicateError` when another
    transaction registers one of the same numbers concurrently: roll back and call again,
    the second call finds those rows and skips them. ``texts``, each item's prepared text
    where routing made it, spares preparing it again.
    """
    if len(items) != len(suggestions) or (texts is not None and len(texts) != len(items)):
        raise ValueError("items and suggestions must have the same length")
    now = now or utcnow()
    seen = _existing(db, items)
    results = []
    for k, (item, suggestion) in enumerate(zip(items, suggestions, strict=True)):
        key = (item.session, item.number)
        found = seen.get(key)
        if found is not None:
            results.append(Registered(found, created=False, same=_same(found, item)))
            continue
        if not (texts[k] if texts is not None else prepare(item.title, item.content)):
            raise InvalidError(f"编号 {item.number}：标题和内容不能同时为空。")
        proposal = _new_proposal(item, suggestion, actor, now)
        db.add(proposal)
        seen[key] = proposal
        results.append(Registered(proposal, created=True, same=True))
    try:
        db.flush()
    except IntegrityError as exc:
        raise DuplicateError("同一届次、同一编号的建议正被同时登记，请重试。") from exc
    return results


def register_proposal(
    db: Session,
    item: ProposalCreate,
    suggestion: Decision,
    *,
    actor: str,
    now: datetime | None = None,
) -> Registered:
    """One proposal; see :func:`register_proposals`."""
    return register_proposals(db, [item], [suggestion], actor=actor, now=now)[0]


def _existing(db: Session, items: Sequence[ProposalCreate]) -> dict[tuple[str, str], Proposal]:
    numbers = sorted({it.number for it in items})
    wanted = {(it.session, it.number) for it in items}
    found: dict[tuple[str, str], Proposal] = {}
    for i in range(0, len(numbers), _CHUNK):
        rows = db.scalars(select(Proposal).where(Proposal.number.in_(numbers[i : i + _CHUNK])))
        for p in rows:
            if (p.session, p.number) in wanted:
                found[(p.session, p.number)] = p
    return found


def _same(p: Proposal, item: ProposalCreate) -> bool:
    return (p.kind, p.title, p.content, p.deputy_name, p.deputy_unit) == (
        item.kind,
        item.title,
        item.content,
        item.deputy_name,
        item.deputy_unit,
    )


def _new_proposal(item: ProposalCreate, s: Decision, actor: str, now: datetime) -> Proposal:
    proposal = Proposal(
        number=item.number,
        session=item.session,
        kind=item.kind,
        deputy_name=item.deputy_name,
        deputy_unit=item.deputy_unit,
        title=item.title,
        content=item.content,
        received_on=item.received_on,
        suggested_unit=s.unit,
        suggested_confidence=s.confidence,
        suggested_jurisdiction=s.jurisdiction,
        needs_review=s.needs_review,
        model_version=s.model_version,
        suggestion=s.model_dump(mode="json"),
        co_units=[],
        referral_departments=[],
        status="待分办",
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    proposal.events.append(
        ProposalEvent(
            at=now,
            actor=actor,
            action="registered",
            version=1,
            data={
                "model_version": s.model_version,
                "suggested_unit": s.unit,
                "confidence": s.confidence,
                "jurisdiction": s.jurisdiction,
            },
        )
    )
    return proposal


# -- changes ------------------------------------------------------------------------------
def get_proposal(db: Session, proposal_id: int, *, with_events: bool = False) -> Proposal:
    stmt = select(Proposal).where(Proposal.id == proposal_id)
    if with_events:
        stmt = stmt.options(selectinload(Proposal.events))
    proposal = db.scalars(stmt).one_or_none()
    if proposal is None:
        raise NotFoundError(f"台账中没有序号为 {proposal_id} 的建议。")
    return proposal


def decide(
    db: Session,
    proposal_id: int,
    decision: DecisionCreate,
    *,
    actor: str,
    due_days: int,
    today: date | None = None,
    now: datetime | None = None,
    bulk: bool = False,
) -> Proposal:
    """Record the dispatcher's decision (分办 or 转出); a change of decision keeps the old one.

    A decision that differs from the suggestion, and any re-decision, needs a reason code.
    The lead unit gets a due date ``due_days`` after today unless one is given. ``bulk``
    marks the audit event as one of a bulk confirmation (批量确认).
    """
    now, today = now or utcnow(), today or date.today()
    p = get_proposal(db, proposal_id)
    _check_version(p, decision.expected_version)
    if p.status == "已答复":
        raise ConflictError("已答复的建议不能重新分办。", p.version)
    previous = _decision_snapshot(p) if p.decided_at is not None else None
    follows = decision.lead_unit == p.suggested_unit
    if previous is not None and decision.reason_code is None:
        raise InvalidError(
            "该建议已经分办过，重新分办须选择原因（模型错误、多部门、职责调整、其他）。"
        )
    if not follows and decision.reason_code is None:
        raise InvalidError(
            "分办结果与模型建议不同，请选择原因（模型错误、多部门、职责调整、其他）。"
        )
    old_status = p.status
    p.lead_unit = decision.lead_unit
    p.co_units = list(decision.co_units)
    p.referral_departments = list(decision.referral_departments)
    p.referral_reason = decision.referral_reason
    p.reason_code = decision.reason_code
    p.decision_note = decision.note
    p.decided_by = actor
    p.decided_at = now
    p.follows_suggestion = follows
    if decision.lead_unit is not None:
        p.status = "已分办"
        p.due_on = decision.due_on or today + timedelta(days=due_days)
    else:
        p.status = "已退办"
        p.due_on = None
    p.replied_on = None
    action = "redecided" if previous is not None else "decided"
    data: dict[str, Any] = {
        "decision": _decision_snapshot(p),
        "previous": previous,
        "status": [old_status, p.status],
    }
    if bulk:
        data["bulk"] = True
    p = _commit_change(db, p, decision.expected_version, actor, action, data, now)
    sync_assignments(db, p, today)
    return p


def change_status(
    db: Session,
    proposal_id: int,
    change: StatusChange,
    *,
    actor: str,
    today: date | None = None,
    now: datetime | None = None,
) -> Proposal:
    """Move a decided proposal along 已分办 → 办理中 → 已答复."""
    now, today = now or utcnow(), today or date.today()
    if change.status not in ("办理中", "已答复"):
        raise InvalidError(f"状态“{change.status}”由分办决定设置，不能直接修改。")
    p = get_proposal(db, proposal_id)
    _check_version(p, change.expected_version)
    if change.status not in _TRANSITIONS.get(p.status, ()):
        raise ConflictError(f"当前状态为“{p.status}”，不能改为“{change.status}”。", p.version)
    old = p.status
    p.status = change.status
    if change.status == "已答复":
        p.replied_on = change.replied_on or today
    data: dict[str, Any] = {"status": [old, p.status], "note": change.note}
    if p.replied_on is not None:
        data["replied_on"] = p.replied_on.isoformat()
    return _commit_change(db, p, change.expected_version, actor, "status", data, now)


def record_evaluation(
    db: Session, proposal_id: int, ev: EvaluationCreate, *, actor: str, now: datetime | None = None
) -> Proposal:
    """The deputy's evaluation of the reply; a later one keeps the earlier in the trail."""
    now = now or utcnow()
    p = get_proposal(db, proposal_id)
    _check_version(p, ev.expected_version)
    if p.status != "已答复":
        raise ConflictError("答复之后才能登记代表的评价。", p.version)
    data = {"evaluation": [p.evaluation, ev.evaluation], "note": ev.note}
    p.evaluation = ev.evaluation
    return _commit_change(db, p, ev.expected_version, actor, "evaluated", data, now)


def _check_version(p: Proposal, expected: int) -> None:
    if p.version != expected:
        raise ConflictError(
            f"该建议已被他人修改（当前版本 {p.version}，您看到的是版本 {expected}），请刷新后再操作。",
            p.version,
        )


def _commit_change(
    db: Session,
    p: Proposal,
    expected: int,
    actor: str,
    action: str,
    data: dict[str, Any],
    now: datetime,
) -> Proposal:
    p.updated_at = now
    with db.no_autoflush:  # loading the events must not flush the change outside the check below
        p.events.append(
            ProposalEvent(at=now, actor=actor, action=action, version=expected + 1, data=data)
        )
    try:
        db.flush()
    except StaleDataError as exc:
        raise ConflictError("该建议刚被他人修改，您的操作未保存，请刷新后再操作。") from exc
    return p


def _decision_snapshot(p: Proposal) -> dict[str, Any]:
    return {
        "lead_unit": p.lead_unit,
        "co_units": list(p.co_units),
        "referral_departments": list(p.referral_departments),
        "referral_reason": p.referral_reason,
        "reason_code": p.reason_code,
        "note": p.decision_note,
        "decided_by": p.decided_by,
        "decided_at": p.decided_at.isoformat() if p.decided_at else None,
        "due_on": p.due_on.isoformat() if p.due_on else None,
    }


# -- reading ------------------------------------------------------------------------------
def overdue_clause(today: date) -> Any:
    return and_(Proposal.status.in_(OPEN_STATUSES), Proposal.due_on < today)


def query_text(value: str | None, what: str) -> str:
    """A filter's text as the stored values are: cleaned, NFKC, spaces folded."""
    if not value:
        return ""
    try:
        return normalize(clean_text(value, multiline=False, fold=True))
    except ValueError as exc:
        raise InvalidError(f"{what}{exc}。") from exc


def _typed_query(value: str | None) -> str:
    try:
        return clean_text(value or "", multiline=False) or ""
    except ValueError:
        return ""


def _filtered(flt: ProposalFilter, today: date) -> Select[Proposal]:
    stmt = select(Proposal)
    session = query_text(flt.session, "届次")
    q = query_text(flt.q, "查询文字")
    # title and body are stored as typed (a deputy's own words are not folded): match them on
    # the query as typed, cleaned, and on its folded form
    typed = _typed_query(flt.q)
    if session:
        stmt = stmt.where(Proposal.session == session)
    if flt.status:
        stmt = stmt.where(Proposal.status == flt.status)
    wanted = query_text(flt.unit, "承办单位")
    if wanted:
        labels = load_labels()
        try:
            unit = labels.canonical(wanted)
        except ValueError as exc:
            raise InvalidError(f"未知的承办单位：{wanted}") from exc
        if unit == labels.outside:
            stmt = stmt.where(Proposal.lead_unit.is_(None), Proposal.decided_at.is_not(None))
        else:
            stmt = stmt.where(Proposal.lead_unit == unit)
    if flt.overdue is not None:
        clause = overdue_clause(today)
        stmt = stmt.where(clause if flt.overdue else ~clause)
    if q:
        stmt = stmt.where(
            or_(
                Proposal.number.contains(q, autoescape=True),
                Proposal.title.contains(q, autoescape=True),
                Proposal.title.contains(typed, autoescape=True),
                Proposal.content.contains(q, autoescape=True),
                Proposal.content.contains(typed, autoescape=True),
                Proposal.deputy_name.contains(q, autoescape=True),
            )
        )
    return stmt


# The ledger view's sortable columns (the API's ``sort``; "-number" sorts descending).
SORTS: dict[str, Any] = {
    "number": Proposal.number,
    "session": Proposal.session,
    "title": Proposal.title,
    "deputy": Proposal.deputy_name,
    "unit": Proposal.lead_unit,
    "suggested": Proposal.suggested_unit,
    "confidence": Proposal.suggested_confidence,
    "status": Proposal.status,
    "due_on": Proposal.due_on,
    "received_on": Proposal.received_on,
    "updated_at": Proposal.updated_at,
}


def _ordered(stmt: Select[Proposal], flt: ProposalFilter, today: date) -> Select[Proposal]:
    key = (flt.sort or "").strip()
    column = SORTS.get(key.lstrip("-"))
    if column is None:
        if key:
            raise InvalidError(f"无法按“{key}”排序（可选：{'、'.join(SORTS)}）。")
        return stmt.order_by(
            case((overdue_clause(today), 0), else_=1),
            case((Proposal.due_on.is_(None), 1), else_=0),
            Proposal.due_on,
            Proposal.id.desc(),
        )
    nulls_last = case((column.is_(None), 1), else_=0)
    order = column.desc() if key.startswith("-") else column.asc()
    return stmt.order_by(nulls_last, order, Proposal.id)


def list_proposals(
    db: Session, flt: ProposalFilter, *, today: date | None = None
) -> tuple[int, list[Proposal]]:
    """Matching proposals, overdue first (longest overdue first), then by due date, newest.

    ``flt.sort`` orders by one column instead (blanks last, then by id).
    """
    today = today or date.today()
    stmt = _filtered(flt, today)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ordered = _ordered(stmt, flt, today)
    rows = list(db.scalars(ordered.limit(flt.limit).offset(flt.offset)))
    return total, rows


def decided_examples(db: Session) -> list[Example]:
    """Every confirmed or corrected decision as (title, content, label, departments).

    ``label`` is the decided lead unit, or the outside label for a referral; ``departments``
    are the departments it was referred to (wholly or in part). Undecided items are left out.
    """
    outside = load_labels().outside
    if not inspect(db.get_bind()).has_table(Proposal.__tablename__):
        return []  # a ledger never served (or not yet migrated) has no decisions
    rows = db.scalars(
        select(Proposal).where(Proposal.decided_at.is_not(None)).order_by(Proposal.id)
    )
    return [
        Example(
            p.title,
            p.content,
            p.lead_unit or outside,
            list(p.referral_departments),
            p.decided_by or "",
            p.suggested_unit or outside,
            p.suggested_confidence,
            p.model_version,
        )
        for p in rows
    ]


def recent_texts(db: Session, limit: int) -> list[tuple[str, str]]:
    """The ``limit`` most recently registered proposals as (title, content), newest first."""
    if limit <= 0 or not inspect(db.get_bind()).has_table(Proposal.__tablename__):
        return []
    rows = db.execute(
        select(Proposal.title, Proposal.content).order_by(Proposal.id.desc()).limit(limit)
    )
    return [(t, c) for t, c in rows]


def days_overdue(p: Proposal, today: date) -> int:
    if p.status in OPEN_STATUSES and p.due_on is not None and p.due_on < today:
        return (today - p.due_on).days
    return 0


def to_public(p: Proposal, today: date) -> ProposalPublic:
    return ProposalPublic.model_validate(_public_fields(p, today))


def to_detail(p: Proposal, today: date) -> ProposalDetail:
    try:
        suggestion: Decision | None = Decision.model_validate(p.suggestion)
    except ValidationError:  # stored by an older Decision schema; the flat fields remain
        suggestion = None
    events = [
        EventPublic.model_validate(
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "version": e.version,
                "data": e.data,
            }
        )
        for e in p.events
    ]
    return ProposalDetail.model_validate(
        {
            **_public_fields(p, today),
            "text": prepare(p.title, p.content),
            "suggestion": suggestion,
            "events": events,
        }
    )


def _public_fields(p: Proposal, today: date) -> dict[str, Any]:
    late = days_overdue(p, today)
    decision = None
    if p.decided_at is not None:
        decision = DecisionPublic(
            lead_unit=p.lead_unit,
            co_units=list(p.co_units),
            referral_departments=list(p.referral_departments),
            referral_reason=p.referral_reason,
            reason_code=p.reason_code,  # type: ignore[arg-type]
            note=p.decision_note,
            decided_by=p.decided_by or "",
            decided_at=p.decided_at,
            follows_suggestion=bool(p.follows_suggestion),
        )
    return {
        "id": p.id,
        "number": p.number,
        "session": p.session,
        "kind": p.kind,
        "deputy_name": p.deputy_name,
        "deputy_unit": p.deputy_unit,
        "title": p.title,
        "content": p.content,
        "received_on": p.received_on,
        "suggested_unit": p.suggested_unit,
        "suggested_confidence": p.suggested_confidence,
        "suggested_jurisdiction": p.suggested_jurisdiction,
        "needs_review": p.needs_review,
        "model_version": p.model_version,
        "decision": decision,
        "status": p.status,
        "due_on": p.due_on,
        "replied_on": p.replied_on,
        "evaluation": p.evaluation,
        "overdue": late > 0,
        "days_overdue": late,
        "created_by": p.created_by,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "version": p.version,
    }
