"""The filtered ledger as an .xlsx 一览表: Chinese headers, frozen header row, ready to print.

Printed landscape, one page wide (as many pages tall as it takes), the header repeated on
every page; times in the bureau's time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

import xlsxwriter

from router.ledger.models import Proposal
from router.ledger.ops import days_overdue

# (header, width, value)
_COLUMNS: list[tuple[str, float]] = [
    ("序号", 6),
    ("届次", 12),
    ("编号", 10),
    ("类别", 6),
    ("代表/委员", 10),
    ("工作单位", 16),
    ("标题", 36),
    ("收到日期", 11),
    ("模型建议", 10),
    ("置信度", 8),
    ("主办单位", 10),
    ("会办单位", 14),
    ("转出部门", 16),
    ("状态", 8),
    ("办理期限", 11),
    ("超期天数", 8),
    ("答复日期", 11),
    ("评价", 9),
    ("经办人", 10),
    ("分办时间", 17),
]
HEADERS = [h for h, _ in _COLUMNS]


def _row(i: int, p: Proposal, today: date, tz: ZoneInfo) -> list[Any]:
    decided = p.decided_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if p.decided_at else ""
    return [
        i,
        p.session,
        p.number,
        p.kind,
        p.deputy_name,
        p.deputy_unit,
        p.title,
        p.received_on,
        p.suggested_unit or "转出",
        p.suggested_confidence,
        p.lead_unit or ("转出" if p.decided_at is not None else ""),
        "、".join(p.co_units or []),
        "、".join(p.referral_departments or []),
        p.status,
        p.due_on,
        days_overdue(p, today) or "",
        p.replied_on,
        p.evaluation or "",
        p.decided_by or "",
        decided,
    ]


def write_ledger(
    rows: Iterable[Proposal],
    out: IO[bytes],
    *,
    today: date,
    timezone: str,
    title: str = "人大代表建议和政协提案分办台账",
    generated: datetime | None = None,
) -> int:
    """Write the 一览表 to ``out``; returns the number of proposals written."""
    tz = ZoneInfo(timezone)
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("一览表")
    head = book.add_format(
        {"bold": True, "bg_color": "#DDE6F0", "border": 1, "text_wrap": True, "valign": "vcenter"}
    )
    cell = book.add_format({"text_wrap": True, "valign": "top", "border": 1})
    day = book.add_format({"num_format": "yyyy-mm-dd", "valign": "top", "border": 1})
    pct = book.add_format({"num_format": "0%", "valign": "top", "border": 1})
    late = book.add_format(
        {"text_wrap": True, "valign": "top", "border": 1, "font_color": "#B00020"}
    )
    for c, (name, width) in enumerate(_COLUMNS):
        sheet.set_column(c, c, width)
        sheet.write(0, c, name, head)
    n = 0
    for n, p in enumerate(rows, start=1):
        values = _row(n, p, today, tz)
        for c, value in enumerate(values):
            if isinstance(value, date):
                sheet.write_datetime(n, c, datetime(value.year, value.month, value.day), day)
            elif c == 9:
                sheet.write_number(n, c, float(value), pct)
            elif value is None or value == "":
                sheet.write_blank(n, c, None, cell)
            elif c == 15:
                sheet.write_number(n, c, int(value), late)
            else:
                sheet.write(n, c, value, cell)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(n, 1), len(_COLUMNS) - 1)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    stamp = (generated or datetime.now(tz)).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    sheet.set_header(f"&C&12{title}")
    sheet.set_footer(f"&L导出于 {stamp}&R第 &P 页，共 &N 页")
    book.close()
    return n
