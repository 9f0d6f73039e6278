"""Alembic 0002 upgrades a ledger made at 0001 with its rows and history intact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from router import ledger
from router.core.routing import Router, route
from router.db import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    make_sessionmaker,
    upgrade,
)
from router.ledger import ProposalCreate

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_ledger(
    request: pytest.FixtureRequest, tmp_path: object, router: Router
) -> Iterator[Engine]:
    """A ledger at revision 0001 holding registered, decided, referred and replied items."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/old.db"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine, "0001")
    items = [
        ProposalCreate(number=str(i), session="十七届二次", title=t, content=c)
        for i, (t, c) in enumerate(
            [
                ("学校门口拥堵", "建议优化信号灯配时"),
                ("反诈宣传进社区", "建议加强反诈宣传"),
                ("道路拓宽", "建议拓宽学府路"),
                ("户口迁移", "建议简化落户手续"),
            ],
            1,
        )
    ]
    with make_sessionmaker(engine)() as db:
        ledger.register_proposals(
            db, items, [route(router, i.title, i.content) for i in items], actor="登记员", now=NOW
        )
        db.commit()
    # decisions as 0001's code recorded them (the decision columns and the status)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE proposals SET lead_unit='交通管理', co_units=:co, status='办理中', "
                "decided_at=:at, decided_by='李四', due_on='2026-06-02' WHERE number='1'"
            ),
            {"co": json.dumps(["治安"]), "at": NOW},
        )
        conn.execute(
            text(
                "UPDATE proposals SET lead_unit='刑侦', status='已答复', decided_at=:at, "
                "decided_by='李四', replied_on='2026-04-01', evaluation='满意' WHERE number='2'"
            ),
            {"at": NOW},
        )
        conn.execute(
            text(
                "UPDATE proposals SET status='已退办', decided_at=:at, decided_by='李四', "
                "referral_departments=:deps, referral_reason='道路建设' WHERE number='3'"
            ),
            {"at": NOW, "deps": json.dumps(["住建局"])},
        )
    yield engine
    engine.dispose()


def _snapshot(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, number, session, title, content, lead_unit, status, decided_by, "
                "due_on, replied_on, evaluation, version FROM proposals ORDER BY id"
            )
        ).fetchall()
        events = conn.execute(
            text("SELECT id, proposal_id, actor, action, version FROM proposal_events ORDER BY id")
        ).fetchall()
    return [tuple(r) for r in rows], [tuple(e) for e in events]


def test_upgrade_keeps_rows_and_history_and_fills_the_inboxes(old_ledger: Engine) -> None:
    before = _snapshot(old_ledger)
    assert current_revision(old_ledger) == "0001"
    upgrade(old_ledger)
    assert current_revision(old_ledger) == head_revision() == "0002"
    assert _snapshot(old_ledger) == before
    with old_ledger.connect() as conn:
        assigned = conn.execute(
            text(
                "SELECT p.number, a.unit, a.role, a.assigned_on, a.signed_at FROM assignments a "
                "JOIN proposals p ON p.id = a.proposal_id"
            )
        ).fetchall()
        users = conn.execute(text("SELECT count(*) FROM users")).scalar()
    assert sorted((n, r != "主办", u, str(d)) for n, u, r, d, _ in assigned) == [
        ("1", False, "交通管理", "2026-03-02"),
        ("1", True, "治安", "2026-03-02"),
        ("2", False, "刑侦", "2026-03-02"),
    ]
    assert all(s is None for *_, s in assigned) and users == 0
    # the upgraded ledger works with today's code: the unit's account sees its item
    with make_sessionmaker(old_ledger)() as db:
        rows = ledger.cycle.inbox(db, "治安", window=5)
        assert [r.proposal.number for r in rows] == ["1"] and rows[0].assignment.role == "会办"
        detail = ledger.to_detail(
            ledger.get_proposal(db, rows[0].proposal.id, with_events=True), NOW.date()
        )
        assert [e.action for e in detail.events] == ["registered"]


def test_downgrade_and_upgrade_again(old_ledger: Engine) -> None:
    before = _snapshot(old_ledger)
    upgrade(old_ledger)
    downgrade(old_ledger, "0001")
    assert current_revision(old_ledger) == "0001" and _snapshot(old_ledger) == before
    upgrade(old_ledger)
    assert current_revision(old_ledger) == "0002" and _snapshot(old_ledger) == before
