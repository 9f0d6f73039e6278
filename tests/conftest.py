"""Shared fixtures: the corpus, and models trained on it once per test session (tests/trained.py
keeps them between runs)."""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from router.core.routing import Router
from router.learn.dataset import COLUMNS, load_corpus
from router.settings import Settings, get_settings
from tests.trained import train_home

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"

# Argon2 at its production cost takes a few tenths of a second a hash, and the suite creates
# hundreds of accounts: here (and in the commands tests start) it is the cheapest argon2
# allows. tests/test_passwords.py checks the production defaults and that hashes verify
# across costs. Set before anything hashes: router.ledger.accounts reads it once.
os.environ.update(
    ROUTER_PASSWORD_TIME_COST="1", ROUTER_PASSWORD_MEMORY_KIB="8", ROUTER_PASSWORD_PARALLELISM="1"
)


def require_or_skip(reason: str) -> None:
    """Skip, except in CI (ROUTER_TEST_REQUIRE_ALL=1), where a missing dependency must fail."""
    if os.environ.get("ROUTER_TEST_REQUIRE_ALL") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def one_thread(seconds: float = 10.0) -> None:
    """Let the threads earlier tests in this process left end (a closed client's worker
    threads, a promoted model loading in the background), so that it may fork again
    (:func:`router.core.parallel.can_fork`): which tests ran before depends on pytest-xdist."""
    deadline = time.monotonic() + seconds
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


@pytest.fixture(scope="session")
def corpus() -> pd.DataFrame:
    """The corpus in a fixed shuffled order, so that its first rows mix every register."""
    return load_corpus(CORPUS).sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project home whose registry holds one model trained on the shipped corpus."""
    from router.learn.train import DEFAULT_CONFIG

    home = tmp_path_factory.mktemp("home")
    train_home(home, CORPUS, DEFAULT_CONFIG)
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

    df = load_corpus(CORPUS)[list(COLUMNS)]
    label = df["unit"].where(df["jurisdiction"] != "outside", "outside")
    sample, _ = train_test_split(df, train_size=700, random_state=0, stratify=label)
    path = tmp_path_factory.mktemp("small") / "proposals.csv"
    sample.to_csv(path, index=False, encoding="utf-8-sig")
    return path


@pytest.fixture(scope="session")
def small_trained_home(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path) -> Path:
    from router.learn.train import DEFAULT_CONFIG

    home = tmp_path_factory.mktemp("small-home")
    train_home(home, small_corpus, DEFAULT_CONFIG)
    return home


@pytest.fixture(scope="session")
def small_two_versions_home(
    tmp_path_factory: pytest.TempPathFactory, small_trained_home: Path, small_corpus: Path
) -> Path:
    """The small home plus a second version (logistic regression, C=10), registered but not
    promoted: what promotion, rollback and reload tests switch between. Copy, never change."""
    from router.learn.train import DEFAULT_CONFIG

    home = tmp_path_factory.mktemp("small-two")
    shutil.copytree(small_trained_home / "models", home / "models")
    config = replace(DEFAULT_CONFIG, classifier="logreg", C=10.0)
    train_home(home, small_corpus, config, promote=False)
    return home


@pytest.fixture()
def fresh_home(tmp_path: Path, small_corpus: Path) -> Iterator[Settings]:
    """An empty home (no models yet) reading the small corpus sample."""
    yield get_settings({}, home=tmp_path, corpus_path=small_corpus)


def copy_models(source: Path, settings: Settings) -> tuple[str, list[str]]:
    """A session home's registry copied into this test's home: its current version and the
    others, oldest first."""
    from router.learn.registry import Registry

    shutil.copytree(source / "models", settings.models_path)
    registry = Registry(settings.models_path)
    current = registry.current()
    assert current is not None
    return current, [v for v in registry.versions() if v != current]


def two_versions_home(
    source: Path, corpus: Path, home: Path, database_url: str, watch_seconds: float
) -> tuple[Settings, str, str]:
    """A test home serving one of the session's two small versions, the other one registered:
    settings (with the shared token and the given watch interval), serving and other version."""
    settings = get_settings(
        {},
        home=home,
        corpus_path=corpus,
        database_url=database_url,
        api_token=TOKEN,
        model_watch_seconds=watch_seconds,
    )
    serving, (other,) = copy_models(source, settings)
    return settings, serving, other


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
        # the same app without the default headers: a caller with no account
        self._anon = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.portal.call(functools.partial(self.http.request, method, url, **kwargs))

    def anon(self, method: str, url: str, **kwargs: Any) -> Any:
        """A request without the client's default (account) headers."""
        return self.portal.call(functools.partial(self._anon.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def close(self) -> None:
        try:
            self.portal.call(self.http.aclose)
            self.portal.call(self._anon.aclose)
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


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker empties a database of its own (``<name>_gw0``, ...),
    created next to the one ROUTER_TEST_POSTGRES_URL names; a serial run uses that one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    from sqlalchemy import create_engine, make_url, text

    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if found is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture()
def postgres_url() -> str:
    """A PostgreSQL database emptied for this test (ROUTER_TEST_POSTGRES_URL)."""
    url = os.environ.get("ROUTER_TEST_POSTGRES_URL")
    if not url:
        require_or_skip("ROUTER_TEST_POSTGRES_URL is not set (no PostgreSQL server for this run)")
    assert url is not None
    try:
        url = _worker_database(url)
        _reset_postgres(url)
    except Exception as exc:  # noqa: BLE001 - any connection problem means "unavailable"
        require_or_skip(f"PostgreSQL at ROUTER_TEST_POSTGRES_URL is unreachable: {exc}")
    return url


@pytest.fixture()
def api_settings(settings: Settings, sqlite_url: str) -> Settings:
    return settings.model_copy(
        update={"database_url": sqlite_url, "api_token": TOKEN, "dev_mode": False}
    )


@functools.cache
def _head() -> str | None:
    from router.db import head_revision

    return head_revision()


def make_account(
    db_url: str, name: str, role: str = "分办人员", unit: str | None = None
) -> dict[str, str]:
    """An account in the ledger at ``db_url`` (migrated first) and its personal-token header."""
    from router.db import current_revision, make_engine, make_sessionmaker, upgrade
    from router.ledger import accounts

    engine = make_engine(db_url)
    try:
        if current_revision(engine) != _head():  # most tests hand in a migrated copy
            upgrade(engine)
        with make_sessionmaker(engine)() as db:
            user = accounts.add_user(db, name, role, unit=unit, password=PASSWORD, actor="测试")
            _, plain = accounts.create_token(db, user, "测试")
            db.commit()
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {plain}"}


PASSWORD = "correct-horse-battery"


@pytest.fixture()
def auth(api_settings: Settings) -> dict[str, str]:
    """The office's account 张三 (分办人员): writes are recorded under this name."""
    return make_account(api_settings.db_url, DISPATCHER)


@pytest.fixture()
def admin_auth(api_settings: Settings) -> dict[str, str]:
    """An administrator's token (accounts and settings)."""
    return make_account(api_settings.db_url, "管理员甲", "管理员")


@pytest.fixture()
def client(api_settings: Settings, serving: Any, auth: dict[str, str]) -> Iterator[AppClient]:
    """The app; requests carry 张三's token unless they set their own (``client.anon`` none)."""
    from router.api import create_app

    c = AppClient(create_app(api_settings, serving=serving), headers=auth)
    yield c
    c.close()
