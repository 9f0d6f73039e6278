"""The dispatcher's page in a real Chromium against a real uvicorn server."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.api import create_app
from router.settings import Settings
from tests.conftest import DISPATCHER, PASSWORD, require_or_skip

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE_TITLE = "学校门口交通拥堵<script>alert(1)</script>"
HOSTILE_BODY = (
    "建议在学校门口增设信号灯，优化配时，同时拓宽人民路并增设路灯。<img src=x onerror=alert(2)>"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip("playwright is not installed")
    exe = os.environ.get("ROUTER_TEST_CHROMIUM", "/usr/bin/chromium")
    if not Path(exe).is_file():
        require_or_skip(f"Chromium not found at {exe} (set ROUTER_TEST_CHROMIUM)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001 - any launch failure means "no browser here"
        pw.stop()
        require_or_skip(f"Chromium at {exe} did not start: {exc}")
    yield b
    b.close()
    pw.stop()


@pytest.fixture()
def live(api_settings: Settings, serving: Any) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 and a free port, in a background thread."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(api_settings, serving=serving), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
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


def login(browser: Any, live: str, name: str, path: str = "/") -> Any:
    """A new browser context logged in as ``name`` through the page's login form."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    pg.goto(live + path)
    pg.wait_for_selector("#login-form")
    assert pg.locator("main").is_hidden() or "locked" in (pg.get_attribute("body", "class") or "")
    pg.fill("#login-name", name)
    pg.fill("#login-password", PASSWORD)
    pg.click("#login-submit")
    pg.wait_for_selector("#account-name")
    return pg


@pytest.fixture()
def page(browser: Any, live: str, auth: dict[str, str]) -> Iterator[Any]:
    pg = login(browser, live, DISPATCHER)
    pg.wait_for_selector("#c-lead option", state="attached")  # the units have loaded
    yield pg
    pg.context.close()


def api(live: str, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=live + "/api/v1", headers=headers, timeout=10)


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("ROUTER_TEST_SCREENSHOTS", str(tmp_path)))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def paste_and_route(page: Any, number: str, title: str, content: str) -> None:
    page.click("#btn-clear")
    page.fill("#f-number", number)
    page.fill("#f-session", "十七届三次")
    page.fill("#f-deputy", "王五")
    page.fill("#f-title", title)
    page.fill("#f-content", content)
    page.click("#btn-route")
    page.wait_for_selector("#result:not([hidden])")
    page.wait_for_selector("#r-unit")


def test_paste_route_confirm(page: Any, live: str, tmp_path: Path, auth: dict[str, str]) -> None:
    paste_and_route(page, "0007", HOSTILE_TITLE, HOSTILE_BODY)
    assert "交通管理" in page.inner_text("#r-unit")
    width = page.eval_on_selector("#r-fill", "e => e.getBoundingClientRect().width")
    assert width > 0
    assert page.locator("#r-alts .alt").count() == 2
    # jurisdiction warning with the evidence word highlighted in the text
    assert page.is_visible("#r-jur") and "住建局" in page.inner_text("#r-jur")
    assert "拓宽" in page.locator("#r-text mark").all_inner_texts()
    assert page.locator("#r-terms li").count() > 0
    # proposal text is shown as text, never run
    text = page.inner_text("#r-text")
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(2)>" in text
    assert page.locator("#r-text script, #r-text img").count() == 0
    page.screenshot(path=str(shots(tmp_path) / "dispatcher.png"), full_page=True)

    page.click("#btn-confirm")
    page.wait_for_selector("#decide-msg.ok")
    assert "已记入台账" in page.inner_text("#decide-msg")
    with api(live, auth) as c:
        (p,) = c.get("/proposals").json()["items"]
    assert p["title"] == HOSTILE_TITLE and p["status"] == "已分办"
    assert p["decision"]["lead_unit"] == "交通管理" and p["decision"]["decided_by"] == DISPATCHER
    assert p["decision"]["follows_suggestion"]
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_correct_with_a_reason_code(page: Any, live: str, auth: dict[str, str]) -> None:
    paste_and_route(page, "0008", "关于提高辅警待遇的建议", "辅警工资偏低，建议提高待遇。")
    assert "辅警" in page.inner_text("#r-unit")
    page.click("#correct summary")
    page.select_option("#c-lead", "人事")
    page.click("#btn-correct")
    assert "请选择原因" in page.inner_text("#decide-msg")  # refused before anything is sent
    page.select_option("#c-reason", "模型错误")
    page.fill("#c-note", "涉及民警编制")
    page.click("#btn-correct")
    page.wait_for_selector("#decide-msg.ok")
    with api(live, auth) as c:
        (p,) = c.get("/proposals").json()["items"]
    d = p["decision"]
    assert (
        d["lead_unit"] == "人事" and d["reason_code"] == "模型错误" and not d["follows_suggestion"]
    )
    assert d["note"] == "涉及民警编制"


def test_pick_a_registered_proposal_and_follow_the_ledger(
    page: Any, live: str, tmp_path: Path, auth: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    with api(live, auth) as c:
        late = c.post(
            "/proposals",
            json={
                "number": "1",
                "session": "十七届三次",
                "title": "反诈宣传进社区",
                "content": "建议加强反诈宣传",
            },
        ).json()
        c.post(
            f"/proposals/{late['id']}/decision",
            json={"lead_unit": "刑侦", "due_on": "2020-01-01", "expected_version": 1},
        )
        fresh = c.post(
            "/proposals",
            json={
                "number": "2",
                "session": "十七届三次",
                "title": "户口迁移难",
                "content": "建议简化落户手续",
            },
        ).json()
    page.reload()
    page.wait_for_selector(f"#pick option[value='{fresh['id']}']", state="attached")
    page.select_option("#pick", str(fresh["id"]))
    page.wait_for_selector("#result:not([hidden])")
    assert "政务服务" in page.inner_text("#r-unit")
    assert page.input_value("#f-number") == "2"
    page.click("#btn-confirm")
    page.wait_for_selector("#decide-msg.ok")

    page.click("#tab-ledger")
    page.wait_for_selector("#l-table tbody tr >> nth=1")
    rows = page.locator("#l-table tbody tr")
    assert rows.count() == 2
    first = rows.nth(0)
    assert "overdue" in (first.get_attribute("class") or "")
    assert "超期" in first.inner_text() and "反诈宣传进社区" in first.inner_text()
    assert page.locator("#s-table tbody tr").count() == 7
    assert "超期 1 件" in page.inner_text("#s-summary")
    # move the fresh one along, then filter by status
    row = page.locator(f"#l-table tbody tr[data-id='{fresh['id']}']")
    row.get_by_role("button", name="办理中").click()
    page.wait_for_selector("#l-msg.ok")
    page.select_option("#l-status", "办理中")
    page.click("#ledger-filter button[type=submit]")
    expect(page.locator("#l-table tbody tr")).to_have_count(
        1
    )  # the page's CSP forbids eval-based waits
    assert "户口迁移难" in page.inner_text("#l-table tbody")
    page.screenshot(path=str(shots(tmp_path) / "ledger.png"), full_page=True)
    with api(live, auth) as c:
        assert c.get(f"/proposals/{fresh['id']}").json()["status"] == "办理中"
