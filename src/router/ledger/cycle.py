"""The handling cycle after 分办: 签收, 退办 and 延期 requests, replies, 退回重办, 督办.

The units' side and the office's answers to it, as plain functions over a session like the
rest of the ledger (flush, never commit). Every change appends an event to the proposal's
audit trail under the account that made it, and bumps the proposal's version.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from router.ledger.accounts import UNIT_ROLE, Account
from router.ledger.assign import CO, LEAD, Assignment
from router.ledger.models import OPEN_STATUSES, Base, Proposal, ProposalEvent, UTCDateTime
from router.ledger.ops import (
    ConflictError,
    InvalidError,
    LedgerError,
    NotFoundError,
    get_proposal,
    utcnow,
)
from router.ledger.workdays import add_workdays

RETURN, EXTEND = "退办", "延期"
PENDING, APPROVED, REFUSED = "待审批", "已同意", "已拒绝"
VALID, SENT_BACK = "有效", "退回重办"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = "application/pdf"


class ForbiddenError(LedgerError):
    """The account may not do this (HTTP 403)."""


class UnitRequest(Base):
    """A unit's 申请退办 or 申请延期, and the office's answer."""

    __tablename__ = "unit_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('退办', '延期')", name="kind"),
        CheckConstraint("status IN ('待审批', '已同意', '已拒绝')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    unit: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(4))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[date | None] = mapped_column(Date)  # the new deadline asked for (延期)
    status: Mapped[str] = mapped_column(String(4))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)


class Reply(Base):
    """A unit's uploaded reply (.docx or .pdf), kept whole with its SHA-256."""

    __tablename__ = "replies"
    __table_args__ = (CheckConstraint("status IN ('有效', '退回重办')", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    unit: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(8))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    returned_by: Mapped[str | None] = mapped_column(String(100))
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_note: Mapped[str | None] = mapped_column(Text)


class KeySupervision(Base):
    """An item marked 重点督办 by the office (one row per item, switched on and off)."""

    __tablename__ = "key_supervisions"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    marked_by: Mapped[str] = mapped_column(String(100))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SupervisionNotice(Base):
    """A 督办通知 written for one unit: when, by whom, which items, and the file's checksum."""

    __tablename__ = "supervision_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit: Mapped[str] = mapped_column(String(32), index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


# -- helpers ------------------------------------------------------------------------------
def _record(
    db: Session, p: Proposal, actor: str, action: str, data: dict[str, Any], now: datetime
) -> Proposal:
    """Bump the proposal's version and append the event, in the caller's transaction."""
    p.updated_at = now
    try:
        db.flush()
    except StaleDataError as exc:
        raise ConflictError("该建议刚被他人修改，您的操作未保存，请刷新后再操作。") from exc
    with db.no_autoflush:
        p.events.append(
            ProposalEvent(at=now, actor=actor, action=action, version=p.version, data=data)
        )
    db.flush()
    return p


def _text(value: str | None, what: str, limit: int = 2000) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidError(f"请填写{what}。")
    if len(value) > limit:
        raise InvalidError(f"{what}过长（上限 {limit} 字）。")
    return value


def assignment_of(db: Session, proposal_id: int, unit: str) -> Assignment | None:
    return db.scalar(
        select(Assignment).where(Assignment.proposal_id == proposal_id, Assignment.unit == unit)
    )


def _unit_item(db: Session, proposal_id: int, who: Account) -> tuple[Proposal, Assignment]:
    """The proposal and this unit's assignment on it; another unit's item is refused."""
    if who.role != UNIT_ROLE or who.unit is None:
        raise ForbiddenError("只有承办单位经办人可以办理本单位的建议。")
    p = get_proposal(db, proposal_id)
    a = assignment_of(db, proposal_id, who.unit)
    if a is None:
        raise ForbiddenError("该建议不在本单位的收件箱中。")
    return p, a


def can_read(db: Session, proposal_id: int, who: Account) -> bool:
    if who.reads_all:
        return True
    return who.unit is not None and assignment_of(db, proposal_id, who.unit) is not None


def _open(p: Proposal) -> None:
    if p.status not in OPEN_STATUSES:
        raise ConflictError(f"该建议当前状态为“{p.status}”，不在办理中。", p.version)


# -- the unit's side -----------------------------------------------------------------------
def sign(db: Session, proposal_id: int, who: Account, *, now: datetime | None = None) -> Proposal:
    """签收: the unit acknowledges the item; the lead's 签收 moves it to 办理中."""
    now = now or utcnow()
    p, a = _unit_item(db, proposal_id, who)
    _open(p)
    if a.signed_at is not None:
        raise ConflictError(f"本单位已于 {a.signed_at:%Y-%m-%d} 签收。", p.version)
    a.signed_at, a.signed_by = now, who.name
    old = p.status
    if a.role == LEAD and p.status == "已分办":
        p.status = "办理中"
    return _record(
        db, p, who.name, "signed", {"unit": a.unit, "role": a.role, "status": [old, p.status]}, now
    )


def return_window_ends(a: Assignment, window: int) -> date:
    return add_workdays(a.assigned_on, window)


def ask_return(
    db: Session,
    proposal_id: int,
    who: Account,
    reason: str,
    *,
    window: int,
    today: date,
    now: datetime | None = None,
) -> UnitRequest:
    """申请退办, within ``window`` working days of the assignment."""
    now = now or utcnow()
    p, a = _unit_item(db, proposal_id, who)
    _open(p)
    reason = _text(reason, "退办理由")
    ends = return_window_ends(a, window)
    if today > ends:
        raise ConflictError(
            f"退办须在分办后 {window} 个工作日内申请（本件截至 {ends.isoformat()}），已超过期限；"
            "如确非本单位职责，请与督查室联系。",
            p.version,
        )
    return _ask(db, p, a.unit, who.name, RETURN, reason, None, now)


def ask_extension(
    db: Session,
    proposal_id: int,
    who: Account,
    reason: str,
    until: date,
    *,
    now: datetime | None = None,
) -> UnitRequest:
    """申请延期 to ``until``; only the lead unit, while the item is open."""
    now = now or utcnow()
    p, a = _unit_item(db, proposal_id, who)
    _open(p)
    if a.role != LEAD:
        raise ForbiddenError("只有主办单位可以申请延期；会办单位请向主办单位反映。")
    reason = _text(reason, "延期理由")
    if p.due_on is not None and until <= p.due_on:
        raise InvalidError(f"申请的期限应晚于现在的办理期限 {p.due_on.isoformat()}。")
    return _ask(db, p, a.unit, who.name, EXTEND, reason, until, now)


def _ask(
    db: Session,
    p: Proposal,
    unit: str,
    actor: str,
    kind: str,
    reason: str,
    until: date | None,
    now: datetime,
) -> UnitRequest:
    pending = db.scalar(
        select(UnitRequest).where(
            UnitRequest.proposal_id == p.id,
            UnitRequest.unit == unit,
            UnitRequest.kind == kind,
            UnitRequest.status == PENDING,
        )
    )
    if pending is not None:
        raise ConflictError(f"本单位的{kind}申请正在等待督查室审批。", p.version)
    req = UnitRequest(
        proposal_id=p.id,
        unit=unit,
        kind=kind,
        reason=reason,
        until=until,
        status=PENDING,
        requested_by=actor,
        requested_at=now,
    )
    db.add(req)
    db.flush()
    data: dict[str, Any] = {"request": req.id, "unit": unit, "reason": reason}
    if until is not None:
        data["until"] = until.isoformat()
    _record(db, p, actor, "return_asked" if kind == RETURN else "extend_asked", data, now)
    return req


def answer_request(
    db: Session,
    request_id: int,
    who: Account,
    *,
    approve: bool,
    note: str | None,
    now: datetime | None = None,
) -> UnitRequest:
    """The office's answer. An approved 退办 of the lead re-opens 分办 (待分办, decision
    cleared and kept in the trail); of a co-unit, drops that unit. An approved 延期 moves the
    deadline."""
    now = now or utcnow()
    if not who.is_office:
        raise ForbiddenError("只有督查室（分办人员）可以审批退办和延期。")
    req = db.get(UnitRequest, request_id)
    if req is None:
        raise NotFoundError(f"没有编号为 {request_id} 的申请。")
    p = get_proposal(db, req.proposal_id)
    if req.status != PENDING:
        raise ConflictError(f"该申请已{req.status}。", p.version)
    note = (note or "").strip() or None
    if not approve and note is None:
        raise InvalidError("不同意时请写明理由，以便承办单位知晓。")
    req.status = APPROVED if approve else REFUSED
    req.decided_by, req.decided_at, req.decision_note = who.name, now, note
    data: dict[str, Any] = {"request": req.id, "unit": req.unit, "note": note}
    if not approve:
        _record(
            db, p, who.name, "return_refused" if req.kind == RETURN else "extend_refused", data, now
        )
        return req
    if req.kind == EXTEND:
        data["due_on"] = [
            p.due_on.isoformat() if p.due_on else None,
            req.until.isoformat() if req.until else None,
        ]
        p.due_on = req.until
        _record(db, p, who.name, "extend_approved", data, now)
        return req
    a = assignment_of(db, p.id, req.unit)
    if a is not None and a.role == CO:
        p.co_units = [u for u in p.co_units if u != req.unit]
        db.delete(a)
        data["co_units"] = list(p.co_units)
    else:
        data["previous"] = {
            "lead_unit": p.lead_unit,
            "co_units": list(p.co_units),
            "decided_by": p.decided_by,
            "decided_at": p.decided_at.isoformat() if p.decided_at else None,
            "due_on": p.due_on.isoformat() if p.due_on else None,
        }
        data["status"] = [p.status, "待分办"]
        p.lead_unit, p.co_units, p.referral_departments = None, [], []
        p.referral_reason = p.reason_code = p.decision_note = p.decided_by = None
        p.decided_at, p.follows_suggestion, p.due_on, p.replied_on = None, None, None, None
        p.status = "待分办"
        for row in db.scalars(select(Assignment).where(Assignment.proposal_id == p.id)):
            db.delete(row)
        for other in db.scalars(
            select(UnitRequest).where(
                UnitRequest.proposal_id == p.id,
                UnitRequest.status == PENDING,
                UnitRequest.id != req.id,
            )
        ):
            other.status, other.decided_by, other.decided_at = REFUSED, who.name, now
            other.decision_note = "该建议已退回重新分办。"
    _record(db, p, who.name, "return_approved", data, now)
    return req


def check_reply_file(filename: str, data: bytes, max_bytes: int) -> tuple[str, str]:
    """(clean file name, content type) of a reply upload, or a Chinese refusal."""
    name = re.sub(r"[\x00-\x1f/\\:*?\"<>|]", "_", (filename or "").strip())[-200:] or "答复"
    if not data:
        raise InvalidError("上传的答复文件是空的。")
    if len(data) > max_bytes:
        raise InvalidError(f"答复文件超过 {max_bytes // (1024 * 1024)} MB 的上限。")
    lower = name.lower()
    if lower.endswith(".pdf"):
        if not data.startswith(b"%PDF-"):
            raise InvalidError(f"{name} 不是有效的 PDF 文件（文件头不符）。")
        return name, PDF
    if lower.endswith(".docx"):
        if not data.startswith(b"PK\x03\x04"):
            raise InvalidError(f"{name} 不是有效的 Word（.docx）文件（文件头不符）。")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                if "word/document.xml" not in z.namelist():
                    raise InvalidError(f"{name} 不是 Word 文档（缺少 word/document.xml）。")
        except zipfile.BadZipFile as exc:
            raise InvalidError(f"{name} 已损坏，无法作为 .docx 打开。") from exc
        return name, DOCX
    raise InvalidError("答复只接受 .docx 或 .pdf 文件。")


def upload_reply(
    db: Session,
    proposal_id: int,
    who: Account,
    filename: str,
    data: bytes,
    *,
    max_bytes: int,
    today: date,
    now: datetime | None = None,
) -> Reply:
    """The lead unit's reply: stored with its SHA-256; the item becomes 已答复."""
    now = now or utcnow()
    p, a = _unit_item(db, proposal_id, who)
    if a.role != LEAD:
        raise ForbiddenError("答复由主办单位上传；会办单位请填写会办意见，交主办单位。")
    _open(p)
    name, ctype = check_reply_file(filename, data, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    reply = Reply(
        proposal_id=p.id,
        unit=a.unit,
        filename=name,
        content_type=ctype,
        size=len(data),
        sha256=digest,
        data=data,
        status=VALID,
        uploaded_by=who.name,
        uploaded_at=now,
    )
    db.add(reply)
    if a.signed_at is None:
        a.signed_at, a.signed_by = now, who.name
    old = p.status
    p.status, p.replied_on = "已答复", today
    db.flush()
    _record(
        db,
        p,
        who.name,
        "replied",
        {
            "reply": reply.id,
            "unit": a.unit,
            "filename": name,
            "size": len(data),
            "sha256": digest,
            "status": [old, p.status],
            "replied_on": today.isoformat(),
        },
        now,
    )
    return reply


def give_opinion(
    db: Session, proposal_id: int, who: Account, opinion: str, *, now: datetime | None = None
) -> Assignment:
    """A co-handling unit's opinion to the lead unit (a later one replaces it, the trail keeps both)."""
    now = now or utcnow()
    p, a = _unit_item(db, proposal_id, who)
    if a.role != CO:
        raise ForbiddenError("会办意见由会办单位填写；主办单位请上传答复。")
    _open(p)
    opinion = _text(opinion, "会办意见", 5000)
    a.opinion, a.opinion_by, a.opinion_at = opinion, who.name, now
    if a.signed_at is None:
        a.signed_at, a.signed_by = now, who.name
    _record(db, p, who.name, "opinion", {"unit": a.unit, "opinion": opinion}, now)
    return a


def send_back(
    db: Session, proposal_id: int, who: Account, note: str, *, now: datetime | None = None
) -> Reply:
    """退回重办: a poor reply goes back to the lead unit with a note; the item is 办理中 again."""
    now = now or utcnow()
    if who.role not in ("分办人员", "审核领导", "管理员"):
        raise ForbiddenError("只有督查室或审核领导可以退回重办。")
    note = _text(note, "退回意见")
    p = get_proposal(db, proposal_id)
    if p.status != "已答复":
        raise ConflictError("只有已答复的建议可以退回重办。", p.version)
    reply = latest_reply(db, p.id)
    if reply is None:
        raise ConflictError("该建议没有上传的答复，无法退回重办（请用状态修改）。", p.version)
    reply.status, reply.returned_by, reply.returned_at, reply.return_note = (
        SENT_BACK,
        who.name,
        now,
        note,
    )
    p.status, p.replied_on, p.evaluation = "办理中", None, None
    return_data = {
        "reply": reply.id,
        "unit": reply.unit,
        "note": note,
        "status": ["已答复", "办理中"],
    }
    _record(db, p, who.name, "reply_returned", return_data, now)
    return reply


def latest_reply(db: Session, proposal_id: int) -> Reply | None:
    return db.scalar(
        select(Reply)
        .where(Reply.proposal_id == proposal_id, Reply.status == VALID)
        .order_by(Reply.id.desc())
        .limit(1)
    )


def replies_of(db: Session, proposal_id: int) -> list[Reply]:
    return list(
        db.scalars(select(Reply).where(Reply.proposal_id == proposal_id).order_by(Reply.id))
    )


def get_reply(db: Session, reply_id: int, who: Account) -> Reply:
    reply = db.get(Reply, reply_id)
    if reply is None or not can_read(db, reply.proposal_id, who):
        raise NotFoundError(f"没有编号为 {reply_id} 的答复。")
    return reply


def requests_of(db: Session, proposal_id: int) -> list[UnitRequest]:
    return list(
        db.scalars(
            select(UnitRequest)
            .where(UnitRequest.proposal_id == proposal_id)
            .order_by(UnitRequest.id)
        )
    )


def pending_requests(db: Session) -> list[tuple[UnitRequest, Proposal]]:
    rows = db.execute(
        select(UnitRequest, Proposal)
        .join(Proposal, Proposal.id == UnitRequest.proposal_id)
        .where(UnitRequest.status == PENDING)
        .order_by(UnitRequest.requested_at)
    )
    return [(r, p) for r, p in rows]


# -- lists ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class InboxRow:
    proposal: Proposal
    assignment: Assignment
    return_ends: date | None  # None when the calendar does not know the dates
    pending: tuple[str, ...] = ()  # this unit's requests waiting for the office (退办, 延期)


def inbox(db: Session, unit: str, *, window: int, open_only: bool = False) -> list[InboxRow]:
    stmt = (
        select(Proposal, Assignment)
        .join(Assignment, Assignment.proposal_id == Proposal.id)
        .where(Assignment.unit == unit)
    )
    if open_only:
        stmt = stmt.where(Proposal.status.in_(OPEN_STATUSES))
    stmt = stmt.order_by(Proposal.due_on.is_(None), Proposal.due_on, Proposal.id)
    waiting: dict[int, list[str]] = {}
    for pid, kind in db.execute(
        select(UnitRequest.proposal_id, UnitRequest.kind).where(
            UnitRequest.unit == unit, UnitRequest.status == PENDING
        )
    ):
        waiting.setdefault(pid, []).append(kind)
    out = []
    for p, a in db.execute(stmt):
        try:
            ends: date | None = return_window_ends(a, window)
        except InvalidError:
            ends = None
        out.append(InboxRow(p, a, ends, tuple(sorted(waiting.get(p.id, [])))))
    return out


def due_lists(
    db: Session, today: date, soon_until: date, *, unit: str | None = None
) -> tuple[list[Proposal], list[Proposal]]:
    """(overdue, due soon) open items, each sorted by deadline; for one unit: its items."""
    stmt = select(Proposal).where(Proposal.status.in_(OPEN_STATUSES), Proposal.due_on.is_not(None))
    if unit is not None:
        stmt = stmt.join(Assignment, Assignment.proposal_id == Proposal.id).where(
            Assignment.unit == unit
        )
    rows = list(db.scalars(stmt.order_by(Proposal.due_on, Proposal.id)))
    overdue = [p for p in rows if p.due_on is not None and p.due_on < today]
    soon = [p for p in rows if p.due_on is not None and today <= p.due_on <= soon_until]
    return overdue, soon


def key_items(db: Session) -> set[int]:
    return set(
        db.scalars(select(KeySupervision.proposal_id).where(KeySupervision.active.is_(True)))
    )


def mark_key(
    db: Session,
    proposal_id: int,
    who: Account,
    *,
    on: bool,
    note: str | None,
    now: datetime | None = None,
) -> Proposal:
    """重点督办 on or off."""
    now = now or utcnow()
    if not who.is_office:
        raise ForbiddenError("只有督查室可以标记重点督办。")
    p = get_proposal(db, proposal_id)
    row = db.get(KeySupervision, proposal_id)
    if row is None:
        row = KeySupervision(
            proposal_id=proposal_id, active=on, note=note, marked_by=who.name, marked_at=now
        )
        db.add(row)
    else:
        row.active, row.note, row.marked_by, row.marked_at = on, note, who.name, now
    return _record(db, p, who.name, "key_marked", {"key": on, "note": note}, now)


def record_notice(
    db: Session,
    unit: str,
    items: list[dict[str, Any]],
    who: Account,
    *,
    filename: str,
    data: bytes,
    now: datetime | None = None,
) -> SupervisionNotice:
    """Record that a 督办通知 went to ``unit``, with an event on each item it names."""
    now = now or utcnow()
    notice = SupervisionNotice(
        unit=unit,
        created_by=who.name,
        created_at=now,
        items=items,
        filename=filename,
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )
    db.add(notice)
    db.flush()
    for item in items:
        p = get_proposal(db, int(item["id"]))
        _record(db, p, who.name, "supervised", {"notice": notice.id, "unit": unit}, now)
    return notice


def notices(db: Session) -> list[SupervisionNotice]:
    return list(db.scalars(select(SupervisionNotice).order_by(SupervisionNotice.id.desc())))


def extended_ids(db: Session) -> set[int]:
    return set(
        db.scalars(
            select(UnitRequest.proposal_id).where(
                UnitRequest.kind == EXTEND, UnitRequest.status == APPROVED
            )
        )
    )
