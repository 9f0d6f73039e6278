"""POST /api/v1/batch and /batch/register: the routed workbook, or a Chinese 4xx."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest

from router.api import create_app
from router.settings import Settings
from tests.conftest import AppClient
from tests.workbooks import PROPOSALS, ledger_workbook, to_bytes

API = "/api/v1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload(name: str, data: bytes) -> dict[str, Any]:
    return {"file": (name, data, "application/octet-stream")}


def test_upload_returns_the_routed_workbook(client: AppClient) -> None:
    r = client.post(f"{API}/batch", files=_upload("建议一览表.xlsx", to_bytes(ledger_workbook())))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    assert unquote(r.headers["content-disposition"]).endswith("建议一览表-分办结果.xlsx")
    assert r.headers["x-batch-rows"] == str(len(PROPOSALS))
    assert r.headers["x-batch-groups"] == "1"
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["一览表", "统计", "问题行", "并案"]
    assert wb["一览表"].max_row == len(PROPOSALS) + 1
    assert client.get(f"{API}/proposals").json()["total"] == 0  # nothing registered


def test_explicit_columns_as_form_fields(client: AppClient) -> None:
    data = "甲,乙\r\n1,关于提高辅警工资待遇的建议\r\n".encode()
    r = client.post(f"{API}/batch", files=_upload("a.csv", data), data={"title_col": "B"})
    assert r.status_code == 200, r.text
    ws = openpyxl.load_workbook(io.BytesIO(r.content))["一览表"]
    assert ws["C2"].value == "辅警"


def _encrypted() -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    buf = io.BytesIO()
    OOXMLFile(io.BytesIO(to_bytes(ledger_workbook()))).encrypt("pw", buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "status", "message"),
    [
        ("a.xlsx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 422, "不是 Excel 工作簿"),
        ("a.xlsx", to_bytes(ledger_workbook())[:2000], 422, "已损坏"),
        ("a.xlsx", to_bytes(openpyxl.Workbook()), 422, "是空的"),
        ("a.csv", "序号,备注\r\n1,无\r\n".encode(), 422, "未找到可用的文本列"),
        ("a.csv", "編號,標題\r\n1,關於加強養犬管理的建議\r\n".encode("big5"), 415, "无法识别"),
        ("a.pdf", b"%PDF-1.7", 415, "不支持的文件类型"),
    ],
)
def test_bad_uploads_get_a_chinese_4xx(
    client: AppClient, name: str, data: bytes, status: int, message: str
) -> None:
    r = client.post(f"{API}/batch", files=_upload(name, data))
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_encrypted_upload_is_422(client: AppClient) -> None:
    r = client.post(f"{API}/batch", files=_upload("a.xlsx", _encrypted()))
    assert r.status_code == 422 and "已加密" in r.json()["detail"]


def test_upload_over_the_batch_limit_is_413(
    api_settings: Settings, serving: Any, auth: dict[str, str]
) -> None:
    app = create_app(api_settings.model_copy(update={"batch_max_file_mb": 0}), serving=serving)
    c = AppClient(app, headers=auth)
    try:
        r = c.post(f"{API}/batch", files=_upload("a.xlsx", to_bytes(ledger_workbook())))
    finally:
        c.close()
    assert r.status_code == 413 and "超过 0 MB 的上限" in r.json()["detail"]


def test_a_missing_file_is_a_chinese_422(client: AppClient) -> None:
    r = client.post(f"{API}/batch", data={"title_col": "B"})
    assert r.status_code == 422 and "缺少此项" in r.json()["detail"]


def test_register_needs_the_token_then_registers_once(
    client: AppClient, auth: dict[str, str]
) -> None:
    files = _upload("一览表.xlsx", to_bytes(ledger_workbook()))
    r = client.anon("POST", f"{API}/batch/register", files=files, data={"session": "十七届三次"})
    assert r.status_code == 401
    assert client.get(f"{API}/proposals").json()["total"] == 0
    r = client.post(
        f"{API}/batch/register", files=files, data={"session": "十七届三次"}, headers=auth
    )
    assert r.status_code == 200, r.text
    assert (r.headers["x-batch-registered"], r.headers["x-batch-existing"]) == (
        str(len(PROPOSALS)),
        "0",
    )
    r = client.post(
        f"{API}/batch/register", files=files, data={"session": "十七届三次"}, headers=auth
    )
    assert (r.headers["x-batch-registered"], r.headers["x-batch-existing"]) == (
        "0",
        str(len(PROPOSALS)),
    )
    assert client.get(f"{API}/proposals").json()["total"] == len(PROPOSALS)


def test_the_page_has_the_upload_box(client: AppClient) -> None:
    page = client.get("/").text
    assert 'id="batch-form"' in page and "/static/batch.js" in page
    js = client.get("/static/batch.js")
    assert js.status_code == 200 and "/api/v1/batch" in js.text
