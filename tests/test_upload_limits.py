"""Uploads bounded before they are expanded (issue 12, items 1 and 2)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from router.sheets import guard, merge
from router.sheets.guard import Limits, check_xlsx_bounds, read_isolated
from router.sheets.read import TableError, read_table_bytes
from tests.conftest import AppClient
from tests.workbooks import PROPOSALS, big_ledger, ledger_workbook, to_bytes

API = "/api/v1"


def xlsx(sheet_data: str, dimension: str | None = None) -> bytes:
    """A minimal workbook with one sheet whose <sheetData> is ``sheet_data``."""
    buf = io.BytesIO()
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
            '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="Sheet1" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>',
        )
        dim = f'<dimension ref="{dimension}"/>' if dimension else ""
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{main}">{dim}<sheetData>{sheet_data}</sheetData></worksheet>',
        )
    return buf.getvalue()


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


FAR = xlsx(f'<row r="1048576">{_cell("XFD1048576", "x")}</row>', "XFD1048576")
FAR_UNDECLARED = xlsx(
    f'<row r="1">{_cell("A1", "标题")}{_cell("B1", "内容")}</row>'
    f'<row r="2">{_cell("A2", "x")}</row>'
    f'<row r="1048576">{_cell("XFD1048576", "x")}</row>'
)


def _bomb(rows: int) -> bytes:
    """Rows of one repeated cell: a few hundred KB that unpack to tens of MB."""
    body = "".join(f'<row r="{r}">{_cell(f"A{r}", "建议" * 200)}</row>' for r in range(1, rows))
    return xlsx(body)


def test_the_far_cell_is_refused_before_any_engine_sees_it() -> None:
    assert len(FAR) < 5000
    clock = time.perf_counter()
    with pytest.raises(TableError) as err:
        check_xlsx_bounds(FAR, "far.xlsx", Limits())
    assert time.perf_counter() - clock < 2
    assert err.value.status == 413
    assert "XFD1048576" in err.value.message
    with pytest.raises(TableError) as err:
        check_xlsx_bounds(FAR_UNDECLARED, "far.xlsx", Limits())
    assert err.value.status == 413 and "16384 列" in err.value.message


def test_unpacked_size_is_counted_while_reading() -> None:
    data = _bomb(20_000)
    with pytest.raises(TableError) as err:  # the sizes the zip declares, before unpacking
        check_xlsx_bounds(data, "bomb.xlsx", Limits(unpacked_bytes=10 * 2**20))
    assert err.value.status == 413 and "解压后有 24 MB（上限 10 MB）" in err.value.message
    check_xlsx_bounds(data, "bomb.xlsx", Limits())  # within the default bounds
    # a header can lie: the bytes are counted as they are unpacked too
    with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open("xl/worksheets/sheet1.xml") as part:
        with pytest.raises(TableError) as err:
            guard._scan_part(
                part,
                "bomb.xlsx",
                "sheet",
                True,
                guard._SheetScan(),
                Limits(unpacked_bytes=2**20),
                0,
            )
    assert err.value.status == 413 and "解压后超过 1 MB" in err.value.message


def test_rows_and_cells_are_bounded_by_the_scan() -> None:
    data = _bomb(3000)
    with pytest.raises(TableError) as err:
        check_xlsx_bounds(data, "rows.xlsx", Limits(rows=1000))
    assert err.value.status == 413 and "行" in err.value.message
    with pytest.raises(TableError) as err:
        check_xlsx_bounds(data, "cells.xlsx", Limits(cells=2000))
    assert "单元格" in err.value.message


def test_a_runaway_parse_costs_the_child_not_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the scan switched off, the engine's grid of 2^34 cells hits the child's limit."""
    monkeypatch.setattr(guard, "check_xlsx_bounds", lambda *_a: None)
    with pytest.raises(TableError) as err:
        read_isolated(FAR_UNDECLARED, "far.xlsx", Limits(columns=100_000, memory_bytes=2**29))
    assert err.value.status == 413 and "内存" in err.value.message


def test_a_slow_parse_is_stopped(tmp_path: Path) -> None:
    """4,000 rows take the engine far longer than the 20 ms allowed (about half a second)."""
    path = big_ledger(tmp_path / "big.xlsx", [("关于加强反诈宣传的建议", "建议加强反诈宣传")], 4000)
    with pytest.raises(TableError) as err:
        read_isolated(path.read_bytes(), "a.xlsx", Limits(seconds=0.02))
    assert err.value.status == 422 and "秒" in err.value.message
    assert len(read_isolated(path.read_bytes(), "a.xlsx", Limits()).frame) == 4000


def test_reads_from_many_threads_and_after_the_reading_server_dies() -> None:
    """The service reads uploads from several threads at once; a reading server that was
    killed (say by the kernel) is started again on the next read."""
    from concurrent.futures import ThreadPoolExecutor

    data = to_bytes(ledger_workbook())
    direct = read_table_bytes(data, "a.xlsx").frame
    with ThreadPoolExecutor(4) as pool:
        frames = list(pool.map(lambda _: read_isolated(data, "a.xlsx", Limits()).frame, range(8)))
    assert all(f.equals(direct) for f in frames)
    server = guard._READERS._server
    assert server is not None
    server.kill()
    server.wait()
    assert read_isolated(data, "a.xlsx", Limits()).frame.equals(direct)
    assert guard._READERS._server is not server


def test_isolated_reading_gives_the_same_table() -> None:
    data = to_bytes(ledger_workbook())
    direct = read_table_bytes(data, "a.xlsx")
    isolated = read_isolated(data, "a.xlsx", Limits())
    assert isolated.frame.equals(direct.frame)
    assert isolated.frame.index.equals(direct.frame.index)
    assert isolated.frame.index.name == direct.frame.index.name
    assert list(isolated.frame.columns) == list(direct.frame.columns)
    assert replace(isolated, frame=None) == replace(direct, frame=None)


def test_the_reading_child_does_not_import_pandas() -> None:
    """The child sends plain rows and the caller makes the frame: pandas would cost the
    child a quarter of a second of every read."""
    code = "import sys, router.sheets.guard; print('pandas' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(guard.__file__).parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr


def test_csv_rows_and_columns_are_bounded_while_parsing() -> None:
    many = ("标题,内容\n" + "关于,建议\n" * 200).encode()
    with pytest.raises(TableError) as err:
        read_table_bytes(many, "a.csv", max_rows=100)
    assert err.value.status == 413
    wide = ("标题,内容" + "," * 500 + "\n关于,建议\n").encode()
    with pytest.raises(TableError) as err:
        read_table_bytes(wide, "a.csv", max_columns=200)
    assert err.value.status == 413 and "列" in err.value.message


def test_upload_of_the_far_cell_is_a_413_and_the_server_keeps_serving(
    client: AppClient,
) -> None:
    r = client.post(f"{API}/batch", files={"file": ("far.xlsx", FAR, "application/octet-stream")})
    assert r.status_code == 413, r.text
    assert "XFD1048576" in r.json()["detail"]
    r = client.post(
        f"{API}/batch",
        files={"file": ("far.xlsx", FAR_UNDECLARED, "application/octet-stream")},
    )
    assert r.status_code == 413, r.text
    assert client.post(f"{API}/route", json={"content": "建议交警增设信号灯"}).status_code == 200


@pytest.mark.slow  # runs the command as a fresh process
def test_cli_batch_on_the_far_cell_exits_2(tmp_path: Path, small_trained_home: Path) -> None:
    path = tmp_path / "far.xlsx"
    path.write_bytes(FAR_UNDECLARED)
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "batch", str(path), "-o", str(tmp_path / "o.xlsx")],
        capture_output=True,
        text=True,
        env={**os.environ, "ROUTER_HOME": str(small_trained_home)},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "16384 列" in done.stderr
    assert "Traceback" not in done.stderr


def _similar(n: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(1)
    roads = ["学府路", "建设路", "人民路", "解放路", "中山路", "和平路"]
    acts = ["增设信号灯", "优化配时", "施划停车位", "加强巡逻", "整治乱停车"]
    return [
        (
            f"关于{roads[i % 6]}交通拥堵问题的建议",
            f"{roads[i % 6]}与{roads[int(rng.integers(6))]}交叉口高峰拥堵严重，建议交警部门"
            f"{acts[int(rng.integers(5))]}，同时{acts[int(rng.integers(5))]}，编号{i % 97}。",
        )
        for i in range(n)
    ]


def test_many_similar_rows_fall_back_to_the_bounded_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    bounded = merge._bounded_pairs

    def spy(x: object, cut: float) -> merge.Pairs:
        calls.append(1)
        return bounded(x, cut)  # type: ignore[arg-type]

    monkeypatch.setattr(merge, "_bounded_pairs", spy)
    texts = _similar(3000)
    monkeypatch.setattr(merge, "MIN_BUDGET", 10_000)
    monkeypatch.setattr(merge, "PAIRS_PER_ROW", 1)
    groups = merge.group_similar(texts, 0.8, 0.35)
    assert calls, "the exact search was not bounded"
    assert sum(len(g.positions) for g in groups) == 3000  # every row still grouped
    # a row's duplicate points to an earlier row that really is one (by 并案's own measure,
    # which weighs named places)
    rows = merge.tfidf_rows(texts, words=True, place_repeat=merge.PLACE_REPEAT)
    for g in groups:
        for copy, orig in list(g.duplicates.items())[:200]:
            assert orig < copy
            assert float(rows[copy].multiply(rows[orig]).sum()) >= 0.8 - 1e-5


def test_bounded_search_work_is_linear_in_rows() -> None:
    x = merge.tfidf_rows(_similar(4000), words=True)
    i, _j, _s = merge._bounded_pairs(x, 0.35)
    assert i.size <= 4000 * merge.BOUNDED_WORDS * merge.BOUNDED_WINDOW


def test_ordinary_ledgers_stay_exact() -> None:
    """The default budget is far above what varied proposals need: the exact pairs."""
    texts = [(t, c) for _n, _d, t, c in PROPOSALS]
    rows = merge.tfidf_rows(texts * 3, words=True)
    exact = merge.cosine_pair_arrays(rows, 0.35)
    bounded = merge.cosine_pair_arrays(rows, 0.35, budget=merge.MIN_BUDGET)
    assert all(np.array_equal(a, b) for a, b in zip(exact, bounded, strict=True))
