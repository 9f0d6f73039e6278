"""Outages and broken state get clear words (issue 12, items 6 and 7)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from router.api import create_app
from router.db import make_engine, make_sessionmaker
from router.learn.registry import ARTIFACT, METADATA, Registry, RegistryError
from router.settings import Settings
from tests.conftest import CORPUS, TOKEN, AppClient, make_account, two_versions_home

API = "/api/v1"
TEXT = {"title": "关于加强电动自行车管理的建议", "content": "电动自行车逆行多发，建议加强执法。"}
GOOD = {"number": "1", "session": "十七届三次", "title": "反诈宣传", "content": "建议加强反诈宣传"}


def test_writes_and_reads_while_the_database_is_away_are_503_then_recover(
    client: AppClient, auth: dict[str, str]
) -> None:
    app = client.app
    engine, sessions = app.state.engine, app.state.sessions
    away = make_engine("postgresql+psycopg://router@127.0.0.1:1/router")  # nothing listens
    app.state.engine, app.state.sessions = away, make_sessionmaker(away)
    try:
        for r in (
            client.post(f"{API}/proposals", json=GOOD, headers=auth),
            client.get(f"{API}/proposals"),
            client.get(f"{API}/stats"),
        ):
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "5"
            assert r.headers["content-type"].startswith("application/json")
            assert "台帐数据库暂时无法连接" in r.json()["detail"]
        assert client.get(f"{API}/readyz").status_code == 503
    finally:
        app.state.engine, app.state.sessions = engine, sessions
        away.dispose()
    assert client.post(f"{API}/proposals", json=GOOD, headers=auth).status_code == 201


def _serve(home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "ROUTER_HOME": str(home),
            "ROUTER_CORPUS_PATH": str(CORPUS),
            "ROUTER_API_TOKEN": TOKEN,
            **env,
        },
        timeout=120,
    )


@pytest.mark.slow  # runs the command as a fresh process
def test_serve_with_the_database_down_says_so_and_exits_1(small_trained_home: Path) -> None:
    done = _serve(
        small_trained_home,
        {"ROUTER_DATABASE_URL": "postgresql+psycopg://router@127.0.0.1:1/router"},
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "无法连接台帐数据库" in done.stderr
    assert len([line for line in done.stderr.splitlines() if "错误" in line]) == 1


def _copy_home(small_trained_home: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(small_trained_home / "models", home / "models")
    return home


@pytest.mark.slow  # runs the command as a fresh process
def test_serve_with_a_broken_model_says_so_and_exits_1(
    small_trained_home: Path, tmp_path: Path
) -> None:
    home = _copy_home(small_trained_home, tmp_path)
    version = Registry(home / "models").current()
    assert version is not None
    artifact = home / "models" / version / ARTIFACT
    artifact.write_bytes(artifact.read_bytes()[:-10])
    done = _serve(home, {"ROUTER_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"})
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "无法加载模型" in done.stderr


DAMAGES = ["{not json", "[1, 2]", '{"config": 3}', "\udcff"]


def _damaged(small_trained_home: Path, tmp_path: Path, damage: str) -> tuple[Path, str]:
    home = _copy_home(small_trained_home, tmp_path)
    version = Registry(home / "models").current()
    assert version is not None
    (home / "models" / version / METADATA).write_bytes(damage.encode("utf-8", "surrogateescape"))
    return home, version


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_metadata_file_is_refused_on_load(
    small_trained_home: Path, tmp_path: Path, damage: str
) -> None:
    home, version = _damaged(small_trained_home, tmp_path, damage)
    with pytest.raises(RegistryError, match="拒绝"):
        Registry(home / "models").load(version)


@pytest.mark.slow  # runs the command as a fresh process
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_metadata_file_is_refused_by_the_command(
    small_trained_home: Path, tmp_path: Path, damage: str
) -> None:
    home, version = _damaged(small_trained_home, tmp_path, damage)
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "models", "promote", version],
        capture_output=True,
        text=True,
        env={**os.environ, "ROUTER_HOME": str(home)},
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "拒绝" in done.stderr


def test_reload_of_a_damaged_metadata_file_is_409(
    two_versions: tuple[Settings, str, str],
) -> None:
    settings, old, new = two_versions
    auth = _admin(settings)
    client = AppClient(
        create_app(settings.model_copy(update={"model_watch_seconds": 0})), headers=auth
    )
    try:
        Registry(settings.models_path).promote(new)
        (settings.models_path / new / METADATA).write_text("{broken", encoding="utf-8")
        r = client.post(f"{API}/admin/reload", headers=auth)
        assert r.status_code == 409 and "已损坏" in r.json()["detail"]
        assert client.post(f"{API}/route", json=TEXT).json()["model_version"] == old
    finally:
        client.close()


@pytest.fixture()
def two_versions(
    small_two_versions_home: Path, small_corpus: Path, tmp_path: Path, sqlite_url: str
) -> tuple[Settings, str, str]:
    # the watcher task sleeps: only requests can notice
    return two_versions_home(
        small_two_versions_home, small_corpus, tmp_path, sqlite_url, watch_seconds=60
    )


def _admin(settings: Settings) -> dict[str, str]:
    """An administrator in the servers' own ledger (reload is an administrator's; routing
    needs an account too)."""
    return make_account(settings.db_url, "管理员甲", "管理员")


def _route_until(client: AppClient, done: Callable[[str], bool], seconds: float = 15.0) -> str:
    """Route (requests set the watcher going) until ``done`` holds for the version that
    answered, or ``seconds`` pass; the last version that answered."""
    deadline = time.monotonic() + seconds
    got = ""
    while time.monotonic() < deadline:
        got = client.post(f"{API}/route", json=TEXT).json()["model_version"]
        if done(got):
            return got
        time.sleep(0.1)
    return got


def _version_after(client: AppClient, want: str, seconds: float = 15.0) -> str:
    return _route_until(client, lambda got: got == want, seconds)


def test_every_worker_follows_a_reload(
    two_versions: tuple[Settings, str, str],
) -> None:
    """Two apps on one models/ folder stand for two worker processes: the reload reaches
    one; the other follows on its own requests, without waiting for its watcher."""
    settings, old, new = two_versions
    auth = _admin(settings)
    one = AppClient(create_app(settings), headers=auth)
    two = AppClient(create_app(settings), headers=auth)
    try:
        assert two.post(f"{API}/route", json=TEXT).json()["model_version"] == old
        Registry(settings.models_path).promote(new)
        assert one.post(f"{API}/admin/reload", headers=auth).json()["current"] == new
        assert _version_after(two, new) == new
    finally:
        one.close()
        two.close()


def test_a_repaired_version_is_retried(
    two_versions: tuple[Settings, str, str],
) -> None:
    settings, old, new = two_versions
    client = AppClient(create_app(settings), headers=_admin(settings))
    try:
        artifact = settings.models_path / new / ARTIFACT
        good = artifact.read_bytes()
        Registry(settings.models_path).promote(new)
        artifact.write_bytes(good[:-10])  # damaged after its promotion
        holder = client.app.state.router_holder
        _route_until(client, lambda _got: holder._failed is not None)
        assert holder._failed is not None and holder._failed[0] == new  # tried and failed
        assert client.post(f"{API}/route", json=TEXT).json()["model_version"] == old
        time.sleep(0.05)
        artifact.write_bytes(good)  # repaired
        assert _version_after(client, new) == new
    finally:
        client.close()


def test_with_the_watcher_off_only_a_reload_moves_the_workers(
    two_versions: tuple[Settings, str, str],
) -> None:
    settings, old, new = two_versions
    off = settings.model_copy(update={"model_watch_seconds": 0})
    auth = _admin(settings)
    one = AppClient(create_app(off), headers=auth)
    two = AppClient(create_app(off), headers=auth)
    try:
        assert two.post(f"{API}/route", json=TEXT).json()["model_version"] == old
        Registry(settings.models_path).promote(new)
        # a promotion alone: no move (requests look every 0.5 s; the small model loads in 0.2)
        assert _version_after(two, new, seconds=1.2) == old
        assert one.post(f"{API}/admin/reload", headers=auth).json()["current"] == new
        assert _version_after(two, new) == new
    finally:
        one.close()
        two.close()
