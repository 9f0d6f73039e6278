"""Uploads at and beyond the documented limits: memory, time and /route latency meanwhile.

Usage: .venv/bin/python bench/upload_limits.py [--rows 5000,10000,25000,50000] [--quick]

For each file a fresh `router serve` (one worker, a temporary home with a trained model) is
started; the file is posted to ``POST /api/v1/batch`` while a second connection posts
``/api/v1/route`` one request after another. Printed per file: rows, file size, the answer's
status and time, the server process's peak RSS (VmHWM, read from /proc at the end), the peak
RSS of any child it started (the isolated workbook reader, sampled every 20 ms), and /route's
p50/p99 during the upload against the same server idle.

Files: ledgers of many similar rows (the worst case for 并案) as .xlsx and .csv, within the
limits (50,000 rows, 20 MB); and three beyond them: a 5 KB .xlsx whose only cell is at
XFD1048576, a ~1 MB .xlsx whose sheet unpacks to 1 GB, and a CSV of 60,000 rows.
Target: peak RSS <= 1.5 GB for every file within the limits, time growing linearly with rows,
the refusals in under 2 s.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import threading
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Server, percentiles, report, trained_home, tree_memory_mb  # noqa: E402

ROADS = ["学府路", "建设路", "人民路", "解放路", "中山路", "和平路", "东风路", "青年路"]
ACTS = ["增设信号灯", "优化配时", "施划停车位", "加强巡逻", "整治乱停车", "设置减速带"]
HEADER = ["编号", "代表姓名", "标题", "内容"]


def similar_rows(n: int) -> list[list[str]]:
    import random

    rng = random.Random(1)
    out = []
    for i in range(n):
        road = rng.choice(ROADS)
        out.append(
            [
                f"第{i + 1:05d}号",
                "代表" + str(i % 300),
                f"关于{road}交通拥堵问题的建议",
                f"{road}与{rng.choice(ROADS)}交叉口高峰拥堵严重，建议交警部门{rng.choice(ACTS)}，"
                f"同时{rng.choice(ACTS)}。",
            ]
        )
    return out


def xlsx_of(rows: list[list[str]]) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "in_memory": True})
    ws = wb.add_worksheet("一览表")
    ws.write_row(0, 0, HEADER)
    for r, row in enumerate(rows, start=1):
        ws.write_row(r, 0, row)
    wb.close()
    return buf.getvalue()


def csv_of(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _package(sheet_writer: object) -> bytes:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="一览表" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>',
        )
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(f'<worksheet xmlns="{main}">'.encode())
            sheet_writer(part)  # type: ignore[operator]
            part.write(b"</worksheet>")
    return buf.getvalue()


def far_cell() -> bytes:
    def write(part: io.BufferedWriter) -> None:
        part.write(
            b'<dimension ref="XFD1048576"/><sheetData><row r="1048576"><c r="XFD1048576" '
            b't="inlineStr"><is><t>x</t></is></c></row></sheetData>'
        )

    return _package(write)


def unpacks_to(megabytes: int) -> bytes:
    """Rows of the same long cell, few of them declared: a small file, a huge sheet."""
    cell = '<c t="inlineStr"><is><t>{}</t></is></c>'.format("建议" * 2000).encode()
    row = b"<row>" + cell * 8 + b"</row>"
    rows = megabytes * 2**20 // len(row)

    def write(part: io.BufferedWriter) -> None:
        part.write(b"<sheetData>")
        for _ in range(rows):
            part.write(row)
        part.write(b"</sheetData>")

    return _package(write)


def post_file(base: str, name: str, data: bytes) -> tuple[int, float, str]:
    import httpx

    start = time.perf_counter()
    with httpx.Client(timeout=600.0) as client:
        r = client.post(
            base + "/api/v1/batch",
            files={"file": (name, data, "application/octet-stream")},
            headers={"Authorization": f"Bearer {Server.TOKEN}"},
        )
    took = time.perf_counter() - start
    detail = "" if r.status_code == 200 else r.json().get("detail", "")[:60]
    return r.status_code, took, detail


def route_latencies(base: str, stop: threading.Event, out: list[float]) -> None:
    import httpx

    body = {"title": "关于学府路拥堵的建议", "content": "建议交警部门增设信号灯、优化配时。"}
    with httpx.Client(timeout=60.0) as client:
        while not stop.is_set():
            start = time.perf_counter()
            r = client.post(base + "/api/v1/route", json=body)
            if r.status_code == 200:
                out.append(time.perf_counter() - start)


def one(home: Path, name: str, data: bytes, rows: int) -> None:
    with Server(home) as server:
        server.wait_ready()
        idle: list[float] = []
        stop = threading.Event()
        t = threading.Thread(target=route_latencies, args=(server.base, stop, idle))
        t.start()
        time.sleep(2.0)
        stop.set()
        t.join()
        busy: list[float] = []
        stop = threading.Event()
        child_peak = 0.0
        done = threading.Event()

        def sample() -> None:
            nonlocal child_peak
            while not done.is_set():
                mem = tree_memory_mb(server.proc.pid)
                kids = [rss for pid, (rss, _hwm) in mem.items() if pid != server.proc.pid]
                child_peak = max([child_peak, *kids])
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        t = threading.Thread(target=route_latencies, args=(server.base, stop, busy))
        t.start()
        status, took, detail = post_file(server.base, name, data)
        stop.set()
        done.set()
        t.join()
        sampler.join()
        peak = tree_memory_mb(server.proc.pid)[server.proc.pid][1]
        p_idle = percentiles(idle) if idle else {"p50": float("nan"), "p99": float("nan")}
        p_busy = percentiles(busy) if busy else {"p50": float("nan"), "p99": float("nan")}
        print(
            f"{name:<28} {rows:>7} {len(data) / 2**20:>8.2f} {status:>4} {took:>7.2f} "
            f"{peak:>9.0f} {child_peak:>9.0f} "
            f"{p_idle['p99'] * 1000:>8.1f} {p_busy['p50'] * 1000:>8.1f} {p_busy['p99'] * 1000:>8.1f} "
            f"{len(busy):>6} {detail}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default="5000,10000,25000,50000")
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.rows.split(",")]
    if args.quick:
        sizes = [1000, 2000]
    with report("upload_limits"), trained_home() as home:
        print(
            f"{'file':<28} {'rows':>7} {'MB':>8} {'http':>4} {'s':>7} {'srv peak':>9} "
            f"{'child pk':>9} {'idle p99':>8} {'busy p50':>8} {'busy p99':>8} {'routes':>6}"
        )
        print("(RSS in MB; /route latencies in ms; idle = the same server before the upload)")
        for n in sizes:
            rows = similar_rows(n)
            one(home, f"similar-{n}.xlsx", xlsx_of(rows), n)
        one(home, f"similar-{sizes[-1]}.csv", csv_of(similar_rows(sizes[-1])), sizes[-1])
        print("-- beyond the limits (refusals) --")
        one(home, "far-cell-XFD1048576.xlsx", far_cell(), 1)
        mb = 64 if args.quick else 1024
        one(home, f"unpacks-to-{mb}MB.xlsx", unpacks_to(mb), 0)
        one(home, "rows-60000.csv", csv_of(similar_rows(60_000)), 60_000)


if __name__ == "__main__":
    main()
