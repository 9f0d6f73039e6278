"""The 模型管理 tab in a real Chromium: a held candidate with its reasons and report."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from router.api import create_app
from router.learn.registry import Registry
from router.settings import Settings
from tests.conftest import DISPATCHER
from tests.test_browser import browser, login  # noqa: F401  (the module-scoped Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def live_registry(
    api_settings: Settings, serving: Any, trained_home: Path, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    import uvicorn

    shutil.copytree(trained_home / "models", tmp_path / "models")
    settings = api_settings.model_copy(update={"models_dir": tmp_path / "models"})
    registry = Registry(settings.models_path)
    meta = {"retrain": {"status": "held", "held_reasons": ["行为测试集有 10 条未通过"]}}

    def report(folder: Path) -> None:
        text = "# 重训练报告\n\n- 交通管理 → 治安：来源 分办人员 李四 154 条 <b>x</b>\n"
        (folder / "report.md").write_text(text, encoding="utf-8")

    held = registry.save(registry.load().model, meta, {}, report, tag="rt")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings, serving=serving), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", held
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_the_models_tab_shows_a_held_candidate_and_its_report(
    browser: Any,  # noqa: F811
    live_registry: tuple[str, str],
    auth: dict[str, str],
) -> None:
    url, held = live_registry
    page = login(browser, url, DISPATCHER)  # the office's account (auth) logs in on the page
    context = page.context
    page.click("#tab-models")
    page.wait_for_selector("#m-table tbody tr >> nth=1")
    assert page.locator("#view-route").is_hidden() and page.locator("#view-ledger").is_hidden()
    row = page.locator("#m-table tbody tr", has_text=held)
    assert "暂扣" in row.inner_text() and "行为测试集有 10 条未通过" in row.inner_text()
    page.wait_for_function("document.getElementById('m-report').textContent.includes('李四')")
    assert "<b>x</b>" in page.locator("#m-report").inner_text()  # shown as text, not markup
    assert "1 个候选等待管理员审核" in page.locator("#m-msg").inner_text()
    assert page.locator("#m-chain tbody tr").count() == 1
    page.click("#tab-ledger")
    assert page.locator("#view-models").is_hidden()
    context.close()
