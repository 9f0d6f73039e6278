"""The annual report's numbers against a ledger built here; `router report` and `router users`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
from docx import Document
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from router import ledger
from router.cli import app
from router.core.routing import Router, route
from router.db import make_engine, make_sessionmaker
from router.ledger import DecisionCreate, EvaluationCreate, ProposalCreate, StatusChange
from router.ledger.accounts import Account
from router.reports.documents import report_docx
from router.reports.figures import figures
from router.reports.topics import topics
from router.reports.workbook import ledger_xlsx

SESSION = "十七届三次"
TODAY = date(2026, 6, 30)
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
OFFICE = Account(1, "督查员", "分办人员", None, "token")
TRAFFIC_TEXTS = [
    ("学校门口拥堵", "建议优化信号灯配时，增设交通标志"),
    ("路口信号灯配时不合理", "高峰期拥堵，建议优化信号灯配时"),
    ("违停严重", "建议加强违停治理和交通疏导"),
]
runner = CliRunner()


@pytest.fixture()
def db(sqlite_url: str) -> Iterator[Session]:
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()


def _add(
    db: Session, router: Router, number: str, title: str, content: str, session: str = SESSION
) -> int:
    item = ProposalCreate(number=number, session=session, title=title, content=content)
    reg = ledger.register_proposal(db, item, route(router, title, content), actor="登记员", now=NOW)
    return reg.proposal.id


def _decide(db: Session, pid: int, **kw: object) -> None:
    body = DecisionCreate.model_validate(
        {"expected_version": ledger.get_proposal(db, pid).version, "reason_code": "其他", **kw}
    )
    ledger.decide(db, pid, body, actor="督查员", due_days=90, today=date(2026, 3, 2), now=NOW)


def _reply(db: Session, pid: int, on: str, evaluation: str | None = None) -> None:
    v = ledger.get_proposal(db, pid).version
    ledger.change_status(
        db,
        pid,
        StatusChange(status="已答复", replied_on=date.fromisoformat(on), expected_version=v),
        actor="督查员",
    )
    if evaluation:
        ledger.record_evaluation(
            db, pid, EvaluationCreate(evaluation=evaluation, expected_version=v + 1), actor="督查员"
        )  # type: ignore[arg-type]


def build(db: Session, router: Router) -> None:
    ids = [_add(db, router, str(i), t, c) for i, (t, c) in enumerate(TRAFFIC_TEXTS, 1)]
    for pid in ids:
        _decide(db, pid, lead_unit="交通管理", due_on="2026-06-01")
    _reply(db, ids[0], "2026-05-20", "满意")  # on time
    _reply(db, ids[1], "2026-06-10", "基本满意")  # late
    # ids[2] stays open past 2026-06-01: overdue
    fraud = _add(db, router, "4", "电信诈骗", "建议加强反诈宣传，打击电信网络诈骗")
    _decide(db, fraud, lead_unit="刑侦", due_on="2026-06-01")
    traffic_unit = Account(2, "刑侦经办", "承办单位经办人", "刑侦", "token")
    req = ledger.cycle.ask_extension(db, fraud, traffic_unit, "需要跨省协查", date(2026, 8, 1))
    ledger.cycle.answer_request(
        db, req.id, OFFICE, approve=True, note=None
    )  # extended, open in time
    theft = _add(db, router, "5", "电动车被盗", "小区电动车被盗案件多，建议加大打击")
    _decide(db, theft, lead_unit="刑侦", due_on="2026-06-01")
    _reply(db, theft, "2026-04-01", "不满意")
    road = _add(db, router, "6", "道路拓宽", "建议拓宽学府路")
    _decide(db, road, lead_unit=None, referral_departments=["住建局"], referral_reason="道路建设")
    vendors = _add(db, router, "7", "占道经营", "建议整治占道经营和路灯")
    _decide(
        db,
        vendors,
        lead_unit=None,
        referral_departments=["住建局", "城管局"],
        referral_reason="城管",
    )
    _add(db, router, "8", "户口迁移", "建议简化落户手续")  # not yet decided
    _add(db, router, "1", "其他届次", "不应计入", session="十七届二次")
    db.commit()


def test_the_reports_numbers_match_the_ledger(db: Session, router: Router) -> None:
    build(db, router)
    f = figures(db, SESSION, TODAY)
    assert f.total == 8 and f.by_kind == {"建议": 8}
    assert f.by_unit == [("交警支队", 3), ("刑侦支队", 2)]
    assert (
        f.unit_sentence()
        == "其中交警支队 3 件；刑侦支队 2 件；非公安职责转出 2 件；尚未分办 1 件。"
    )
    assert (f.replied, f.on_time, f.late) == (3, 2, 1)
    assert (f.extended, f.overdue, f.open_in_time) == (1, 1, 1)
    assert f.referred == 2 and f.by_department == [("住建局", 2), ("城管局", 1)]
    assert f.evaluated == 3 and f.evaluations == {"满意": 1, "基本满意": 1, "不满意": 1}
    assert f.satisfaction_rate == pytest.approx(2 / 3)

    groups = topics([r.text for r in f.items])
    assert sum(t.count for t in groups) == 8 and all(t.words for t in groups)

    doc = Document(io.BytesIO(report_docx(f, groups)))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert (
        "共收到人大代表建议和政协提案 8 件（人大代表建议 8 件）。其中交警支队 3 件；刑侦支队 2 件"
        in text
    )
    assert "已答复 3 件，其中按期答复 2 件、超期答复 1 件；经批准延期 1 件" in text
    assert "已超期未答复 1 件" in text and "满意率（满意与基本满意占已评价的比例）为 66.7%" in text
    assert "（住建局 2 件；城管局 1 件）" in text
    assert f"1. {groups[0].name}：{groups[0].count} 件" in text
    table = doc.tables[0]
    assert len(table.rows) == 9 and table.rows[4].cells[5].text == "已分办（已延期）"

    book = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(f)))
    sheet = book["一览表"]
    assert sheet.max_row == 9 and sheet["A1"].value == "编号" and sheet["J5"].value == "是"
    assert [sheet.cell(r, 5).value for r in range(2, 10)][-3:] == [
        "转出：住建局",
        "转出：住建局、城管局",
        "待分办",
    ]


def test_a_formula_like_title_stays_text_in_the_workbook(db: Session, router: Router) -> None:
    _add(db, router, "1", '=HYPERLINK("http://x")', "建议加强反诈宣传")
    db.commit()
    sheet = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(figures(db, SESSION, TODAY))))["一览表"]
    assert sheet["C2"].value == '=HYPERLINK("http://x")' and sheet["C2"].data_type == "s"


def test_router_report_writes_the_docx_and_the_workbook(
    db: Session, router: Router, sqlite_url: str, tmp_path: Path
) -> None:
    build(db, router)
    env = {"ROUTER_DATABASE_URL": sqlite_url, "ROUTER_HOME": str(tmp_path)}
    out = tmp_path / "报告.docx"
    r = runner.invoke(app, ["report", "--session", SESSION, "-o", str(out)], env=env)
    assert r.exit_code == 0, r.output
    assert "其中交警支队 3 件；刑侦支队 2 件" in r.output
    assert out.is_file() and (tmp_path / "报告-一览表.xlsx").is_file()
    missing = runner.invoke(app, ["report", "--session", "无此届次", "-o", str(out)], env=env)
    assert missing.exit_code == 2 and "没有届次" in missing.output


def test_router_users_add_list_disable_reset(sqlite_url: str, tmp_path: Path) -> None:
    env = {"ROUTER_DATABASE_URL": sqlite_url, "ROUTER_HOME": str(tmp_path)}
    r = runner.invoke(app, ["users", "add", "王督查", "--role", "分办人员"], env=env)
    assert r.exit_code == 0 and "初始密码（只显示这一次" in r.output
    generated = r.output.rsplit("：", 1)[1].strip()
    r = runner.invoke(
        app,
        [
            "users",
            "add",
            "交警李",
            "--role",
            "承办单位经办人",
            "--unit",
            "交警支队",
            "--password-stdin",
        ],
        env=env,
        input="a-long-password-1\n",
    )
    assert r.exit_code == 0 and "交通管理" in r.output and "密码" not in r.output.split("。", 1)[1]
    bad = runner.invoke(app, ["users", "add", "x", "--role", "承办单位经办人"], env=env)
    assert bad.exit_code == 2 and "--unit" in bad.output
    short = runner.invoke(
        app,
        ["users", "add", "y", "--role", "审核领导", "--password-stdin"],
        env=env,
        input="short\n",
    )
    assert short.exit_code == 2 and "密码太短" in short.output
    listed = runner.invoke(app, ["users", "list"], env=env)
    assert "王督查" in listed.output and "交警李" in listed.output
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as s:
        assert ledger.accounts.authenticate(s, "王督查", generated) is not None
        assert ledger.accounts.authenticate(s, "交警李", "a-long-password-1") is not None
    tok = runner.invoke(app, ["users", "token", "交警李", "--label", "脚本"], env=env)
    assert tok.exit_code == 0 and "rt_" in tok.output
    assert runner.invoke(app, ["users", "disable", "交警李"], env=env).exit_code == 0
    with make_sessionmaker(engine)() as s:
        assert ledger.accounts.authenticate(s, "交警李", "a-long-password-1") is None
        plain = tok.output.strip().splitlines()[-1].strip()
        assert ledger.accounts.user_for_token(s, plain) is None
    reset = runner.invoke(app, ["users", "reset", "王督查"], env=env)
    assert reset.exit_code == 0 and "新密码" in reset.output
    with make_sessionmaker(engine)() as s:
        assert ledger.accounts.authenticate(s, "王督查", generated) is None
    engine.dispose()
    unknown = runner.invoke(app, ["users", "disable", "无此人"], env=env)
    assert unknown.exit_code == 2 and "没有名为" in unknown.output


def test_topics_group_the_session_by_its_words() -> None:
    texts = [
        "学校门口信号灯配时不合理，早晚高峰拥堵",
        "路口信号灯配时需优化，高峰拥堵严重",
        "建议优化信号灯配时缓解拥堵",
        "小区养犬不拴绳，建议加强养犬登记管理",
        "文明养犬宣传不够，犬只扰民，加强养犬管理",
        "建议规范养犬登记，查处无证养犬",
        "老年人遭遇电信诈骗，建议加强反诈宣传",
        "电信网络诈骗高发，建议加大反诈宣传力度",
        "社区反诈宣传进家庭，防范电信诈骗",
    ]
    groups = topics(texts)
    assert [g.count for g in groups] == [3, 3, 3]
    named = {w for g in groups for w in g.words}
    assert {"信号灯", "养犬"} <= named and ({"诈骗", "反诈"} & named)
    assert all(len(w) >= 2 for w in named)  # single characters do not name a topic
    assert topics([]) == [] and topics(["反诈宣传"])[0].count == 1
