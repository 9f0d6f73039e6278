"""Alembic migrations of the ledger schema; run by :func:`router.db.upgrade`."""
