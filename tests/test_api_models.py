"""The administrator's registry view: versions, held candidates, reports, the change table."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from router.learn.registry import Registry
from router.settings import Settings
from tests.conftest import AppClient

API = "/api/v1"


@pytest.fixture(scope="module")
def held_registry(
    small_trained_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """A copy of the small model's registry holding one held candidate with its report (the
    views only read it, so the module shares one)."""
    models = tmp_path_factory.mktemp("held") / "models"
    shutil.copytree(small_trained_home / "models", models)
    registry = Registry(models)
    loaded = registry.load()

    def report(folder: Path) -> None:
        (folder / "report.md").write_text("# 重训练报告\n\n- 状态：**暂扣**\n", encoding="utf-8")

    meta = {"retrain": {"status": "held", "held_reasons": ["行为测试集有 3 条未通过"]}}
    return models, registry.save(loaded.model, meta, {}, report, tag="rt")


@pytest.fixture()
def admin(
    api_settings: Settings, serving: Any, held_registry: tuple[Path, str]
) -> Iterator[tuple[AppClient, Registry, str]]:
    """An app over that registry, with this test's own ledger."""
    from router.api import create_app

    models, held = held_registry
    suite = Path(__file__).resolve().parents[1] / "data" / "behaviour" / "suite.yaml"
    settings = api_settings.model_copy(update={"models_dir": models, "behaviour_suite_path": suite})
    client = AppClient(create_app(settings, serving=serving))
    yield client, Registry(models), held
    client.close()


def test_the_registry_lists_held_candidates_and_the_chain(
    admin: tuple[AppClient, Registry, str], auth: dict[str, str]
) -> None:
    client, registry, held = admin
    r = client.get(f"{API}/admin/models", headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["serving"] == registry.current()
    states = {v["version"]: v for v in body["versions"]}
    assert states[held]["state"] == "held"
    assert states[held]["held_reasons"] == ["行为测试集有 3 条未通过"]
    assert states[registry.current()]["state"] == "serving"
    assert [e["version"] for e in body["chain"]] == [registry.current()]

    report = client.get(f"{API}/admin/models/{held}/report", headers=auth)
    assert report.status_code == 200 and "暂扣" in report.json()["markdown"]


def test_the_registry_views_need_the_token(admin: tuple[AppClient, Registry, str]) -> None:
    client, _, held = admin
    assert client.get(f"{API}/admin/models").status_code == 401
    assert client.get(f"{API}/admin/models/{held}/report").status_code == 401


def test_unknown_versions_and_missing_reports_are_404_in_chinese(
    admin: tuple[AppClient, Registry, str], auth: dict[str, str]
) -> None:
    client, registry, _ = admin
    r = client.get(f"{API}/admin/models/v20990101-000000/report", headers=auth)
    assert r.status_code == 404 and "不存在" in r.json()["detail"]
    r = client.get(f"{API}/admin/models/..%2Fetc/report", headers=auth)
    assert r.status_code in (404, 422)
    r = client.get(f"{API}/admin/models/{registry.current()}/report", headers=auth)
    assert r.status_code == 404 and "没有重训练报告" in r.json()["detail"]


@pytest.mark.slow
def test_the_change_table_between_two_versions(
    admin: tuple[AppClient, Registry, str], auth: dict[str, str]
) -> None:
    client, registry, held = admin
    r = client.get(
        f"{API}/admin/models/diff", params={"a": registry.current(), "b": held}, headers=auth
    )
    assert r.status_code == 200, r.text
    sets = {s["name"]: s for s in r.json()["sets"]}
    assert set(sets) == {"frozen", "behaviour", "recent"}
    assert sets["frozen"]["n"] > 100 and sets["frozen"]["moved"] == 0  # the same weights
    assert sets["behaviour"]["n"] > 200
