"""The handling unit's side: its inbox, 签收, 申请退办/延期, reply upload, 会办意见.

Every handler checks through :mod:`router.ledger.cycle` that the item is the caller's unit's;
another unit's item is a 403. Replies are downloaded here by anyone who may read the item.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from router.api.deps import CurrentAccount, DbDep, RowId, SettingsDep, TodayDep
from router.api.errors import problems
from router.ledger import cycle
from router.ledger.accounts import UNIT_ROLE, Account
from router.ledger.assign import Assignment
from router.ledger.ops import InvalidError, days_overdue, get_proposal
from router.ledger.schemas import from_row
from router.ledger.workdays import add_workdays

router = APIRouter(tags=["承办单位"])
_WRITE = problems(400, 401, 403, 404, 409, 422)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReasonIn(_In):
    reason: str = Field(min_length=1, max_length=2000, description="理由")


class ExtensionIn(ReasonIn):
    until: date = Field(description="申请延至的日期")


class OpinionIn(_In):
    opinion: str = Field(min_length=1, max_length=5000, description="会办意见（交主办单位）")


class _Row(BaseModel):
    """A response that is a ledger row's columns as they are."""

    model_config = ConfigDict(from_attributes=True)


class RequestPublic(_Row):
    id: int
    proposal_id: int
    unit: str
    kind: str
    reason: str
    until: date | None
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decision_note: str | None


class ReplyPublic(_Row):
    id: int
    unit: str
    filename: str
    size: int
    sha256: str
    status: str
    uploaded_by: str
    uploaded_at: datetime
    return_note: str | None


class AssignmentPublic(_Row):
    unit: str
    role: str
    assigned_on: date
    signed_at: datetime | None
    signed_by: str | None
    opinion: str | None
    opinion_by: str | None


class CyclePublic(BaseModel):
    proposal_id: int
    assignments: list[AssignmentPublic]
    requests: list[RequestPublic]
    replies: list[ReplyPublic]
    key_supervision: bool


class InboxItem(BaseModel):
    id: int
    number: str
    session: str
    title: str
    deputy_name: str
    role: str = Field(description="主办或会办")
    status: str
    assigned_on: date
    due_on: date | None
    days_overdue: int
    due_soon: bool
    signed_at: datetime | None
    return_window_ends: date | None = Field(description="退办申请截止日（工作日计算）")
    pending: list[str] = Field(description="本单位待督查室审批的申请（退办、延期）")
    version: int


class Inbox(BaseModel):
    unit: str
    today: date
    due_soon_until: date | None
    items: list[InboxItem]


def _unit(who: Account) -> str:
    if who.role != UNIT_ROLE or who.unit is None:
        raise HTTPException(403, "收件箱仅限承办单位经办人；督查室请用“督办”页。")
    return who.unit


@router.get("/inbox", response_model=Inbox, responses=problems(401, 403, 422))
def inbox(
    db: DbDep, who: CurrentAccount, today: TodayDep, settings: SettingsDep, open: bool = False
) -> Inbox:
    """本单位的收件箱：主办和会办的建议，期限、签收和退办截止日。"""
    unit = _unit(who)
    try:
        soon: date | None = add_workdays(today, settings.due_soon_workdays)
    except InvalidError:
        soon = None
    rows = cycle.inbox(db, unit, window=settings.return_window_workdays, open_only=open)
    items = [
        from_row(
            InboxItem,
            r.proposal,
            role=r.assignment.role,
            assigned_on=r.assignment.assigned_on,
            days_overdue=days_overdue(r.proposal, today),
            due_soon=bool(
                soon
                and r.proposal.status in ("已分办", "办理中")
                and r.proposal.due_on is not None
                and today <= r.proposal.due_on <= soon
            ),
            signed_at=r.assignment.signed_at,
            return_window_ends=r.return_ends,
            pending=list(r.pending),
        )
        for r in rows
    ]
    return Inbox(unit=unit, today=today, due_soon_until=soon, items=items)


@router.get("/cycle/{proposal_id}", response_model=CyclePublic, responses=problems(401, 403, 404))
def cycle_of(proposal_id: RowId, db: DbDep, who: CurrentAccount) -> CyclePublic:
    """一件建议的办理情况：各单位签收与会办意见、退办/延期申请、答复文件、重点督办。"""
    get_proposal(db, proposal_id)
    if not cycle.can_read(db, proposal_id, who):
        raise HTTPException(403, "没有权限：该建议不是本单位承办的。")
    rows = db.query(Assignment).filter(Assignment.proposal_id == proposal_id)
    return CyclePublic(
        proposal_id=proposal_id,
        assignments=[
            AssignmentPublic.model_validate(a)
            for a in sorted(rows, key=lambda a: (a.role != "主办", a.id))
        ],
        requests=[RequestPublic.model_validate(r) for r in cycle.requests_of(db, proposal_id)],
        replies=[ReplyPublic.model_validate(r) for r in cycle.replies_of(db, proposal_id)],
        key_supervision=proposal_id in cycle.key_items(db),
    )


class Done(BaseModel):
    proposal_id: int
    status: str
    version: int


@router.post("/inbox/{proposal_id}/sign", response_model=Done, responses=_WRITE)
def sign(proposal_id: RowId, db: DbDep, who: CurrentAccount) -> Done:
    """签收。主办单位签收后状态为“办理中”。"""
    p = cycle.sign(db, proposal_id, who)
    db.commit()
    return Done(proposal_id=p.id, status=p.status, version=p.version)


@router.post(
    "/inbox/{proposal_id}/return", response_model=RequestPublic, status_code=201, responses=_WRITE
)
def ask_return(
    proposal_id: RowId,
    body: ReasonIn,
    db: DbDep,
    who: CurrentAccount,
    today: TodayDep,
    settings: SettingsDep,
) -> RequestPublic:
    """申请退办（分办后若干个工作日内，写明理由），由督查室审批。"""
    r = cycle.ask_return(
        db, proposal_id, who, body.reason, window=settings.return_window_workdays, today=today
    )
    db.commit()
    return RequestPublic.model_validate(r)


@router.post(
    "/inbox/{proposal_id}/extension",
    response_model=RequestPublic,
    status_code=201,
    responses=_WRITE,
)
def ask_extension(
    proposal_id: RowId, body: ExtensionIn, db: DbDep, who: CurrentAccount
) -> RequestPublic:
    """主办单位申请延期（写明理由和延至日期），由督查室审批。"""
    r = cycle.ask_extension(db, proposal_id, who, body.reason, body.until)
    db.commit()
    return RequestPublic.model_validate(r)


@router.post("/inbox/{proposal_id}/opinion", response_model=Done, responses=_WRITE)
def give_opinion(proposal_id: RowId, body: OpinionIn, db: DbDep, who: CurrentAccount) -> Done:
    """会办单位向主办单位提交会办意见。"""
    cycle.give_opinion(db, proposal_id, who, body.opinion)
    db.commit()
    p = get_proposal(db, proposal_id)
    return Done(proposal_id=p.id, status=p.status, version=p.version)


@router.post(
    "/inbox/{proposal_id}/reply",
    response_model=ReplyPublic,
    status_code=201,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
)
def upload_reply(
    proposal_id: RowId,
    file: Annotated[UploadFile, File(description="答复文件，.docx 或 .pdf")],
    db: DbDep,
    who: CurrentAccount,
    today: TodayDep,
    settings: SettingsDep,
) -> ReplyPublic:
    """主办单位上传答复（.docx 或 .pdf，校验文件头，限制大小，保存 SHA-256）；建议随即为“已答复”。"""
    limit = settings.reply_max_mb * 1024 * 1024
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"答复文件超过 {settings.reply_max_mb} MB 的上限。")
    r = cycle.upload_reply(
        db, proposal_id, who, file.filename or "", data, max_bytes=limit, today=today
    )
    db.commit()
    return ReplyPublic.model_validate(r)


@router.get("/replies/{reply_id}", response_class=Response, responses=problems(401, 404))
def download_reply(reply_id: RowId, db: DbDep, who: CurrentAccount) -> Response:
    """下载答复文件（督查室、审核领导和承办该件的单位）。"""
    r = cycle.get_reply(db, reply_id, who)
    ascii_name = "reply.pdf" if r.content_type == cycle.PDF else "reply.docx"
    return Response(
        r.data,
        media_type=r.content_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(r.filename)}",
            "X-Content-SHA256": r.sha256,
        },
    )
