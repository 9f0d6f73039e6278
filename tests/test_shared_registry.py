"""Several hosts, one model (issue 14, item 7): two servers on one PostgreSQL follow one
promotion, with no failed request; the shared files are checked against their checksums."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.api import create_app
from router.learn.registry import Registry, RegistryError
from router.learn.shared_registry import model_files, publish, pull, push, shared_current
from router.settings import Settings, get_settings
from tests.conftest import CORPUS, TOKEN, make_account

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _host(home: Path, url: str) -> Settings:
    return get_settings(
        {},
        home=home,
        corpus_path=CORPUS,
        database_url=url,
        api_token=TOKEN,
        registry_in_database=True,
        model_watch_seconds=0.2,
    )


class _Server:
    def __init__(self, settings: Settings) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture()
def hosts(trained_home: Path, tmp_path: Path, postgres_url: str) -> Iterator[Any]:
    a = _host(tmp_path / "a", postgres_url)
    b = _host(tmp_path / "b", postgres_url)  # a fresh host: no model of its own
    shutil.copytree(trained_home / "models", a.models_path)
    registry = Registry(a.models_path)
    from router.db import make_engine

    engine = make_engine(postgres_url)
    first = registry.current()
    assert first is not None
    push(engine, registry, first, by="部署", reason="初始版本")
    servers = [_Server(a)]
    servers.append(_Server(b))  # one after the other: each migrates the ledger at start
    yield a, b, registry, engine, servers
    for s in servers:
        s.stop()
    engine.dispose()


def test_two_servers_follow_one_promotion_without_a_failed_request(hosts: Any) -> None:
    a, b, registry, engine, servers = hosts
    # an account in the ledger both servers share (the shared token only bootstraps an admin)
    headers = make_account(a.db_url, "测试", "分办人员")
    first = registry.current()
    assert Registry(b.models_path).current() == first  # host b fetched it at start
    seen: dict[str, set[str]] = {s.url: set() for s in servers}
    failures: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(headers=headers, timeout=10) as client:
            while not stop.is_set():
                for s in servers:
                    try:
                        r = client.post(
                            f"{s.url}/api/v1/route",
                            json={
                                "title": "关于学府路增设信号灯的建议",
                                "content": "建议增设信号灯。",
                            },
                        )
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:80]}")
                    else:
                        seen[s.url].add(r.json()["model_version"])

    worker = threading.Thread(target=hammer, daemon=True)
    worker.start()
    try:  # the hammer stops even when a step fails, so nothing outlives the servers
        time.sleep(0.5)
        second = registry.save(registry.load(first).model, {}, {}, tag="b")
        # what `router models promote` does
        registry.promote(second, by="管理员", reason="人工启用")
        assert publish(a, registry, second, by="管理员", reason="人工启用", kind="promote")
        assert shared_current(engine) == second
        deadline = time.monotonic() + 30
        with httpx.Client(headers=headers, timeout=10) as client:
            while time.monotonic() < deadline:
                versions = {client.get(f"{s.url}/api/v1/model").json()["version"] for s in servers}
                if versions == {second}:
                    break
                time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        worker.join(10)
    assert versions == {second}, versions
    assert failures == []
    for s in servers:
        assert {first, second} <= seen[s.url]
    chain_b = Registry(b.models_path).chain()
    assert chain_b[-1]["version"] == second and chain_b[-1]["by"] == "管理员"


def test_a_tampered_shared_file_is_refused(hosts: Any, tmp_path: Path) -> None:
    a, _, registry, engine, _ = hosts
    first = registry.current()
    second = registry.save(registry.load(first).model, {}, {}, tag="c")
    push(engine, registry, second, by="管理员", reason="测试")
    with engine.begin() as conn:
        conn.execute(
            model_files.update()
            .where(model_files.c.version == second, model_files.c.name == "model.npz")
            .values(data=b"not a model")
        )
    elsewhere = Registry(tmp_path / "c" / "models")
    with pytest.raises(RegistryError, match="校验和不符"):
        pull(engine, elsewhere)
    assert elsewhere.current() is None and elsewhere.versions() == []
