"""Reading a ledger file (.xlsx, .xls, .csv) into a table of strings, or saying why not.

A clerk's spreadsheet is rarely a clean table: a title line above the header, a header
split over two rows with merged cells, blank rows, formulas, the odd error value. This
module finds the header, keeps the row numbers Excel shows (so that a problem can be found
again in the original), and refuses what it cannot read with a Chinese sentence that says
what to do. The format is judged by the file's bytes, never by its name.

Engines were chosen by measurement (``bench/excel_io.py``): python-calamine reads a
10,000-row workbook about four times faster than openpyxl and also gives the merged ranges.
It does not report error values or formulas without a saved result, so those are found by a
scan of the sheet's XML.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from xml.etree import ElementTree

from router.files import os_reason
from router.sheets.columns import column_letter, header_key, header_score, role_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EXTENSIONS",
    "Table",
    "TableError",
    "read_file_bytes",
    "read_table",
    "read_table_bytes",
]

EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".csv")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_HEADER_SCAN = 30
_Cell = Any


class TableError(ValueError):
    """The file cannot be read as a ledger; the message is for the clerk (Chinese).

    ``status`` is the HTTP status an upload of this file deserves.
    """

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class PlainFrame:
    """A table's data rows as plain lists: what the isolated reader's child sends back, so
    that it need not import pandas (a quarter of a second) to make a frame the caller makes."""

    records: list[list[str]]
    headers: list[str]
    numbers: list[int]

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            self.records,
            columns=self.headers,
            index=pd.Index(self.numbers, name="行号"),
            dtype=object,
        )


@dataclass(frozen=True)
class Table:
    """The data rows as strings; the index holds each row's number as Excel shows it."""

    frame: pd.DataFrame
    source: str
    kind: str  # "xlsx", "xls" or "csv"
    sheet: str | None
    header_rows: tuple[int, ...]
    letters: dict[str, str]  # column name -> column letter in the original
    blank_rows: int = 0
    encoding: str | None = None
    bad_cells: dict[tuple[int, str], str] = field(default_factory=dict)  # (row, column) -> why
    # Rows after the data such as "合计 330 件" or "注：……": kept for the output, never routed
    # or counted. Each is (row number, cells in the frame's column order).
    footer: tuple[tuple[int, tuple[str, ...]], ...] = ()
    # other sheets whose top looks like a ledger's header: not read, the clerk is told
    other_sheets: tuple[str, ...] = ()

    def other_sheets_note(self) -> str:
        if not self.other_sheets:
            return ""
        names = "、".join(f"“{n}”" for n in self.other_sheets)
        return (
            f"工作簿中还有 {len(self.other_sheets)} 个像台账的工作表未处理：{names}。"
            f"本次只处理了“{self.sheet}”；请用 --sheet（网页上另存为单独的文件）逐个处理。"
        )

    @property
    def rows(self) -> list[int]:
        return [int(r) for r in self.frame.index]

    def describe(self) -> str:
        where = f"工作表“{self.sheet}”，" if self.sheet else ""
        enc = f"，编码 {self.encoding}" if self.encoding else ""
        head = "、".join(str(r) for r in self.header_rows)
        return f"{self.source}：{where}表头在第 {head} 行，数据 {len(self.frame)} 行{enc}"


def read_table(
    path: Path | str,
    *,
    sheet: str | None = None,
    max_bytes: int | None = None,
    max_rows: int | None = None,
    extra_headers: Iterable[str] = (),
) -> Table:
    """Read a ledger file; see :func:`read_table_bytes`. The size is checked before reading."""
    path = Path(path)
    data = read_file_bytes(path, max_bytes)
    return read_table_bytes(
        data,
        path.name,
        sheet=sheet,
        max_bytes=max_bytes,
        max_rows=max_rows,
        extra_headers=extra_headers,
    )


def read_file_bytes(path: Path | str, max_bytes: int | None = None) -> bytes:
    """A file's bytes, its size checked before it is read."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TableError(f"找不到或无法访问文件 {path}：{os_reason(exc)}", 400) from exc
    if not path.is_file():
        raise TableError(f"{path} 不是文件。", 400)
    _check_size(size, max_bytes, path.name)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TableError(f"无法读取文件 {path}：{os_reason(exc)}", 400) from exc


def read_table_bytes(
    data: bytes,
    name: str,
    *,
    sheet: str | None = None,
    max_bytes: int | None = None,
    max_rows: int | None = None,
    extra_headers: Iterable[str] = (),
    max_columns: int | None = None,
    plain: bool = False,
) -> Table:
    """Read a ledger from its bytes; ``name`` is the file name the clerk gave it.

    ``sheet`` picks a worksheet by name; otherwise the visible sheet whose header looks most
    like a ledger's is read. ``extra_headers`` are header names an explicit column mapping
    asks for, so that they count when the header row is looked for. ``plain`` (the isolated
    reader's child) leaves the rows as a :class:`PlainFrame` for the caller to make the frame.
    """
    _check_size(len(data), max_bytes, name)
    ext = Path(name).suffix.lower()
    if ext not in EXTENSIONS:
        raise TableError(
            f"不支持的文件类型“{ext or '（无扩展名）'}”：请上传 .xlsx、.xls 或 .csv 文件。", 415
        )
    if not data:
        raise TableError(f"{name} 是空文件（0 字节）。")
    extra = (tuple(extra_headers), max_columns)
    if data.startswith(_OLE):
        _refuse_encrypted(data, name)
        return _read_excel(data, name, "xls", sheet, max_rows, extra, plain)
    if data.startswith(_ZIP):
        _check_xlsx_zip(data, name)
        return _read_excel(data, name, "xlsx", sheet, max_rows, extra, plain)
    if ext != ".csv":
        raise TableError(
            f"{name} 的扩展名是 {ext}，但内容不是 Excel 工作簿：文件可能已损坏，或是其他类型的文件改了扩展名。"
            "请在 Excel 中打开后另存为 .xlsx 再试。"
        )
    text, encoding = _decode_csv(data, name)
    rows = _parse_csv(text, name, max_rows)
    return _build(rows, [], name, "csv", None, max_rows, extra, {}, encoding, plain)


# -- checks -------------------------------------------------------------------------------
def _check_size(size: int, max_bytes: int | None, name: str) -> None:
    if max_bytes is not None and size > max_bytes:
        raise TableError(
            f"{name} 有 {size / 2**20:.1f} MB，超过 {max_bytes / 2**20:.0f} MB 的上限。"
            "请删去图片等无关内容，或按年度拆分后分别处理。",
            413,
        )


def _refuse_encrypted(data: bytes, name: str) -> None:
    """An OLE container is either a legacy .xls or a password-protected workbook."""
    import msoffcrypto
    from msoffcrypto.exceptions import FileFormatError

    try:
        encrypted = msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted()
    except FileFormatError:
        encrypted = False  # not an Office document msoffcrypto knows; calamine will judge
    except Exception as exc:  # noqa: BLE001 - any failure here means a broken container
        raise TableError(
            f"{name} 已损坏，无法打开（{type(exc).__name__}）。请在 Excel 中打开后另存再试。"
        ) from exc
    if encrypted:
        raise TableError(
            f"{name} 设置了打开密码（已加密），无法读取。请在 Excel 中“文件 → 信息 → 保护工作簿”取消密码后另存，再处理。"
        )


def _check_xlsx_zip(data: bytes, name: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise TableError(
            f"{name} 已损坏（压缩包结构不完整），无法打开。请在 Excel 中打开后另存再试。"
        ) from exc
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        what = "Word 文档" if "word/document.xml" in names else "其他压缩文件"
        raise TableError(
            f"{name} 不是 Excel 工作簿（看起来是{what}）。请上传 .xlsx、.xls 或 .csv 文件。"
        )
    if "xl/workbook.bin" in names:
        raise TableError(f"{name} 是二进制工作簿（.xlsb），请在 Excel 中另存为 .xlsx。", 415)


# -- Excel --------------------------------------------------------------------------------
def _read_excel(
    data: bytes,
    name: str,
    kind: str,
    sheet: str | None,
    max_rows: int | None,
    bounds: tuple[tuple[str, ...], int | None],
    plain: bool = False,
) -> Table:
    import python_calamine as pc

    extra = bounds[0]

    try:
        wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - calamine raises several error types for a bad file
        raise TableError(
            f"{name} 已损坏或不是 Excel 工作簿，无法打开（{_short(exc)}）。请在 Excel 中打开后另存再试。"
        ) from exc
    with wb:
        metas = [m for m in wb.sheets_metadata if m.typ == pc.SheetTypeEnum.WorkSheet]
        if sheet is not None:
            if sheet not in wb.sheet_names:
                raise TableError(
                    f"{name} 中没有名为“{sheet}”的工作表；有：{'、'.join(wb.sheet_names)}。"
                )
            names = [sheet]
        else:
            visible = [m.name for m in metas if m.visible == pc.SheetVisibleEnum.Visible]
            names = visible or [m.name for m in metas]
        best: tuple[int, int, str] | None = None
        scores: dict[str, int] = {}
        sheets: dict[str, Any] = {}
        for pos, sheet_name in enumerate(names):
            head = _load_rows(
                _sheet(wb, sheets, sheet_name, name), sheet_name, name, nrows=_HEADER_SCAN
            )
            if not any(_filled(r) for r in head):
                continue
            score = max((header_score(_cells(r), extra) for r in head), default=0)
            scores[sheet_name] = score
            if best is None or score > best[0]:
                best = (score, pos, sheet_name)
        if best is None:
            raise TableError(f"{name} 是空的：工作表中没有任何内容。")
        chosen = best[2]
        others = tuple(n for n, sc in scores.items() if n != chosen and sc > 0)
        chosen_sheet = _sheet(wb, sheets, chosen, name)
        rows = _load_rows(chosen_sheet, chosen, name)
        merges = chosen_sheet.merged_cell_ranges or []
    shown: dict[tuple[int, int], str] = {}
    flags = _xlsx_cell_flags(data, chosen, shown) if kind == "xlsx" else {}
    for (r, c), text in shown.items():  # never blank a cell the file holds something in
        if r < len(rows):
            if c >= len(rows[r]):
                rows[r] = [*rows[r], *[None] * (c + 1 - len(rows[r]))]
            if _text(rows[r][c]).strip() == "":
                rows[r][c] = text
    table = _build(rows, merges, name, kind, chosen, max_rows, bounds, flags, None, plain)
    return replace(table, other_sheets=others) if others else table


def _sheet(wb: Any, sheets: dict[str, Any], sheet_name: str, name: str) -> Any:
    """The worksheet, parsed once: calamine parses the whole sheet on every
    ``get_sheet_by_name``, which the header scan, the rows and the merges each asked for."""
    if sheet_name not in sheets:
        try:
            sheets[sheet_name] = wb.get_sheet_by_name(sheet_name)
        except Exception as exc:  # noqa: BLE001
            raise _damaged_sheet(name, sheet_name, exc) from exc
    return sheets[sheet_name]


def _load_rows(
    sheet: Any, sheet_name: str, name: str, nrows: int | None = None
) -> list[list[_Cell]]:
    try:
        rows: list[list[_Cell]] = sheet.to_python(skip_empty_area=False, nrows=nrows)
    except Exception as exc:  # noqa: BLE001
        raise _damaged_sheet(name, sheet_name, exc) from exc
    return rows


def _damaged_sheet(name: str, sheet_name: str, exc: BaseException) -> TableError:
    return TableError(f"{name} 的工作表“{sheet_name}”已损坏，无法读取（{_short(exc)}）。")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>([^<]*)</(?:\w+:)?f>)")
# What a cell that calamine reads as empty is shown as in the output, rather than a blank.
UNSAVED_FORMULA = "【公式未计算】"
_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_ERR = re.compile(rb'\bt="e"')
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")


def _xlsx_cell_flags(
    data: bytes, sheet: str, shown: dict[tuple[int, int], str] | None = None
) -> dict[tuple[int, int], str]:
    """Cells calamine reads as empty although they are not: error values, unsaved formulas.

    ``shown`` receives what each such cell should read in the output: the error value, or the
    formula itself marked as not calculated, so that no cell is silently blanked.
    """
    shown = shown if shown is not None else {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            part = _sheet_part(zf, sheet)
            if part is None:
                return {}
            xml = zf.read(part)
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, OSError):
        return {}
    if b't="e"' not in xml and b"<f" not in xml and b":f" not in xml:
        return {}
    flags: dict[tuple[int, int], str] = {}
    for m in _CELL.finditer(xml):
        attrs, body = m.group(1), m.group(2) or b""
        ref = _REF.search(attrs)
        if ref is None:
            continue
        row = int(ref.group(2)) - 1
        col = _col_index(ref.group(1).decode())
        value = _VALUE.search(body)
        if _ERR.search(attrs):
            error = value.group(1).decode("utf-8", "replace") if value else "#错误"
            flags[(row, col)] = f"单元格是错误值 {error}"
            shown[(row, col)] = error
        elif (formula := _FORMULA.search(body)) and (value is None or not value.group(1)):
            flags[(row, col)] = (
                "单元格是公式，但文件中没有保存计算结果（请在 Excel 中打开、保存后再试）"
            )
            text = formula.group(1).decode("utf-8", "replace") if formula.group(1) else ""
            shown[(row, col)] = f"{UNSAVED_FORMULA}={_unescape(text)}" if text else UNSAVED_FORMULA
    return flags


def _sheet_part(zf: zipfile.ZipFile, sheet: str) -> str | None:
    ns = {
        "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    }
    book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
    rid = None
    for el in book.iter(f"{{{ns['m']}}}sheet"):
        if el.get("name") == sheet:
            rid = el.get(f"{{{ns['r']}}}id")
    if rid is None:
        return None
    rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    for el in rels:
        if el.get("Id") == rid:
            target = el.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return None


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


# -- CSV ----------------------------------------------------------------------------------
def _decode_csv(data: bytes, name: str) -> tuple[str, str]:
    """UTF-8 (with or without BOM), GBK or GB18030; anything else is refused rather than garbled."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise TableError(
            f"{name} 是 UTF-16 编码（Excel 的“Unicode 文本”），不支持。请在 Excel 中另存为“CSV UTF-8（逗号分隔）”。",
            415,
        )
    if b"\x00" in data[:65536]:
        raise TableError(
            f"{name} 不是文本格式的 CSV 文件（含二进制内容）。请上传 .xlsx、.xls 或 .csv 文件。",
            415,
        )
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "UTF-8（带 BOM）"
        except UnicodeDecodeError as exc:
            raise _unknown_encoding(data, name) from exc
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gbk")
        encoding = "GBK"
    except UnicodeDecodeError:
        # GB18030 is GBK plus four-byte sequences for every other character: the rare name
        # characters (王𬌗) a GBK file saved by a newer Excel or WPS carries
        try:
            text = data.decode("gb18030")
            encoding = "GB18030"
        except UnicodeDecodeError as exc:
            raise _unknown_encoding(data, name) from exc
    if not _plausible_gbk(text):
        raise _unknown_encoding(data, name)
    return text, encoding


def _plausible_gbk(text: str) -> bool:
    """Real GBK Chinese is almost all GB2312 characters; Big5 or Shift-JIS read as GBK is not."""
    wide = [c for c in text[:200_000] if ord(c) > 0x7F]
    if not wide:
        return True
    common = 0
    for c in wide:
        try:
            c.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common / len(wide) >= 0.9


def _unknown_encoding(data: bytes, name: str) -> TableError:
    guess = ""
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        if best is not None and best.encoding:
            guess = f"（看起来像 {best.encoding}）"
    except Exception:  # noqa: BLE001 - the guess only decorates the message
        guess = ""
    return TableError(
        f"无法识别 {name} 的文字编码{guess}。支持 UTF-8、带 BOM 的 UTF-8 和 GBK（GB18030）：请在 Excel 中另存为“CSV UTF-8（逗号分隔）”或 .xlsx 再试。",
        415,
    )


def _parse_csv(text: str, name: str, max_rows: int | None = None) -> list[list[_Cell]]:
    sample = text[:20_000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    # rows beyond the data limit (and the header scan) are refused as they are read, not
    # after a huge file has been materialised
    bound = None if max_rows is None else max_rows + _HEADER_SCAN
    rows: list[list[_Cell]] = []
    filled = 0
    try:
        for r in csv.reader(io.StringIO(text, newline=""), dialect):
            if any(c.strip() for c in r):
                filled += 1
                if bound is not None and filled > bound:
                    raise TableError(
                        f"{name} 的数据超过 {max_rows} 行的上限。请按年度或届次拆分后分别处理。",
                        413,
                    )
            rows.append(r)
        return rows
    except csv.Error as exc:
        raise TableError(
            f"{name} 的 CSV 格式有误：{exc}。请在 Excel 中打开后另存为 .xlsx 再试。"
        ) from exc


# -- common -------------------------------------------------------------------------------
def _text(value: _Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _cells(row: Sequence[_Cell]) -> list[str]:
    return [_text(v).strip() for v in row]


def _filled(row: Sequence[_Cell]) -> bool:
    return any(_text(v).strip() for v in row)


def _fill_merges(
    grid: list[list[str]],
    merges: Sequence[tuple[tuple[int, int], tuple[int, int]]],
    data_start: int,
) -> None:
    """A merged cell's value belongs to every cell it covers: across and down in the header,
    only down in the data (a merged 届次 or 代表 over several rows), never across data columns."""
    for (r1, c1), (r2, c2) in merges:
        if r1 >= len(grid) or c1 >= len(grid[r1]):
            continue
        value = grid[r1][c1]
        if not value:
            continue
        for r in range(r1, min(r2, len(grid) - 1) + 1):
            last = c2 if r < data_start else c1
            for c in range(c1, min(last, len(grid[r]) - 1) + 1):
                if not grid[r][c]:
                    grid[r][c] = value


def _combine(top: list[str], bottom: list[str]) -> list[str]:
    """Two header rows as one: 代表 over 姓名 | 单位 gives 代表姓名 | 代表单位."""
    out = []
    for t, b in zip(top, bottom, strict=True):
        if not b or t == b:
            out.append(t)
        elif not t:
            out.append(b)
        else:
            joined = t + b
            candidates = [joined, b, t]
            out.append(next((c for c in candidates if role_of(c) is not None), joined))
    return out


def _find_header(grid: list[list[str]], extra: tuple[str, ...]) -> tuple[int, int, list[str]]:
    """(first header row, number of header rows, names): the best-scoring row or row pair.

    Ties go to the candidate naming more columns (a two-row header whose top row names a
    column the bottom row leaves empty), then to one row, then to the earlier row.
    """
    best: tuple[int, int, int, int, list[str]] | None = None  # score, named, -rows, -index, names
    limit = min(len(grid), _HEADER_SCAN)
    for i in range(limit):
        one = grid[i]
        if not any(one):
            continue
        candidates = [(header_score(one, extra), sum(1 for c in one if c), -1, -i, one)]
        below = grid[i + 1] if i + 1 < len(grid) else []
        # a pair only when the lower row names columns itself (not a first data row) and the
        # upper row is not a merged title line
        if header_score(below, extra) > 0 and len({c for c in one if c}) > 1:
            two = _combine(one, below)
            candidates.append((header_score(two, extra), sum(1 for c in two if c), -2, -i, two))
        for cand in candidates:
            if best is None or cand[:4] > best[:4]:
                best = cand
    if best is None:
        raise TableError("表格是空的：没有任何内容。")
    return -best[3], -best[2], best[4]


def _build(
    raw: list[list[_Cell]],
    merges: Sequence[tuple[tuple[int, int], tuple[int, int]]],
    name: str,
    kind: str,
    sheet: str | None,
    max_rows: int | None,
    bounds: tuple[tuple[str, ...], int | None],
    flags: dict[tuple[int, int], str],
    encoding: str | None,
    plain: bool = False,
) -> Table:
    extra, max_columns = bounds
    width = max((len(r) for r in raw), default=0)
    if max_columns is not None and width > max_columns:
        raise TableError(
            f"{name} 有 {width} 列，超过 {max_columns} 列的上限。请只保留台帐的列后再处理。", 413
        )
    grid = [[_text(v) for v in r] + [""] * (width - len(r)) for r in raw]
    if not any(any(c.strip() for c in r) for r in grid):
        raise TableError(f"{name} 是空的：没有任何内容。")
    # Header cells as seen (merges filled everywhere in the scanned top), to find the header.
    top = [[c.strip() for c in r] for r in grid[:_HEADER_SCAN]]
    _fill_merges(top, merges, data_start=len(top))
    start, height, names = _find_header(top, extra)
    data_start = start + height
    _fill_merges(grid, merges, data_start)
    # Columns: those with a header or any data; empty ones (formatting only) are dropped.
    keep = [
        c
        for c in range(width)
        if names[c] or any(grid[r][c].strip() for r in range(data_start, len(grid)))
    ]
    if not keep:
        raise TableError(f"{name} 只有表头，没有数据行。")
    headers = _unique(
        [names[c] or f"列{column_letter(c)}" for c in keep], [column_letter(c) for c in keep]
    )
    letters = {h: column_letter(c) for h, c in zip(headers, keep, strict=True)}
    records: list[list[str]] = []
    numbers: list[int] = []
    blank = 0
    pending_blank = 0
    for r in range(data_start, len(grid)):
        row = [grid[r][c] for c in keep]
        has_flag = any((r, c) in flags for c in keep)
        if not any(v.strip() for v in row) and not has_flag:
            pending_blank += 1
            continue
        blank += pending_blank  # only blank rows between data rows are counted
        pending_blank = 0
        records.append(row)
        numbers.append(r + 1)
        if max_rows is not None and len(records) > max_rows:
            raise TableError(
                f"{name} 的数据超过 {max_rows} 行的上限。请按年度或届次拆分后分别处理。", 413
            )
    footer = _footer(records, numbers, flags_rows={r + 1 for (r, _c) in flags})
    if footer:
        del records[-len(footer) :], numbers[-len(footer) :]
    if not records:
        raise TableError(f"{name} 只有表头，没有数据行。")
    rows = PlainFrame(records, headers, numbers)
    frame = cast("pd.DataFrame", rows) if plain else rows.frame()
    bad = {
        (r + 1, headers[keep.index(c)]): why
        for (r, c), why in flags.items()
        if c in keep and r >= data_start
    }
    header_rows = tuple(range(start + 1, start + height + 1))
    kept = set(numbers)
    bad = {k: v for k, v in bad.items() if k[0] in kept}
    return Table(
        frame, name, kind, sheet, header_rows, letters, blank, encoding, bad, tuple(footer)
    )


# A row after the data that totals or annotates it: 合计 330 件, 注：……, 填表人：……
_FOOTER = re.compile(
    r"^\s*(合\s*计|总\s*计|小\s*计|共\s*计|总\s*数|注\s*\d*\s*[:：.、]|说\s*明\s*[:：]|备\s*注\s*[:：]"
    r"|填\s*表|制\s*表|审\s*核|联\s*系\s*人|统\s*计\s*人|负\s*责\s*人)"
)


def _footer(
    records: list[list[str]], numbers: list[int], flags_rows: set[int]
) -> list[tuple[int, tuple[str, ...]]]:
    """The trailing rows that are totals or notes: few cells filled, the first a footer word."""
    found: list[tuple[int, tuple[str, ...]]] = []
    for row, number in zip(reversed(records), reversed(numbers), strict=True):
        filled = [v for v in row if v.strip()]
        if (
            number in flags_rows
            or not filled
            or len(filled) > 3
            or not _FOOTER.match(filled[0])
            or len(found) >= 10
        ):
            break
        found.append((number, tuple(row)))
    if len(found) == len(records):  # a table of nothing but such rows is data after all
        return []
    return found[::-1]


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )


def _unique(names: list[str], letters: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for n in names:
        seen[header_key(n) or n] = seen.get(header_key(n) or n, 0) + 1
    out = []
    for n, letter in zip(names, letters, strict=True):
        out.append(f"{n}（{letter}列）" if seen[header_key(n) or n] > 1 else n)
    return out
