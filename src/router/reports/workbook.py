"""The full 一览表 of a session as .xlsx (xlsxwriter), with text cells never read as formulas."""

from __future__ import annotations

import io

import xlsxwriter

from router.reports.figures import Figures

_HEADER = [
    "编号",
    "类别",
    "标题",
    "代表/委员",
    "主办单位",
    "会办单位",
    "状态",
    "办理期限",
    "答复日期",
    "延期",
    "评价",
]


def ledger_xlsx(f: Figures) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = book.add_worksheet("一览表")
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    sheet.write_row(0, 0, _HEADER, bold)
    for i, r in enumerate(f.items, 1):
        sheet.write_row(
            i,
            0,
            [
                r.number,
                r.kind,
                r.title,
                r.deputy,
                r.lead,
                r.co,
                r.status,
                r.due_on.isoformat() if r.due_on else "",
                r.replied_on.isoformat() if r.replied_on else "",
                "是" if r.extended else "",
                r.evaluation or "",
            ],
        )
    sheet.set_column(0, 1, 10)
    sheet.set_column(2, 2, 40)
    sheet.set_column(3, 10, 14)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(f.items), 1), len(_HEADER) - 1)
    book.close()
    return buffer.getvalue()
