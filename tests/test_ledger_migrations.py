"""The schema comes from the migrations alone, on SQLite and PostgreSQL, and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from typer.testing import CliRunner

from router.cli import app
from router.db import current_revision, downgrade, head_revision, make_engine, upgrade
from router.ledger import Base


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_upgrade_from_an_empty_database_matches_the_models(empty_url: str) -> None:
    engine = make_engine(empty_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert {"proposals", "proposal_events", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    engine.dispose()


def test_upgrade_is_idempotent_and_reversible(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine)
    upgrade(engine)
    downgrade(engine, "base")
    assert "proposals" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_db_upgrade_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(app, ["db", "upgrade"], env={"ROUTER_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "已是最新结构" in result.output
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
