"""Word documents: the 督办通知 to one unit and the annual report's draft (python-docx)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from router.reports.figures import Figures
from router.reports.topics import Topic

_FONT = "仿宋"


@dataclass(frozen=True)
class NoticeItem:
    number: str
    title: str
    due_on: date | None
    days_overdue: int
    key: bool = False


def _new() -> DocxDocument:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = _FONT
    style.font.size = Pt(14)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), _FONT)
    return doc


def _title(doc: DocxDocument, text: str) -> None:
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(text)
    run.bold = True
    run.font.size = Pt(20)


def _table(doc: DocxDocument, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text


def _bytes(doc: DocxDocument) -> bytes:
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def notice_docx(unit_name: str, items: Sequence[NoticeItem], today: date, office: str) -> bytes:
    """督办通知 to one unit: its overdue and due-soon items, each with 编号, title, deadline."""
    doc = _new()
    _title(doc, "督办通知")
    doc.add_paragraph(f"{unit_name}：")
    late = [i for i in items if i.days_overdue > 0]
    soon = [i for i in items if i.days_overdue == 0]
    parts = []
    if late:
        parts.append(f"{len(late)} 件已超过办理期限")
    if soon:
        parts.append(f"{len(soon)} 件即将到期")
    doc.add_paragraph(
        f"截至 {today:%Y年%m月%d日}，你单位承办的人大代表建议和政协提案中，{'，'.join(parts)}。"
        "请按期限抓紧办理、按时答复；确有困难的，请及时申请延期并说明理由。"
    )
    rows = [
        [
            i.number,
            i.title + ("（重点督办）" if i.key else ""),
            i.due_on.isoformat() if i.due_on else "",
            f"超期 {i.days_overdue} 天" if i.days_overdue else "未超期",
        ]
        for i in items
    ]
    _table(doc, ["编号", "标题", "办理期限", "超期天数"], rows)
    doc.add_paragraph("")
    sign = doc.add_paragraph(f"{office}\n{today:%Y年%m月%d日}")
    sign.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    return _bytes(doc)


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def report_docx(f: Figures, topics: Sequence[Topic], *, bureau: str = "市公安局") -> bytes:
    """The annual report's skeleton with every number filled in from the ledger."""
    doc = _new()
    _title(doc, f"{bureau}关于{f.session}人大代表建议和政协提案办理情况的报告")
    doc.add_paragraph(f"（草稿，{f.today:%Y年%m月%d日}据台帐生成）")

    doc.add_heading("一、基本情况", level=2)
    kinds = "、".join(
        f"{'人大代表建议' if k == '建议' else '政协提案'} {n} 件"
        for k, n in sorted(f.by_kind.items())
    )
    doc.add_paragraph(
        f"{f.session}共收到人大代表建议和政协提案 {f.total} 件（{kinds or '无'}）。{f.unit_sentence()}"
    )
    if f.referred:
        deps = "；".join(f"{d} {n} 件" for d, n in f.by_department)
        doc.add_paragraph(
            f"属非公安机关职责的 {f.referred} 件，已向代表说明情况并转请相关部门办理（{deps}）。"
        )

    doc.add_heading("二、主要内容", level=2)
    if topics:
        doc.add_paragraph("建议提案主要集中在以下方面（按内容用词归类，名称取各类最突出的词）：")
        for i, t in enumerate(topics, 1):
            doc.add_paragraph(f"{i}. {t.name}：{t.count} 件")
    else:
        doc.add_paragraph("本届次暂无可归类的建议。")

    doc.add_heading("三、办理情况", level=2)
    doc.add_paragraph(
        f"已答复 {f.replied} 件，其中按期答复 {f.on_time} 件、超期答复 {f.late} 件；"
        f"经批准延期 {f.extended} 件；正在办理且未超期 {f.open_in_time} 件，已超期未答复 {f.overdue} 件。"
    )
    ev = f.evaluations
    doc.add_paragraph(
        f"代表委员已评价 {f.evaluated} 件：满意 {ev.get('满意', 0)} 件、基本满意 {ev.get('基本满意', 0)} 件、"
        f"不满意 {ev.get('不满意', 0)} 件，满意率（满意与基本满意占已评价的比例）为 {_pct(f.satisfaction_rate)}。"
    )
    doc.add_heading("四、主要做法", level=2)
    doc.add_paragraph("（由督查室根据各承办单位的办理总结填写。）")
    doc.add_heading("五、存在的问题和下一步打算", level=2)
    doc.add_paragraph("（由督查室填写。）")

    doc.add_heading("附：建议提案办理一览", level=2)
    rows = [
        [
            r.number,
            r.title,
            r.deputy,
            r.lead,
            r.co,
            r.status + ("（已延期）" if r.extended else ""),
            r.due_on.isoformat() if r.due_on else "",
            r.replied_on.isoformat() if r.replied_on else "",
            r.evaluation or "",
        ]
        for r in f.items
    ]
    _table(
        doc, ["编号", "标题", "代表/委员", "主办", "会办", "状态", "期限", "答复日期", "评价"], rows
    )
    return _bytes(doc)
