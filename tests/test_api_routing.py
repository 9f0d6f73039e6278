"""POST /route and /route/batch: the decision, and every way a request can be wrong."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
import pytest

from router.api import create_app
from router.core.routing import Decision
from router.settings import Settings
from tests.conftest import AppClient

URL = "/api/v1/route"


def test_route_returns_the_decision_and_its_text(client: AppClient, serving: Any) -> None:
    r = client.post(
        URL, json={"title": "反诈宣传进社区", "content": "建议加强反诈宣传，同时拓宽道路"}
    )
    assert r.status_code == 200
    body = r.json()
    assert set(Decision.model_fields) <= set(body)
    assert body["unit"] == "刑侦"
    assert body["model_version"] == serving.router.version
    assert body["text"] == "反诈宣传进社区\n建议加强反诈宣传,同时拓宽道路"
    for ev in body["evidence"]:
        assert body["text"][ev["start"] : ev["end"]] == ev["word"]


def test_title_alone_is_enough(client: AppClient) -> None:
    r = client.post(URL, json={"title": "关于提高辅警待遇的建议"})
    assert r.status_code == 200 and r.json()["unit"] == "辅警"


@pytest.mark.parametrize(
    "body", [{"title": "", "content": ""}, {"title": " \n\t", "content": "\u3000"}, {}]
)
def test_empty_text_is_422_in_chinese(client: AppClient, body: dict[str, str]) -> None:
    r = client.post(URL, json=body)
    assert r.status_code == 422
    assert r.json() == {"detail": "标题和内容不能同时为空。"}


def test_text_over_the_limit_is_413(client: AppClient, api_settings: Settings) -> None:
    r = client.post(URL, json={"content": "交" * (api_settings.max_text_chars + 1)})
    assert r.status_code == 413
    assert "文本过长" in r.json()["detail"]


def test_malformed_json_is_400(client: AppClient) -> None:
    r = client.post(URL, content=b'{"title": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"detail": "请求体不是合法的 JSON。"}


def test_body_that_is_not_an_object_is_422(client: AppClient) -> None:
    r = client.post(URL, json=["反诈"])
    assert r.status_code == 422
    assert "JSON 对象" in r.json()["detail"]


def test_body_without_json_content_type_is_refused(client: AppClient) -> None:
    r = client.post(URL, content=b'{"title": "x"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415  # the media type is wrong, not the content (issue 12)
    assert "application/json" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "words"),
    [({"title": 3}, ["标题", "应为字符串"]), ({"titel": "反诈"}, ["titel", "不认识的字段"])],
)
def test_wrong_fields_are_named_in_chinese(
    client: AppClient, body: dict[str, Any], words: list[str]
) -> None:
    r = client.post(URL, json=body)
    assert r.status_code == 422
    for word in words:
        assert word in r.json()["detail"]


def test_batch_routes_each_item_and_reports_bad_ones_in_place(client: AppClient) -> None:
    items = [
        {"title": "酒驾醉驾整治"},
        {"title": " "},
        {"title": "户口迁移", "content": "简化落户"},
    ]
    r = client.post(f"{URL}/batch", json={"items": items})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3 and body["errors"] == 1
    assert [x["index"] for x in body["results"]] == [0, 1, 2]
    assert body["results"][0]["decision"]["unit"] == "交通管理"
    assert body["results"][1] == {"index": 1, "decision": None, "error": "标题和内容不能同时为空。"}
    assert body["results"][2]["decision"]["unit"] == "政务服务"


def test_batch_over_the_limit_is_413(
    api_settings: Settings, serving: Any, auth: dict[str, str]
) -> None:
    c = AppClient(
        create_app(api_settings.model_copy(update={"batch_max_items": 2}), serving=serving),
        headers=auth,
    )
    try:
        r = c.post(f"{URL}/batch", json={"items": [{"title": "反诈"}] * 3})
        assert r.status_code == 413
        assert r.json()["detail"] == "一次最多 2 条，本次 3 条。"
    finally:
        c.close()


@pytest.mark.parametrize(
    ("body", "word"), [({"items": []}, "至少需要 1 项"), ({"item": []}, "不认识的字段")]
)
def test_batch_malformed(client: AppClient, body: dict[str, Any], word: str) -> None:
    r = client.post(f"{URL}/batch", json=body)
    assert r.status_code == 422 and word in r.json()["detail"]


def test_request_body_over_the_size_limit_is_413(api_settings: Settings, serving: Any) -> None:
    c = AppClient(
        create_app(api_settings.model_copy(update={"max_request_mb": 1}), serving=serving)
    )
    try:
        big = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'
        r = c.post(URL, content=big, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json() == {"detail": "请求内容过大，上限为 1 MB。"}

        async def chunks() -> Any:  # no Content-Length: counted as it arrives
            yield b'{"title": "'
            for _ in range(20):
                yield b"x" * 65536
            yield b'"}'

        r = c.post(URL, content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json() == {"detail": "请求内容过大，上限为 1 MB。"}
    finally:
        c.close()


def test_routing_does_not_block_the_event_loop(
    client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a slow routing call runs, a health check on the same loop still answers at once."""
    from router.api.routes import routing as routes

    real = routes.route_text

    def slow(*args: Any) -> Any:
        time.sleep(1.0)  # blocking, as CPU-bound work is
        return real(*args)

    monkeypatch.setattr(routes, "route_text", slow)
    timings: dict[str, float] = {}

    async def scenario() -> None:
        http: httpx.AsyncClient = client.http
        start = time.perf_counter()

        async def slow_route() -> None:
            r = await http.post(URL, json={"title": "反诈宣传"})
            assert r.status_code == 200
            timings["route"] = time.perf_counter() - start

        async def health() -> None:
            await anyio.sleep(0.1)
            r = await http.get("/api/v1/healthz")
            assert r.status_code == 200
            timings["health"] = time.perf_counter() - start

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow_route)
            tg.start_soon(health)

    client.portal.call(scenario)
    assert timings["route"] >= 1.0
    # a blocked loop would answer the health check only after the route: the order, not a
    # time, so that a busy machine cannot fail it
    assert timings["health"] < timings["route"] - 0.3
