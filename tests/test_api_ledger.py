"""The ledger over HTTP: access, registration, decisions, status, lists and figures."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from router.api import create_app
from router.settings import Settings
from tests.conftest import DISPATCHER, TOKEN, AppClient

API = "/api/v1"
PROPOSAL = {
    "number": "0001",
    "session": "十七届三次",
    "kind": "建议",
    "deputy_name": "王五",
    "deputy_unit": "市第一中学",
    "title": "学校门口早晚高峰拥堵",
    "content": "建议优化信号灯配时，增设护学岗。",
    "received_on": "2027-01-15",
}


def register(client: AppClient, auth: dict[str, str], **changes: Any) -> dict[str, Any]:
    r = client.post(f"{API}/proposals", json={**PROPOSAL, **changes}, headers=auth)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def count(client: AppClient) -> int:
    total: int = client.get(f"{API}/proposals").json()["total"]
    return total


# -- access -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-wrong-token-wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer rt_not-a-token-anyone-was-given"},
    ],
)
def test_writes_need_an_account(client: AppClient, headers: dict[str, str]) -> None:
    r = client.anon(
        "POST", f"{API}/proposals", json=PROPOSAL, headers={**headers, "X-Dispatcher": "a"}
    )
    assert r.status_code == 401
    assert "访问令牌" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"
    assert count(client) == 0


def test_the_shared_token_only_creates_the_first_administrator(client: AppClient) -> None:
    shared = {"Authorization": f"Bearer {TOKEN}"}
    r = client.anon("POST", f"{API}/proposals", json=PROPOSAL, headers=shared)
    assert r.status_code == 403 and "第一个管理员" in r.json()["detail"]
    assert client.anon("GET", f"{API}/proposals", headers=shared).status_code == 403
    clerk = {"name": "王五", "role": "分办人员"}
    r = client.anon("POST", f"{API}/users", json=clerk, headers=shared)
    assert r.status_code == 403
    r = client.anon(
        "POST", f"{API}/users", json={"name": "管理员甲", "role": "管理员"}, headers=shared
    )
    assert r.status_code == 201 and r.json()["created_by"] == "初始管理员"
    assert len(r.json()["password"]) >= 12  # generated, shown once
    r = client.anon(
        "POST", f"{API}/users", json={"name": "管理员乙", "role": "管理员"}, headers=shared
    )
    assert r.status_code == 401 and "不再有效" in r.json()["detail"]
    assert count(client) == 0


def test_the_account_is_recorded_not_a_typed_name(client: AppClient, auth: dict[str, str]) -> None:
    p = register(client, {**auth, "X-Dispatcher": quote("李四")})
    assert p["created_by"] == DISPATCHER
    r = client.post(
        f"{API}/proposals/{p['id']}/decision",
        json={"lead_unit": "交通管理", "expected_version": 1},
        headers={**auth, "X-Dispatcher": "李四".encode()},
    )
    assert r.status_code == 200 and r.json()["decision"]["decided_by"] == DISPATCHER
    events = client.get(f"{API}/proposals/{p['id']}").json()["events"]
    assert [e["actor"] for e in events] == [DISPATCHER, DISPATCHER]


def test_reads_need_an_account(client: AppClient, auth: dict[str, str]) -> None:
    p = register(client, auth)
    for path in (f"/proposals/{p['id']}", "/proposals", "/stats", "/model", "/inbox"):
        r = client.anon("GET", API + path)
        assert r.status_code == 401, path
        assert "登录" in r.json()["detail"]
    r = client.anon("POST", f"{API}/route", json={"title": "学校门口拥堵", "content": "信号灯"})
    assert r.status_code == 401
    for path in ("/units", "/healthz", "/readyz"):
        assert client.anon("GET", API + path).status_code == 200, path
    assert client.get(f"{API}/proposals/{p['id']}").status_code == 200
    assert client.get(f"{API}/stats").status_code == 200


def test_development_mode_without_a_token_writes_as_local_developer(
    settings: Settings, sqlite_url: str, serving: Any
) -> None:
    dev = settings.model_copy(
        update={"api_token": None, "dev_mode": True, "database_url": sqlite_url}
    )
    c = AppClient(create_app(dev, serving=serving))
    try:
        r = c.post(f"{API}/proposals", json=PROPOSAL)
        assert r.status_code == 201 and r.json()["created_by"] == "本地开发"
        named = c.post(
            f"{API}/proposals",
            json={**PROPOSAL, "number": "2"},
            headers={"X-Dispatcher": quote("赵六")},
        )
        assert named.json()["created_by"] == "赵六"
    finally:
        c.close()


def test_development_mode_with_a_token_still_checks_it(
    settings: Settings, sqlite_url: str, serving: Any
) -> None:
    dev = settings.model_copy(
        update={"api_token": TOKEN, "dev_mode": True, "database_url": sqlite_url}
    )
    c = AppClient(create_app(dev, serving=serving))
    try:
        assert c.post(f"{API}/proposals", json=PROPOSAL).status_code == 401
    finally:
        c.close()


# -- registration -------------------------------------------------------------------------
def test_register_stores_the_suggestion(
    client: AppClient, auth: dict[str, str], serving: Any
) -> None:
    p = register(client, auth)
    assert p["status"] == "待分办" and p["version"] == 1 and p["decision"] is None
    assert p["suggested_unit"] == "交通管理" and 0 < p["suggested_confidence"] <= 1
    assert p["model_version"] == serving.router.version
    assert p["received_on"] == "2027-01-15" and p["deputy_unit"] == "市第一中学"


def test_registering_twice_registers_once(client: AppClient, auth: dict[str, str]) -> None:
    first = register(client, auth)
    again = client.post(f"{API}/proposals", json={**PROPOSAL, "number": " 0001 "}, headers=auth)
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert count(client) == 1


def test_same_number_with_other_content_is_a_conflict(
    client: AppClient, auth: dict[str, str]
) -> None:
    register(client, auth)
    r = client.post(f"{API}/proposals", json={**PROPOSAL, "content": "另一件事"}, headers=auth)
    assert r.status_code == 409 and "内容与本次提交不同" in r.json()["detail"]
    assert client.get(f"{API}/proposals").json()["items"][0]["content"] == PROPOSAL["content"]


@pytest.mark.parametrize(
    ("changes", "status", "word"),
    [
        ({"title": "", "content": "  "}, 422, "不能同时为空"),
        ({"content": "交" * 20_001}, 413, "文本过长"),
        ({"number": ""}, 422, "编号"),
        ({"kind": "意见"}, 422, "类别"),
        ({"received_on": "去年"}, 422, "日期格式"),
        ({"extra": 1}, 422, "不认识的字段"),
    ],
)
def test_bad_registrations_write_nothing(
    client: AppClient, auth: dict[str, str], changes: dict[str, Any], status: int, word: str
) -> None:
    r = client.post(f"{API}/proposals", json={**PROPOSAL, **changes}, headers=auth)
    assert r.status_code == status and word in r.json()["detail"]
    assert count(client) == 0


def test_proposal_text_is_stored_and_returned_verbatim(
    client: AppClient, auth: dict[str, str]
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> 反诈宣传'
    p = register(client, auth, title=hostile)
    assert client.get(f"{API}/proposals/{p['id']}").json()["title"] == hostile


# -- decisions ----------------------------------------------------------------------------
def decide(client: AppClient, auth: dict[str, str], pid: int, **body: Any) -> Any:
    return client.post(f"{API}/proposals/{pid}/decision", json=body, headers=auth)


def test_confirm_then_correct_with_a_reason(client: AppClient, auth: dict[str, str]) -> None:
    p = register(client, auth)
    r = decide(client, auth, p["id"], lead_unit="交通管理", co_units=["治安"], expected_version=1)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "已分办" and body["version"] == 2 and body["due_on"]
    assert body["decision"]["follows_suggestion"] and body["decision"]["co_units"] == ["治安"]
    r = decide(
        client,
        auth,
        p["id"],
        lead_unit="治安",
        reason_code="多部门",
        note="护学岗",
        expected_version=2,
    )
    assert r.status_code == 200 and r.json()["decision"]["lead_unit"] == "治安"
    events = client.get(f"{API}/proposals/{p['id']}").json()["events"]
    assert [e["action"] for e in events] == ["registered", "decided", "redecided"]
    assert events[2]["data"]["previous"]["lead_unit"] == "交通管理"
    assert events[2]["actor"] == DISPATCHER


def test_referral_out(client: AppClient, auth: dict[str, str]) -> None:
    p = register(client, auth, title="拓宽人民路", content="建议拓宽道路，增设路灯")
    r = decide(
        client,
        auth,
        p["id"],
        lead_unit=None,
        referral_departments=["住建局"],
        referral_reason="道路建设属住建局",
        reason_code="其他",
        expected_version=1,
    )
    assert r.status_code == 200
    assert r.json()["status"] == "已退办" and r.json()["decision"]["referral_departments"] == [
        "住建局"
    ]


@pytest.mark.parametrize(
    ("body", "status", "word"),
    [
        ({"lead_unit": "治安", "expected_version": 1}, 422, "请选择原因"),
        ({"lead_unit": "消防支队", "expected_version": 1}, 422, "未知的承办单位"),
        (
            {
                "lead_unit": None,
                "referral_departments": ["天文台"],
                "referral_reason": "x",
                "expected_version": 1,
            },
            422,
            "未知的责任部门",
        ),
        ({"lead_unit": "交通管理", "reason_code": "不知道", "expected_version": 1}, 422, "原因"),
        ({"lead_unit": "交通管理"}, 422, "版本号"),  # expected_version missing
        ({"lead_unit": "交通管理", "expected_version": 7}, 409, "已被他人修改"),
    ],
)
def test_bad_decisions_change_nothing(
    client: AppClient, auth: dict[str, str], body: dict[str, Any], status: int, word: str
) -> None:
    p = register(client, auth)
    r = decide(client, auth, p["id"], **body)
    assert r.status_code == status, r.text
    assert word in r.json()["detail"]
    after = client.get(f"{API}/proposals/{p['id']}").json()
    assert after["version"] == 1 and after["decision"] is None and len(after["events"]) == 1


def test_the_second_of_two_concurrent_decisions_sees_a_conflict(
    client: AppClient, auth: dict[str, str]
) -> None:
    p = register(client, auth)
    first = decide(client, auth, p["id"], lead_unit="交通管理", expected_version=1)
    second = decide(client, auth, p["id"], lead_unit="治安", reason_code="其他", expected_version=1)
    assert first.status_code == 200 and second.status_code == 409
    assert second.json()["current_version"] == 2
    assert client.get(f"{API}/proposals/{p['id']}").json()["decision"]["lead_unit"] == "交通管理"


def test_unknown_proposal_is_404(client: AppClient, auth: dict[str, str]) -> None:
    r = decide(client, auth, 42, lead_unit="刑侦", expected_version=1)
    assert r.status_code == 404 and "没有序号为 42" in r.json()["detail"]
    assert client.get(f"{API}/proposals/42").status_code == 404
    r = client.get(f"{API}/proposals/abc")
    assert r.status_code == 422 and "序号" in r.json()["detail"]


# -- status, evaluation -------------------------------------------------------------------
def test_status_and_evaluation(client: AppClient, auth: dict[str, str]) -> None:
    p = register(client, auth)
    url = f"{API}/proposals/{p['id']}"
    early = client.post(
        f"{url}/status", json={"status": "办理中", "expected_version": 1}, headers=auth
    )
    assert early.status_code == 409 and "待分办" in early.json()["detail"]
    decide(client, auth, p["id"], lead_unit="交通管理", expected_version=1)
    r = client.post(f"{url}/status", json={"status": "办理中", "expected_version": 2}, headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "办理中"
    too_soon = client.post(
        f"{url}/evaluation", json={"evaluation": "满意", "expected_version": 3}, headers=auth
    )
    assert too_soon.status_code == 409
    r = client.post(
        f"{url}/status",
        json={"status": "已答复", "replied_on": "2027-03-01", "expected_version": 3},
        headers=auth,
    )
    assert r.json()["replied_on"] == "2027-03-01"
    r = client.post(
        f"{url}/evaluation", json={"evaluation": "满意", "expected_version": 4}, headers=auth
    )
    assert r.status_code == 200 and r.json()["evaluation"] == "满意"
    bad = client.post(
        f"{url}/evaluation", json={"evaluation": "很好", "expected_version": 5}, headers=auth
    )
    assert bad.status_code == 422 and "评价" in bad.json()["detail"]
    wrong = client.post(
        f"{url}/status", json={"status": "已退办", "expected_version": 5}, headers=auth
    )
    assert wrong.status_code == 422 and "由分办决定设置" in wrong.json()["detail"]
    unauth = client.anon("POST", f"{url}/status", json={"status": "办理中", "expected_version": 5})
    assert unauth.status_code == 401


# -- lists and figures --------------------------------------------------------------------
def test_list_filters_and_overdue_first(client: AppClient, auth: dict[str, str]) -> None:
    a = register(client, auth, number="1")
    b = register(client, auth, number="2", title="反诈宣传进社区", content="建议加强反诈宣传")
    c = register(
        client, auth, number="3", session="十七届四次", title="户口迁移", content="简化落户"
    )
    decide(client, auth, a["id"], lead_unit="交通管理", due_on="2020-01-01", expected_version=1)
    decide(client, auth, b["id"], lead_unit="刑侦", expected_version=1)
    items = client.get(f"{API}/proposals").json()["items"]
    assert [p["id"] for p in items][0] == a["id"]
    assert items[0]["overdue"] and items[0]["days_overdue"] > 365
    assert [p["id"] for p in client.get(f"{API}/proposals?overdue=true").json()["items"]] == [
        a["id"]
    ]
    assert [
        p["id"] for p in client.get(f"{API}/proposals", params={"unit": "刑侦"}).json()["items"]
    ] == [b["id"]]
    assert [
        p["id"] for p in client.get(f"{API}/proposals", params={"status": "待分办"}).json()["items"]
    ] == [c["id"]]
    assert client.get(f"{API}/proposals", params={"session": "十七届四次"}).json()["total"] == 1
    assert client.get(f"{API}/proposals", params={"q": "反诈"}).json()["total"] == 1
    page = client.get(f"{API}/proposals", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3 and len(page["items"]) == 1


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"unit": "消防"}, "未知的承办单位"),
        ({"status": "已完成"}, "状态"),
        ({"limit": 0}, "每页条数"),
        ({"overdue": "也许"}, "是否超期"),
    ],
)
def test_bad_filters_are_422(client: AppClient, params: dict[str, Any], word: str) -> None:
    r = client.get(f"{API}/proposals", params=params)
    assert r.status_code == 422 and word in r.json()["detail"]


def test_stats(client: AppClient, auth: dict[str, str]) -> None:
    a = register(client, auth, number="1")
    b = register(client, auth, number="2", title="拓宽道路", content="建议拓宽人民路")
    register(client, auth, number="3", title="辅警待遇", content="提高辅警工资")
    decide(client, auth, a["id"], lead_unit="交通管理", due_on="2020-01-01", expected_version=1)
    decide(
        client,
        auth,
        b["id"],
        lead_unit=None,
        referral_departments=["住建局"],
        referral_reason="x",
        reason_code="其他",
        expected_version=1,
    )
    s = client.get(f"{API}/stats").json()
    assert s["total"] == 3 and s["referrals"] == 1 and s["overdue"] == 1
    assert s["by_status"] == {"待分办": 1, "已分办": 1, "办理中": 0, "已答复": 0, "已退办": 1}
    assert s["overdue_items"][0]["id"] == a["id"]
    assert {u["unit"]: u["lead"] for u in s["by_unit"]}["交通管理"] == 1
    assert s["satisfaction_rate"] is None and s["sessions"] == ["十七届三次"]
    assert client.get(f"{API}/stats", params={"session": "无此届"}).json()["total"] == 0
