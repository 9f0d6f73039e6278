"""The ledger's rules, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from router import ledger
from router.core.routing import Decision, Router, route
from router.db import make_engine, make_sessionmaker, upgrade
from router.ledger import (
    ConflictError,
    DecisionCreate,
    EvaluationCreate,
    InvalidError,
    NotFoundError,
    Proposal,
    ProposalCreate,
    ProposalEvent,
    ProposalFilter,
    StatusChange,
)

TODAY = date(2027, 3, 1)
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture()
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture()
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


def item(number: str = "0001", session: str = "十七届三次", **kw: str) -> ProposalCreate:
    data = {
        "number": number,
        "session": session,
        "title": "学校门口早晚高峰拥堵",
        "content": "建议优化信号灯配时。",
    }
    data.update(kw)
    return ProposalCreate.model_validate(data)


def suggest(router: Router, it: ProposalCreate) -> Decision:
    return route(router, it.title, it.content)


def register(db: Session, router: Router, *items: ProposalCreate) -> list[ledger.Registered]:
    out = ledger.register_proposals(
        db, list(items), [suggest(router, i) for i in items], actor="登记员", now=NOW
    )
    db.commit()
    return out


def decide(db: Session, pid: int, version: int, **kw: object) -> Proposal:
    body = DecisionCreate.model_validate({"expected_version": version, **kw})
    p = ledger.decide(db, pid, body, actor="李四", due_days=90, today=TODAY, now=NOW)
    db.commit()
    return p


# -- registration -------------------------------------------------------------------------
def test_register_records_the_suggestion_and_model_version(db: Session, router: Router) -> None:
    (reg,) = register(db, router, item())
    p = reg.proposal
    assert reg.created and p.status == "待分办" and p.version == 1
    assert p.suggested_unit == "交通管理"
    assert p.model_version == router.version
    assert Decision.model_validate(p.suggestion).unit == "交通管理"
    assert [e.action for e in p.events] == ["registered"]


def test_register_is_idempotent_across_calls_and_within_a_batch(
    db: Session, router: Router
) -> None:
    first = register(db, router, item("0001"), item("0002"), item("0001"))
    assert [r.created for r in first] == [True, True, False]
    assert first[2].proposal is first[0].proposal
    again = register(db, router, item("0001"), item("0003"))
    assert [r.created for r in again] == [False, True]
    assert again[0].same
    changed = register(db, router, item("0002", content="完全不同的内容"))
    assert not changed[0].created and not changed[0].same
    assert db.scalar(select(func.count()).select_from(Proposal)) == 3


def test_numbers_are_compared_after_normalisation(db: Session, router: Router) -> None:
    register(db, router, item("第１号", session=" 十七届三次 "))
    (reg,) = register(db, router, item("第1号"))
    assert not reg.created


def test_same_number_in_another_session_is_another_proposal(db: Session, router: Router) -> None:
    results = register(
        db, router, item("0001", session="十七届三次"), item("0001", session="十七届四次")
    )
    assert all(r.created for r in results)


def test_a_batch_is_one_transaction(sessions: sessionmaker[Session], router: Router) -> None:
    items = [item("0001"), item("0002", title="", content="")]
    with sessions() as db, pytest.raises(InvalidError, match="不能同时为空"):
        ledger.register_proposals(db, items, [suggest(router, items[0])] * 2, actor="登记员")
        db.commit()
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Proposal)) == 0


def test_register_refuses_mismatched_lengths(db: Session, router: Router) -> None:
    with pytest.raises(ValueError):
        ledger.register_proposals(db, [item()], [], actor="登记员")


def test_a_concurrent_registration_is_a_retryable_duplicate(
    sessions: sessionmaker[Session], router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    it = item()
    s = suggest(router, it)
    with sessions() as a, sessions() as b:
        ledger.register_proposal(a, it, s, actor="甲")
        a.commit()
        # b looked for existing rows just before a committed, and found none.
        with monkeypatch.context() as m:
            m.setattr("router.ledger.ops._existing", lambda _db, _items: {})
            with pytest.raises(ledger.DuplicateError, match="请重试"):
                ledger.register_proposal(b, it, s, actor="乙")
        b.rollback()
        again = ledger.register_proposal(b, it, s, actor="乙")
        assert not again.created and again.same
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Proposal)) == 1


# -- decisions ----------------------------------------------------------------------------
def test_confirming_the_suggestion_needs_no_reason(db: Session, router: Router) -> None:
    (reg,) = register(db, router, item())
    p = decide(db, reg.proposal.id, 1, lead_unit="交通管理", co_units=["治安"])
    assert p.status == "已分办" and p.version == 2
    assert p.follows_suggestion and p.decided_by == "李四"
    assert p.due_on == TODAY + timedelta(days=90)
    assert p.co_units == ["治安"]


def test_a_different_unit_needs_a_reason_code(db: Session, router: Router) -> None:
    (reg,) = register(db, router, item())
    with pytest.raises(InvalidError, match="请选择原因"):
        decide(db, reg.proposal.id, 1, lead_unit="治安")
    db.rollback()
    p = decide(db, reg.proposal.id, 1, lead_unit="治安", reason_code="模型错误", note="校园安保")
    assert not p.follows_suggestion and p.reason_code == "模型错误"


def test_referral_out_sets_withdrawn_status_and_no_due_date(db: Session, router: Router) -> None:
    (reg,) = register(db, router, item(title="拓宽道路", content="建议拓宽人民路并修缮路灯"))
    p = decide(
        db,
        reg.proposal.id,
        1,
        lead_unit=None,
        referral_departments=["住建局"],
        referral_reason="道路拓宽属住建局",
        reason_code="模型错误",
    )
    assert p.status == "已退办" and p.due_on is None and p.lead_unit is None
    assert p.referral_departments == ["住建局"]


def test_a_decision_is_never_overwritten_silently(db: Session, router: Router) -> None:
    (reg,) = register(db, router, item())
    pid = reg.proposal.id
    decide(db, pid, 1, lead_unit="交通管理")
    with pytest.raises(InvalidError, match="重新分办须选择原因"):
        decide(db, pid, 2, lead_unit="交通管理")
    db.rollback()
    with pytest.raises(ConflictError) as stale:
        decide(db, pid, 1, lead_unit="治安", reason_code="职责调整")
    assert stale.value.current_version == 2
    db.rollback()
    p = decide(db, pid, 2, lead_unit="治安", reason_code="职责调整")
    events = ledger.get_proposal(db, pid, with_events=True).events
    assert [e.action for e in events] == ["registered", "decided", "redecided"]
    assert events[2].data["previous"]["lead_unit"] == "交通管理"
    assert events[2].data["decision"]["lead_unit"] == "治安"
    assert p.version == 3


def test_two_sessions_deciding_at_once_one_wins_one_conflicts(
    sessions: sessionmaker[Session], router: Router
) -> None:
    with sessions() as db:
        (reg,) = register(db, router, item())
        pid = reg.proposal.id
    with sessions() as a, sessions() as b:
        # Both read version 1 before either writes.
        assert ledger.get_proposal(a, pid).version == ledger.get_proposal(b, pid).version == 1
        ledger.decide(
            a,
            pid,
            DecisionCreate(lead_unit="交通管理", expected_version=1),
            actor="甲",
            due_days=90,
        )
        a.commit()
        with pytest.raises(ConflictError):
            ledger.decide(
                b,
                pid,
                DecisionCreate(lead_unit="治安", reason_code="其他", expected_version=1),
                actor="乙",
                due_days=90,
            )
            b.commit()
    with sessions() as db:
        p = ledger.get_proposal(db, pid, with_events=True)
        assert p.lead_unit == "交通管理" and p.decided_by == "甲" and p.version == 2
        assert len(p.events) == 2


def test_threads_racing_on_one_proposal_lose_nothing(
    sessions: sessionmaker[Session], router: Router
) -> None:
    with sessions() as db:
        (reg,) = register(db, router, item())
        pid = reg.proposal.id
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(unit: str) -> None:
        with sessions() as s:
            ledger.get_proposal(s, pid)
            barrier.wait()
            try:
                body = DecisionCreate(lead_unit=unit, reason_code="其他", expected_version=1)
                ledger.decide(s, pid, body, actor=unit, due_days=90)
                s.commit()
                result = "ok"
            except ConflictError:
                s.rollback()
                result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [
        threading.Thread(target=worker, args=(u,)) for u in ("交通管理", "治安", "刑侦", "网安")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["ok"]
    with sessions() as db:
        p = ledger.get_proposal(db, pid, with_events=True)
        assert p.version == 2 and len(p.events) == 2 and p.decided_by == p.lead_unit


def test_unknown_proposal(db: Session) -> None:
    with pytest.raises(NotFoundError):
        ledger.decide(
            db, 999, DecisionCreate(lead_unit="刑侦", expected_version=1), actor="x", due_days=90
        )


# -- decision validation ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"lead_unit": "消防"}, "未知的承办单位"),
        ({"lead_unit": "刑侦", "co_units": ["外星人"]}, "未知的承办单位"),
        ({"lead_unit": None}, "整件转出时请指定责任部门"),
        ({"lead_unit": None, "referral_departments": ["住建局"]}, "整件转出须写明理由"),
        (
            {"lead_unit": None, "referral_departments": ["某局"], "referral_reason": "x"},
            "未知的责任部门",
        ),
        (
            {
                "lead_unit": None,
                "co_units": ["刑侦"],
                "referral_departments": ["住建局"],
                "referral_reason": "x",
            },
            "不能有会办单位",
        ),
        ({"lead_unit": "刑侦", "reason_code": "看心情"}, "reason_code"),
        ({"lead_unit": "刑侦", "expected_version": 0}, "expected_version"),
    ],
)
def test_decision_validation(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DecisionCreate.model_validate({"expected_version": 1, **body})


def test_decision_cleans_co_units() -> None:
    d = DecisionCreate(
        lead_unit="刑侦", co_units=["刑侦", "网安", "网安", " 治安 "], expected_version=1
    )
    assert d.co_units == ["网安", "治安"]


# -- status and evaluation ----------------------------------------------------------------
def test_status_moves_forward_only(db: Session, router: Router) -> None:
    (reg,) = register(db, router, item())
    pid = reg.proposal.id
    with pytest.raises(ConflictError, match="待分办"):
        ledger.change_status(db, pid, StatusChange(status="办理中", expected_version=1), actor="x")
    db.rollback()
    decide(db, pid, 1, lead_unit="交通管理")
    with pytest.raises(InvalidError, match="由分办决定"):
        ledger.change_status(db, pid, StatusChange(status="已退办", expected_version=2), actor="x")
    db.rollback()
    p = ledger.change_status(
        db, pid, StatusChange(status="办理中", expected_version=2), actor="x", today=TODAY
    )
    p = ledger.change_status(
        db, pid, StatusChange(status="已答复", expected_version=3), actor="x", today=TODAY
    )
    db.commit()
    assert p.status == "已答复" and p.replied_on == TODAY and p.version == 4
    with pytest.raises(ConflictError, match="不能重新分办"):
        decide(db, pid, 4, lead_unit="治安", reason_code="其他")


def test_evaluation_only_after_reply(db: Session, router: Router) -> None:
    (reg,) = register(db, router, item())
    pid = reg.proposal.id
    decide(db, pid, 1, lead_unit="交通管理")
    with pytest.raises(ConflictError, match="答复之后"):
        ledger.record_evaluation(
            db, pid, EvaluationCreate(evaluation="满意", expected_version=2), actor="x"
        )
    db.rollback()
    ledger.change_status(db, pid, StatusChange(status="已答复", expected_version=2), actor="x")
    ledger.record_evaluation(
        db, pid, EvaluationCreate(evaluation="不满意", expected_version=3), actor="x"
    )
    p = ledger.record_evaluation(
        db, pid, EvaluationCreate(evaluation="基本满意", expected_version=4), actor="x"
    )
    db.commit()
    assert p.evaluation == "基本满意"
    last = ledger.get_proposal(db, pid, with_events=True).events[-1]
    assert last.data["evaluation"] == ["不满意", "基本满意"]


# -- reading ------------------------------------------------------------------------------
def _scenario(db: Session, router: Router) -> dict[str, int]:
    regs = register(
        db,
        router,
        item("1", title="信号灯配时不合理", content="建议优化路口信号灯"),
        item("2", title="反诈宣传进社区", content="建议加强反诈宣传"),
        item("3", title="拓宽道路", content="建议拓宽人民路"),
        item("4", title="辅警待遇", content="提高辅警工资"),
        item("5", title="户口迁移", content="简化落户手续", session="十七届四次"),
    )
    ids = {r.proposal.number: r.proposal.id for r in regs}
    decide(db, ids["1"], 1, lead_unit="交通管理", due_on="2027-02-01")  # overdue by 28 days
    decide(db, ids["2"], 1, lead_unit="刑侦", co_units=["网安"])
    decide(
        db,
        ids["3"],
        1,
        lead_unit=None,
        referral_departments=["住建局"],
        referral_reason="不属公安职责",
        reason_code="其他",
    )
    decide(db, ids["4"], 1, lead_unit="辅警", due_on="2027-02-20", referral_departments=["人社局"])
    ledger.change_status(
        db, ids["4"], StatusChange(status="已答复", expected_version=2), actor="x", today=TODAY
    )
    ledger.record_evaluation(
        db, ids["4"], EvaluationCreate(evaluation="满意", expected_version=3), actor="x"
    )
    ledger.change_status(
        db, ids["2"], StatusChange(status="已答复", expected_version=2), actor="x", today=TODAY
    )
    ledger.record_evaluation(
        db, ids["2"], EvaluationCreate(evaluation="不满意", expected_version=3), actor="x"
    )
    db.commit()
    return ids


def test_list_filters_and_puts_overdue_first(db: Session, router: Router) -> None:
    ids = _scenario(db, router)
    total, rows = ledger.list_proposals(db, ProposalFilter(), today=TODAY)
    assert total == 5 and rows[0].id == ids["1"]
    assert ledger.days_overdue(rows[0], TODAY) == 28
    assert [
        p.id for p in ledger.list_proposals(db, ProposalFilter(overdue=True), today=TODAY)[1]
    ] == [ids["1"]]
    assert ledger.list_proposals(db, ProposalFilter(overdue=False), today=TODAY)[0] == 4
    assert ledger.list_proposals(db, ProposalFilter(session="十七届四次"), today=TODAY)[0] == 1
    assert [
        p.id for p in ledger.list_proposals(db, ProposalFilter(unit="刑侦"), today=TODAY)[1]
    ] == [ids["2"]]
    assert [
        p.id for p in ledger.list_proposals(db, ProposalFilter(unit="非公安职责"), today=TODAY)[1]
    ] == [ids["3"]]
    assert ledger.list_proposals(db, ProposalFilter(status="待分办"), today=TODAY)[0] == 1
    assert [p.id for p in ledger.list_proposals(db, ProposalFilter(q="反诈"), today=TODAY)[1]] == [
        ids["2"]
    ]
    assert ledger.list_proposals(db, ProposalFilter(q="%"), today=TODAY)[0] == 0
    assert len(ledger.list_proposals(db, ProposalFilter(limit=2, offset=4), today=TODAY)[1]) == 1
    with pytest.raises(InvalidError):
        ledger.list_proposals(db, ProposalFilter(unit="消防"), today=TODAY)


def test_stats_give_the_annual_report_figures(db: Session, router: Router) -> None:
    _scenario(db, router)
    s = ledger.ledger_stats(db, today=TODAY)
    assert s.total == 5 and s.decided == 4
    assert s.by_status == {"待分办": 1, "已分办": 1, "办理中": 0, "已答复": 2, "已退办": 1}
    assert s.referrals == 1 and s.partial_referrals == 1
    assert s.by_department == {"住建局": 1, "人社局": 1}
    assert s.evaluations == {"满意": 1, "基本满意": 0, "不满意": 1}
    assert s.satisfaction_rate == 0.5
    assert s.overdue == 1 and s.overdue_items[0].days_overdue == 28
    units = {u.unit: u for u in s.by_unit}
    assert units["交通管理"].lead == 1 and units["交通管理"].overdue == 1
    assert units["网安"].co == 1 and units["刑侦"].satisfaction_rate == 0.0
    assert units["辅警"].satisfied == 1
    assert s.sessions == ["十七届三次", "十七届四次"]
    one = ledger.ledger_stats(db, session="十七届四次", today=TODAY)
    assert one.total == 1 and one.by_status["待分办"] == 1 and one.satisfaction_rate is None


def test_decided_examples_are_training_data(db: Session, router: Router) -> None:
    _scenario(db, router)
    examples = ledger.decided_examples(db)
    assert [(e.label, e.departments) for e in examples] == [
        ("交通管理", []),
        ("刑侦", []),
        ("非公安职责", ["住建局"]),
        ("辅警", ["人社局"]),
    ]
    assert examples[1].title == "反诈宣传进社区" and examples[1].content == "建议加强反诈宣传"


def test_decided_examples_of_an_empty_database() -> None:
    engine = make_engine("sqlite://")
    with make_sessionmaker(engine)() as db:
        assert ledger.decided_examples(db) == []
    engine.dispose()


def test_detail_has_text_suggestion_and_trail(db: Session, router: Router) -> None:
    (reg,) = register(db, router, item(title="反诈", content="建议拓宽道路并加强反诈宣传"))
    detail = ledger.to_detail(ledger.get_proposal(db, reg.proposal.id, with_events=True), TODAY)
    assert detail.text == "反诈\n建议拓宽道路并加强反诈宣传"
    assert detail.suggestion is not None
    for ev in detail.suggestion.evidence:
        assert detail.text[ev.start : ev.end] == ev.word
    assert [e.action for e in detail.events] == ["registered"]


def test_every_change_writes_an_event(db: Session, router: Router) -> None:
    _scenario(db, router)
    n = db.scalar(select(func.count()).select_from(ProposalEvent))
    assert n == 5 + 4 + 4  # registrations, decisions, two status changes and two evaluations
