"""Several hosts, one model: the registry's artifacts and current pointer in the database.

With ``ROUTER_REGISTRY_IN_DATABASE=1`` (meant for PostgreSQL, where the ledger already lives)
each host keeps its own ``models/`` folder as a cache, and the database holds what they
share: every promoted version's files with their checksums, and the one current pointer.

- ``push`` (after a promotion on any host): upload the version's files if the database does
  not have them yet, then move the pointer, in one transaction.
- ``pull`` (each server, at start and every ``ROUTER_MODEL_WATCH_SECONDS``): when the pointer
  names another version than the local one, download the files that are missing, check each
  against its stored checksum, write them to a temporary folder renamed into place, and point
  the local registry at it; the server's watcher then swaps the model in as it does for a
  local promotion (loaded beside the old one, no request fails).

The two tables are the registry's, not the ledger's: they are created on first use
(``CREATE TABLE IF NOT EXISTS``), outside the ledger's Alembic history.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    select,
)

from router.learn.registry import ARTIFACT, METADATA, METRICS, Registry, RegistryError
from router.settings import Settings

FILES = (ARTIFACT, METADATA, METRICS, "report.md", "diff.json")
_meta = MetaData()
model_files = Table(
    "router_model_files",
    _meta,
    Column("version", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
)
model_pointer = Table(
    "router_model_pointer",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("version", String(64), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("kind", String(16), nullable=False),
)


def ensure_tables(engine: Engine) -> None:
    _meta.create_all(engine, checkfirst=True)


def push(
    engine: Engine, registry: Registry, version: str, *, by: str, reason: str, kind: str = "promote"
) -> None:
    """Publish a version's files (once) and point every host at it."""
    registry.load(version)  # only a version that loads and passes its checksum is shared
    ensure_tables(engine)
    folder = registry.root / version
    with engine.begin() as conn:
        have = set(conn.scalars(select(model_files.c.name).where(model_files.c.version == version)))
        for name in FILES:
            path = folder / name
            if name in have or not path.is_file():
                continue
            data = path.read_bytes()
            conn.execute(
                model_files.insert().values(
                    version=version,
                    name=name,
                    sha256=hashlib.sha256(data).hexdigest(),
                    data=data,
                )
            )
        values = {
            "version": version,
            "changed_at": datetime.now(UTC),
            "changed_by": by,
            "reason": reason,
            "kind": kind,
        }
        if conn.execute(select(model_pointer.c.id).where(model_pointer.c.id == 1)).first():
            conn.execute(model_pointer.update().where(model_pointer.c.id == 1).values(**values))
        else:
            conn.execute(model_pointer.insert().values(id=1, **values))


def shared_current(engine: Engine) -> str | None:
    ensure_tables(engine)
    with engine.connect() as conn:
        return conn.scalar(select(model_pointer.c.version).where(model_pointer.c.id == 1))


def pull(engine: Engine, registry: Registry) -> str | None:
    """Follow the shared pointer: fetch the version if missing, point the local registry at
    it. Returns the version now current locally when it changed, else None."""
    ensure_tables(engine)
    with engine.connect() as conn:
        row = conn.execute(select(model_pointer).where(model_pointer.c.id == 1)).first()
        if row is None or row.version == registry.current():
            return None
        if row.version not in registry.versions():
            files = conn.execute(
                select(model_files.c.name, model_files.c.sha256, model_files.c.data).where(
                    model_files.c.version == row.version
                )
            ).all()
            _write_version(registry, row.version, [(f.name, f.sha256, f.data) for f in files])
    reason = f"跟随共享注册表：{row.reason}"
    registry.promote(row.version, reason=reason, by=row.changed_by, kind=row.kind)
    return str(row.version)


def _write_version(registry: Registry, version: str, files: list[tuple[str, str, bytes]]) -> None:
    names = {name for name, _, _ in files}
    if not {ARTIFACT, METADATA} <= names:
        raise RegistryError(f"共享注册表中的模型 {version} 不完整，拒绝使用。")
    registry.root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=registry.root))
    try:
        for name, sha, data in files:
            if name not in FILES or hashlib.sha256(data).hexdigest() != sha:
                raise RegistryError(
                    f"共享注册表中模型 {version} 的文件 {name} 校验和不符，拒绝使用。"
                )
            (tmp / name).write_bytes(data)
        os.rename(tmp, registry.root / version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    registry.load(version)  # the artifact's own checksum against its metadata


def shared_engine(settings: Settings) -> Engine | None:
    """The database engine when the registry is shared, else None."""
    if not settings.registry_in_database:
        return None
    from router.db import make_engine

    return make_engine(settings.db_url)


def publish(
    settings: Settings, registry: Registry, version: str, *, by: str, reason: str, kind: str
) -> bool:
    """After a local promotion: share it when the registry is in the database (else no-op)."""
    engine = shared_engine(settings)
    if engine is None:
        return False
    try:
        push(engine, registry, version, by=by, reason=reason, kind=kind)
    finally:
        engine.dispose()
    return True
