"""Batch routing: rows kept in order, added columns, 统计, 问题行, 并案, safe cells, atomic output,
registration in one idempotent transaction, and a 10,000-row ledger."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from router.core.routing import Router
from router.core.text import prepare
from router.settings import Settings
from router.sheets.batch import ADDED_COLUMNS, BatchOptions, BatchResult, load_input, route_table
from router.sheets.merge import group_similar
from router.sheets.register import register_and_write, register_rows
from router.sheets.write import atomic_path, write_output
from tests.workbooks import HEADER, PROPOSALS, big_ledger, ledger_workbook, save

LONG = "建议加强巡逻。" * 3000  # over the 20,000-character limit


def _rows() -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = [
        (i + 1, n, who, "某街道社区", t, c, "") for i, (n, who, t, c) in enumerate(PROPOSALS)
    ]
    rows += [
        (10, "第010号", "郑洁", "某社区", "", "", "标题内容都空"),
        (11, "第011号", "孙亮", "某社区", '=CONCAT("关于","拥堵")', "", ""),
        (12, "第012号", "钱坤", "某社区", "#DIV/0!", "正文", ""),
        (13, "第013号", "冯雪", "某社区", "关于加强巡逻的建议", LONG, ""),
    ]
    return rows


@pytest.fixture()
def ledger(tmp_path: Path) -> Path:
    return save(ledger_workbook(_rows(), blank_every=4), tmp_path / "一览表.xlsx")


@pytest.fixture()
def result(router: Router, settings: Settings, ledger: Path) -> BatchResult:
    options = BatchOptions.from_settings(settings)
    table, columns = load_input(ledger, options)
    return route_table(router, table, columns, options)


def test_every_row_kept_in_order_with_the_added_columns(
    result: BatchResult, router: Router
) -> None:
    frame = result.frame
    assert list(frame.columns) == HEADER + list(ADDED_COLUMNS)
    assert len(frame) == len(_rows()) == result.total
    assert list(frame["建议号"]) == [r[1] for r in _rows()]
    assert result.routed_count + len(result.problems) == result.total  # the counts add up
    assert result.table.blank_rows == 3
    allowed = set(router.labels.classes)
    for _, row in frame.iterrows():
        if row["需人工复核"].startswith("是：无法分办"):
            assert row["建议承办单位"] == "" and pd.isna(row["置信度"])
        else:
            assert row["建议承办单位"] in allowed
            assert 0 < row["置信度"] <= 1
            assert row["职责判定"] in ("公安职责", "部分非公安职责", "非公安职责")
            assert row["需人工复核"] == "否" or row["需人工复核"].startswith("是：")
        assert row["模型版本"] == router.version
    roads = frame[frame["建议号"] == "第008号"].iloc[0]
    assert roads["建议承办单位"] == "非公安职责" and "住建局" in roads["建议转交部门"]


def test_problem_rows_have_row_numbers_and_reasons(result: BatchResult) -> None:
    by_number = {p.number: p for p in result.problems}
    assert set(by_number) == {"第010号", "第011号", "第012号", "第013号"}
    assert by_number["第010号"].reason == "标题和内容不能同时为空。"
    assert "没有保存计算结果" in by_number["第011号"].reason and by_number[
        "第011号"
    ].reason.startswith("E")
    assert "错误值 #DIV/0!" in by_number["第012号"].reason
    assert "文本过长" in by_number["第013号"].reason
    rows = result.table.rows
    for p in result.problems:
        assert p.row in rows
        assert result.frame.loc[p.row, "需人工复核"] == f"是：无法分办——{p.reason}"


def test_copies_and_related_proposals_are_grouped(result: BatchResult) -> None:
    assert len(result.groups) == 1
    group = result.groups[0]
    rows = result.table.rows
    numbers = [result.frame["建议号"].iloc[p] for p in group.positions]
    assert numbers == ["第004号", "第009号"] and group.kind == "重复"
    first, copy = (rows[p] for p in group.positions)
    assert result.frame.loc[first, "并案组"] == "并案1"
    # the output's row (header on row 1, data from row 2), and the input's row
    shown = group.positions[0] + 2
    assert result.frame.loc[copy, "并案组"] == f"并案1（与第 {shown} 行（原表第 {first} 行）重复）"


def test_group_similar_tells_duplicates_from_related() -> None:
    texts = [
        prepare(
            "关于优化人民路与解放路交叉口信号灯配时的建议",
            "人民路与解放路路口早高峰左转车辆排队很长，建议交警根据流量调整信号灯配时，增设左转待转区。",
        ),
        prepare(
            "建议调整人民路解放路口左转绿灯时长",
            "每天经过人民路和解放路交叉口，左转要等很久，希望交管部门延长左转绿灯时间。",
        ),
        prepare(
            "关于加强文明养犬管理的建议",
            "小区遛狗不牵绳、大型犬伤人的事时有发生，建议公安机关加强养犬登记。",
        ),
        prepare(
            "建议增设农村治安监控探头", "村里多次发生盗窃农机，建议推进雪亮工程，在村口安装监控。"
        ),
        prepare("关于提高辅警工资待遇的建议", "辅警工资只有两三千元，建议建立工资增长机制。"),
        prepare(
            "关于加强文明养犬管理的建议",
            "小区遛狗不牵绳,大型犬伤人的事时有发生,建议公安机关加强养犬登记。",
        ),
    ]
    groups = group_similar(texts, duplicate=0.8, related=0.35)
    assert [(g.positions, g.duplicates, g.kind) for g in groups] == [
        ((0, 1), {}, "相关"),
        ((2, 5), {5: 2}, "重复"),
    ]
    assert group_similar(texts[:1], 0.8, 0.35) == []


def test_xlsx_has_the_four_sheets_stats_chart_and_problems(
    result: BatchResult, tmp_path: Path
) -> None:
    out = tmp_path / "out.xlsx"
    write_output(result, out)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["一览表", "统计", "问题行", "并案"]
    ws = wb["一览表"]
    assert [c.value for c in ws[1]] == HEADER + list(ADDED_COLUMNS)
    assert ws.max_row == result.total + 1
    stats = {row[0]: row[1:] for row in wb["统计"].iter_rows(values_only=True) if row[0]}
    assert stats["数据行数"][0] == result.total
    assert stats["问题行（无法分办）"][0] == 4
    # the review needs add up: bulk-confirmable, to confirm one by one, to review, problems
    one_by_one = stats["无需复核，但应逐件确认"][0]
    assert stats["可批量确认"][0] + one_by_one + stats["需人工复核"][0] + 4 == result.total
    assert stats["可批量确认"][0] == sum(1 for r in result.routed if r and r.bulk_confirmable)
    assert stats["合计"][1] == result.total
    assert stats["交通管理"][:2] == ("交警支队", sum(result.frame["建议承办单位"] == "交通管理"))
    assert "公安职责" in stats and "复核需求" in stats
    with zipfile.ZipFile(out) as zf:
        charts = [n for n in zf.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 1 and b"<c:barChart>" in zf.read(charts[0])
    problems = list(wb["问题行"].iter_rows(values_only=True))
    assert problems[0] == ("行号", "原表行号", "编号", "标题", "环节", "原因")
    listed = [r for r in problems[1:] if r[2]]
    assert [r[2] for r in listed] == ["第010号", "第011号", "第012号", "第013号"]
    assert all(isinstance(r[0], int) and isinstance(r[1], int) and r[5] for r in listed)
    groups = list(wb["并案"].iter_rows(values_only=True))
    assert groups[1][:2] == ("并案1", "重复")
    assert groups[2][8] == f"第 {groups[1][2]} 行（原表第 {groups[1][3]} 行）"


def test_cells_that_look_like_formulas_are_never_run(router: Router, tmp_path: Path) -> None:
    danger = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)"]
    src = tmp_path / "in.csv"
    lines = ["编号,标题,内容,备注"] + [
        f"{i},{d},关于加强文明养犬管理的建议,{d}" for i, d in enumerate(danger, 1)
    ]
    src.write_text("\n".join(lines), encoding="utf-8")
    options = BatchOptions()
    table, columns = load_input(src, options)
    result = route_table(router, table, columns, options)
    xlsx = tmp_path / "out.xlsx"
    write_output(result, xlsx)
    ws = openpyxl.load_workbook(xlsx)["一览表"]
    for r, text in enumerate(danger, start=2):
        for c in (2, 4):
            cell = ws.cell(r, c)
            assert cell.value == text and cell.data_type == "s", (r, c)
            assert cell.quotePrefix
    csv_out = tmp_path / "out.csv"
    write_output(result, csv_out)
    back = pd.read_csv(csv_out, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert list(back["备注"]) == ["'" + d for d in danger]
    assert list(back.columns[-len(ADDED_COLUMNS) :]) == list(ADDED_COLUMNS)


def test_atomic_output_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    dest = tmp_path / "out.xlsx"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]
    with atomic_path(dest) as tmp:
        tmp.write_bytes(b"new")
    assert dest.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]


def test_two_processes_give_the_same_table(router: Router, ledger: Path) -> None:
    one = BatchOptions(chunk=3)
    two = BatchOptions(chunk=3, workers=2, parallel_min_rows=1)
    table, columns = load_input(ledger, one)
    a = route_table(router, table, columns, one)
    b = route_table(router, table, columns, two)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.problems == b.problems


def test_progress_and_kept_decisions_are_the_same_on_two_processes(
    router: Router, ledger: Path
) -> None:
    one = BatchOptions(chunk=3)
    two = BatchOptions(chunk=3, workers=2, parallel_min_rows=1)
    table, columns = load_input(ledger, one)
    seen: dict[int, list[tuple[int, int]]] = {1: [], 2: []}
    results = {
        k: route_table(
            router,
            table,
            columns,
            opts,
            lambda d, t, k=k: seen[k].append((d, t)),  # type: ignore[misc]
            keep_decisions=True,
        )
        for k, opts in ((1, one), (2, two))
    }
    a, b = results[1], results[2]
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert [d.model_dump() if d else None for d in a.decisions] == [
        d.model_dump() if d else None for d in b.decisions
    ]
    assert a.texts == b.texts and len(a.texts) == a.total
    assert all(bool(t) == (r is not None) for t, r in zip(a.texts, a.routed, strict=True))
    for calls in seen.values():
        done = [d for d, _ in calls]
        assert done == sorted(done) and calls[-1][0] == calls[-1][1] == calls[0][1]
        assert calls[0][0] == 0 and len(calls) > 2


# -- registration ---------------------------------------------------------------------------
def _ledger_count(url: str) -> int:
    from sqlalchemy import func, select

    from router.db import make_engine, make_sessionmaker
    from router.ledger import Proposal

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as db:
            return int(db.scalar(select(func.count()).select_from(Proposal)) or 0)
    finally:
        engine.dispose()


def _register(url: str, result: BatchResult, session: str, fail: bool = False) -> None:
    from router.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as db, db.begin():
            register_rows(db, result, session, actor="测试")
            if fail:
                raise OSError("disk full while writing the output")
    finally:
        engine.dispose()


def test_registration_is_one_idempotent_transaction(
    router: Router, settings: Settings, ledger: Path, sqlite_url: str
) -> None:
    options = BatchOptions.from_settings(settings)
    table, columns = load_input(ledger, options)
    result = route_table(router, table, columns, options, keep_decisions=True)
    with pytest.raises(OSError):
        _register(sqlite_url, result, "十七届三次", fail=True)
    assert _ledger_count(sqlite_url) == 0  # a failure registers nothing

    _register(sqlite_url, result, "十七届三次")
    reg = result.registration
    assert reg is not None and (reg.created, reg.existing, reg.problems) == (9, 0, [])
    assert _ledger_count(sqlite_url) == 9  # the four problem rows are not registered

    again = route_table(router, table, columns, options, keep_decisions=True)
    _register(sqlite_url, again, "十七届三次")
    assert again.registration is not None
    assert (again.registration.created, again.registration.existing) == (0, 9)
    assert _ledger_count(sqlite_url) == 9  # running it twice registers nothing twice


def test_register_and_write_commits_only_once_the_output_is_written(
    router: Router, settings: Settings, ledger: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"  # not migrated yet: register_and_write does it
    options = BatchOptions.from_settings(settings)
    table, columns = load_input(ledger, options)
    result = route_table(router, table, columns, options, keep_decisions=True)

    def broken() -> None:
        raise OSError("disk full while writing the output")

    with pytest.raises(OSError):
        register_and_write(url, result, "十七届三次", actor="测试", kind="建议", write=broken)
    assert _ledger_count(url) == 0  # the output failed: nothing registered

    out = tmp_path / "out.xlsx"
    register_and_write(
        url,
        result,
        "十七届三次",
        actor="测试",
        kind="建议",
        write=lambda: write_output(result, out),
    )
    assert out.exists() and _ledger_count(url) == 9
    assert result.registration is not None and result.registration.created == 9


def test_rows_that_cannot_be_registered_are_listed(
    router: Router, tmp_path: Path, sqlite_url: str
) -> None:
    rows = [
        (1, "A-1", "王建国", "x", "关于加强文明养犬管理的建议", "遛狗不牵绳", ""),
        (2, "A-1", "李秀英", "x", "建议加强反诈宣传", "老人被骗", ""),
        (3, "", "张伟", "x", "关于提高辅警工资待遇的建议", "工资低", ""),
        (4, "A-4", "刘芳", "x", "长" * 600, "", ""),
    ]
    src = save(ledger_workbook(rows), tmp_path / "r.xlsx")
    options = BatchOptions()
    table, columns = load_input(src, options)
    result = route_table(router, table, columns, options, keep_decisions=True)
    _register(sqlite_url, result, "十七届三次")
    reg = result.registration
    assert reg is not None and reg.created == 1
    reasons = {p.row: p.reason for p in reg.problems}
    assert reasons == {
        5: "无法登记：编号“A-1”与第 4 行相同而内容不同",
        6: "无法登记：编号为空",
        7: "无法登记：标题超过 500 字",
    }
    out = tmp_path / "r-out.xlsx"
    write_output(result, out)
    stages = [
        r[4]
        for r in openpyxl.load_workbook(out)["问题行"].iter_rows(min_row=2, values_only=True)
        if r[1]
    ]
    assert stages == ["登记", "登记", "登记"]


# -- a large ledger --------------------------------------------------------------------------
@pytest.mark.slow
def test_ten_thousand_rows_end_to_end(
    router: Router, settings: Settings, corpus: pd.DataFrame, tmp_path: Path
) -> None:
    texts = list(zip(corpus["title"], corpus["content"], strict=True))
    src = big_ledger(tmp_path / "历年.xlsx", texts, 10_000)
    options = BatchOptions.from_settings(settings)
    table, columns = load_input(src, options)
    result = route_table(router, table, columns, options)
    out = tmp_path / "out.xlsx"
    write_output(result, out)
    assert len(result.frame) == 10_000 and result.table.rows[0] == 3
    assert result.routed_count + len(result.problems) == 10_000
    repeats = 10_000 // len(texts)
    assert sum(len(g.duplicates) for g in result.groups) >= (repeats - 1) * len(texts)
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb["一览表"].max_row == 10_001
    wb.close()
