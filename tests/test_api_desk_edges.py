"""The desk's endpoints answer odd input with a Chinese 4xx, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import AppClient

API = "/api/v1"
HUGE = 2**70


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("POST", "/precedents", {"title": "", "content": ""}, 200),
        ("POST", "/precedents", {"title": "x", "content": "y", "exclude_id": HUGE}, 422),
        ("GET", f"/proposals/{HUGE}", None, 422),
        ("POST", f"/proposals/{HUGE}/decision", {"lead_unit": "刑侦", "expected_version": 1}, 422),
        ("POST", "/precedents", {"title": "x", "extra": 1}, 422),
        ("POST", "/precedents", [], 422),
        ("POST", "/ledger/bulk-confirm", {"ids": [HUGE]}, 422),
        ("POST", "/ledger/bulk-confirm", {"ids": []}, 422),
        ("POST", "/ledger/bulk-confirm", {"session": "不存在的届次"}, 200),
        ("POST", f"/proposals/{HUGE}/undo", {"expected_version": 1}, 422),
        ("POST", "/proposals/999/undo", {"expected_version": 1}, 404),
        ("POST", "/proposals/1/undo", {"expected_version": 0}, 422),
        ("GET", "/ledger/export.xlsx?sort=colour", None, 422),
        ("GET", "/ledger/export.xlsx?unit=无此单位", None, 422),
        ("GET", "/ledger/export.xlsx?status=完成", None, 422),
        ("GET", "/ledger/bulk-confirm", None, 200),
        ("GET", f"/proposals?limit=10&offset={HUGE}", None, 422),
    ],
)
def test_no_500(
    client: AppClient, auth: dict[str, str], method: str, url: str, body: object, status: int
) -> None:
    r = client.request(method, API + url, json=body, headers=auth)
    assert r.status_code == status, r.text
    if status >= 400:
        detail = r.json()["detail"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in detail), detail
