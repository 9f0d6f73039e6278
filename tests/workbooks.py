"""Workbooks the batch tests build for themselves, shaped like the ledgers clerks send."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl

# Invented proposals, one per unit and one outside police work, plus a copy and a paraphrase.
PROPOSALS: list[tuple[str, str, str, str]] = [
    (
        "第001号",
        "王建国",
        "关于缓解实验小学门口上下学拥堵的建议",
        "每天放学时家长车辆在学府路双排停放，建议交警在高峰时段派警疏导，划设临时停车区。",
    ),
    (
        "第002号",
        "李秀英",
        "建议加强针对老年人的反诈宣传",
        "不少老人被保健品和养老投资骗局骗走积蓄，建议反诈民警进社区讲案例，帮助老人安装国家反诈中心APP。",
    ),
    (
        "第003号",
        "张伟",
        "关于整治直播间诱导未成年人打赏的建议",
        "部分主播诱导孩子用家长手机打赏，建议网安部门督促直播平台落实未成年人保护措施。",
    ),
    (
        "第004号",
        "刘芳",
        "关于加强文明养犬管理的建议",
        "小区遛狗不牵绳、大型犬伤人的事时有发生，建议公安机关加强养犬登记，依法处罚遛狗不拴绳。",
    ),
    (
        "第005号",
        "陈明",
        "关于充实基层派出所警力的建议",
        "城郊派出所辖区人口增长很快，民警多年没有增加，建议增加派出所警力编制，加快民警招录。",
    ),
    (
        "第006号",
        "杨丽",
        "关于简化新生儿落户办理流程的建议",
        "给孩子上户口要跑好几趟派出所，建议推行新生儿出生一件事联办，网上申请落户。",
    ),
    (
        "第007号",
        "赵强",
        "关于提高辅警工资待遇的建议",
        "辅警承担大量巡逻和窗口服务工作，工资只有两三千元，建议建立辅警工资正常增长机制，足额缴纳社保。",
    ),
    (
        "第008号",
        "周静",
        "关于修复城东大道破损路面和井盖的建议",
        "城东大道多处路面坑洼，井盖下沉松动，建议住建部门尽快修复路面、更换井盖。",
    ),
    # a copy of 第004号 sent again by another deputy (same text, re-typed punctuation)
    (
        "第009号",
        "吴敏",
        "关于加强文明养犬管理的建议",
        "小区遛狗不牵绳,大型犬伤人的事时有发生,建议公安机关加强养犬登记,依法处罚遛狗不拴绳。",
    ),
]

HEADER = ["序号", "建议号", "领衔代表", "代表单位", "建议标题", "主要内容", "备注"]


def ledger_workbook(
    rows: Sequence[Sequence[Any]] | None = None,
    *,
    title_line: bool = True,
    header_at: int = 3,
    first_col: int = 1,
    blank_every: int = 0,
) -> openpyxl.Workbook:
    """A title line merged over the table, the header on row ``header_at``, optional blanks."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "建议一览表"
    width = len(HEADER)
    if title_line:
        ws.cell(1, first_col, "市十七届人大三次会议代表建议一览表")
        ws.merge_cells(
            start_row=1, start_column=first_col, end_row=1, end_column=first_col + width - 1
        )
    for c, h in enumerate(HEADER):
        ws.cell(header_at, first_col + c, h)
    if rows is None:
        rows = [
            (i + 1, n, who, "某街道社区", t, c, "") for i, (n, who, t, c) in enumerate(PROPOSALS)
        ]
    r = header_at + 1
    for k, row in enumerate(rows):
        if blank_every and k and k % blank_every == 0:
            r += 1  # a blank row inside the table
        for c, v in enumerate(row):
            ws.cell(r, first_col + c, v)
        r += 1
    return wb


def save(wb: openpyxl.Workbook, path: Path) -> Path:
    wb.save(path)
    return path


def to_bytes(wb: openpyxl.Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def big_ledger(path: Path, texts: Sequence[tuple[str, str]], n: int) -> Path:
    """``n`` rows cycling through ``texts`` (title, content), written in streaming mode."""
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("建议一览表")
    ws.append(["市人大代表建议汇总（历年）"])
    ws.append(HEADER)
    for i in range(n):
        title, content = texts[i % len(texts)]
        ws.append([i + 1, f"第{i + 1:05d}号", f"代表{i % 300}", "某街道社区", title, content, ""])
    wb.save(path)
    return path
