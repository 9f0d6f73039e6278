"""Shared fixtures: the corpus, and a model trained on it once per test session."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest

from router.core.routing import Router
from router.learn.dataset import load_corpus
from router.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus" / "proposals.csv"


def require_or_skip(reason: str) -> None:
    """Skip, except in CI (ROUTER_TEST_REQUIRE_ALL=1), where a missing dependency must fail."""
    if os.environ.get("ROUTER_TEST_REQUIRE_ALL") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def corpus() -> pd.DataFrame:
    return load_corpus(CORPUS)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project home whose registry holds one model trained on the shipped corpus."""
    from router.learn.train import train

    home = tmp_path_factory.mktemp("home")
    settings = get_settings({}, home=home, corpus_path=CORPUS)
    train(settings, cv=False)
    return home


@pytest.fixture(scope="session")
def settings(trained_home: Path) -> Settings:
    return get_settings({}, home=trained_home, corpus_path=CORPUS)


@pytest.fixture(scope="session")
def router(settings: Settings) -> Router:
    from router.learn.load import load_router

    return load_router(settings)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stratified 700-row sample of the corpus: enough to train on, quick to train."""
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(CORPUS, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    label = df["unit"].where(df["jurisdiction"] != "outside", "outside")
    sample, _ = train_test_split(df, train_size=700, random_state=0, stratify=label)
    path = tmp_path_factory.mktemp("small") / "proposals.csv"
    sample.to_csv(path, index=False, encoding="utf-8-sig")
    return path


@pytest.fixture(scope="session")
def small_trained_home(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path) -> Path:
    from router.learn.train import train

    home = tmp_path_factory.mktemp("small-home")
    train(get_settings({}, home=home, corpus_path=small_corpus), cv=False)
    return home


@pytest.fixture()
def fresh_home(tmp_path: Path, small_corpus: Path) -> Iterator[Settings]:
    """An empty home (no models yet) reading the small corpus sample."""
    yield get_settings({}, home=tmp_path, corpus_path=small_corpus)


# -- the service: app, client, databases ----------------------------------------------------
TOKEN = "test-token-7Hq2vR9kLm4ZpX8sWc3NbT5d"
DISPATCHER = "张三"


class AppClient:
    """A synchronous client for the app in this process, lifespan included.

    It drives ``httpx.AsyncClient`` over ``ASGITransport`` from a blocking anyio portal, which
    is what Starlette's TestClient does, without its deprecated httpx path.
    """

    def __init__(self, app: Any, headers: dict[str, str] | None = None) -> None:
        import anyio.from_thread
        import httpx

        self.app = app
        self._portal_cm = anyio.from_thread.start_blocking_portal(backend="asyncio")
        self.portal = self._portal_cm.__enter__()
        self._lifespan = app.router.lifespan_context(app)
        self.portal.call(self._lifespan.__aenter__)
        transport = httpx.ASGITransport(app=app)
        self.http = httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        )

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.portal.call(functools.partial(self.http.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        try:
            self.portal.call(self.http.aclose)
            self.portal.call(self._lifespan.__aexit__, None, None, None)
        finally:
            self._portal_cm.__exit__(None, None, None)


@pytest.fixture(scope="session")
def serving(settings: Settings) -> Any:
    """The trained model loaded once, handed to every app the tests build."""
    from router.api import load_serving

    return load_serving(settings)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty ledger at the newest schema; tests copy it instead of migrating each time."""
    from router.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("ledger") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture()
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    path = tmp_path / "ledger.db"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite:///{path}"


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture()
def postgres_url() -> str:
    """A PostgreSQL database emptied for this test (ROUTER_TEST_POSTGRES_URL)."""
    url = os.environ.get("ROUTER_TEST_POSTGRES_URL")
    if not url:
        require_or_skip("ROUTER_TEST_POSTGRES_URL is not set (no PostgreSQL server for this run)")
    assert url is not None
    try:
        _reset_postgres(url)
    except Exception as exc:  # noqa: BLE001 - any connection problem means "unavailable"
        require_or_skip(f"PostgreSQL at ROUTER_TEST_POSTGRES_URL is unreachable: {exc}")
    return url


@pytest.fixture()
def api_settings(settings: Settings, sqlite_url: str) -> Settings:
    return settings.model_copy(
        update={"database_url": sqlite_url, "api_token": TOKEN, "dev_mode": False}
    )


@pytest.fixture()
def client(api_settings: Settings, serving: Any) -> Iterator[AppClient]:
    from router.api import create_app

    c = AppClient(create_app(api_settings, serving=serving))
    yield c
    c.close()


@pytest.fixture()
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "X-Dispatcher": quote(DISPATCHER)}
