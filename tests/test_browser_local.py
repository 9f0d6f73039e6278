"""本地职责 in a real Chromium: the office sets who handles a contested topic, and sees the history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from router.settings import Settings
from tests.test_browser import browser, live, login, shots  # noqa: F401  (fixtures and helpers)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def api_settings(api_settings: Settings, tmp_path: Path) -> Settings:
    """The session's settings, with this test's own local-jurisdiction file."""
    return api_settings.model_copy(update={"local_jurisdiction_path": tmp_path / "local.json"})


def test_the_office_sets_a_local_handler_and_sees_the_change(
    browser: Any,  # noqa: F811
    live: str,  # noqa: F811
    auth: dict[str, str],
    api_settings: Settings,
    tmp_path: Path,
) -> None:
    page = login(browser, live, "张三")
    try:
        page.click("#tab-local")
        page.wait_for_selector("#j-table tbody tr")
        row = page.locator("#j-table tbody tr", has_text="网吧管理")
        assert "网安、文化和旅游局" in row.inner_text()
        row.locator("select").select_option("文化和旅游局")
        row.locator("input").fill("市编办分工文件")
        row.locator("button", has_text="保存").click()
        page.wait_for_selector("#j-history tbody tr")
        assert "已设为由 文化和旅游局 承办" in page.inner_text("#j-msg")
        history = page.inner_text("#j-history")
        assert "网吧管理" in history and "未设定 → 文化和旅游局" in history and "张三" in history
        page.screenshot(path=str(shots(tmp_path) / "local-jurisdiction.png"), full_page=True)
        assert (api_settings.local_jurisdiction_path or Path()).is_file()
    finally:
        page.context.close()
