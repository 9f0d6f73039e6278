"""The routed workbook points at its own rows, keeps footer rows and formulas, prints well."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from router.core.routing import Router
from router.settings import Settings
from router.sheets.batch import BatchOptions, BatchResult, load_input, route_table
from router.sheets.write import write_output
from tests.workbooks import PROPOSALS, ledger_workbook, save


def _rows() -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = [
        (i + 1, n, who, "某街道社区", t, c, "") for i, (n, who, t, c) in enumerate(PROPOSALS)
    ]
    rows.append((10, "第010号", "郑洁", "某社区", "", "", "标题内容都空"))
    rows.append((11, "第011号", "孙亮", "某社区", "关于加强巡逻的建议", "夜间巡逻少", "=ROW()"))
    return rows


@pytest.fixture()
def ledger(tmp_path: Path) -> Path:
    wb = ledger_workbook(_rows(), blank_every=3)  # a title line and blank rows shift the rows
    ws = wb.active
    assert ws is not None
    last = ws.max_row
    ws.cell(last + 1, 1, "合计")
    ws.cell(last + 1, 2, "11件")
    ws.cell(last + 2, 1, "注：本表由督查室汇总，以收到日期为准。")
    return save(wb, tmp_path / "一览表.xlsx")


@pytest.fixture()
def result(router: Router, settings: Settings, ledger: Path) -> BatchResult:
    options = BatchOptions.from_settings(settings)
    table, columns = load_input(ledger, options)
    return route_table(router, table, columns, options)


@pytest.fixture()
def book(result: BatchResult, tmp_path: Path) -> openpyxl.Workbook:
    out = tmp_path / "out.xlsx"
    write_output(result, out)
    return openpyxl.load_workbook(out)


def test_footer_rows_are_kept_not_counted(result: BatchResult, book: openpyxl.Workbook) -> None:
    assert result.total == 11 and len(result.table.footer) == 2
    assert [p.number for p in result.problems] == ["第010号"]  # not 合计 nor 注
    ws = book["一览表"]
    assert ws.max_row == 1 + 11 + 2
    assert ws.cell(13, 1).value == "合计" and ws.cell(13, 2).value == "11件"
    assert str(ws.cell(14, 1).value).startswith("注：本表由督查室汇总")
    assert ws.cell(13, 8).value is None  # nothing added to a footer row
    stats = {r[0]: r[1] for r in book["统计"].iter_rows(values_only=True) if r[0]}
    assert stats["数据行数"] == 11
    assert stats["表尾合计、说明行（照录于一览表末尾，不计入数据行）"] == 2


def test_an_unsaved_formula_is_marked_not_blanked(book: openpyxl.Workbook) -> None:
    ws = book["一览表"]
    header = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[1] == "第011号")
    assert row[header.index("备注")] == "【公式未计算】=ROW()"
    assert row[header.index("建议承办单位")]  # the row itself is routed


def test_row_numbers_point_at_the_outputs_rows(
    result: BatchResult, book: openpyxl.Workbook
) -> None:
    ws = book["一览表"]
    number_at = {r: ws.cell(r, 2).value for r in range(2, ws.max_row + 1)}
    problems = [r for r in book["问题行"].iter_rows(min_row=2, values_only=True) if r[2]]
    assert problems
    for out_row, src_row, number, *_ in problems:
        assert number_at[out_row] == number
        assert result.table.frame.loc[src_row, "建议号"] == number  # the input's row too
    groups = [r for r in book["并案"].iter_rows(min_row=2, values_only=True) if r[1]]
    assert groups
    for _g, _kind, out_row, src_row, number, *_rest in groups:
        assert number_at[out_row] == number
        assert result.table.frame.loc[src_row, "建议号"] == number
    # "与第 N 行重复" names the output's row of the first copy
    copy = next(r for r in groups if r[8])
    first_out = int(str(copy[8]).split()[1])
    assert number_at[first_out] == "第004号" and copy[4] == "第009号"
    label = next(r[-2] for r in ws.iter_rows(min_row=2, values_only=True) if r[1] == "第009号")
    assert f"与第 {first_out} 行" in str(label)


def test_every_sheet_prints_landscape_one_page_wide(book: openpyxl.Workbook) -> None:
    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToHeight == 0 and ws.sheet_properties.pageSetUpPr.fitToPage
    for name in ("一览表", "问题行", "并案"):
        assert book[name].print_title_rows == "$1:$1"


def test_progress_goes_on_through_the_merge(
    router: Router, settings: Settings, ledger: Path
) -> None:
    options = BatchOptions.from_settings(settings)
    table, columns = load_input(ledger, options)
    routing: list[tuple[int, int]] = []
    merging: list[tuple[int, int]] = []
    route_table(
        router,
        table,
        columns,
        options,
        lambda d, t: routing.append((d, t)),
        merge_progress=lambda d, t: merging.append((d, t)),
    )
    assert routing[-1][0] == routing[-1][1]
    assert merging == [(0, 3), (1, 3), (2, 3), (3, 3)]
