"""The desk over HTTP: bulk confirm and undo, paging/search/sort, precedents, export, /docs."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest

from tests.conftest import DISPATCHER, AppClient

API = "/api/v1"
SESSION = "十七届三次"


def register(client: AppClient, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"session": SESSION, "kind": "建议", **fields}
    r = client.post(f"{API}/proposals", json=body, headers=auth)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.fixture()
def filled(client: AppClient, auth: dict[str, str], corpus: pd.DataFrame) -> list[dict[str, Any]]:
    """Forty proposals of the corpus registered in one session, thirty in an earlier one."""
    rows = corpus.sample(70, random_state=3).reset_index(drop=True)
    out = []
    for i, row in rows.iterrows():
        session = SESSION if int(str(i)) < 40 else "十七届二次"
        out.append(
            register(
                client,
                auth,
                session=session,
                number=f"{int(str(i)) + 1:04d}",
                title=str(row["title"]),
                content=str(row["content"]),
                deputy_name=f"代表{int(str(i)) % 7}",
            )
        )
    return out


def detail(client: AppClient, pid: int) -> dict[str, Any]:
    out: dict[str, Any] = client.get(f"{API}/proposals/{pid}").json()
    return out


def test_bulk_confirm_a_session_then_undo_one(
    client: AppClient, auth: dict[str, str], filled: list[dict[str, Any]]
) -> None:
    expected = [
        p["id"]
        for p in filled
        if p["session"] == SESSION
        and detail(client, p["id"])["suggestion"]["bulk_confirmable"]
        and p["suggested_unit"]
    ]
    assert expected, "the sample should hold bulk-confirmable suggestions"
    preview = client.get(f"{API}/ledger/bulk-confirm", params={"session": SESSION}).json()
    assert preview["count"] == len(expected) and sorted(preview["ids"]) == sorted(expected)
    assert sum(preview["by_unit"].values()) == len(expected)

    # without a token nothing is confirmed
    refused = client.anon("POST", f"{API}/ledger/bulk-confirm", json={"session": SESSION})
    assert refused.status_code == 401
    done = client.post(f"{API}/ledger/bulk-confirm", json={"session": SESSION}, headers=auth)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["confirmed"] == len(expected) and body["skipped"] == []
    assert {p["id"] for p in body["items"]} == set(expected)
    one = detail(client, expected[0])
    assert one["status"] == "已分办" and one["decision"]["lead_unit"] == one["suggested_unit"]
    assert one["decision"]["decided_by"] == DISPATCHER and one["decision"]["follows_suggestion"]
    last = one["events"][-1]
    assert last["action"] == "decided" and last["data"]["bulk"] is True
    # the other session and the non-confirmable ones are untouched
    untouched = [p for p in filled if p["id"] not in expected]
    assert all(detail(client, p["id"])["status"] == "待分办" for p in untouched[:10])
    # a second run finds nothing left
    again = client.post(f"{API}/ledger/bulk-confirm", json={"session": SESSION}, headers=auth)
    assert again.json()["confirmed"] == 0

    # undo one: back to 待分办, the undone decision kept in the trail
    stale = client.post(
        f"{API}/proposals/{expected[0]}/undo", json={"expected_version": 1}, headers=auth
    )
    assert stale.status_code == 409
    r = client.post(
        f"{API}/proposals/{expected[0]}/undo",
        json={"expected_version": one["version"], "note": "批量确认有误"},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    back = detail(client, expected[0])
    assert back["status"] == "待分办" and back["decision"] is None and back["due_on"] is None
    assert back["events"][-1]["action"] == "undone"
    assert back["events"][-1]["data"]["undone"]["lead_unit"] == one["suggested_unit"]
    # the others stay confirmed
    if len(expected) > 1:
        assert detail(client, expected[1])["status"] == "已分办"
    # undoing an undecided one is a conflict, not a 500
    r = client.post(
        f"{API}/proposals/{expected[0]}/undo",
        json={"expected_version": back["version"]},
        headers=auth,
    )
    assert r.status_code == 409 and "尚未分办" in r.json()["detail"]


def test_bulk_confirm_needs_a_scope(client: AppClient, auth: dict[str, str]) -> None:
    r = client.post(f"{API}/ledger/bulk-confirm", json={}, headers=auth)
    assert r.status_code == 422 and "届次" in r.json()["detail"]


def test_undo_refused_once_a_unit_is_at_work(client: AppClient, auth: dict[str, str]) -> None:
    p = register(client, auth, number="9", title="反诈宣传", content="建议加强反诈宣传进社区")
    d = client.post(
        f"{API}/proposals/{p['id']}/decision",
        json={"lead_unit": "刑侦", "expected_version": 1, "reason_code": "其他"},
        headers=auth,
    ).json()
    s = client.post(
        f"{API}/proposals/{p['id']}/status",
        json={"status": "办理中", "expected_version": d["version"]},
        headers=auth,
    ).json()
    r = client.post(
        f"{API}/proposals/{p['id']}/undo", json={"expected_version": s["version"]}, headers=auth
    )
    assert r.status_code == 409 and "办理中" in r.json()["detail"]


def test_paging_search_and_sort(
    client: AppClient, auth: dict[str, str], filled: list[dict[str, Any]]
) -> None:
    first = client.get(f"{API}/proposals", params={"limit": 25, "offset": 0}).json()
    second = client.get(f"{API}/proposals", params={"limit": 25, "offset": 25}).json()
    third = client.get(f"{API}/proposals", params={"limit": 25, "offset": 50}).json()
    assert first["total"] == 70 and len(third["items"]) == 20
    ids = [p["id"] for page in (first, second, third) for p in page["items"]]
    assert len(set(ids)) == 70

    by_number = client.get(f"{API}/proposals", params={"sort": "number", "limit": 5}).json()
    numbers = [p["number"] for p in by_number["items"]]
    assert numbers == sorted(numbers) and numbers[0] == "0001"
    desc = client.get(f"{API}/proposals", params={"sort": "-number", "limit": 3}).json()
    assert [p["number"] for p in desc["items"]] == ["0070", "0069", "0068"]
    bad = client.get(f"{API}/proposals", params={"sort": "colour"})
    assert bad.status_code == 422 and "排序" in bad.json()["detail"]

    # search reaches the body text, the deputy and the number
    word = filled[5]["content"][3:9]
    hits = client.get(f"{API}/proposals", params={"q": word}).json()
    assert filled[5]["id"] in [p["id"] for p in hits["items"]]
    assert all(word in p["content"] or word in p["title"] for p in hits["items"])
    deputy = client.get(f"{API}/proposals", params={"q": "代表3", "limit": 500}).json()
    assert deputy["total"] == sum(1 for i in range(70) if i % 7 == 3)
    assert client.get(f"{API}/proposals", params={"q": "0042"}).json()["total"] == 1


def test_precedents_name_past_decisions_and_same_session_merges(
    client: AppClient, auth: dict[str, str]
) -> None:
    old = register(
        client,
        auth,
        session="十七届二次",
        number="11",
        title="关于学府路与建设路交叉口拥堵的建议",
        content="学府路与建设路交叉口早晚高峰拥堵，建议增设信号灯、优化配时。",
    )
    client.post(
        f"{API}/proposals/{old['id']}/decision",
        json={"lead_unit": "交通管理", "expected_version": 1, "reason_code": "其他"},
        headers=auth,
    )
    register(
        client,
        auth,
        session="十七届二次",
        number="12",
        title="户口迁移手续繁琐",
        content="建议简化落户手续，推行网上办理。",
    )
    twin = register(
        client,
        auth,
        number="21",
        title="建设路学府路路口信号灯",
        content="建设路和学府路交叉口车多，红绿灯时间不合理，建议交警调整配时。",
    )
    here = register(
        client,
        auth,
        number="22",
        title="学府路建设路交叉口交通拥堵",
        content="学府路与建设路交叉口高峰时段拥堵严重，建议优化信号灯配时。",
    )
    r = client.post(
        f"{API}/precedents",
        json={
            "title": here["title"],
            "content": here["content"],
            "session": SESSION,
            "exclude_id": here["id"],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    (past,) = body["precedents"]  # only decided proposals are precedents
    assert past["id"] == old["id"] and past["session"] == "十七届二次"
    assert past["unit"] == "交通管理" and past["decided"] and past["status"] == "已分办"
    assert {"学府路", "建设路"} <= set(past["places"])
    merge = body["merge_candidates"]
    assert [m["id"] for m in merge] == [twin["id"]]
    assert merge[0]["score"] >= 0.3 and "学府路" in merge[0]["places"]


def test_precedents_weigh_places(client: AppClient, auth: dict[str, str]) -> None:
    a = register(
        client,
        auth,
        number="31",
        title="人民路与解放路口拥堵",
        content="人民路与解放路交叉口高峰拥堵，建议优化信号灯配时。",
    )
    b = register(
        client,
        auth,
        number="32",
        title="长江路与黄河路口拥堵",
        content="长江路与黄河路交叉口高峰拥堵，建议优化信号灯配时。",
    )
    c = register(
        client,
        auth,
        number="33",
        title="解放路人民路交叉口车辆排长队",
        content="每天早上解放路人民路路口车辆排队很长，红绿灯时长需要调整。",
    )
    r = client.post(
        f"{API}/precedents",
        json={
            "title": a["title"],
            "content": a["content"],
            "session": SESSION,
            "exclude_id": a["id"],
        },
    ).json()
    ids = [m["id"] for m in r["merge_candidates"]]
    assert ids and ids[0] == c["id"]  # the same crossing, worded differently, comes first
    assert b["id"] not in ids[:1]


def test_export_follows_the_filters(
    client: AppClient, auth: dict[str, str], filled: list[dict[str, Any]]
) -> None:
    from openpyxl import load_workbook

    r = client.get(f"{API}/ledger/export.xlsx", params={"session": "十七届二次", "sort": "number"})
    assert r.status_code == 200 and r.headers["x-ledger-rows"] == "30"
    assert "%E5%8F%B0%E8%B4%A6" in r.headers["content-disposition"]  # 台账
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["一览表"]
    header = [c.value for c in ws[1]]
    assert header[:7] == ["序号", "届次", "编号", "类别", "代表/委员", "工作单位", "标题"]
    assert ws.max_row == 31 and ws["B2"].value == "十七届二次" and ws["C2"].value == "0041"
    assert ws.freeze_panes == "A2"
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth in (None, 1)  # absent means 1 in the file format
    assert ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$1"


def test_docs_are_served_locally(client: AppClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.text
    assert "/docs-assets/swagger-ui-bundle.js" in html and "/docs-assets/swagger-ui.css" in html
    assert "cdn" not in html.lower() and "https://" not in html
    js = client.get("/docs-assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
    assert client.get("/redoc").status_code == 404


def test_unknown_headers_answer_with_the_columns_to_pick(client: AppClient) -> None:
    data = "序号,事由,详情\r\n1,学校门口拥堵,建议增设信号灯\r\n2,反诈宣传,建议进社区\r\n".encode()
    r = client.post(f"{API}/batch", files={"file": ("x.csv", data, "text/csv")})
    assert r.status_code == 422
    body = r.json()
    assert "--title-col" not in body["detail"] and "请在下面选择" in body["detail"]
    assert body["columns"] == [
        {"letter": "A", "name": "序号"},
        {"letter": "B", "name": "事由"},
        {"letter": "C", "name": "详情"},
    ]
    ok = client.post(
        f"{API}/batch",
        files={"file": ("x.csv", data, "text/csv")},
        data={"title_col": "B", "content_col": "C"},
    )
    assert ok.status_code == 200 and ok.headers["x-batch-routed"] == "2"
