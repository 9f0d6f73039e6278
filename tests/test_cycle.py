"""The handling cycle over HTTP: role boundaries, 签收, 退办, 延期, replies, 退回重办, 督办."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from docx import Document

from router.api import create_app
from router.api.deps import _today
from router.settings import Settings
from tests.conftest import AppClient, make_account

API = "/api/v1"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def docx_bytes(text: str = "答复正文") -> bytes:
    doc = Document()
    doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


class Office:
    """An app whose calendar day the test sets, with one account per role."""

    def __init__(self, settings: Settings, serving: Any) -> None:
        self.today = date(2025, 9, 30)
        self.settings = settings
        url = settings.db_url
        self.h = {
            "office": make_account(url, "督查员", "分办人员"),
            "traffic": make_account(url, "交警经办", "承办单位经办人", "交通管理"),
            "order": make_account(url, "治安经办", "承办单位经办人", "治安"),
            "crime": make_account(url, "刑侦经办", "承办单位经办人", "刑侦支队"),
            "leader": make_account(url, "审核领导甲", "审核领导"),
            "admin": make_account(url, "管理员甲", "管理员"),
        }
        app = create_app(settings, serving=serving)
        app.dependency_overrides[_today] = lambda: self.today
        self.c = AppClient(app)

    def as_(self, who: str, method: str, path: str, **kw: Any) -> Any:
        return self.c.anon(method, API + path, headers=self.h[who], **kw)

    def register(self, number: str, **kw: Any) -> dict[str, Any]:
        body = {
            "number": number,
            "session": "十七届三次",
            "title": "学校门口拥堵",
            "content": "建议优化信号灯配时。",
            **kw,
        }
        r = self.as_("office", "POST", "/proposals", json=body)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    def decide(
        self, pid: int, lead: str = "交通管理", co: tuple[str, ...] = ("治安",), **kw: Any
    ) -> dict[str, Any]:
        version = self.as_("office", "GET", f"/proposals/{pid}").json()["version"]
        body = {
            "lead_unit": lead,
            "co_units": list(co),
            "reason_code": "其他",
            "expected_version": version,
            **kw,
        }
        r = self.as_("office", "POST", f"/proposals/{pid}/decision", json=body)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def decided(self, number: str = "0001", **kw: Any) -> int:
        pid = int(self.register(number)["id"])
        self.decide(pid, **kw)
        return pid


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def office(
    request: pytest.FixtureRequest, api_settings: Settings, serving: Any
) -> Iterator[Office]:
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        api_settings = api_settings.model_copy(update={"database_url": url})
    o = Office(api_settings, serving)
    yield o
    o.c.close()


# -- roles ------------------------------------------------------------------------------------
def test_a_units_account_cannot_decide_read_other_units_or_change_settings(office: Office) -> None:
    mine, theirs = office.decided("0001"), office.decided("0002", lead="刑侦", co=())
    detail = office.as_("traffic", "GET", f"/proposals/{mine}")
    assert detail.status_code == 200 and detail.json()["decision"]["lead_unit"] == "交通管理"
    other = office.as_("traffic", "GET", f"/proposals/{theirs}")
    assert other.status_code == 403 and "不是本单位" in other.json()["detail"]
    assert office.as_("traffic", "GET", f"/cycle/{theirs}").status_code == 403
    for path in ("/proposals", "/stats", "/office/supervision", "/office/requests"):
        assert office.as_("traffic", "GET", path).status_code == 403, path
    decide = office.as_(
        "traffic",
        "POST",
        f"/proposals/{mine}/decision",
        json={"lead_unit": "刑侦", "reason_code": "其他", "expected_version": 2},
    )
    assert decide.status_code == 403 and "没有权限" in decide.json()["detail"]
    assert (
        office.as_(
            "traffic", "POST", "/proposals", json={"number": "9", "session": "s", "title": "t"}
        ).status_code
        == 403
    )
    assert office.as_("traffic", "POST", "/admin/reload").status_code == 403
    assert (
        office.as_("traffic", "POST", "/users", json={"name": "x", "role": "管理员"}).status_code
        == 403
    )
    assert office.as_("traffic", "GET", "/users").status_code == 403
    assert office.as_("traffic", "GET", "/office/report?session=十七届三次").status_code == 403
    inbox = office.as_("traffic", "GET", "/inbox").json()
    assert [i["id"] for i in inbox["items"]] == [mine] and inbox["unit"] == "交通管理"
    # another unit cannot act on it either
    assert office.as_("crime", "POST", f"/inbox/{mine}/sign").status_code == 403
    # nothing changed
    assert (
        office.as_("office", "GET", f"/proposals/{mine}").json()["decision"]["lead_unit"]
        == "交通管理"
    )


@pytest.mark.parametrize(
    ("who", "path", "method", "allowed"),
    [
        ("office", "/proposals", "GET", 200),
        ("leader", "/proposals", "GET", 200),
        ("admin", "/proposals", "GET", 200),
        ("leader", "/stats", "GET", 200),
        ("office", "/users", "GET", 403),
        ("leader", "/users", "GET", 403),
        ("admin", "/users", "GET", 200),
        ("office", "/inbox", "GET", 403),
        ("leader", "/inbox", "GET", 403),
        ("leader", "/office/supervision", "GET", 200),
        ("order", "/route", "POST", 200),
        ("order", "/model", "GET", 200),
        ("order", "/batch", "POST", 403),
        ("leader", "/admin/reload", "POST", 403),
        ("office", "/admin/reload", "POST", 403),
    ],
)
def test_each_role_sees_its_own_part(
    office: Office, who: str, path: str, method: str, allowed: int
) -> None:
    kw: dict[str, Any] = {}
    if path == "/route":
        kw["json"] = {"title": "反诈", "content": "电信诈骗"}
    r = office.as_(who, method, path, **kw)
    assert r.status_code == allowed, r.text


def test_the_leader_reads_but_does_not_decide_or_approve(office: Office) -> None:
    pid = office.decided()
    r = office.as_(
        "leader",
        "POST",
        f"/proposals/{pid}/decision",
        json={"lead_unit": "刑侦", "reason_code": "其他", "expected_version": 2},
    )
    assert r.status_code == 403
    req = office.as_(
        "traffic", "POST", f"/inbox/{pid}/return", json={"reason": "不属本单位"}
    ).json()
    r = office.as_("leader", "POST", f"/office/requests/{req['id']}", json={"approve": True})
    assert r.status_code == 403
    assert (
        office.as_("leader", "POST", f"/office/proposals/{pid}/key", json={"on": True}).status_code
        == 403
    )


def test_model_shows_no_server_paths(office: Office) -> None:
    body = office.as_("order", "GET", "/model").text
    assert "/tmp/" not in body and "pytest" not in body
    assert "proposals.csv" in body  # the file's name stays


# -- accounts ----------------------------------------------------------------------------------
def test_login_sets_a_strict_httponly_cookie_and_writes_need_the_csrf_token(office: Office) -> None:
    c = office.c
    bad = c.anon("POST", f"{API}/auth/login", json={"name": "督查员", "password": "wrong-password"})
    assert bad.status_code == 401 and "不正确" in bad.json()["detail"]
    r = c.anon(
        "POST", f"{API}/auth/login", json={"name": "督查员", "password": "correct-horse-battery"}
    )
    assert r.status_code == 200 and r.json()["role"] == "分办人员"
    cookies = r.headers.get_list("set-cookie")
    session = next(h for h in cookies if h.startswith("router_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session
    csrf_cookie = next(h for h in cookies if h.startswith("router_csrf="))
    assert "HttpOnly" not in csrf_cookie
    token = r.json()["csrf"]
    cookie = {"Cookie": f"router_session={r.cookies['router_session']}"}
    assert c.anon("GET", f"{API}/auth/me", headers=cookie).json()["name"] == "督查员"
    assert c.anon("GET", f"{API}/proposals", headers=cookie).status_code == 200
    body = {"number": "1", "session": "十七届三次", "title": "反诈宣传", "content": "建议加强"}
    forged = c.anon("POST", f"{API}/proposals", json=body, headers=cookie)
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    wrong = c.anon(
        "POST", f"{API}/proposals", json=body, headers={**cookie, "X-CSRF-Token": "x" * 43}
    )
    assert wrong.status_code == 403
    ok = c.anon("POST", f"{API}/proposals", json=body, headers={**cookie, "X-CSRF-Token": token})
    assert ok.status_code == 201 and ok.json()["created_by"] == "督查员"
    out = c.anon("POST", f"{API}/auth/logout", headers={**cookie, "X-CSRF-Token": token})
    assert out.status_code == 204
    assert c.anon("GET", f"{API}/proposals", headers=cookie).status_code == 401


def test_personal_tokens_are_stored_hashed_and_revocable(
    office: Office,
) -> None:
    r = office.as_("traffic", "POST", "/auth/tokens", json={"label": "脚本"})
    assert r.status_code == 201
    plain, tid = r.json()["token"], r.json()["id"]
    headers = {"Authorization": f"Bearer {plain}"}
    assert office.c.anon("GET", f"{API}/inbox", headers=headers).status_code == 200
    from sqlalchemy import create_engine, text

    engine = create_engine(office.settings.db_url)
    with engine.connect() as conn:
        stored = [row[0] for row in conn.execute(text("SELECT token_hash FROM api_tokens"))]
        hashes = [row[0] for row in conn.execute(text("SELECT password_hash FROM users"))]
    engine.dispose()
    assert plain not in stored and hashlib.sha256(plain.encode()).hexdigest() in stored
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert office.as_("order", "DELETE", f"/auth/tokens/{tid}").status_code == 404  # not theirs
    assert office.as_("traffic", "DELETE", f"/auth/tokens/{tid}").json()["revoked_at"]
    r = office.c.anon("GET", f"{API}/inbox", headers=headers)
    assert r.status_code == 401 and "撤销" in r.json()["detail"]


def test_a_disabled_account_is_locked_out_at_once(office: Office) -> None:
    assert office.as_("order", "GET", "/inbox").status_code == 200
    r = office.as_("admin", "POST", "/users/治安经办", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert office.as_("order", "GET", "/inbox").status_code == 401
    login = office.c.anon(
        "POST", f"{API}/auth/login", json={"name": "治安经办", "password": "correct-horse-battery"}
    )
    assert login.status_code == 401
    reset = office.as_(
        "admin", "POST", "/users/治安经办", json={"active": True, "reset_password": True}
    )
    new = reset.json()["password"]
    login = office.c.anon("POST", f"{API}/auth/login", json={"name": "治安经办", "password": new})
    assert login.status_code == 200 and login.json()["unit"] == "治安"


def test_an_administrator_adds_a_unit_account_bound_to_its_unit(office: Office) -> None:
    r = office.as_("admin", "POST", "/users", json={"name": "网安经办", "role": "承办单位经办人"})
    assert r.status_code == 422 and "--unit" in r.json()["detail"]
    r = office.as_(
        "admin",
        "POST",
        "/users",
        json={"name": "网安经办", "role": "承办单位经办人", "unit": "网安支队"},
    )
    assert (
        r.status_code == 201 and r.json()["unit"] == "网安" and r.json()["created_by"] == "管理员甲"
    )
    again = office.as_("admin", "POST", "/users", json={"name": "网安经办", "role": "分办人员"})
    assert again.status_code == 400 and "已存在" in again.json()["detail"]


# -- the unit's side ---------------------------------------------------------------------------
def test_sign_moves_the_lead_to_handling_and_is_recorded_under_the_account(office: Office) -> None:
    pid = office.decided()
    co = office.as_("order", "POST", f"/inbox/{pid}/sign")
    assert co.status_code == 200 and co.json()["status"] == "已分办"  # a co-unit's 签收 only
    r = office.as_("traffic", "POST", f"/inbox/{pid}/sign")
    assert r.status_code == 200 and r.json()["status"] == "办理中"
    again = office.as_("traffic", "POST", f"/inbox/{pid}/sign")
    assert again.status_code == 409 and "已于" in again.json()["detail"]
    assert office.as_("office", "POST", f"/inbox/{pid}/sign").status_code == 403
    events = office.as_("office", "GET", f"/proposals/{pid}").json()["events"]
    signed = [e for e in events if e["action"] == "signed"]
    assert [(e["actor"], e["data"]["unit"]) for e in signed] == [
        ("治安经办", "治安"),
        ("交警经办", "交通管理"),
    ]
    cyc = office.as_("traffic", "GET", f"/cycle/{pid}").json()
    assert {a["unit"]: a["signed_by"] for a in cyc["assignments"]} == {
        "交通管理": "交警经办",
        "治安": "治安经办",
    }


def test_the_answer_deadline_is_three_months_from_assignment(office: Office) -> None:
    pid = office.decided()
    assert office.as_("office", "GET", f"/proposals/{pid}").json()["due_on"] == "2025-12-30"


def test_return_within_the_window_refused_then_approved_reopens_dispatch(office: Office) -> None:
    pid = office.decided()  # assigned 2025-09-30: window ends 2025-10-14 (National Day skipped)
    inbox = office.as_("traffic", "GET", "/inbox").json()["items"][0]
    assert inbox["return_window_ends"] == "2025-10-14" and inbox["role"] == "主办"
    office.today = date(2025, 10, 14)
    empty = office.as_("traffic", "POST", f"/inbox/{pid}/return", json={"reason": " "})
    assert empty.status_code == 422
    r = office.as_("traffic", "POST", f"/inbox/{pid}/return", json={"reason": "属车管所以外事项"})
    assert r.status_code == 201 and r.json()["status"] == "待审批"
    assert office.as_("traffic", "GET", "/inbox").json()["items"][0]["pending"] == ["退办"]
    twice = office.as_("traffic", "POST", f"/inbox/{pid}/return", json={"reason": "再次"})
    assert twice.status_code == 409 and "等待督查室审批" in twice.json()["detail"]
    pending = office.as_("office", "GET", "/office/requests").json()
    assert [(p["kind"], p["unit"]) for p in pending] == [("退办", "交通管理")]
    no_reason = office.as_(
        "office", "POST", f"/office/requests/{r.json()['id']}", json={"approve": False}
    )
    assert no_reason.status_code == 422 and "理由" in no_reason.json()["detail"]
    refused = office.as_(
        "office",
        "POST",
        f"/office/requests/{r.json()['id']}",
        json={"approve": False, "note": "信号灯配时属交警职责"},
    )
    assert refused.json()["status"] == "已拒绝"
    assert office.as_("office", "GET", f"/proposals/{pid}").json()["status"] == "已分办"
    again = office.as_(
        "traffic", "POST", f"/inbox/{pid}/return", json={"reason": "补充理由"}
    ).json()
    ok = office.as_("office", "POST", f"/office/requests/{again['id']}", json={"approve": True})
    assert ok.status_code == 200 and ok.json()["status"] == "已同意"
    p = office.as_("office", "GET", f"/proposals/{pid}").json()
    assert p["status"] == "待分办" and p["decision"] is None and p["due_on"] is None
    approved = [e for e in p["events"] if e["action"] == "return_approved"][0]
    assert approved["actor"] == "督查员" and approved["data"]["previous"]["lead_unit"] == "交通管理"
    assert [e["action"] for e in p["events"]].count("return_refused") == 1
    assert office.as_("traffic", "GET", "/inbox").json()["items"] == []
    assert office.as_("traffic", "GET", f"/proposals/{pid}").status_code == 403
    # 分办 is open again: a new decision goes through
    office.decide(pid, lead="治安", co=())
    assert [i["id"] for i in office.as_("order", "GET", "/inbox").json()["items"]] == [pid]


def test_return_after_the_window_is_refused(office: Office) -> None:
    pid = office.decided()
    office.today = date(2025, 10, 15)
    r = office.as_("traffic", "POST", f"/inbox/{pid}/return", json={"reason": "不属本单位"})
    assert r.status_code == 409
    assert "5 个工作日内" in r.json()["detail"] and "2025-10-14" in r.json()["detail"]


def test_a_co_units_return_drops_only_that_unit(office: Office) -> None:
    pid = office.decided()
    req = office.as_("order", "POST", f"/inbox/{pid}/return", json={"reason": "无治安内容"}).json()
    office.as_("office", "POST", f"/office/requests/{req['id']}", json={"approve": True})
    p = office.as_("office", "GET", f"/proposals/{pid}").json()
    assert p["decision"]["lead_unit"] == "交通管理" and p["decision"]["co_units"] == []
    assert office.as_("order", "GET", "/inbox").json()["items"] == []


def test_extension_only_by_the_lead_and_approved_moves_the_deadline(office: Office) -> None:
    pid = office.decided()
    co = office.as_(
        "order", "POST", f"/inbox/{pid}/extension", json={"reason": "r", "until": "2026-01-30"}
    )
    assert co.status_code == 403 and "主办单位" in co.json()["detail"]
    early = office.as_(
        "traffic", "POST", f"/inbox/{pid}/extension", json={"reason": "r", "until": "2025-12-01"}
    )
    assert early.status_code == 422 and "2025-12-30" in early.json()["detail"]
    r = office.as_(
        "traffic",
        "POST",
        f"/inbox/{pid}/extension",
        json={"reason": "需跨部门论证", "until": "2026-01-30"},
    )
    assert r.status_code == 201
    assert (
        office.as_(
            "traffic", "POST", f"/office/requests/{r.json()['id']}", json={"approve": True}
        ).status_code
        == 403
    )
    office.as_("office", "POST", f"/office/requests/{r.json()['id']}", json={"approve": True})
    p = office.as_("office", "GET", f"/proposals/{pid}").json()
    assert p["due_on"] == "2026-01-30"
    ev = [e for e in p["events"] if e["action"] == "extend_approved"][0]
    assert ev["data"]["due_on"] == ["2025-12-30", "2026-01-30"]
    done = office.as_(
        "office", "POST", f"/office/requests/{r.json()['id']}", json={"approve": False, "note": "x"}
    )
    assert done.status_code == 409


def test_reply_upload_checks_the_file_and_closes_the_item(office: Office, serving: Any) -> None:
    pid = office.decided()

    def up(who: str, name: str, data: bytes) -> Any:
        return office.as_(who, "POST", f"/inbox/{pid}/reply", files={"file": (name, data)})

    fake = up("traffic", "答复.pdf", b"MZ\x90\x00not a pdf")
    assert fake.status_code == 422 and "文件头不符" in fake.json()["detail"]
    zip_not_word = up("traffic", "答复.docx", b"PK\x03\x04garbage")
    assert zip_not_word.status_code == 422
    txt = up("traffic", "答复.txt", b"hello")
    assert txt.status_code == 422 and ".docx 或 .pdf" in txt.json()["detail"]
    assert up("order", "答复.pdf", PDF).status_code == 403  # a co-unit gives its opinion instead
    opinion = office.as_(
        "order", "POST", f"/inbox/{pid}/opinion", json={"opinion": "建议护学岗配合"}
    )
    assert opinion.status_code == 200
    cyc = office.as_("traffic", "GET", f"/cycle/{pid}").json()
    assert {a["unit"]: a["opinion"] for a in cyc["assignments"]}["治安"] == "建议护学岗配合"
    assert office.as_("office", "GET", f"/proposals/{pid}").json()["status"] == "已分办"
    data = docx_bytes()
    r = up("traffic", "关于0001号建议的答复.docx", data)
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == hashlib.sha256(data).hexdigest() and r.json()["size"] == len(data)
    p = office.as_("office", "GET", f"/proposals/{pid}").json()
    assert p["status"] == "已答复" and p["replied_on"] == "2025-09-30"
    got = office.as_("office", "GET", f"/replies/{r.json()['id']}")
    assert got.content == data and got.headers["x-content-sha256"] == r.json()["sha256"]
    assert "filename*=UTF-8''" in got.headers["content-disposition"]
    assert office.as_("crime", "GET", f"/replies/{r.json()['id']}").status_code == 404
    assert office.as_("order", "GET", f"/replies/{r.json()['id']}").status_code == 200
    closed = up("traffic", "再次.pdf", PDF)
    assert closed.status_code == 409
    # a size limit below the file
    small = office.settings.model_copy(update={"reply_max_mb": 1})
    c = AppClient(create_app(small, serving=serving))
    try:
        pid2 = office.decided("0002")
        big = PDF + b"0" * (1024 * 1024)
        r = c.anon(
            "POST",
            f"{API}/inbox/{pid2}/reply",
            headers=office.h["traffic"],
            files={"file": ("大.pdf", big)},
        )
        assert r.status_code == 413 and "1 MB" in r.json()["detail"]
    finally:
        c.close()


def test_send_back_reopens_and_the_lead_replies_again(office: Office) -> None:
    pid = office.decided()
    first = office.as_(
        "traffic", "POST", f"/inbox/{pid}/reply", files={"file": ("a.pdf", PDF)}
    ).json()
    assert (
        office.as_(
            "traffic", "POST", f"/office/proposals/{pid}/send-back", json={"note": "x"}
        ).status_code
        == 403
    )
    no_note = office.as_("leader", "POST", f"/office/proposals/{pid}/send-back", json={"note": ""})
    assert no_note.status_code == 422
    r = office.as_(
        "leader", "POST", f"/office/proposals/{pid}/send-back", json={"note": "未答复信号灯问题"}
    )
    assert r.status_code == 200 and r.json()["status"] == "办理中"
    p = office.as_("office", "GET", f"/proposals/{pid}").json()
    assert p["status"] == "办理中" and p["replied_on"] is None
    cyc = office.as_("traffic", "GET", f"/cycle/{pid}").json()
    assert (
        cyc["replies"][0]["status"] == "退回重办"
        and cyc["replies"][0]["return_note"] == "未答复信号灯问题"
    )
    again = office.as_(
        "office", "POST", f"/office/proposals/{pid}/send-back", json={"note": "再退"}
    )
    assert again.status_code == 409
    second = office.as_(
        "traffic", "POST", f"/inbox/{pid}/reply", files={"file": ("b.docx", docx_bytes("改"))}
    )
    assert second.status_code == 201 and second.json()["id"] != first["id"]
    actions = [
        e["action"] for e in office.as_("office", "GET", f"/proposals/{pid}").json()["events"]
    ]
    assert actions == ["registered", "decided", "replied", "reply_returned", "replied"]


# -- 督办 ------------------------------------------------------------------------------------------
def test_supervision_lists_units_and_writes_one_notice_each(office: Office) -> None:
    late = office.decided("0001", due_on="2025-09-20")  # 10 days overdue on 30 September
    soon = office.decided("0002", lead="刑侦", co=(), due_on="2025-10-10")  # 2 working days on
    office.decided("0003", lead="刑侦", co=())  # due at the end of December: not listed
    key = office.as_(
        "office", "POST", f"/office/proposals/{late}/key", json={"on": True, "note": "人大重点"}
    )
    assert key.status_code == 200
    view = office.as_("office", "GET", "/office/supervision").json()
    assert view["due_soon_until"] == "2025-10-21"  # ten working days: 9-11, 13-17, 20, 21 October
    units = {u["unit"]: u for u in view["units"]}
    assert set(units) == {"交通管理", "刑侦"}
    assert [
        (i["id"], i["days_overdue"], i["key_supervision"]) for i in units["交通管理"]["overdue"]
    ] == [(late, 10, True)]
    assert [i["id"] for i in units["刑侦"]["due_soon"]] == [soon] and units["刑侦"]["overdue"] == []
    unit_view = office.as_("crime", "GET", "/inbox").json()
    assert {i["id"]: i["due_soon"] for i in unit_view["items"]}[soon] is True
    r = office.as_("office", "POST", "/office/supervision/notices", json={})
    assert r.status_code == 201
    notices = {n["unit"]: n for n in r.json()}
    assert set(notices) == {"交通管理", "刑侦"} and notices["交通管理"]["items"] == 1
    doc = office.as_("leader", "GET", f"/office/notices/{notices['交通管理']['id']}")
    assert hashlib.sha256(doc.content).hexdigest() == notices["交通管理"]["sha256"]
    d = Document(io.BytesIO(doc.content))
    text = "\n".join(p.text for p in d.paragraphs)
    cells = [c.text for row in d.tables[0].rows for c in row.cells]
    assert "交警支队：" in text and "1 件已超过办理期限" in text
    assert cells[4:8] == ["0001", "学校门口拥堵（重点督办）", "2025-09-20", "超期 10 天"]
    events = office.as_("office", "GET", f"/proposals/{late}").json()["events"]
    assert [e["action"] for e in events][-2:] == ["key_marked", "supervised"]
    listed = office.as_("office", "GET", "/office/supervision").json()["notices"]
    assert len(listed) == 2 and listed[0]["created_by"] == "督查员"
    assert office.as_("leader", "POST", "/office/supervision/notices", json={}).status_code == 403
    only = office.as_("office", "POST", "/office/supervision/notices", json={"units": ["刑侦支队"]})
    assert [n["unit"] for n in only.json()] == ["刑侦"]


def test_no_notice_when_nothing_is_late(office: Office) -> None:
    office.decided()
    r = office.as_("office", "POST", "/office/supervision/notices", json={})
    assert r.status_code == 409 and "无需" in r.json()["detail"]


def test_supervision_beyond_the_calendar_says_so(office: Office) -> None:
    office.today = date(2026, 12, 28)
    r = office.as_("office", "GET", "/office/supervision")
    assert r.status_code == 422 and "工作日历只收录" in r.json()["detail"]


def test_development_mode_without_accounts_acts_as_an_administrator(
    settings: Settings, sqlite_url: str, serving: Any
) -> None:
    dev = settings.model_copy(
        update={"api_token": None, "dev_mode": True, "database_url": sqlite_url}
    )
    c = AppClient(create_app(dev, serving=serving))
    try:
        me = c.get(f"{API}/auth/me").json()
        assert (me["name"], me["role"], me["via"]) == ("本地开发", "管理员", "dev")
        assert c.get(f"{API}/office/supervision").status_code in (
            200,
            422,
        )  # 422: beyond the calendar
        assert c.get(f"{API}/stats").status_code == 200
        assert c.post(f"{API}/auth/tokens", json={}).status_code == 403  # no account to give it to
    finally:
        c.close()


def test_five_wrong_passwords_lock_the_account_for_a_while(office: Office) -> None:
    login = {"name": "督查员", "password": "wrong-password"}
    for _ in range(5):
        assert office.c.anon("POST", f"{API}/auth/login", json=login).status_code == 401
    right = {"name": "督查员", "password": "correct-horse-battery"}
    r = office.c.anon("POST", f"{API}/auth/login", json=right)
    assert r.status_code == 429 and "15 分钟" in r.json()["detail"]
    assert r.headers["retry-after"] == "900"
    # the lock lifts by itself after 15 minutes
    from datetime import UTC, datetime, timedelta

    from router.db import make_engine, make_sessionmaker
    from router.ledger import accounts

    engine = make_engine(office.settings.db_url)
    with make_sessionmaker(engine)() as db:
        later = datetime.now(UTC) + timedelta(minutes=16)
        assert accounts.authenticate(db, "督查员", "correct-horse-battery", now=later) is not None
        db.commit()
    engine.dispose()
    assert office.c.anon("POST", f"{API}/auth/login", json=right).status_code == 200
