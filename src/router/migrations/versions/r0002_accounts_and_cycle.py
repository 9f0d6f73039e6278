"""Accounts (users, personal tokens, page sessions) and the handling cycle (assignments,
退办/延期 requests, replies, 重点督办, 督办通知).

Existing rows are kept as they are; every decided proposal that a unit holds gets its
assignment rows (主办 and 会办), dated on the day of its decision, so that an upgraded ledger
shows the units' inboxes at once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)
_ROLES = "role IN ('分办人员', '承办单位经办人', '审核领导', '管理员')"
_UNIT = (
    "(role = '承办单位经办人' AND unit IS NOT NULL) OR (role <> '承办单位经办人' AND unit IS NULL)"
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", _TZ, nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.CheckConstraint(_ROLES, name=op.f("ck_users_role")),
        sa.CheckConstraint(_UNIT, name=op.f("ck_users_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    for table in ("api_tokens", "login_sessions"):
        extra = (
            [sa.Column("label", sa.String(length=100), nullable=False)]
            if table == "api_tokens"
            else [sa.Column("csrf", sa.String(length=64), nullable=False)]
        )
        last = (
            [sa.Column("revoked_at", _TZ, nullable=True)]
            if table == "api_tokens"
            else [sa.Column("expires_at", _TZ, nullable=False)]
        )
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            *extra,
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("created_at", _TZ, nullable=False),
            *last,
            sa.ForeignKeyConstraint(
                ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users")
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("token_hash", name=op.f(f"uq_{table}_token_hash")),
        )
        with op.batch_alter_table(table) as batch:
            batch.create_index(batch.f(f"ix_{table}_user_id"), ["user_id"], unique=False)

    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=4), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.Column("signed_at", _TZ, nullable=True),
        sa.Column("signed_by", sa.String(length=100), nullable=True),
        sa.Column("opinion", sa.Text(), nullable=True),
        sa.Column("opinion_by", sa.String(length=100), nullable=True),
        sa.Column("opinion_at", _TZ, nullable=True),
        sa.CheckConstraint("role IN ('主办', '会办')", name=op.f("ck_assignments_role")),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_assignments_proposal_id_proposals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint("proposal_id", "unit", name=op.f("uq_assignments_proposal_id")),
    )
    with op.batch_alter_table("assignments") as batch:
        batch.create_index(batch.f("ix_assignments_proposal_id"), ["proposal_id"], unique=False)
        batch.create_index(batch.f("ix_assignments_unit"), ["unit"], unique=False)

    op.create_table(
        "unit_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=4), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", _TZ, nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", _TZ, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('退办', '延期')", name=op.f("ck_unit_requests_kind")),
        sa.CheckConstraint(
            "status IN ('待审批', '已同意', '已拒绝')", name=op.f("ck_unit_requests_status")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_unit_requests_proposal_id_proposals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_requests")),
    )
    with op.batch_alter_table("unit_requests") as batch:
        batch.create_index(batch.f("ix_unit_requests_proposal_id"), ["proposal_id"], unique=False)

    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", _TZ, nullable=False),
        sa.Column("returned_by", sa.String(length=100), nullable=True),
        sa.Column("returned_at", _TZ, nullable=True),
        sa.Column("return_note", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('有效', '退回重办')", name=op.f("ck_replies_status")),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_replies_proposal_id_proposals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
    )
    with op.batch_alter_table("replies") as batch:
        batch.create_index(batch.f("ix_replies_proposal_id"), ["proposal_id"], unique=False)

    op.create_table(
        "key_supervisions",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("marked_by", sa.String(length=100), nullable=False),
        sa.Column("marked_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_key_supervisions_proposal_id_proposals"),
        ),
        sa.PrimaryKeyConstraint("proposal_id", name=op.f("pk_key_supervisions")),
    )
    op.create_table(
        "supervision_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_notices")),
    )
    with op.batch_alter_table("supervision_notices") as batch:
        batch.create_index(batch.f("ix_supervision_notices_unit"), ["unit"], unique=False)

    _backfill_assignments()


def _backfill_assignments() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, lead_unit, co_units, decided_at, created_at FROM proposals "
            "WHERE lead_unit IS NOT NULL AND status IN ('已分办', '办理中', '已答复')"
        )
    ).fetchall()
    table = sa.table(
        "assignments",
        sa.column("proposal_id", sa.Integer()),
        sa.column("unit", sa.String()),
        sa.column("role", sa.String()),
        sa.column("assigned_on", sa.Date()),
    )
    values: list[dict[str, Any]] = []
    for pid, lead, co, decided_at, created_at in rows:
        when = decided_at or created_at
        # SQLite returns the stored text, PostgreSQL a datetime; the day is the decision's (UTC)
        day = date.fromisoformat(when[:10]) if isinstance(when, str) else when.date()
        co_units = json.loads(co) if isinstance(co, str) else (co or [])
        values.append({"proposal_id": pid, "unit": lead, "role": "主办", "assigned_on": day})
        for unit in co_units:
            if unit != lead:
                values.append(
                    {"proposal_id": pid, "unit": unit, "role": "会办", "assigned_on": day}
                )
    if values:
        op.bulk_insert(table, values)


def downgrade() -> None:
    for table in (
        "supervision_notices",
        "key_supervisions",
        "replies",
        "unit_requests",
        "assignments",
        "login_sessions",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
