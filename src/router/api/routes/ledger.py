"""Ledger endpoints: register, decide, move along, evaluate, list, count.

Handlers are plain ``def``: FastAPI runs them in the thread pool, so the blocking database
calls and the routing done at registration never hold up the event loop. Each request is
one transaction: the ledger functions flush, the handler commits.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from router import ledger
from router.api.deps import DbDep, Dispatcher, ServingDep, SettingsDep, TodayDep, route_checked
from router.api.errors import problems
from router.ledger import (
    DecisionCreate,
    EvaluationCreate,
    ProposalCreate,
    ProposalDetail,
    ProposalFilter,
    ProposalList,
    ProposalPublic,
    Stats,
    StatusChange,
)
from router.ledger.schemas import INT_MAX, Status
from router.ledger.workdays import add_months

router = APIRouter(tags=["台账"])
_WRITE = problems(400, 401, 403, 404, 409, 413, 422, 503)
# an id beyond the column's integer type is a 422, never a database error
ProposalId = Annotated[int, Path(ge=1, le=INT_MAX, description="序号")]


@router.post(
    "/proposals",
    response_model=ProposalPublic,
    status_code=201,
    responses={
        200: {"model": ProposalPublic, "description": "同一届次同一编号已登记且内容相同（幂等）"},
        **_WRITE,
    },
)
def create_proposal(
    body: ProposalCreate,
    db: DbDep,
    serving: ServingDep,
    who: Dispatcher,
    today: TodayDep,
    response: Response,
) -> ProposalPublic:
    """登记一条建议并保存模型建议；同一届次同一编号重复登记只记一次。"""
    suggestion = route_checked(serving.router, body.title, body.content)
    reg = ledger.commit_retrying(
        db, lambda: ledger.register_proposal(db, body, suggestion, actor=who)
    )
    if not reg.created:
        if not reg.same:
            raise HTTPException(
                409,
                f"届次“{body.session}”编号“{body.number}”已登记，且内容与本次提交不同；未作修改。",
            )
        response.status_code = 200
    return ledger.to_public(reg.proposal, today)


@router.get("/proposals", response_model=ProposalList, responses=problems(422))
def list_proposals(
    db: DbDep,
    today: TodayDep,
    session: Annotated[str | None, Query(max_length=64, description="届次")] = None,
    unit: Annotated[
        str | None,
        Query(max_length=64, description="主办单位（标签、全称或别名）；“非公安职责”表示整件转出"),
    ] = None,
    status: Annotated[Status | None, Query(description="状态")] = None,
    overdue: Annotated[bool | None, Query(description="只看超期（true）或未超期（false）")] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="编号、标题、正文或代表姓名包含")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT_MAX)] = 0,
    sort: Annotated[
        str | None,
        Query(
            max_length=20,
            description="排序列（number、session、title、deputy、unit、suggested、confidence、"
            "status、due_on、received_on、updated_at），前加“-”为倒序；不填则超期的在前",
        ),
    ] = None,
) -> ProposalList:
    """按届次、单位、状态、是否超期筛选台账，可搜索、排序、分页；默认超期的排在最前。"""
    flt = ProposalFilter(
        session=session,
        unit=unit,
        status=status,
        overdue=overdue,
        q=q,
        limit=limit,
        offset=offset,
        sort=sort,
    )
    total, rows = ledger.list_proposals(db, flt, today=today)
    return ProposalList(
        total=total, limit=limit, offset=offset, items=[ledger.to_public(p, today) for p in rows]
    )


@router.get("/proposals/{proposal_id}", response_model=ProposalDetail, responses=problems(404, 422))
def get_proposal(proposal_id: ProposalId, db: DbDep, today: TodayDep) -> ProposalDetail:
    """一条建议：模型建议（含依据词位置）、分办决定、状态与全部修改记录。"""
    return ledger.to_detail(ledger.get_proposal(db, proposal_id, with_events=True), today)


@router.post("/proposals/{proposal_id}/decision", response_model=ProposalPublic, responses=_WRITE)
def decide(
    proposal_id: ProposalId,
    body: DecisionCreate,
    db: DbDep,
    who: Dispatcher,
    today: TodayDep,
    settings: SettingsDep,
) -> ProposalPublic:
    """确认或更正分办：主办与会办单位，或整件转出（责任部门与理由）。需带 expected_version。"""
    # the answer deadline: ROUTER_ANSWER_MONTHS (3) calendar months from the assignment
    due_days = (add_months(today, settings.answer_months) - today).days
    p = ledger.decide(db, proposal_id, body, actor=who, due_days=due_days, today=today)
    db.commit()
    return ledger.to_public(p, today)


@router.post("/proposals/{proposal_id}/status", response_model=ProposalPublic, responses=_WRITE)
def change_status(
    proposal_id: ProposalId, body: StatusChange, db: DbDep, who: Dispatcher, today: TodayDep
) -> ProposalPublic:
    """办理进度：已分办 → 办理中 → 已答复。"""
    p = ledger.change_status(db, proposal_id, body, actor=who, today=today)
    db.commit()
    return ledger.to_public(p, today)


@router.post("/proposals/{proposal_id}/evaluation", response_model=ProposalPublic, responses=_WRITE)
def record_evaluation(
    proposal_id: ProposalId, body: EvaluationCreate, db: DbDep, who: Dispatcher, today: TodayDep
) -> ProposalPublic:
    """登记代表对答复的评价（满意、基本满意、不满意）。"""
    p = ledger.record_evaluation(db, proposal_id, body, actor=who)
    db.commit()
    return ledger.to_public(p, today)


@router.get("/stats", response_model=Stats, responses=problems(422))
def stats(
    db: DbDep,
    today: TodayDep,
    session: Annotated[str | None, Query(max_length=64, description="届次；不填为全部")] = None,
) -> Stats:
    """年度报告所需数字：各单位件数、各状态件数、转出件数、满意率、超期事项。"""
    return ledger.ledger_stats(db, session=session, today=today)
