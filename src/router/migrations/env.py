"""Alembic environment: uses the connection the caller passes (router.db.upgrade) or a URL.

It configures no logging: the application decides that, not an import.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

import router.ledger.cycle  # noqa: F401  (registers the accounts and cycle tables)
from router.db import make_engine
from router.ledger.models import Base

config = context.config
target_metadata = Base.metadata
# One lock number for every process that migrates this schema on PostgreSQL.
_PG_LOCK = 7_265_746_572


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several workers or hosts starting at once: one migrates, the others wait.
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_LOCK})"))
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")
    with make_engine(url).connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
