"""The supervision office's side of the cycle: approvals, 退回重办, 督办, the annual report."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from router.api.deps import DbDep, Office, Reader, RowId, SettingsDep, TodayDep
from router.api.errors import problems
from router.labels import load_labels
from router.ledger import cycle
from router.ledger.models import Proposal
from router.ledger.ops import days_overdue
from router.ledger.schemas import INT_MAX, from_row
from router.ledger.workdays import add_workdays

router = APIRouter(tags=["督办"])
_WRITE = problems(400, 401, 403, 404, 409, 422)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Answer(_In):
    approve: bool = Field(description="true 同意，false 不同意（须写理由）")
    note: str | None = Field(default=None, max_length=2000)


class NoteIn(_In):
    note: str = Field(min_length=1, max_length=2000)


class KeyIn(_In):
    on: bool = True
    note: str | None = Field(default=None, max_length=2000)


class PendingRequest(BaseModel):
    id: int
    proposal_id: int
    number: str
    title: str
    unit: str
    kind: str
    reason: str
    until: date | None
    due_on: date | None
    requested_by: str
    requested_at: datetime


class DueItem(BaseModel):
    id: int
    number: str
    session: str
    title: str
    lead_unit: str | None
    status: str
    due_on: date
    days_overdue: int
    key_supervision: bool
    version: int


class UnitDue(BaseModel):
    unit: str
    unit_name: str
    overdue: list[DueItem]
    due_soon: list[DueItem]


class NoticePublic(BaseModel):
    id: int
    unit: str
    created_by: str
    created_at: datetime
    items: int
    filename: str
    sha256: str


class Supervision(BaseModel):
    today: date
    due_soon_until: date
    units: list[UnitDue]
    notices: list[NoticePublic]


class NoticeRequest(_In):
    units: list[str] = Field(
        default_factory=list, description="不填为所有有超期或即将到期事项的单位"
    )
    include_due_soon: bool = True


def _notice(n: cycle.SupervisionNotice) -> NoticePublic:
    return from_row(NoticePublic, n, items=len(n.items))


@router.get("/office/requests", response_model=list[PendingRequest], responses=problems(401, 403))
def pending(db: DbDep, _who: Reader) -> list[PendingRequest]:
    """待审批的退办和延期申请。"""
    return [
        from_row(
            PendingRequest, r, proposal_id=p.id, number=p.number, title=p.title, due_on=p.due_on
        )
        for r, p in cycle.pending_requests(db)
    ]


@router.post("/office/requests/{request_id}", response_model=dict[str, str | int], responses=_WRITE)
def answer(request_id: RowId, body: Answer, db: DbDep, who: Office) -> dict[str, str | int]:
    """审批退办或延期：同意退办则该件回到“待分办”（会办单位退办则去掉该会办单位）；同意延期则改期限。"""
    r = cycle.answer_request(db, request_id, who, approve=body.approve, note=body.note)
    db.commit()
    return {"id": r.id, "status": r.status, "proposal_id": r.proposal_id}


@router.post(
    "/office/proposals/{proposal_id}/send-back",
    response_model=dict[str, str | int],
    responses=_WRITE,
)
def send_back(proposal_id: RowId, body: NoteIn, db: DbDep, who: Reader) -> dict[str, str | int]:
    """退回重办：答复质量不合格，附意见退回主办单位，状态回到“办理中”。"""
    reply = cycle.send_back(db, proposal_id, who, body.note)
    db.commit()
    return {"proposal_id": proposal_id, "reply": reply.id, "status": "办理中"}


@router.post(
    "/office/proposals/{proposal_id}/key", response_model=dict[str, bool | int], responses=_WRITE
)
def mark_key(proposal_id: RowId, body: KeyIn, db: DbDep, who: Office) -> dict[str, bool | int]:
    """标记或取消重点督办。"""
    cycle.mark_key(db, proposal_id, who, on=body.on, note=body.note)
    db.commit()
    return {"proposal_id": proposal_id, "key_supervision": body.on}


def _supervision(db: DbDep, today: date, settings_soon: int) -> Supervision:
    soon = add_workdays(today, settings_soon)
    overdue, due_soon = cycle.due_lists(db, today, soon)
    keys = cycle.key_items(db)
    labels = load_labels()
    names = {u.label: u.unit for u in labels.units}

    def item(p: Proposal) -> DueItem:
        return from_row(
            DueItem, p, days_overdue=days_overdue(p, today), key_supervision=p.id in keys
        )

    units = []
    for label in labels.unit_labels:
        late = [item(p) for p in overdue if p.lead_unit == label]
        near = [item(p) for p in due_soon if p.lead_unit == label]
        if late or near:
            units.append(UnitDue(unit=label, unit_name=names[label], overdue=late, due_soon=near))
    units.sort(key=lambda u: (-len(u.overdue), -len(u.due_soon)))
    return Supervision(
        today=today,
        due_soon_until=soon,
        units=units,
        notices=[_notice(n) for n in cycle.notices(db)[:50]],
    )


@router.get("/office/supervision", response_model=Supervision, responses=problems(401, 403, 422))
def supervision(db: DbDep, _who: Reader, today: TodayDep, settings: SettingsDep) -> Supervision:
    """督办：各单位超期和即将到期（按工作日）的事项，以及已发出的督办通知。"""
    return _supervision(db, today, settings.due_soon_workdays)


@router.post(
    "/office/supervision/notices",
    response_model=list[NoticePublic],
    status_code=201,
    responses=_WRITE,
)
def write_notices(
    body: NoticeRequest, db: DbDep, who: Office, today: TodayDep, settings: SettingsDep
) -> list[NoticePublic]:
    """为每个有超期（和即将到期）事项的单位生成一份督办通知（.docx），并记录已发出。"""
    from router.reports.documents import NoticeItem, notice_docx

    view = _supervision(db, today, settings.due_soon_workdays)
    labels = load_labels()
    try:
        wanted = {labels.canonical(u) for u in body.units}
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    out = []
    for u in view.units:
        if wanted and u.unit not in wanted:
            continue
        chosen = u.overdue + (u.due_soon if body.include_due_soon else [])
        if not chosen:
            continue
        items = [
            NoticeItem(i.number, i.title, i.due_on, i.days_overdue, i.key_supervision)
            for i in chosen
        ]
        data = notice_docx(u.unit_name, items, today, "市公安局指挥中心督查室")
        record = [
            {
                "id": i.id,
                "number": i.number,
                "title": i.title,
                "due_on": i.due_on.isoformat(),
                "days_overdue": i.days_overdue,
            }
            for i in chosen
        ]
        filename = f"督办通知-{u.unit_name}-{today.isoformat()}.docx"
        out.append(cycle.record_notice(db, u.unit, record, who, filename=filename, data=data))
    if not out:
        raise HTTPException(409, "没有超期或即将到期的事项，无需发督办通知。")
    db.commit()
    return [_notice(n) for n in out]


def _file(data: bytes, filename: str, media: str, ascii_name: str) -> Response:
    return Response(
        data,
        media_type=media,
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
        },
    )


@router.get(
    "/office/notices/{notice_id}", response_class=Response, responses=problems(401, 403, 404)
)
def download_notice(notice_id: RowId, db: DbDep, _who: Reader) -> Response:
    """下载一份已生成的督办通知。"""
    n = db.get(cycle.SupervisionNotice, notice_id)
    if n is None:
        raise HTTPException(404, f"没有编号为 {notice_id} 的督办通知。")
    return _file(n.data, n.filename, DOCX, "notice.docx")


@router.get("/office/notices.zip", response_class=Response, responses=problems(401, 403, 404))
def download_notices(
    db: DbDep, _who: Reader, ids: Annotated[list[Annotated[int, Field(ge=1, le=INT_MAX)]], Query()]
) -> Response:
    """把几份督办通知打包下载。"""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for i in ids[:50]:
            n = db.get(cycle.SupervisionNotice, i)
            if n is None:
                raise HTTPException(404, f"没有编号为 {i} 的督办通知。")
            z.writestr(f"{n.id}-{n.filename}", n.data)
    return _file(buffer.getvalue(), "督办通知.zip", "application/zip", "notices.zip")


def _report(db: DbDep, session: str, today: date, kind: str) -> bytes:
    from router.reports.documents import report_docx
    from router.reports.figures import figures
    from router.reports.topics import topics
    from router.reports.workbook import ledger_xlsx

    f = figures(db, session, today)
    if f.total == 0:
        raise HTTPException(404, f"台帐中没有届次“{session}”的建议。")
    if kind == "xlsx":
        return ledger_xlsx(f)
    return report_docx(f, topics([r.text for r in f.items]))


@router.get("/office/report", response_class=Response, responses=problems(401, 403, 404, 422))
async def annual_report(
    db: DbDep,
    _who: Reader,
    today: TodayDep,
    session: Annotated[str, Query(min_length=1, max_length=64, description="届次")],
    format: Annotated[
        str, Query(pattern="^(docx|xlsx)$", description="docx 报告或 xlsx 一览表")
    ] = "docx",
) -> Response:
    """年度办理情况报告（.docx，数字取自台帐）或整届一览表（.xlsx）。"""
    data = await run_in_threadpool(_report, db, session, today, format)
    if format == "xlsx":
        return _file(data, f"{session}建议提案一览表.xlsx", XLSX, "ledger.xlsx")
    return _file(data, f"{session}建议提案办理情况报告.docx", DOCX, "report.docx")
