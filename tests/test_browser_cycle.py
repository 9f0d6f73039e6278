"""The unit's inbox and the office's 督办 view in a real Chromium against a real uvicorn server."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from router.api import create_app
from router.api.deps import _today
from router.settings import Settings
from tests.conftest import make_account
from tests.test_browser import api, browser, login, shots  # noqa: F401  (fixtures and helpers)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TODAY = date(2025, 9, 30)  # the office's calendar day in these tests: the eve of National Day


@pytest.fixture()
def live(api_settings: Settings, serving: Any) -> Iterator[str]:
    """A real uvicorn server whose calendar day is TODAY."""
    import uvicorn

    app = create_app(api_settings, serving=serving)
    app.dependency_overrides[_today] = lambda: TODAY
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def _register(c: Any, number: str, title: str, content: str) -> int:
    body = {"number": number, "session": "十七届三次", "title": title, "content": content}
    r = c.post("/proposals", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _decide(c: Any, pid: int, lead: str, **kw: Any) -> None:
    body = {"lead_unit": lead, "reason_code": "其他", "expected_version": 1, **kw}
    r = c.post(f"/proposals/{pid}/decision", json=body)
    assert r.status_code == 200, r.text


def test_the_unit_signs_asks_to_return_and_uploads_a_reply(
    browser: Any,  # noqa: F811
    live: str,
    api_settings: Settings,
    auth: dict[str, str],
    tmp_path: Path,
) -> None:
    make_account(api_settings.db_url, "交警经办", "承办单位经办人", "交通管理")
    with api(live, auth) as c:
        first = _register(c, "0011", "学校门口早晚高峰拥堵", "建议优化信号灯配时，增设护学岗。")
        second = _register(c, "0012", "小区周边道路拓宽", "建议拓宽学府路并加装路灯。")
        other = _register(c, "0013", "反诈宣传进社区", "建议加强反诈宣传。")
        _decide(c, first, "交通管理", co_units=["治安"])
        _decide(c, second, "交通管理")
        _decide(c, other, "刑侦")
    page = login(browser, live, "交警经办", "/inbox")
    try:
        page.wait_for_selector("#i-table tbody tr >> nth=1")
        assert page.locator("#i-table tbody tr").count() == 2  # not 刑侦's item
        assert "反诈" not in page.inner_text("#i-table")
        assert "交通管理 承办的建议" in page.inner_text("#i-title")
        # the National Day holiday is skipped: five working days end on 14 October
        assert "2025-10-14" in page.inner_text(f"#i-table tr[data-id='{first}']")

        page.click(f"#i-table tr[data-id='{first}']")
        page.wait_for_selector("#d-card:not([hidden])")
        assert "学校门口早晚高峰拥堵" in page.inner_text("#d-title")
        assert "会办 治安" in page.inner_text("#d-cycle")
        page.click("#btn-sign")
        page.wait_for_selector("#d-msg.ok")
        row = page.locator(f"#i-table tr[data-id='{first}']")
        assert "已签收" in row.inner_text() and "办理中" in row.inner_text()

        page.click(f"#i-table tr[data-id='{second}']")
        page.wait_for_selector("#a-return:not([hidden])")
        page.fill("#return-reason", "道路拓宽属住建部门职责，非本单位事项")
        page.click("#btn-return")
        page.wait_for_selector("#d-msg.ok")
        assert "退办申请已提交" in page.inner_text("#d-msg")
        assert "退办申请（交通管理）：道路拓宽属住建部门职责" in page.inner_text("#d-cycle")
        assert "退办待审批" in page.inner_text(f"#i-table tr[data-id='{second}']")
        page.screenshot(path=str(shots(tmp_path) / "inbox-return.png"), full_page=True)
        page.click("#btn-return")  # a second one while the first waits
        page.wait_for_selector("#d-msg.error")
        assert "等待督查室审批" in page.inner_text("#d-msg")

        page.click(f"#i-table tr[data-id='{first}']")
        page.wait_for_selector("#a-reply:not([hidden])")
        doc = Document()
        doc.add_paragraph("关于第0011号建议的答复：已优化信号灯配时。")
        reply = tmp_path / "答复-0011.docx"
        buffer = io.BytesIO()
        doc.save(buffer)
        reply.write_bytes(buffer.getvalue())
        page.set_input_files("#reply-file", str(reply))
        page.click("#btn-reply")
        page.wait_for_selector("#i-msg.ok")  # replied: it leaves the open list
        assert "本件已答复" in page.inner_text("#i-msg")
        assert page.locator(f"#i-table tr[data-id='{first}']").count() == 0
        page.uncheck("#i-open")
        page.wait_for_selector(f"#i-table tr[data-id='{first}']")
        page.click(f"#i-table tr[data-id='{first}']")
        page.wait_for_selector("#d-cycle a")
        assert "答复-0011.docx" in page.inner_text("#d-cycle")
        page.screenshot(path=str(shots(tmp_path) / "inbox.png"), full_page=True)
        assert page.dialogs == []  # type: ignore[attr-defined]
    finally:
        page.context.close()
    with api(live, auth) as c:
        p = c.get(f"/proposals/{first}").json()
        assert p["status"] == "已答复"
        assert [(e["action"], e["actor"]) for e in p["events"]][-2:] == [
            ("signed", "交警经办"),
            ("replied", "交警经办"),
        ]
        assert [r["kind"] for r in c.get("/office/requests").json()] == ["退办"]


def test_the_office_supervises_marks_key_items_and_writes_notices(
    browser: Any,  # noqa: F811
    live: str,
    api_settings: Settings,
    auth: dict[str, str],
    tmp_path: Path,
) -> None:
    unit = make_account(api_settings.db_url, "刑侦经办", "承办单位经办人", "刑侦")
    with api(live, auth) as c:
        late = _register(c, "0021", "违停严重影响通行", "建议加强违停治理。")
        soon = _register(c, "0022", "电动车被盗案件多发", "建议加大打击力度。")
        asked = _register(c, "0023", "电信诈骗高发", "建议加强反诈宣传。")
        _decide(c, late, "交通管理", due_on="2025-09-20")
        _decide(c, soon, "刑侦", due_on="2025-10-10")
        _decide(c, asked, "刑侦")
    with api(live, unit) as c:
        r = c.post(
            f"/inbox/{asked}/extension", json={"reason": "需跨省协查", "until": "2026-02-27"}
        )
        assert r.status_code == 201, r.text
    page = login(browser, live, "张三", "/office")
    try:
        page.wait_for_selector("#s-units .unitcard >> nth=1")
        cards = page.locator("#s-units .unitcard")
        assert cards.count() == 2
        assert "交警支队：超期 1 件，即将到期 0 件" in cards.nth(0).inner_text()
        assert "刑侦支队：超期 0 件，即将到期 1 件" in cards.nth(1).inner_text()
        assert "超期 10 天" in cards.nth(0).inner_text()
        assert "延期（延至 2026-02-27）" in page.inner_text("#q-table")

        page.screenshot(path=str(shots(tmp_path) / "office-before.png"), full_page=True)
        cards.nth(0).get_by_role("button", name="重点督办").click()
        page.wait_for_selector("#s-units .badge.key")
        page.click("#btn-notices")
        page.wait_for_selector("#s-msg.ok")
        assert "已生成 2 份督办通知" in page.inner_text("#s-msg")
        page.wait_for_selector("#n-list a >> nth=1")
        assert "督办通知-交警支队-2025-09-30.docx" in page.inner_text("#n-list")

        page.locator("#q-table tbody tr").first.get_by_role(
            "button", name="同意", exact=True
        ).click()
        page.wait_for_selector("#q-msg.ok")
        assert "延期申请已同意" in page.inner_text("#q-msg")
        page.screenshot(path=str(shots(tmp_path) / "office.png"), full_page=True)
        assert page.dialogs == []  # type: ignore[attr-defined]
    finally:
        page.context.close()
    with api(live, auth) as c:
        assert c.get(f"/proposals/{asked}").json()["due_on"] == "2026-02-27"
        events = c.get(f"/proposals/{late}").json()["events"]
        assert [e["action"] for e in events][-2:] == ["key_marked", "supervised"]


def test_a_unit_account_is_sent_to_its_inbox(
    browser: Any,  # noqa: F811
    live: str,
    api_settings: Settings,
    tmp_path: Path,
) -> None:
    make_account(api_settings.db_url, "治安经办", "承办单位经办人", "治安")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 800})
    gate = context.new_page()
    gate.goto(live + "/")
    gate.wait_for_selector("#login-form")
    assert gate.locator("#l-table").is_hidden()  # the ledger is not shown before logging in
    gate.fill("#login-name", "治安经办")
    gate.fill("#login-password", "wrong-password")
    gate.click("#login-submit")
    gate.wait_for_selector("#login-msg:not(:empty)")
    assert "账号或密码不正确" in gate.inner_text("#login-msg")
    gate.screenshot(path=str(shots(tmp_path) / "login.png"))
    context.close()
    page = login(browser, live, "治安经办", "/office")
    try:
        page.wait_for_url("**/inbox")
        page.wait_for_selector("#i-summary:not(:empty)")
        assert "治安 承办的建议" in page.inner_text("#i-title")
    finally:
        page.context.close()
