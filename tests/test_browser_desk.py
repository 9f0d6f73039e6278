"""The desk in a real Chromium: bulk confirm, the work queue, paging and search, export,
re-opening a decided proposal, the precedents panel and /docs without internet."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.test_browser import api, browser, live, page, shots  # noqa: F401 - fixtures used by name

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SESSION = "十七届三次"


def fill_ledger(
    live: str, auth: dict[str, str], corpus: pd.DataFrame, n: int, session: str = SESSION
) -> list[dict[str, Any]]:
    rows = corpus.sample(n, random_state=5).reset_index(drop=True)
    out = []
    with api(live, auth) as c:
        for i, row in rows.iterrows():
            r = c.post(
                "/proposals",
                json={
                    "number": f"{int(str(i)) + 1:04d}",
                    "session": session,
                    "title": str(row["title"]),
                    "content": str(row["content"]),
                    "deputy_name": f"代表{int(str(i)) % 9}",
                },
            )
            assert r.status_code == 201, r.text
            out.append(r.json())
    return out


def test_bulk_confirm_a_session_from_the_ledger(
    page: Any, live: str, auth: dict[str, str], corpus: pd.DataFrame, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    fill_ledger(live, auth, corpus, 40)
    with api(live, auth) as c:
        preview = c.get("/ledger/bulk-confirm", params={"session": SESSION}).json()
    assert preview["count"] > 0
    page.click("#tab-ledger")
    page.wait_for_selector("#l-session option[value='十七届三次']", state="attached")
    page.select_option("#l-session", SESSION)
    start = page.locator("#ledger-bulk .bulk-start")
    expect(start).to_have_text(f"批量确认 {preview['count']} 件…")
    assert f"可批量确认 {preview['count']} 件" in page.inner_text("#ledger-bulk")
    start.click()
    page.screenshot(path=str(shots(tmp_path) / "bulk-confirm.png"), full_page=True)
    page.click("#ledger-bulk .bulk-go")
    page.wait_for_selector("#l-msg.ok")
    assert f"已批量确认 {preview['count']} 件" in page.inner_text("#l-msg")
    with api(live, auth) as c:
        decided = c.get("/proposals", params={"status": "已分办", "limit": 500}).json()
        assert decided["total"] == preview["count"]
        pid = preview["ids"][0]
        events = c.get(f"/proposals/{pid}").json()["events"]
        assert events[-1]["data"]["bulk"] is True and events[-1]["actor"] == "张三"
    # history shows the bulk decision; undo one from its row
    page.fill("#l-q", "")
    page.select_option("#l-status", "已分办")
    row = page.locator(f"#l-table tbody tr[data-id='{pid}']")
    row.get_by_role("button", name="记录").click()
    history = page.locator(f"#l-table tr.history[data-for='{pid}']")
    expect(history).to_contain_text("批量确认：主办")
    # times in the bureau's time zone (ROUTER_TIMEZONE, Asia/Shanghai), not UTC
    from datetime import datetime
    from zoneinfo import ZoneInfo

    at = datetime.fromisoformat(events[-1]["at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    expect(history).to_contain_text(at.strftime("%Y-%m-%d %H:%M") + " 张三 分办")
    page.screenshot(path=str(shots(tmp_path) / "history.png"), full_page=False)
    row.get_by_role("button", name="撤销分办").click()
    page.wait_for_selector("#l-msg.ok >> text=已撤销分办")
    with api(live, auth) as c:
        assert c.get(f"/proposals/{pid}").json()["status"] == "待分办"
        again = c.get("/proposals", params={"status": "已分办", "limit": 500}).json()
        assert again["total"] == preview["count"] - 1


def test_queue_moves_to_the_next_with_ctrl_enter(
    page: Any, live: str, auth: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    with api(live, auth) as c:
        made = [
            c.post(
                "/proposals",
                json={"number": f"Q{i}", "session": SESSION, "title": title, "content": body},
            ).json()
            for i, (title, body) in enumerate(
                [
                    ("反诈宣传进社区", "建议加强电信网络诈骗宣传，进社区进校园。"),
                    ("户口迁移难", "建议简化落户手续，推行网上办理户口迁移。"),
                    ("学校门口拥堵", "学校门口早晚高峰拥堵，建议增设信号灯和护学岗。"),
                ]
            )
        ]
    page.reload()
    page.wait_for_selector(f"#pick option[value='{made[2]['id']}']", state="attached")
    expect(page.locator("#q-info")).to_contain_text("待分办 3 件")
    # search narrows the queue; Enter in the box opens the first match
    page.fill("#q-search", "户口")
    expect(page.locator("#q-info")).to_contain_text("待分办 1 件（含“户口”）")
    page.fill("#q-search", "")
    expect(page.locator("#q-info")).to_contain_text("待分办 3 件")
    page.click("#q-next")
    expect(page.locator("#f-number")).to_have_value("Q0")
    page.wait_for_selector("#result:not([hidden]) #r-unit")
    page.keyboard.press("Control+Enter")  # confirm; the next one opens by itself
    expect(page.locator("#f-number")).to_have_value("Q1")
    expect(page.locator("#q-info")).to_contain_text("已打开下一件")
    with api(live, auth) as c:
        first = c.get(f"/proposals/{made[0]['id']}").json()
    assert first["status"] == "已分办" and first["decision"]["follows_suggestion"]
    page.keyboard.press("Control+Enter")
    expect(page.locator("#f-number")).to_have_value("Q2")
    expect(page.locator("#q-info")).to_contain_text("待分办 1 件")


def test_paging_search_and_export(
    page: Any, live: str, auth: dict[str, str], corpus: pd.DataFrame, tmp_path: Path
) -> None:
    from openpyxl import load_workbook
    from playwright.sync_api import expect

    made = fill_ledger(live, auth, corpus, 120)
    page.click("#tab-ledger")
    expect(page.locator("#l-summary")).to_have_text("共 120 件，显示第 1–50 件")
    expect(page.locator("#l-page")).to_have_text("第 1 / 3 页")
    assert page.locator("#l-table tbody tr").count() == 50
    page.click("#l-next")
    expect(page.locator("#l-summary")).to_have_text("共 120 件，显示第 51–100 件")
    page.click("#l-next")
    expect(page.locator("#l-summary")).to_have_text("共 120 件，显示第 101–120 件")
    assert page.is_disabled("#l-next")
    # sorting by number, descending
    page.select_option("#l-sort", "-number")
    expect(page.locator("#l-summary")).to_have_text("共 120 件，显示第 1–50 件")
    expect(page.locator("#l-table tbody tr >> nth=0 >> td >> nth=0")).to_have_text("0120")
    # a click on a column header sorts by it; a second click reverses
    page.click("#l-table thead th[data-sort='number']")
    expect(page.locator("#l-table tbody tr >> nth=0 >> td >> nth=0")).to_have_text("0001")
    page.click("#l-table thead th[data-sort='number']")
    expect(page.locator("#l-table tbody tr >> nth=0 >> td >> nth=0")).to_have_text("0120")
    assert "desc" in (page.get_attribute("#l-table thead th[data-sort='number']", "class") or "")
    # search by deputy, then by a phrase of a body text
    page.fill("#l-q", "代表4")
    page.click("#ledger-filter button[type=submit]")
    expected = sum(1 for i in range(120) if i % 9 == 4)
    expect(page.locator("#l-summary")).to_contain_text(f"共 {expected} 件")
    phrase = made[17]["content"][2:10]
    page.fill("#l-q", phrase)
    page.click("#ledger-filter button[type=submit]")
    expect(page.locator(f"#l-table tbody tr[data-id='{made[17]['id']}']")).to_have_count(1)
    page.screenshot(path=str(shots(tmp_path) / "ledger-search.png"), full_page=True)
    # export the filtered ledger
    page.fill("#l-q", "代表4")
    page.click("#ledger-filter button[type=submit]")
    expect(page.locator("#l-summary")).to_contain_text(f"共 {expected} 件")
    with page.expect_download() as info:
        page.click("#l-export")
    download = info.value
    assert download.suggested_filename.endswith("台账一览表-" + download.suggested_filename[-15:])
    data = Path(download.path()).read_bytes()
    ws = load_workbook(io.BytesIO(data))["一览表"]
    assert ws.max_row == expected + 1 and ws.freeze_panes == "A2"
    assert ws.page_setup.orientation == "landscape"
    assert all(str(ws.cell(r, 5).value) == "代表4" for r in range(2, ws.max_row + 1))
    numbers = [ws.cell(r, 3).value for r in range(2, ws.max_row + 1)]
    assert numbers == sorted(numbers, reverse=True)  # the page's sort carried over


def test_reopening_a_decided_proposal_shows_the_saved_decision(
    page: Any, live: str, auth: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    with api(live, auth) as c:
        p = c.post(
            "/proposals",
            json={
                "number": "R1",
                "session": SESSION,
                "title": "关于提高辅警待遇的建议",
                "content": "辅警工资偏低，建议提高待遇。",
            },
        ).json()
        assert p["suggested_unit"] == "辅警"
        c.post(
            f"/proposals/{p['id']}/decision",
            json={
                "lead_unit": "人事",
                "co_units": ["辅警"],
                "reason_code": "模型错误",
                "note": "涉及民警编制",
                "expected_version": 1,
            },
        )
    page.click("#tab-ledger")
    row = page.locator(f"#l-table tbody tr[data-id='{p['id']}']")
    row.get_by_role("button", name="查看").click()
    page.wait_for_selector("#r-current:not([hidden])")
    assert "主办 人事" in page.inner_text("#r-current")
    assert page.is_hidden("#btn-confirm")
    expect(page.locator("#c-lead")).to_have_value("人事")  # not the model's 辅警
    assert page.is_checked("#c-co input[value='辅警']")
    expect(page.locator("#c-note")).to_have_value("涉及民警编制")
    # a small edit (add a co-unit) keeps the correction
    page.check("#c-co input[value='政务服务']")
    page.select_option("#c-reason", "多部门")
    page.click("#btn-correct")
    page.wait_for_selector("#decide-msg.ok")
    with api(live, auth) as c:
        d = c.get(f"/proposals/{p['id']}").json()["decision"]
    assert d["lead_unit"] == "人事" and set(d["co_units"]) == {"辅警", "政务服务"}
    assert d["note"] == "涉及民警编制"


def test_precedents_panel(page: Any, live: str, auth: dict[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with api(live, auth) as c:
        old = c.post(
            "/proposals",
            json={
                "number": "11",
                "session": "十七届二次",
                "title": "关于学府路与建设路交叉口拥堵的建议",
                "content": "学府路与建设路交叉口早晚高峰拥堵，建议增设信号灯、优化配时。",
            },
        ).json()
        c.post(
            f"/proposals/{old['id']}/decision",
            json={"lead_unit": "交通管理", "expected_version": 1},
        )
        twin = c.post(
            "/proposals",
            json={
                "number": "21",
                "session": SESSION,
                "title": "建设路学府路路口信号灯",
                "content": "建设路和学府路交叉口车多，红绿灯时间不合理，建议交警调整配时。",
                "deputy_name": "李四",
            },
        ).json()
    page.click("#btn-clear")
    page.fill("#f-number", "22")
    page.fill("#f-session", SESSION)
    page.fill("#f-title", "学府路建设路交叉口交通拥堵")
    page.fill("#f-content", "学府路与建设路交叉口高峰时段拥堵严重，建议优化信号灯配时。")
    page.click("#btn-route")
    page.wait_for_selector("#precedents:not([hidden])")
    # the text is shown as typed (full-width punctuation kept), not normalised
    assert page.inner_text("#r-text-label").startswith("原文")
    assert "拥堵严重，建议" in page.inner_text("#r-text")
    past = page.locator("#p-past li")
    expect(past).to_have_count(1)
    text = past.inner_text()
    assert "十七届二次" in text and "交通管理" in text and "已分办" in text
    assert "学府路" in past.locator(".place").all_inner_texts()
    merge = page.locator("#p-merge li")
    expect(merge).to_have_count(1)
    assert merge.get_attribute("data-id") == str(twin["id"]) and "李四" in merge.inner_text()
    page.screenshot(path=str(shots(tmp_path) / "precedents.png"), full_page=True)
    # opening a precedent shows it on the desk
    past.get_by_role("button", name="打开").click()
    expect(page.locator("#f-number")).to_have_value("11")


def test_docs_work_without_internet(browser: Any, live: str, tmp_path: Path) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
    outside: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if url.startswith(live):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", only_local)
    pg = context.new_page()
    pg.goto(live + "/docs")
    pg.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "人大代表建议分办助手" in pg.inner_text(".swagger-ui .info .title")
    assert pg.locator(".opblock-tag").count() >= 3
    pg.screenshot(path=str(shots(tmp_path) / "docs.png"), full_page=False)
    assert outside == []
    context.close()


def test_batch_column_picker_and_bulk_confirm_from_the_result(
    page: Any, live: str, auth: dict[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    rows = [
        ("学校门口上下学拥堵", "每天放学时家长车辆在学府路双排停放，建议交警在高峰时段派警疏导。"),
        ("加强针对老年人的反诈宣传", "不少老人被养老投资骗局骗走积蓄，建议反诈民警进社区讲案例。"),
        ("提高辅警工资待遇", "辅警工资只有两三千元，建议建立辅警工资正常增长机制，足额缴纳社保。"),
        (
            "简化新生儿落户",
            "给孩子上户口要跑好几趟派出所，建议推行新生儿出生一件事联办，网上申请落户。",
        ),
    ]
    lines = ["序号,事由,详情"] + [f"{i + 1},{t},{c}" for i, (t, c) in enumerate(rows)]
    src = tmp_path / "不认识的表头.csv"
    src.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    page.set_input_files("#batch-file", str(src))
    page.check("#batch-register")
    page.fill("#batch-session", SESSION)
    page.click("#btn-batch")
    page.wait_for_selector("#batch-msg.error")
    assert "请在下面选择" in page.inner_text("#batch-msg")
    page.wait_for_selector("#batch-columns:not([hidden]) #batch-title-col")
    page.select_option("#batch-title-col", "B")
    page.select_option("#batch-content-col", "C")
    page.screenshot(path=str(shots(tmp_path) / "column-picker.png"), full_page=True)
    page.click("#btn-batch")
    page.wait_for_selector("#batch-msg.ok")
    assert "新登记 4 件" in page.inner_text("#batch-msg")
    with api(live, auth) as c:
        preview = c.get("/ledger/bulk-confirm", params={"session": SESSION}).json()
    if preview["count"] == 0:
        expect(page.locator("#batch-bulk")).to_contain_text("没有可批量确认")
        return
    start = page.locator("#batch-bulk .bulk-start")
    expect(start).to_have_text(f"批量确认 {preview['count']} 件…")
    start.click()
    page.click("#batch-bulk .bulk-go")
    expect(page.locator("#batch-bulk .bulk-done")).to_contain_text(
        f"已批量确认 {preview['count']} 件"
    )
    with api(live, auth) as c:
        assert c.get("/proposals", params={"status": "已分办"}).json()["total"] == preview["count"]


def test_text_that_does_not_line_up_is_labelled_normalised(page: Any, live: str) -> None:
    page.click("#btn-clear")
    page.fill("#f-title", "学校门口    拥堵")  # runs of spaces are folded: offsets would shift
    page.fill("#f-content", "建议增设信号灯，优化配时。")
    page.click("#btn-route")
    page.wait_for_selector("#r-unit")
    assert page.inner_text("#r-text-label").startswith("建议文字（标点已统一")
    assert "信号灯,优化配时" in page.inner_text("#r-text")
