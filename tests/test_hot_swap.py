"""A promotion reaches a running server without a restart and without one failed request."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from router.api import create_app
from router.core.routing import route
from router.learn.load import load_router
from router.learn.registry import ARTIFACT, Registry
from router.settings import Settings
from tests.conftest import AppClient, make_account, two_versions_home

TEXT = {
    "title": "关于加强电动自行车管理的建议",
    "content": "电动自行车逆行、闯红灯多发，建议加强执法和上牌管理。",
}


@pytest.fixture()
def two_versions(
    small_two_versions_home: Path, small_corpus: Path, tmp_path: Path, sqlite_url: str
) -> tuple[Settings, str, str]:
    return two_versions_home(
        small_two_versions_home, small_corpus, tmp_path, sqlite_url, watch_seconds=0.1
    )


def _expected(settings: Settings, version: str) -> float:
    return route(load_router(settings, version), TEXT["title"], TEXT["content"]).confidence


def test_requests_flow_through_a_swap_and_name_the_version_that_answered(
    two_versions: tuple[Settings, str, str], admin_auth: dict[str, str]
) -> None:
    settings, old, new = two_versions
    expected = {old: _expected(settings, old), new: _expected(settings, new)}
    assert expected[old] != expected[new]  # so an answer shows which model produced it
    auth = admin_auth
    client = AppClient(create_app(settings), headers=auth)
    answers: list[tuple[int, str | None, float | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            r = client.post("/api/v1/route", json=TEXT)
            body: dict[str, Any] = r.json() if r.status_code == 200 else {}
            answers.append((r.status_code, body.get("model_version"), body.get("confidence")))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.3)
        Registry(settings.models_path).promote(new, reason="test")  # what `router retrain` does
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(v == new for _, v, _ in answers[-4:]):
            time.sleep(0.05)
        time.sleep(0.3)
        assert Registry(settings.models_path).rollback() == old  # `router models rollback`
        swapped_back = client.post("/api/v1/admin/reload", headers=auth)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
        client.close()

    assert swapped_back.status_code == 200, swapped_back.text
    # The pointer watcher may have swapped back before the call did; either way `old` serves.
    assert swapped_back.json() in (
        {"previous": new, "current": old, "changed": True},
        {"previous": old, "current": old, "changed": False},
    )
    assert len(answers) > 20
    assert all(code == 200 for code, _, _ in answers), {c for c, _, _ in answers}
    for _, version, confidence in answers:
        assert version in expected
        assert confidence == pytest.approx(expected[version])
    versions = [v for _, v, _ in answers]
    first_new, last_new = versions.index(new), len(versions) - 1 - versions[::-1].index(new)
    assert versions[0] == old and versions[-1] == old
    assert first_new < last_new


def test_reload_needs_the_token_and_keeps_serving_when_a_promotion_is_broken(
    two_versions: tuple[Settings, str, str], admin_auth: dict[str, str]
) -> None:
    settings, old, new = two_versions
    # No pointer watcher here: only the endpoint may load, so the test has no race.
    auth = admin_auth
    client = AppClient(
        create_app(settings.model_copy(update={"model_watch_seconds": 0})), headers=auth
    )
    try:
        assert client.anon("POST", "/api/v1/admin/reload").status_code == 401
        office = make_account(settings.db_url, "分办员乙")
        r = client.post("/api/v1/admin/reload", headers=office)
        assert r.status_code == 403 and "管理员" in r.json()["detail"]
        artifact = settings.models_path / new / ARTIFACT
        Registry(settings.models_path).promote(new)
        artifact.write_bytes(artifact.read_bytes()[:-10])  # damaged after its promotion
        r = client.post("/api/v1/admin/reload", headers=auth)
        assert r.status_code == 409 and "继续使用原模型" in r.json()["detail"]
        assert client.post("/api/v1/route", json=TEXT).json()["model_version"] == old
        Registry(settings.models_path).rollback()
        unchanged = client.post("/api/v1/admin/reload", headers=auth).json()
        assert unchanged == {"previous": old, "current": old, "changed": False}
    finally:
        client.close()
