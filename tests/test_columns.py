"""Finding columns by their usual Chinese headers, explicit mappings, and saying what was used."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from router.sheets.columns import ColumnError, column_letter, find_columns, header_key, header_score
from router.sheets.read import read_table
from tests.workbooks import ledger_workbook, save


def _frame(*headers: str) -> pd.DataFrame:
    return pd.DataFrame([["x"] * len(headers)], columns=list(headers))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            ("编号", "标题", "内容", "代表姓名", "代表单位"),
            ("编号", "标题", "内容", "代表姓名", "代表单位"),
        ),
        (
            ("建议号", "建议标题", "建议内容", "领衔代表", "工作单位"),
            ("建议号", "建议标题", "建议内容", "领衔代表", "工作单位"),
        ),
        (
            ("序号", "案由", "主要内容", "提出人", "单位"),
            ("序号", "案由", "主要内容", "提出人", "单位"),
        ),
        (("序号", "题目", "正文"), ("序号", "题目", "正文", None, None)),
    ],
)
def test_usual_headers(headers: tuple[str, ...], expected: tuple[str | None, ...]) -> None:
    cols = find_columns(_frame(*headers))
    got = (cols.number, cols.title, cols.content, cols.deputy_name, cols.deputy_unit)
    assert got == expected + (None,) * (5 - len(expected))
    assert cols.unit is None


def test_the_ledger_number_wins_over_a_row_counter() -> None:
    cols = find_columns(_frame("序号", "建议编号", "标题"))
    assert cols.number == "建议编号"


def test_headers_with_notes_spaces_and_full_width_characters() -> None:
    assert header_key(" 建议标题（必填）") == "建议标题"
    assert header_key("主要\n内容") == "主要内容"
    cols = find_columns(_frame("编 号", "建议标题(必填)", "主要内容＊"))
    assert (cols.number, cols.title, cols.content) == ("编 号", "建议标题(必填)", "主要内容＊")


def test_handling_unit_is_found_for_retraining_but_not_our_own_suggestion() -> None:
    cols = find_columns(_frame("标题", "建议承办单位", "主办单位"))
    assert cols.unit == "主办单位"
    assert find_columns(_frame("标题", "建议承办单位")).unit is None
    assert find_columns(_frame("标题", "承办单位")).unit == "承办单位"


def test_overrides_by_header_or_letter() -> None:
    frame = _frame("甲", "乙", "丙", "标题")
    cols = find_columns(frame, {"title": "乙", "content": "C"})
    assert (cols.title, cols.content) == ("乙", "丙")
    assert cols.how["title"] == "按指定"
    # an override takes the column away from the header rule
    assert find_columns(frame, {"content": "标题"}).title is None


def test_an_override_naming_no_column_is_refused() -> None:
    with pytest.raises(ColumnError, match="指定的标题列“不存在”不存在"):
        find_columns(_frame("标题", "内容"), {"title": "不存在"})
    with pytest.raises(ColumnError, match="未知的列角色"):
        find_columns(_frame("标题"), {"nonsense": "A"})


def test_no_text_column_says_what_to_do() -> None:
    with pytest.raises(ColumnError) as info:
        find_columns(_frame("序号", "代表姓名", "备注"))
    message = str(info.value)
    assert "未找到可用的文本列" in message and "--title-col" in message and "“备注”" in message
    assert find_columns(_frame("序号"), require_text=False).number == "序号"


def test_describe_names_letters_and_how(tmp_path: Path) -> None:
    table = read_table(save(ledger_workbook(first_col=2), tmp_path / "d.xlsx"))
    lines = find_columns(table, {"deputy_unit": "备注"}).describe()
    assert "标题：F 列“建议标题”（按表头识别）" in lines
    assert "代表单位：H 列“备注”（按指定）" in lines
    assert header_score(["编号", "标题", "内容"]) == 5  # three roles, two of them text
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


def test_retraining_reads_a_labelled_past_ledger_with_the_same_rules(tmp_path: Path) -> None:
    from router.learn.retrain import RetrainError, file_examples

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["2024年建议办理情况"])
    ws.append(["建议号", "案由", "主要内容", "主办单位"])
    ws.append(["1", "关于加强文明养犬管理的建议", "遛狗不牵绳", "治安支队"])
    ws.append(["2", "建议加强反诈宣传", "", "刑侦"])
    examples = file_examples(save(wb, tmp_path / "past.xlsx"))
    assert [(e.title, e.content, e.label) for e in examples] == [
        ("关于加强文明养犬管理的建议", "遛狗不牵绳", "治安支队"),
        ("建议加强反诈宣传", "", "刑侦"),
    ]
    ws.delete_cols(4)
    with pytest.raises(RetrainError, match="没有“承办单位”列"):
        file_examples(save(wb, tmp_path / "nolabel.xlsx"))
