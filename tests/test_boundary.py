"""One boundary for text reaching the database (issue 12, items 3 and 11): the same answers
on SQLite and PostgreSQL, 4xx never 500, a bad registration row reported with the rest kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from router.api import create_app
from router.settings import Settings
from tests.conftest import DISPATCHER, TOKEN, AppClient, make_account
from tests.test_upload_limits import _cell, xlsx
from tests.workbooks import PROPOSALS

API = "/api/v1"
GOOD = {
    "number": "1",
    "session": "十七届三次",
    "title": "反诈宣传进社区",
    "content": "建议加强反诈宣传",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture()
def auth(db_url: str) -> dict[str, str]:
    """The office's account in the database under test (SQLite or PostgreSQL)."""
    return make_account(db_url, DISPATCHER)


@pytest.fixture()
def db_client(
    db_url: str, settings: Settings, serving: Any, auth: dict[str, str]
) -> Iterator[AppClient]:
    """The app on that database; requests carry the office account's token by default (every
    endpoint but the health checks needs an account, and the account is checked first)."""
    s = settings.model_copy(update={"database_url": db_url, "api_token": TOKEN, "dev_mode": False})
    c = AppClient(create_app(s, serving=serving), headers=auth)
    yield c
    c.close()


def _raw(c: AppClient, url: str, body: str, auth: dict[str, str]) -> Any:
    return c.post(
        url,
        content=body.encode("utf-8", "surrogatepass"),
        headers={**auth, "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("field", ["number", "session", "title", "content", "deputy_name"])
def test_nul_and_control_characters_are_stripped(
    db_client: AppClient, auth: dict[str, str], field: str
) -> None:
    body = {**GOOD, field: GOOD.get(field, "王") + "\x00\x07"}
    r = db_client.post(f"{API}/proposals", json=body, headers=auth)
    assert r.status_code == 201, r.text
    assert "\x00" not in r.json()[field] and "\x07" not in r.json()[field]


def test_key_growing_under_nfkc_is_measured_after_the_fold(
    db_client: AppClient, auth: dict[str, str]
) -> None:
    grows = "㍿" * 20  # 20 characters, 80 after NFKC
    r = db_client.post(f"{API}/proposals", json={**GOOD, "number": grows}, headers=auth)
    assert r.status_code == 422 and "编号" in r.json()["detail"]
    r = db_client.post(f"{API}/proposals", json={**GOOD, "session": grows}, headers=auth)
    assert r.status_code == 422 and "届次" in r.json()["detail"]


def test_lone_surrogates_are_422(db_client: AppClient, auth: dict[str, str]) -> None:
    body = json.dumps({**GOOD, "content": "建议\\ud800"}, ensure_ascii=False).replace("\\\\", "\\")
    r = _raw(db_client, f"{API}/proposals", body, auth)
    assert r.status_code == 422 and "代理项" in r.json()["detail"]
    r = _raw(db_client, f"{API}/route", '{"content": "\\ud800建议"}', {})
    assert r.status_code == 422 and "代理项" in r.json()["detail"]
    r = _raw(db_client, f"{API}/route/batch", '{"items": [{"content": "\\udfff"}]}', {})
    assert r.status_code == 422


def test_filters_with_nul_or_surrogates(db_client: AppClient, auth: dict[str, str]) -> None:
    assert db_client.post(f"{API}/proposals", json=GOOD, headers=auth).status_code == 201
    r = db_client.get(f"{API}/proposals", params={"q": "\x00不存在"})
    assert r.status_code == 200 and r.json()["total"] == 0  # not "every row"
    r = db_client.get(f"{API}/proposals", params={"q": "\x00"})
    assert r.status_code == 200
    r = db_client.get(f"{API}/proposals", params={"session": "十七届三次\x00"})
    assert r.status_code == 200 and r.json()["total"] == 1
    r = db_client.get(f"{API}/stats", params={"session": "\x00"})
    assert r.status_code == 200
    r = db_client.get(f"{API}/proposals?q=%ED%A0%80")  # the UTF-8 bytes of U+D800
    assert r.status_code in (200, 400, 422)


@pytest.mark.parametrize("pid", [2**31, 2**63, 2**64, 0])
def test_ids_beyond_the_column_type_are_422(
    db_client: AppClient, auth: dict[str, str], pid: int
) -> None:
    assert db_client.get(f"{API}/proposals/{pid}").status_code == 422
    r = db_client.post(
        f"{API}/proposals/{pid}/decision",
        json={"lead_unit": "刑侦", "expected_version": 1},
        headers=auth,
    )
    assert r.status_code == 422
    assert db_client.get(f"{API}/proposals/{2**31 - 1}").status_code == 404


def test_versions_and_offsets_beyond_the_column_type(
    db_client: AppClient, auth: dict[str, str]
) -> None:
    p = db_client.post(f"{API}/proposals", json=GOOD, headers=auth).json()
    r = db_client.post(
        f"{API}/proposals/{p['id']}/decision",
        json={"lead_unit": "刑侦", "expected_version": 2**63},
        headers=auth,
    )
    assert r.status_code == 422
    assert db_client.get(f"{API}/proposals", params={"offset": 2**63}).status_code == 422


def test_unit_full_names_and_aliases_are_accepted(
    db_client: AppClient, auth: dict[str, str]
) -> None:
    p = db_client.post(f"{API}/proposals", json=GOOD, headers=auth).json()
    r = db_client.post(
        f"{API}/proposals/{p['id']}/decision",
        json={
            "lead_unit": "交警支队",
            "co_units": ["刑侦支队"],
            "reason_code": "其他",
            "expected_version": 1,
        },
        headers=auth,
    )
    assert r.status_code == 200, r.text
    assert r.json()["decision"]["lead_unit"] == "交通管理"
    assert r.json()["decision"]["co_units"] == ["刑侦"]
    r = db_client.get(f"{API}/proposals", params={"unit": "交警支队"})
    assert r.status_code == 200 and r.json()["total"] == 1
    r = db_client.get(f"{API}/proposals", params={"unit": "不存在的单位"})
    assert r.status_code == 422


def test_a_bad_row_is_reported_and_the_good_rows_registered(
    db_client: AppClient, auth: dict[str, str]
) -> None:
    rows = [("编号", "代表姓名", "标题", "内容"), *[p[:4] for p in PROPOSALS[:4]]]
    rows.append(("第099号_x0000_", "王五", "关于反诈宣传的建议_x0000_", "建议加强反诈宣传_x0001_"))
    rows.append(("㍿" * 17, "赵六", "关于信号灯的建议", "建议交警优化信号灯配时"))
    body = "".join(
        f'<row r="{r}">'
        + "".join(_cell(f"{'ABCD'[c]}{r}", v) for c, v in enumerate(row))
        + "</row>"
        for r, row in enumerate(rows, start=1)
    )
    data = xlsx(body)  # _x0000_ is how a workbook stores NUL; the reader decodes it
    r = db_client.post(
        f"{API}/batch/register",
        files={"file": ("a.xlsx", data, "application/octet-stream")},
        data={"session": "十七届三次"},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-batch-registered"] == "5"  # the four, and the one with NUL cleaned
    import io

    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    problems = [[c.value for c in row] for row in wb["问题行"].iter_rows(min_row=2)]
    assert any(7 in row and any("编号" in str(v) for v in row) for row in problems), problems
    assert db_client.get(f"{API}/proposals").json()["total"] == 5


def _bad_row_workbook() -> bytes:
    rows = [("编号", "代表姓名", "标题", "内容"), *[p[:4] for p in PROPOSALS[:3]]]
    rows.append(("第099号_x0000_", "王五", "关于反诈宣传的建议", "建议加强反诈宣传_x0000_"))
    rows.append(("㍿" * 17, "赵六", "关于信号灯的建议", "建议交警优化信号灯配时"))
    return xlsx(
        "".join(
            f'<row r="{r}">'
            + "".join(_cell(f"{'ABCD'[c]}{r}", v) for c, v in enumerate(row))
            + "</row>"
            for r, row in enumerate(rows, start=1)
        )
    )


@pytest.mark.slow  # runs the command as a fresh process
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_cli_register_reports_the_bad_row_and_keeps_the_good(
    request: pytest.FixtureRequest, small_trained_home: Path, tmp_path: Path, db: str
) -> None:
    url = request.getfixturevalue(f"{db}_url")
    src = tmp_path / "in.xlsx"
    src.write_bytes(_bad_row_workbook())
    env = {**os.environ, "ROUTER_HOME": str(small_trained_home), "ROUTER_DATABASE_URL": url}
    args = [sys.executable, "-m", "router.cli", "batch", str(src), "-o", str(tmp_path / "o.xlsx")]
    done = subprocess.run(
        [*args, "--register", "--session", "十七届三次"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert "新登记 4 件" in done.stdout.replace("\n", "")
    assert "第 6 行" in done.stdout and "编号" in done.stdout


@pytest.mark.slow  # runs the command as a fresh process
def test_cli_register_with_the_database_down_is_one_sentence(
    small_trained_home: Path, tmp_path: Path
) -> None:
    src = tmp_path / "in.xlsx"
    src.write_bytes(_bad_row_workbook())
    out = tmp_path / "o.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "batch", str(src), "-o", str(out)]
        + ["--register", "--session", "十七届三次"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "ROUTER_HOME": str(small_trained_home),
            "ROUTER_DATABASE_URL": "postgresql+psycopg://router@127.0.0.1:1/router",
        },
        timeout=180,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "无法登记到台账数据库" in done.stderr and not out.exists()
