"""Writing a routed 《一览表》: .xlsx with 统计, 问题行 and 并案 sheets, or .csv; never a partial file."""

from __future__ import annotations

import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from router.files import shareable
from router.sheets.batch import (
    ADDED_COLUMNS,
    JURISDICTION_NAMES,
    BatchResult,
    column_values,
    output_row,
    row_label,
)
from router.sheets.read import TableError

OUTPUT_EXTENSIONS = (".xlsx", ".csv")
SHEETS = ("一览表", "统计", "问题行", "并案")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """A temporary file beside ``dest`` that replaces it only if the block succeeds."""
    dest = Path(dest)
    fd, name = tempfile.mkstemp(prefix=f".~{dest.stem}-", suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    shareable(tmp)  # mkstemp's 0600 would leave the workbook unreadable to the office's group
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_output_path(output: Path, source: Path | None = None) -> None:
    """Refuse an output the clerk would regret: wrong type, missing folder, the input itself."""
    if output.suffix.lower() not in OUTPUT_EXTENSIONS:
        raise TableError(
            f"输出文件应为 .xlsx 或 .csv，而不是“{output.suffix or '（无扩展名）'}”。", 400
        )
    if not output.parent.is_dir():
        raise TableError(f"输出目录 {output.parent} 不存在。", 400)
    if source is not None and output.resolve() == Path(source).resolve():
        raise TableError("输出文件不能与输入文件相同：原始台账不应被覆盖。", 400)


def write_output(result: BatchResult, target: Path | IO[bytes], fmt: str | None = None) -> None:
    """Write .xlsx (four sheets and a chart) or .csv (the routed table only, UTF-8 with BOM)."""
    fmt = fmt or (
        Path(target).suffix.lower().lstrip(".") if isinstance(target, Path | str) else "xlsx"
    )
    if fmt == "csv":
        _write_csv(result, target)
    elif fmt == "xlsx":
        _write_xlsx(result, target)
    else:
        raise TableError(f"不支持的输出格式：{fmt}", 400)


def safe_text(value: str) -> str:
    """A cell for CSV that Excel will not run as a formula: a leading quote, as Excel does."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _footer_frame(result: BatchResult) -> pd.DataFrame:
    """The input's footer rows (合计, 注：…) under the original columns, the added ones empty."""
    names = list(result.table.frame.columns)
    rows = [dict(zip(names, cells, strict=False)) for _n, cells in result.table.footer]
    return pd.DataFrame(rows, columns=list(result.frame.columns), dtype=object).fillna("")


def _write_csv(result: BatchResult, target: Path | IO[bytes]) -> None:
    frame = result.frame
    if result.table.footer:  # kept as the input had them, after the data
        frame = pd.concat([frame, _footer_frame(result)], ignore_index=True)
    frame = frame.map(lambda v: safe_text(v) if isinstance(v, str) else v)
    frame.columns = [safe_text(str(c)) for c in frame.columns]  # a header is a cell too
    data = frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    if isinstance(target, Path | str):
        Path(target).write_bytes(data)
    else:
        target.write(data)


def _write_xlsx(result: BatchResult, target: Path | IO[bytes]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        target if isinstance(target, Path | str) else target,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    try:
        fmt = _Formats(wb)
        _sheet_ledger(wb, fmt, result)
        _sheet_stats(wb, fmt, result)
        _sheet_problems(wb, fmt, result)
        _sheet_groups(wb, fmt, result)
    finally:
        wb.close()


class _Formats:
    def __init__(self, wb: Any) -> None:
        self.head = wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}
        )
        self.added = wb.add_format(
            {"bold": True, "bg_color": "#FCE4D6", "border": 1, "text_wrap": True, "valign": "top"}
        )
        self.text = wb.add_format({"valign": "top"})
        self.wrap = wb.add_format({"valign": "top", "text_wrap": True})
        self.quoted = wb.add_format({"valign": "top", "quote_prefix": True})
        self.pct = wb.add_format({"valign": "top", "num_format": "0%"})
        self.review = wb.add_format({"valign": "top", "font_color": "#C00000"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.section = wb.add_format({"bold": True, "font_size": 12})
        self.int = wb.add_format({"num_format": "0"})


def _put(ws: Any, r: int, c: int, value: Any, fmt: _Formats, style: Any = None) -> None:
    """Every text is written as text; one that starts like a formula keeps Excel's quote
    prefix, so that Excel shows it and never evaluates it (not even after an edit)."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, bool):
        ws.write_string(r, c, "是" if value else "否", style or fmt.text)
    elif isinstance(value, int | float):
        ws.write_number(r, c, value, style or fmt.text)
    else:
        text = str(value)
        if text.startswith(_FORMULA_START):
            ws.write_string(r, c, text, fmt.quoted)
        else:
            ws.write_string(r, c, text, style or fmt.text)


def _now(timezone: str) -> str:
    try:
        return datetime.now(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now(UTC).strftime("%Y-%m-%d %H:%M（UTC）")


def _print_setup(ws: Any, *, repeat_header: bool = True) -> None:
    """Landscape A4, one page wide, the header row on every page: a 30-row result prints on
    two or three pages, not fifteen portrait ones."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")
    if repeat_header:
        ws.repeat_rows(0)


def _sheet_ledger(wb: Any, fmt: _Formats, result: BatchResult) -> None:
    ws = wb.add_worksheet(SHEETS[0])
    frame = result.frame
    names = list(frame.columns)
    added_from = len(names) - len(ADDED_COLUMNS)
    for c, name in enumerate(names):
        ws.write_string(0, c, str(name), fmt.added if c >= added_from else fmt.head)
    pct_col = names.index("置信度")
    review_col = names.index("需人工复核")
    wrap_cols = {c for c, n in enumerate(names) if n in ("判定依据",)}
    widths = [min(40, max(6, len(str(n)) * 2 + 2)) for n in names]
    for r, values in enumerate(frame.itertuples(index=False, name=None), start=1):
        for c, v in enumerate(values):
            style = (
                fmt.pct
                if c == pct_col
                else fmt.review
                if (c == review_col and str(v).startswith("是"))
                else (fmt.wrap if c in wrap_cols else None)
            )
            _put(ws, r, c, v, fmt, style)
    for c, w in enumerate(widths):
        name = names[c]
        if name in (result.columns.title or "", result.columns.content or ""):
            w = 40 if name == result.columns.title else 60
        ws.set_column(c, c, w)
    footer = _footer_frame(result) if result.table.footer else None
    if footer is not None:  # the input's 合计 / 注 rows, as they were, after the data
        for r, values in enumerate(footer.itertuples(index=False, name=None), start=len(frame) + 1):
            for c, v in enumerate(values):
                _put(ws, r, c, v, fmt)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(1, len(frame)), len(names) - 1)
    last = len(frame) + 1 + (len(footer) if footer is not None else 0)
    ws.ignore_errors({"number_stored_as_text": f"A1:{_col(len(names) - 1)}{last}"})
    _print_setup(ws)


def _col(index: int) -> str:
    from router.sheets.columns import column_letter

    return column_letter(index)


def _share_table(
    ws: Any, fmt: _Formats, r: int, title: str, first: str, rows: list[tuple[str, int]], total: int
) -> int:
    """A titled section of (name, count, share of all data rows) lines; returns the next row."""
    ws.write_string(r, 0, title, fmt.section)
    for c, h in enumerate((first, "件数", "占比")):
        ws.write_string(r + 1, c, h, fmt.head)
    r += 2
    for name, value in rows:
        ws.write_string(r, 0, name)
        ws.write_number(r, 1, value)
        ws.write_number(r, 2, value / total if total else 0, fmt.pct)
        r += 1
    return r


def _sheet_stats(wb: Any, fmt: _Formats, result: BatchResult) -> None:
    from router.labels import load_labels

    ws = wb.add_worksheet(SHEETS[1])
    labels = load_labels()
    s = result.summary()
    total = result.total
    routed = [r for r in result.routed if r is not None]
    ws.set_column(0, 0, 26)
    ws.set_column(1, 5, 14)
    ws.write_string(0, 0, "批量分办统计", fmt.title)
    r = 2
    ws.write_string(r, 0, "概况", fmt.section)
    r += 1
    overview: list[tuple[str, Any]] = [
        ("源文件", result.table.source),
        ("工作表", result.table.sheet or "（CSV）"),
        ("表头所在行", "、".join(str(x) for x in result.table.header_rows)),
        ("数据行数", total),
        ("已给出分办建议", s["routed"]),
        ("问题行（无法分办）", s["problems"]),
        ("跳过的空行（不计入数据行）", s["blank_rows_skipped"]),
        ("表尾合计、说明行（照录于一览表末尾，不计入数据行）", s["footer_rows"]),
        ("需人工复核", s["needs_review"]),
        ("可批量确认", s["confirmable"]),
        ("可批量确认占全部数据行", s["confirmable_share"]),
        ("并案组数", s["groups"]),
        ("并案涉及行数", s["grouped_rows"]),
        ("其中重复件", s["duplicate_rows"]),
        ("模型版本", result.model_version),
        ("生成时间", _now(result.timezone)),
    ]
    if result.table.other_sheets:
        overview.append(("未处理的工作表", result.table.other_sheets_note()))
    if result.registration is not None:
        reg = result.registration
        overview += [
            ("登记届次", reg.session),
            ("新登记", reg.created),
            ("台账中已有（未重复登记）", reg.existing),
            ("未登记（见问题行）", len(reg.problems)),
        ]
    for name, value in overview:
        ws.write_string(r, 0, name)
        _put(ws, r, 1, value, fmt, fmt.pct if name == "可批量确认占全部数据行" else None)
        r += 1

    r += 1
    ws.write_string(r, 0, "各承办单位件数（建议主办）", fmt.section)
    r += 1
    for c, h in enumerate(("单位", "单位全称", "主办件数", "占比", "其中需复核", "建议会办件数")):
        ws.write_string(r, c, h, fmt.head)
    r += 1
    lead = Counter(x.unit for x in routed)
    review = Counter(x.unit for x in routed if x.needs_review)
    co = Counter(u for x in routed for u in x.co_units)
    unit_rows = [(u.label, u.unit) for u in labels.units] + [(labels.outside, "转有关部门")]
    chart_first = r
    for label, full in unit_rows:
        ws.write_string(r, 0, label)
        ws.write_string(r, 1, full)
        ws.write_number(r, 2, lead.get(label, 0))
        ws.write_number(r, 3, lead.get(label, 0) / total if total else 0, fmt.pct)
        ws.write_number(r, 4, review.get(label, 0))
        ws.write_number(r, 5, co.get(label, 0))
        r += 1
    chart_last = r - 1
    ws.write_string(r, 0, "无法分办（问题行）")
    ws.write_number(r, 2, s["problems"])
    ws.write_number(r, 3, s["problems"] / total if total else 0, fmt.pct)
    r += 1
    ws.write_string(r, 0, "合计", fmt.head)
    ws.write_number(r, 2, total)
    r += 2

    jur = Counter(x.jurisdiction for x in routed)
    jur_rows = [(name, jur.get(key, 0)) for key, name in JURISDICTION_NAMES.items()]
    jur_rows.append(("无法分办（问题行）", s["problems"]))
    r = _share_table(ws, fmt, r, "职责判定", "判定", jur_rows, total) + 1

    review_rows: list[tuple[str, int]] = [
        ("可批量确认", s["confirmable"]),
        ("无需复核，但应逐件确认", s["routed"] - s["needs_review"] - s["confirmable"]),
        ("需人工复核", s["needs_review"]),
        ("无法分办（问题行）", s["problems"]),
    ]
    r = _share_table(ws, fmt, r, "复核需求", "类别", review_rows, total)
    kinds = Counter(k for x in routed for k in x.reason_kinds)
    for name, value in kinds.most_common():
        ws.write_string(r, 0, f"  复核原因：{name}")
        ws.write_number(r, 1, value)
        r += 1
    r += 1

    deps = Counter(d for x in routed for d in x.departments)
    if deps:
        ws.write_string(r, 0, "建议转交部门（全部或部分内容）", fmt.section)
        r += 1
        for c, h in enumerate(("部门", "件数")):
            ws.write_string(r, c, h, fmt.head)
        r += 1
        for name, value in deps.most_common():
            ws.write_string(r, 0, name)
            ws.write_number(r, 1, value)
            r += 1

    chart = wb.add_chart({"type": "bar"})
    chart.add_series(
        {
            "name": "建议主办件数",
            "categories": [SHEETS[1], chart_first, 0, chart_last, 0],
            "values": [SHEETS[1], chart_first, 2, chart_last, 2],
            "data_labels": {"value": True},
            "fill": {"color": "#4472C4"},
        }
    )
    chart.set_title({"name": "各承办单位建议件数"})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})
    chart.set_x_axis({"name": "件数"})
    chart.set_size({"width": 620, "height": 360})
    ws.insert_chart(2, 7, chart)
    _print_setup(ws, repeat_header=False)


def _sheet_problems(wb: Any, fmt: _Formats, result: BatchResult) -> None:
    ws = wb.add_worksheet(SHEETS[2])
    heads = ("行号", "原表行号", "编号", "标题", "环节", "原因")
    for c, h in enumerate(heads):
        ws.write_string(0, c, h, fmt.head)
    problems = list(result.problems)
    if result.registration is not None:
        problems += result.registration.problems
    problems.sort(key=lambda p: (p.row, p.stage))
    position = {row: pos for pos, row in enumerate(result.table.rows)}
    for r, p in enumerate(problems, start=1):
        if p.row in position:
            ws.write_number(r, 0, output_row(position[p.row]))
        ws.write_number(r, 1, p.row)
        _put(ws, r, 2, p.number, fmt)
        _put(ws, r, 3, p.title, fmt)
        ws.write_string(r, 4, p.stage)
        _put(ws, r, 5, p.reason, fmt)
    r = len(problems) + 1
    for sheet in result.table.other_sheets:
        ws.write_string(r, 4, "读取")
        _put(ws, r, 5, f"工作表“{sheet}”未处理（本次只处理了“{result.table.sheet}”）", fmt)
        r += 1
    if r == 1:
        ws.write_string(1, 0, "没有问题行：每一行都已给出分办建议。")
    ws.write_string(
        r + 1 if r > 1 else 3,
        0,
        "说明：“行号”是本结果“一览表”中的行，“原表行号”是上传文件中的行（原因中的单元格地址也按原表）。",
    )
    ws.set_column(0, 2, 10)
    ws.set_column(3, 3, 40)
    ws.set_column(4, 4, 8)
    ws.set_column(5, 5, 60)
    ws.freeze_panes(1, 0)
    _print_setup(ws)


def _sheet_groups(wb: Any, fmt: _Formats, result: BatchResult) -> None:
    ws = wb.add_worksheet(SHEETS[3])
    heads = (
        "并案组",
        "类别",
        "行号",
        "原表行号",
        "编号",
        "代表",
        "标题",
        "建议承办单位",
        "与本组何行重复",
        "组内最高相似度",
    )
    for c, h in enumerate(heads):
        ws.write_string(0, c, h, fmt.head)
    cols = result.columns
    df = result.table.frame
    numbers, names, titles = (
        column_values(df, cols.number),
        column_values(df, cols.deputy_name),
        column_values(df, cols.title),
    )
    rows = result.table.rows
    r = 1
    for g in result.groups:
        for pos in g.positions:
            routed = result.routed[pos]
            ws.write_string(r, 0, g.name)
            ws.write_string(r, 1, g.kind)
            ws.write_number(r, 2, output_row(pos))
            ws.write_number(r, 3, rows[pos])
            _put(ws, r, 4, numbers[pos], fmt)
            _put(ws, r, 5, names[pos], fmt)
            _put(ws, r, 6, titles[pos], fmt)
            _put(ws, r, 7, routed.unit if routed else "", fmt)
            if pos in g.duplicates:
                ws.write_string(r, 8, row_label(g.duplicates[pos], rows))
            ws.write_number(r, 9, g.max_similarity)
            r += 1
    if not result.groups:
        ws.write_string(1, 0, "未发现内容相同或相近的建议。")
    ws.write_string(
        r + 1,
        0,
        f"说明：相似度为按词计算的 TF-IDF 余弦；≥ {result.thresholds[0]} 记为重复件，"
        f"≥ {result.thresholds[1]} 记为相关，仅供并案参考，由人工决定是否并案办理。"
        "“行号”是本结果“一览表”中的行，“原表行号”是上传文件中的行。",
    )
    ws.set_column(0, 5, 10)
    ws.set_column(6, 6, 40)
    ws.set_column(7, 9, 14)
    ws.freeze_panes(1, 0)
    _print_setup(ws)
