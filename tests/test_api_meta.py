"""Units, model, health, readiness, the page, and Chinese answers for unknown paths."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import create_engine

from router.api import ConfigError, create_app
from router.labels import load_labels
from router.settings import Settings
from tests.conftest import AppClient


def test_units_lists_seven_units_and_the_departments(client: AppClient) -> None:
    body = client.get("/api/v1/units").json()
    labels = load_labels()
    assert [u["label"] for u in body["units"]] == list(labels.unit_labels)
    assert len(body["units"]) == 7 and all(u["handles"] for u in body["units"])
    assert body["outside_label"] == "非公安职责"
    assert {d["name"] for d in body["departments"]} == set(labels.departments)
    assert body["reason_codes"] == ["模型错误", "多部门", "职责调整", "其他"]
    assert body["statuses"] == ["待分办", "已分办", "办理中", "已答复", "已退办"]


def test_model_reports_version_training_and_metrics(client: AppClient, serving: Any) -> None:
    body = client.get("/api/v1/model").json()
    assert body["version"] == serving.router.version
    assert body["trained_at"] == serving.metadata["created_at"]
    assert body["trained_on"]["rows"] > 0
    assert 0 < body["metrics"]["full"]["macro_f1"] <= 1
    assert "scikit-learn" in body["library_versions"]


def test_health_and_readiness(client: AppClient, serving: Any) -> None:
    assert client.get("/api/v1/healthz").json() == {"status": "ok"}
    ready = client.get("/api/v1/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "model_version": serving.router.version,
        "database": "ok",
    }


def test_not_ready_when_the_database_is_unreachable(client: AppClient) -> None:
    client.app.state.engine = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    )
    r = client.get("/api/v1/readyz")
    assert r.status_code == 503
    assert r.json()["detail"].startswith("数据库无法访问")


def test_unknown_path_and_method_answer_in_chinese(client: AppClient) -> None:
    assert client.get("/api/v1/nothing").json() == {"detail": "未找到请求的资源。"}
    r = client.request("DELETE", "/api/v1/route")
    assert r.status_code == 405 and r.json() == {"detail": "不支持该请求方法。"}


def test_the_page_and_its_files_are_served_with_a_strict_policy(client: AppClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "人大代表建议分办助手" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    for name in ("app.js", "app.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_every_page_loads_the_shared_helpers_before_its_scripts(client: AppClient) -> None:
    # static/common.js defines window.routerPage, which login.js and every view script use
    for page in ("/", "/inbox", "/office"):
        scripts = re.findall(r'<script src="/static/([\w.]+)" defer>', client.get(page).text)
        assert scripts[:2] == ["common.js", "login.js"], page
        for name in scripts:
            assert client.get(f"/static/{name}").status_code == 200, name


def test_openapi_documents_the_api(client: AppClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/route",
        "/api/v1/route/batch",
        "/api/v1/proposals",
        "/api/v1/stats",
        "/api/v1/readyz",
    ):
        assert path in spec["paths"]
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("token", [None, "", "changeme", "short"])
def test_the_app_refuses_to_start_without_a_usable_token(
    settings: Settings, token: str | None
) -> None:
    with pytest.raises(ConfigError, match="ROUTER_API_TOKEN"):
        create_app(settings.model_copy(update={"api_token": token, "dev_mode": False}))


def test_development_mode_starts_without_a_token(
    settings: Settings, sqlite_url: str, serving: Any
) -> None:
    dev = settings.model_copy(
        update={"api_token": None, "dev_mode": True, "database_url": sqlite_url}
    )
    c = AppClient(create_app(dev, serving=serving))
    try:
        assert c.get("/api/v1/readyz").status_code == 200
    finally:
        c.close()


def test_an_unknown_timezone_is_refused(api_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="时区"):
        create_app(api_settings.model_copy(update={"timezone": "Mars/Olympus"}))


def test_the_router_is_held_in_one_swappable_place(client: AppClient, serving: Any) -> None:
    from dataclasses import replace

    from router.api import RouterHolder

    holder = client.app.state.router_holder
    assert isinstance(holder, RouterHolder) and holder.current is serving
    renamed = replace(serving, router=replace(serving.router, version="v20990101-000000-swap"))
    previous = holder.swap(renamed)
    assert previous is serving
    assert (
        client.post("/api/v1/route", json={"title": "反诈"}).json()["model_version"]
        == "v20990101-000000-swap"
    )
    assert client.get("/api/v1/model").json()["version"] == "v20990101-000000-swap"
