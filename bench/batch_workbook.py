"""Batch: a 10,000-row workbook end to end (read, route, 并案, write), against segmentation.

Usage: .venv/bin/python bench/batch_workbook.py [--rows 10000] [--repeat 2]

The workbook (编号, 代表姓名, 标题, 主要内容) is built in a temporary folder from real, distinct
texts: the TipDM messages in ../shared (labelled_union.csv, then messages_with_replies.xlsx),
never copied into the repository. Without ../shared it falls back to the shipped corpus,
resampled (copies of the same rows, so 并案 then groups far more than a real ledger would;
the script says so).

Figures: `router batch IN.xlsx -o OUT.xlsx` as a fresh process (start, model load, read,
route, group, write) with --workers 1 and --workers N; the same steps in process with their
own times; rows per second; and the time normalisation + segmentation alone takes on the
same texts, with the ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import PROPOSALS, ROOT, TIPDM, report, settings_for, trained_home


def ledger_rows(rows: int) -> tuple[list[tuple[str, str]], str]:
    import pandas as pd

    union = TIPDM / "labelled_union.csv"
    replies = TIPDM / "messages_with_replies.xlsx"
    if union.is_file():
        df = pd.read_csv(union, dtype={"留言主题": str, "detail": str}, keep_default_na=False)
        pairs = list(zip(df["留言主题"], df["detail"], strict=True))
        if len(pairs) < rows and replies.is_file():
            extra = pd.read_excel(replies, dtype=str, engine="calamine").fillna("")
            pairs += list(zip(extra["留言主题"], extra["留言详情"], strict=True))
        source = "TipDM messages from ../shared (title and detail)"
        if len(pairs) >= rows:
            return pairs[:rows], source
    print("SKIP real texts: ../shared/data/tipdm2020 is absent; resampling the shipped corpus")
    df = pd.read_csv(PROPOSALS, dtype=str, keep_default_na=False)
    df = df.sample(n=rows, replace=rows > len(df), random_state=0)
    return list(zip(df["title"], df["content"], strict=True)), "the shipped corpus, resampled"


def write_workbook(path: Path, pairs: list[tuple[str, str]]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("一览表")
    for c, head in enumerate(("编号", "代表姓名", "标题", "主要内容")):
        ws.write_string(0, c, head)
    for r, (title, content) in enumerate(pairs, start=1):
        ws.write_string(r, 0, f"第{r:05d}号")
        ws.write_string(r, 1, f"代表{r % 97:02d}")
        ws.write_string(r, 2, title)
        ws.write_string(r, 3, content)
    wb.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    try:
        from router.sheets.batch import BatchOptions, load_input, route_table
        from router.sheets.write import write_output
    except ImportError:
        print("SKIP: router.sheets.batch is not there yet")
        return
    from router.core.text import init, prepare, segment
    from router.learn.load import load_router

    cores = os.cpu_count() or 1
    with report("batch_workbook"), trained_home() as home, tempfile.TemporaryDirectory() as tmp:
        pairs, source = ledger_rows(args.rows)
        book = Path(tmp) / "ledger.xlsx"
        write_workbook(book, pairs)
        print(
            f"workbook: {len(pairs)} rows from {source}; {book.stat().st_size / 1e6:.1f} MB; "
            f"best of {args.repeat} runs"
        )

        exe = Path(sys.executable).with_name("router")
        env = {**os.environ, "ROUTER_HOME": str(home)}
        for workers in dict.fromkeys((1, cores)):
            walls = []
            for k in range(args.repeat):
                out = Path(tmp) / f"out-{workers}-{k}.xlsx"
                start = time.perf_counter()
                subprocess.run(
                    [str(exe), "batch", str(book), "-o", str(out), "--workers", str(workers)],
                    env=env,
                    cwd=ROOT,
                    capture_output=True,
                    timeout=600,
                    check=True,
                )
                walls.append(time.perf_counter() - start)
            best = min(walls)
            print(
                f"`router batch` --workers {workers}: {best:.2f} s end to end (process start "
                f"and model load included) -> {len(pairs) / best:,.0f} rows/s"
            )

        settings = settings_for(home)
        router = load_router(settings)
        init()
        options = BatchOptions.from_settings(settings)
        for workers in dict.fromkeys((1, cores)):
            opts = BatchOptions.from_settings(settings, workers=workers)
            steps: dict[str, float] = {}
            start = time.perf_counter()
            table, columns = load_input(book, options)
            steps["read"] = time.perf_counter() - start
            start = time.perf_counter()
            result = route_table(router, table, columns, opts)
            steps["route + 并案"] = time.perf_counter() - start
            start = time.perf_counter()
            write_output(result, Path(tmp) / f"inproc-{workers}.xlsx")
            steps["write"] = time.perf_counter() - start
            total = sum(steps.values())
            print(
                f"in process, workers={workers}: {total:.2f} s -> {len(pairs) / total:,.0f} rows/s "
                f"(read {steps['read']:.2f} s, route {result.seconds['route']:.2f} s, 并案 "
                f"{result.seconds['group']:.2f} s, write {steps['write']:.2f} s); "
                f"{len(result.groups)} 并案 groups, {len(result.problems)} problem rows"
            )

        start = time.perf_counter()
        for title, content in pairs:
            segment(prepare(title, content))
        seg = time.perf_counter() - start
        print(
            f"normalise + segment the same {len(pairs)} texts (rjieba): {seg:.2f} s "
            f"({len(pairs) / seg:,.0f} rows/s); end to end over segmentation: "
            f"{min(walls) / seg:.1f} x (workers {cores}, fresh process), "
            f"{total / seg:.1f} x (in process)"
        )
        print("target: a 10,000-row workbook end to end in <= 5 s")


if __name__ == "__main__":
    main()
