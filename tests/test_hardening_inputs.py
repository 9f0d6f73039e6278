"""Issue 12, items 5, 8, 9, 10: CSV headers escaped, other sheets named, GB18030 names read,
a bad JSON line answered on its own, weak or unsendable tokens refused."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from router.api import create_app
from router.api.app import ConfigError
from router.core.routing import Router
from router.settings import Settings, weak_token
from router.sheets.batch import BatchOptions, load_input, route_table
from router.sheets.read import read_table_bytes
from router.sheets.write import write_output
from tests.conftest import AppClient
from tests.workbooks import PROPOSALS, to_bytes

API = "/api/v1"


def test_csv_output_escapes_header_cells(router: Router, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    header = '=HYPERLINK("http://evil/","点击")'
    src.write_text(f'编号,标题,"{header.replace(chr(34), chr(34) * 2)}"\n1,关于文明养犬的建议,x\n')
    options = BatchOptions()
    table, columns = load_input(src, options)
    result = route_table(router, table, columns, options)
    out = tmp_path / "out.csv"
    write_output(result, out)
    back = pd.read_csv(out, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert "'" + header in back.columns
    assert header not in back.columns


def _two_sheets() -> bytes:
    wb = openpyxl.Workbook()
    first = wb.active
    assert first is not None
    first.title = "第一批"
    second = wb.create_sheet("第二批")
    for ws, rows in ((first, PROPOSALS[:3]), (second, PROPOSALS[3:6])):
        ws.append(["编号", "代表姓名", "标题", "内容"])
        for row in rows:
            ws.append(list(row[:4]))
    wb.create_sheet("说明").append(["本表由督查室整理"])
    return to_bytes(wb)


def test_the_other_data_sheets_are_named_to_the_clerk(
    client: AppClient, router: Router, tmp_path: Path
) -> None:
    table = read_table_bytes(_two_sheets(), "两批.xlsx")
    assert table.sheet == "第一批" and table.other_sheets == ("第二批",)
    assert "第二批" in table.other_sheets_note()
    r = client.post(
        f"{API}/batch", files={"file": ("两批.xlsx", _two_sheets(), "application/octet-stream")}
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-batch-other-sheets"] == "%E7%AC%AC%E4%BA%8C%E6%89%B9"
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    rows = list(wb["问题行"].iter_rows(values_only=True))
    reason = rows[0].index("原因")  # the column by its header: 问题行 gained 原表行号
    reasons = [row[reason] for row in rows[1:]]
    assert any(r and "第二批" in r for r in reasons), reasons
    stats = [row for row in wb["统计"].iter_rows(values_only=True) if row[0] == "未处理的工作表"]
    assert stats and "第二批" in str(stats[0][1])


def test_rare_gb18030_characters_decode() -> None:
    text = "编号,代表姓名,标题\n1,王𬌗,关于文明养犬的建议\n2,李秀英,关于反诈宣传的建议\n"
    table = read_table_bytes(text.encode("gb18030"), "a.csv")
    assert table.encoding == "GB18030"
    assert "王𬌗" in table.frame["代表姓名"].tolist()
    plain = read_table_bytes(text.replace("王𬌗", "王建国").encode("gbk"), "a.csv")
    assert plain.encoding == "GBK"


@pytest.mark.slow  # runs the command as a fresh process
def test_route_jsonl_answers_a_bad_line_and_routes_the_rest(small_trained_home: Path) -> None:
    good = json.dumps({"content": "建议交警增设信号灯"}, ensure_ascii=False).encode()
    lines = [good] * 50 + [
        b'{"content": "\\ud800"}',
        b'{"content": "\xff\xfe"}',
        b"not json",
        good,
    ]
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "route", "--jsonl"],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        env={**os.environ, "ROUTER_HOME": str(small_trained_home)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(out) == 54
    assert all("unit" in o for o in out[:50]) and "unit" in out[53]
    assert [o["line"] for o in out[50:53]] == [51, 52, 53]
    assert all("error" in o for o in out[50:53])


@pytest.mark.parametrize(
    "token",
    [
        "aaaaaaaaaaaaaaaa",
        "changemechangeme",
        "abcabcabcabcabcabc",
        "my-changeme-token-2026",
        "a-long-enough-token-123 ",
        "a-long-enough-token-123\n",
        "a-long enough-token-123",
        "令牌令牌令牌-a-long-enough-token",
    ],
)
def test_weak_or_unsendable_tokens_are_refused(settings: Settings, token: str) -> None:
    assert weak_token(token) is not None
    with pytest.raises(ConfigError, match="ROUTER_API_TOKEN"):
        create_app(settings.model_copy(update={"api_token": token, "dev_mode": False}))


@pytest.mark.parametrize(
    "token", ["a-long-enough-token-123", "bench-token-0123456789abcdef", "Zx81_Qm-pv0LtWe3"]
)
def test_sound_tokens_are_accepted(token: str) -> None:
    assert weak_token(token) is None


def test_openapi_documents_422_and_415_as_answered(client: AppClient) -> None:
    spec = client.get("/openapi.json").json()
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            if "422" in responses:
                assert responses["422"]["content"]["application/json"]["schema"] == problem
            if "requestBody" in op:
                assert "415" in responses, (method, path)
    assert "422" not in spec["paths"]["/api/v1/admin/reload"]["post"]["responses"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    r = client.post(
        f"{API}/route", content=b'{"content": "x"}', headers={"content-type": "text/plain"}
    )
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    r = client.post(f"{API}/batch", json={})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]
