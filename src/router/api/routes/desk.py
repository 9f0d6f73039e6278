"""The 分办人员's desk: bulk confirmation, undoing a decision, precedents, the ledger export.

Plain ``def`` handlers (run in the thread pool); each request is one transaction.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from router import ledger
from router.api.deps import DbDep, Dispatcher, SettingsDep, TodayDep
from router.api.errors import problems
from router.ledger import ProposalFilter, ProposalPublic
from router.ledger.desk import (
    Match,
    bulk_candidates,
    bulk_confirm,
    bulk_track_record,
    similar,
    undo_decision,
)
from router.ledger.export import write_ledger
from router.ledger.schemas import INT_MAX, Evaluation, Status, from_row

router = APIRouter(tags=["台账"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_LIMIT = 100_000
ProposalId = Annotated[int, Path(ge=1, le=INT_MAX, description="序号")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BulkPreview(BaseModel):
    session: str | None
    count: int = Field(description="可批量确认的待分办件数")
    by_unit: dict[str, int] = Field(description="按模型建议的主办单位")
    ids: list[int]
    checked: int = Field(description="此前逐件分办的同类（可批量确认）建议件数")
    agreed: int = Field(description="其中分办结果与模型建议一致的件数")


class DeskConfig(BaseModel):
    timezone: str = Field(description="页面显示时间所用的时区")


class BulkRequest(_In):
    session: str | None = Field(default=None, max_length=64, description="届次")
    ids: list[Annotated[int, Field(ge=1, le=INT_MAX)]] | None = Field(
        default=None, min_length=1, max_length=50_000, description="只确认这些序号中可批量确认的"
    )


class BulkSkipped(BaseModel):
    id: int
    reason: str


class BulkDone(BaseModel):
    confirmed: int
    skipped: list[BulkSkipped]
    items: list[ProposalPublic]


class UndoRequest(_In):
    expected_version: int = Field(ge=1, description="客户端看到的版本号")
    note: str | None = Field(default=None, max_length=2000, description="撤销说明")


class PrecedentQuery(_In):
    title: str = Field(default="", max_length=500)
    content: str = Field(default="", max_length=100_000)
    session: str | None = Field(default=None, max_length=64, description="本件届次：用于找并案")
    exclude_id: int | None = Field(
        default=None, ge=1, le=INT_MAX, description="本件序号（不与自身比较）"
    )


class Precedent(BaseModel):
    id: int
    number: str
    session: str
    title: str
    deputy_name: str
    unit: str | None = Field(description="主办单位；已转出为“转出”；未分办为模型建议")
    decided: bool
    status: Status
    evaluation: Evaluation | None
    score: float = Field(description="相似度（0–1）")
    words: list[str] = Field(description="共同的词，权重高的在前")
    places: list[str] = Field(description="共同的地点（道路、路口、学校等）")


class Precedents(BaseModel):
    precedents: list[Precedent] = Field(description="台账中最相近的已分办建议（任何届次）")
    merge_candidates: list[Precedent] = Field(description="同一届次可能需要并案的建议")


# Same-session proposals this alike are offered for 并案 (the page's threshold; the batch's
# own thresholds are ROUTER_DUPLICATE_THRESHOLD and ROUTER_RELATED_THRESHOLD).
MERGE_MIN_SCORE = 0.3


@router.get("/ledger/bulk-confirm", response_model=BulkPreview, responses=problems(422))
def bulk_preview(
    db: DbDep, session: Annotated[str | None, Query(max_length=64, description="届次")] = None
) -> BulkPreview:
    """可批量确认的待分办建议：件数和各单位件数（确认前先看）。"""
    rows = bulk_candidates(db, session=session or None)
    by_unit = Counter(p.suggested_unit or "" for p in rows)
    checked, agreed = bulk_track_record(db)
    return BulkPreview(
        session=session or None,
        count=len(rows),
        by_unit=dict(by_unit.most_common()),
        ids=[p.id for p in rows],
        checked=checked,
        agreed=agreed,
    )


@router.get("/desk/config", response_model=DeskConfig)
def desk_config(settings: SettingsDep) -> DeskConfig:
    """页面设置：显示时间所用的时区（ROUTER_TIMEZONE）。"""
    return DeskConfig(timezone=settings.timezone)


@router.post(
    "/ledger/bulk-confirm", response_model=BulkDone, responses=problems(400, 401, 409, 422)
)
def bulk_confirm_route(
    body: BulkRequest, db: DbDep, who: Dispatcher, today: TodayDep, settings: SettingsDep
) -> BulkDone:
    """批量确认：把届次（或所列序号）中可批量确认的建议按模型建议分办，每件单独记入修改记录。"""
    result = bulk_confirm(
        db,
        actor=who,
        due_days=settings.due_days,
        session=body.session or None,
        ids=body.ids,
        today=today,
    )
    db.commit()
    return BulkDone(
        confirmed=len(result.confirmed),
        skipped=[BulkSkipped(id=i, reason=r) for i, r in result.skipped],
        items=[ledger.to_public(p, today) for p in result.confirmed],
    )


@router.post(
    "/proposals/{proposal_id}/undo",
    response_model=ProposalPublic,
    responses=problems(400, 401, 404, 409, 422),
)
def undo(
    proposal_id: ProposalId, body: UndoRequest, db: DbDep, who: Dispatcher, today: TodayDep
) -> ProposalPublic:
    """撤销分办：回到待分办（承办单位尚未办理时）；原决定保留在修改记录中。"""
    p = undo_decision(
        db, proposal_id, expected_version=body.expected_version, actor=who, note=body.note
    )
    db.commit()
    return ledger.to_public(p, today)


def _precedent(m: Match) -> Precedent:
    p = m.proposal
    decided = p.decided_at is not None
    unit = (p.lead_unit or "转出") if decided else (p.suggested_unit or "转出")
    return from_row(
        Precedent, p, unit=unit, decided=decided, score=m.score, words=m.words, places=m.places
    )


@router.post("/precedents", response_model=Precedents, responses=problems(400, 422))
def precedents(body: PrecedentQuery, db: DbDep) -> Precedents:
    """先例：台账中与本件最相近的已分办建议（任何届次，最多五件），以及同一届次可并案的建议。"""
    past = similar(
        db,
        body.title,
        body.content,
        exclude_id=body.exclude_id,
        decided_only=True,
        limit=5,
        min_score=0.05,
    )
    same = similar(
        db,
        body.title,
        body.content,
        exclude_id=body.exclude_id,
        session=body.session,
        same_session=True,
        limit=5,
        min_score=MERGE_MIN_SCORE,
    )
    return Precedents(
        precedents=[_precedent(m) for m in past], merge_candidates=[_precedent(m) for m in same]
    )


@router.get(
    "/ledger/export.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "台账一览表"}, **problems(422)},
)
def export(
    db: DbDep,
    today: TodayDep,
    settings: SettingsDep,
    session: Annotated[str | None, Query(description="届次")] = None,
    unit: Annotated[str | None, Query(description="主办单位")] = None,
    status: Annotated[Status | None, Query(description="状态")] = None,
    overdue: Annotated[bool | None, Query(description="只看超期")] = None,
    q: Annotated[str | None, Query(max_length=100, description="编号、标题、正文或代表")] = None,
    sort: Annotated[str | None, Query(max_length=20, description="排序列")] = None,
) -> Response:
    """按当前筛选导出台账一览表（.xlsx：中文表头、冻结首行、横向、一页宽）。"""
    flt = ProposalFilter(
        session=session,
        unit=unit,
        status=status,
        overdue=overdue,
        q=q,
        sort=sort,
        limit=EXPORT_LIMIT,
    )
    _total, rows = ledger.list_proposals(db, flt, today=today)
    buffer = io.BytesIO()
    write_ledger(rows, buffer, today=today, timezone=settings.timezone)
    name = f"{session or '全部届次'}-台账一览表-{today.isoformat()}.xlsx"
    headers = {
        "Content-Disposition": f"attachment; filename=\"ledger.xlsx\"; filename*=UTF-8''{quote(name)}",
        "X-Ledger-Rows": str(len(rows)),
    }
    return Response(buffer.getvalue(), media_type=XLSX, headers=headers)
