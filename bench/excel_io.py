"""Reader and writer figures on a 10,000-row ledger, to choose the engines batch routing uses.

    .venv/bin/python bench/excel_io.py [--rows 10000] [--repeat 3]

Builds a workbook shaped like a session's ledger (a title line, the header on row 3, eight
columns, texts from the corpus) and times every way pandas offers to read and write it, plus
python-calamine and xlsxwriter used directly as :mod:`router.sheets.read` and :mod:`router.sheets.batch`
use them. Prints a table and writes ``bench/results/excel_io.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import python_calamine
import xlsxwriter

ROOT = Path(__file__).resolve().parents[1]
HEADER = ["序号", "建议号", "领衔代表", "代表单位", "建议标题", "主要内容", "收到日期", "备注"]


def make_frame(rows: int) -> pd.DataFrame:
    corpus = pd.read_csv(
        ROOT / "data" / "corpus" / "proposals.csv", dtype=str, keep_default_na=False
    )
    n = len(corpus)
    return pd.DataFrame(
        {
            "序号": [str(i + 1) for i in range(rows)],
            "建议号": [f"第{i + 1:05d}号" for i in range(rows)],
            "领衔代表": [f"代表{i % 400}" for i in range(rows)],
            "代表单位": [f"某某街道第{i % 37}社区" for i in range(rows)],
            "建议标题": [corpus["title"][i % n] for i in range(rows)],
            "主要内容": [corpus["content"][i % n] for i in range(rows)],
            "收到日期": ["2026-01-15"] * rows,
            "备注": [""] * rows,
        }
    )


def write_ledger(df: pd.DataFrame, path: Path) -> None:
    """The input workbook: a merged title line, a blank line, then the header on row 3."""
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("一览表")
    ws.merge_range(0, 0, 0, len(HEADER) - 1, "市十七届人大三次会议代表建议一览表")
    ws.write_row(2, 0, HEADER)
    for r, row in enumerate(df.itertuples(index=False), start=3):
        for c, v in enumerate(row):
            ws.write_string(r, c, v)
    wb.close()


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    df = make_frame(args.rows)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "ledger.xlsx"
        write_ledger(df, src)
        size_mb = src.stat().st_size / 2**20

        readers: dict[str, Callable[[], object]] = {
            "read: pandas + openpyxl": lambda: pd.read_excel(
                src, engine="openpyxl", header=2, dtype=str
            ),
            "read: pandas + calamine": lambda: pd.read_excel(
                src, engine="calamine", header=2, dtype=str
            ),
            "read: openpyxl read_only (cells only, no merged ranges)": lambda: list(
                openpyxl.load_workbook(src, read_only=True, data_only=True).active.iter_rows(
                    values_only=True
                )
            ),
            "read: openpyxl full (with merged ranges)": lambda: list(
                openpyxl.load_workbook(src, data_only=True).active.iter_rows(values_only=True)
            ),
            "read: python-calamine to_python (with merged ranges)": lambda: (
                python_calamine.CalamineWorkbook.from_path(str(src))
                .get_sheet_by_index(0)
                .to_python(skip_empty_area=False)
            ),
        }
        for name, fn in readers.items():
            out[name] = timed(fn, args.repeat)

        routed = df.assign(
            **dict.fromkeys(
                ("建议承办单位", "备选单位", "建议会办单位", "职责判定", "判定依据"), "交通管理"
            ),
            置信度=0.87,
        )

        def pandas_writer(engine: str) -> Callable[[], object]:
            def run() -> None:
                with pd.ExcelWriter(Path(tmp) / f"out-{engine}.xlsx", engine=engine) as xw:
                    routed.to_excel(xw, sheet_name="一览表", index=False)

            return run

        def xlsxwriter_direct() -> None:
            wb = xlsxwriter.Workbook(str(Path(tmp) / "out-direct.xlsx"), {"constant_memory": True})
            ws = wb.add_worksheet("一览表")
            ws.write_row(0, 0, list(routed.columns))
            for r, row in enumerate(routed.itertuples(index=False), start=1):
                for c, v in enumerate(row):
                    if isinstance(v, str):
                        ws.write_string(r, c, v)
                    else:
                        ws.write_number(r, c, v)
            wb.close()

        def xlsxwriter_memory() -> None:
            buf = io.BytesIO()
            wb = xlsxwriter.Workbook(buf, {"in_memory": True})
            ws = wb.add_worksheet("一览表")
            for r, row in enumerate(routed.itertuples(index=False), start=1):
                for c, v in enumerate(row):
                    ws.write_string(r, c, v) if isinstance(v, str) else ws.write_number(r, c, v)
            wb.close()

        writers: dict[str, Callable[[], object]] = {
            "write: pandas + openpyxl": pandas_writer("openpyxl"),
            "write: pandas + xlsxwriter": pandas_writer("xlsxwriter"),
            "write: xlsxwriter direct, constant_memory": xlsxwriter_direct,
            "write: xlsxwriter direct, in memory (BytesIO)": xlsxwriter_memory,
        }
        for name, fn in writers.items():
            out[name] = timed(fn, args.repeat)

    result = {
        "rows": args.rows,
        "input_mb": round(size_mb, 2),
        "repeat": args.repeat,
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "openpyxl": openpyxl.__version__,
        "xlsxwriter": xlsxwriter.__version__,
        "seconds_median": {k: round(v, 3) for k, v in out.items()},
    }
    print(f"{args.rows} rows, input {size_mb:.1f} MB, median of {args.repeat}")
    for k, v in out.items():
        print(f"  {k:<58} {v:7.3f} s")
    dest = ROOT / "bench" / "results" / "excel_io.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
