"""Reading ledgers: header anywhere, merged headers, blank rows, formulas, and every bad file."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from router.sheets.read import TableError, read_table, read_table_bytes
from tests.workbooks import PROPOSALS, ledger_workbook, save, to_bytes


def test_header_below_a_title_line_and_right_of_empty_columns(tmp_path: Path) -> None:
    wb = ledger_workbook(header_at=4, first_col=3)
    table = read_table(save(wb, tmp_path / "a.xlsx"))
    assert table.header_rows == (4,)
    assert list(table.frame.columns)[:6] == [
        "序号",
        "建议号",
        "领衔代表",
        "代表单位",
        "建议标题",
        "主要内容",
    ]
    assert table.rows == list(range(5, 5 + len(PROPOSALS)))  # the numbers Excel shows
    assert table.letters["建议标题"] == "G"
    assert table.frame["建议号"].iloc[0] == "第001号"
    assert table.frame["序号"].iloc[0] == "1"  # a whole number is not "1.0"
    assert table.kind == "xlsx" and table.sheet == "建议一览表"


def test_blank_rows_are_skipped_counted_and_numbers_kept(tmp_path: Path) -> None:
    wb = ledger_workbook(blank_every=3)
    table = read_table(save(wb, tmp_path / "b.xlsx"))
    assert len(table.frame) == len(PROPOSALS)
    assert table.blank_rows == 2  # blanks after the 3rd and 6th rows; none counted at the end
    assert table.rows[:5] == [4, 5, 6, 8, 9]


def test_two_row_header_with_merged_cells(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["A1"] = "建议办理情况一览表"
    ws.merge_cells("A1:F1")
    ws["A2"], ws["B2"], ws["D2"], ws["E2"] = "编号", "提出人", "题目", "主要内容"
    ws.merge_cells("A2:A3")
    ws.merge_cells("B2:C2")  # 提出人 over 姓名 | 单位
    ws.merge_cells("D2:D3")
    ws.merge_cells("E2:E3")
    ws["B3"], ws["C3"] = "姓名", "工作单位"
    ws["F2"] = "届次"
    ws.append(
        [
            "A-1",
            "王建国",
            "实验小学",
            "关于缓解学校门口拥堵的建议",
            "放学时家长车辆乱停。",
            "十七届三次",
        ]
    )
    ws.append(["A-2", "李秀英", "某社区", "建议加强反诈宣传", "老人被骗。", None])
    ws.merge_cells("F4:F5")  # one session cell over two rows belongs to both
    table = read_table(save(wb, tmp_path / "c.xlsx"))
    assert table.header_rows == (2, 3)
    assert list(table.frame.columns) == ["编号", "姓名", "工作单位", "题目", "主要内容", "届次"]
    assert table.rows == [4, 5]
    assert list(table.frame["届次"]) == ["十七届三次", "十七届三次"]


def test_formula_and_error_cells_are_flagged(tmp_path: Path) -> None:
    rows = [
        (1, "第001号", "王建国", "x", '=CONCAT("关于","拥堵")', "", ""),
        (2, "第002号", "李秀英", "x", "#REF!", "正文照常", "=ROW()"),
        (3, "第003号", "张伟", "x", "建议加强反诈宣传", "老人被骗。", ""),
    ]
    table = read_table(save(ledger_workbook(rows), tmp_path / "f.xlsx"))
    assert "没有保存计算结果" in table.bad_cells[(4, "建议标题")]
    assert table.bad_cells[(5, "建议标题")] == "单元格是错误值 #REF!"
    assert (5, "备注") in table.bad_cells
    assert (6, "建议标题") not in table.bad_cells
    assert len(table.frame) == 3


def test_values_as_text(tmp_path: Path) -> None:
    rows = [
        (
            1.5,
            12345678901234,
            dt.date(2026, 1, 15),
            dt.datetime(2026, 1, 15, 8, 30),
            True,
            "标题",
            "内容",
        )
    ]
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["甲", "乙", "收到日期", "时间", "是否", "标题", "内容"])
    for row in rows:
        ws.append(row)
    frame = read_table(save(wb, tmp_path / "v.xlsx")).frame
    assert list(frame.iloc[0]) == [
        "1.5",
        "12345678901234",
        "2026-01-15",
        "2026-01-15 08:30:00",
        "TRUE",
        "标题",
        "内容",
    ]


def test_the_sheet_with_a_ledger_header_is_chosen(tmp_path: Path) -> None:
    wb = ledger_workbook()
    notes = wb.create_sheet("填表说明", 0)
    notes["A1"] = "请按模板填写"
    table = read_table(save(wb, tmp_path / "s.xlsx"))
    assert table.sheet == "建议一览表"
    with pytest.raises(TableError, match="没有数据行"):
        read_table(tmp_path / "s.xlsx", sheet="填表说明")
    with pytest.raises(TableError, match="没有名为“不存在”的工作表"):
        read_table(tmp_path / "s.xlsx", sheet="不存在")


CSV_TEXT = '编号,标题,内容\r\n1,关于加强文明养犬管理的建议,"遛狗不牵绳，\r\n大型犬伤人。"\r\n\r\n2,建议加强反诈宣传,老人被骗\r\n'


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (CSV_TEXT.encode("utf-8"), "UTF-8"),
        (b"\xef\xbb\xbf" + CSV_TEXT.encode("utf-8"), "UTF-8（带 BOM）"),
        (CSV_TEXT.encode("gbk"), "GBK"),
    ],
)
def test_csv_encodings_are_detected(encoded: bytes, encoding: str) -> None:
    table = read_table_bytes(encoded, "台账.csv")
    assert table.encoding == encoding
    assert list(table.frame.columns) == ["编号", "标题", "内容"]
    assert table.rows == [2, 4]  # records as Excel shows them; the blank record skipped
    assert table.frame["内容"].iloc[0] == "遛狗不牵绳，\r\n大型犬伤人。"
    assert table.blank_rows == 1


BIG5_TEXT = (
    "編號,標題,內容\r\n1,關於加強文明養犬管理的建議,社區遛狗不牽繩，大型犬傷人事件時有發生\r\n"
)
SJIS_TEXT = (
    "番号,件名,内容\r\n1,通学路の交通安全について,朝の時間帯に車が多く、子どもたちが危ないです\r\n"
)


@pytest.mark.parametrize(
    ("data", "message", "status"),
    [
        (BIG5_TEXT.encode("big5"), "无法识别", 415),
        (SJIS_TEXT.encode("shift_jis"), "无法识别", 415),
        (CSV_TEXT.encode("utf-16"), "UTF-16", 415),
        (b"\x00\x01\x02binary\x00" * 10, "二进制", 415),
    ],
)
def test_unknown_csv_encodings_are_refused(data: bytes, message: str, status: int) -> None:
    with pytest.raises(TableError, match=message) as info:
        read_table_bytes(data, "台账.csv")
    assert info.value.status == status


def _encrypted(wb: openpyxl.Workbook) -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(to_bytes(wb))).encrypt("密码123", out)
    return out.getvalue()


def _docx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<document/>")
    return buf.getvalue()


def _empty_workbook() -> bytes:
    return to_bytes(openpyxl.Workbook())


def _header_only() -> bytes:
    return to_bytes(ledger_workbook(rows=[]))


@pytest.mark.parametrize(
    ("make", "name", "message", "status"),
    [
        (lambda: _encrypted(ledger_workbook()), "a.xlsx", "已加密", 422),
        (lambda: to_bytes(ledger_workbook())[:3000], "a.xlsx", "已损坏", 422),
        (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "a.xlsx", "内容不是 Excel 工作簿", 422),
        (lambda: "编号,标题\n1,x\n".encode(), "a.xlsx", "内容不是 Excel 工作簿", 422),
        (_docx_bytes, "a.xlsx", "Word 文档", 422),
        (_empty_workbook, "a.xlsx", "是空的", 422),
        (_header_only, "a.xlsx", "没有数据行", 422),
        (lambda: b"", "a.xlsx", "空文件", 422),
        (lambda: b"%PDF-1.7", "a.pdf", "不支持的文件类型", 415),
        (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "a.xls", "损坏", 422),
    ],
)
def test_bad_files_get_a_chinese_reason(make: object, name: str, message: str, status: int) -> None:
    data = make()  # type: ignore[operator]
    with pytest.raises(TableError, match=message) as info:
        read_table_bytes(data, name)
    assert info.value.status == status


def test_size_and_row_limits(tmp_path: Path) -> None:
    path = save(ledger_workbook(), tmp_path / "big.xlsx")
    with pytest.raises(TableError, match="超过 0 MB 的上限") as info:
        read_table(path, max_bytes=100)
    assert info.value.status == 413
    with pytest.raises(TableError, match="超过 5 行的上限") as info:
        read_table(path, max_rows=5)
    assert info.value.status == 413
    with pytest.raises(TableError, match="找不到或无法访问"):
        read_table(tmp_path / "missing.xlsx")


def test_a_header_with_an_unnamed_column_does_not_swallow_the_first_row(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["编号", "标题", "内容", None])
    ws.append(["1", "关于加强文明养犬管理的建议", "遛狗不牵绳", "附件见后"])
    ws.append(["2", "建议加强反诈宣传", "老人被骗", ""])
    table = read_table(save(wb, tmp_path / "u.xlsx"))
    assert table.header_rows == (1,)
    assert list(table.frame.columns) == ["编号", "标题", "内容", "列D"]
    assert table.rows == [2, 3]


def test_legacy_xls(tmp_path: Path) -> None:
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("建议")
    ws.write_merge(0, 0, 0, 2, "一览表")
    for c, h in enumerate(["编号", "案由", "主要内容"]):
        ws.write(2, c, h)
    ws.write(3, 0, "第001号")
    ws.write(3, 1, "关于提高辅警工资待遇的建议")
    ws.write(3, 2, "工资低")
    ws.write(5, 0, 2.0)
    ws.write(5, 1, "建议加强反诈宣传")
    path = tmp_path / "旧台账.xls"
    wb.save(str(path))
    table = read_table(path)
    assert table.kind == "xls" and table.header_rows == (3,)
    assert table.rows == [4, 6] and table.blank_rows == 1
    assert list(table.frame["编号"]) == ["第001号", "2"]
