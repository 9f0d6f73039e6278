"""The initial ledger: proposals (suggestion, decision, status) and their audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("session", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("deputy_name", sa.String(length=100), nullable=False),
        sa.Column("deputy_unit", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("suggested_unit", sa.String(length=32), nullable=True),
        sa.Column("suggested_confidence", sa.Double(), nullable=False),
        sa.Column("suggested_jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("suggestion", sa.JSON(), nullable=False),
        sa.Column("lead_unit", sa.String(length=32), nullable=True),
        sa.Column("co_units", sa.JSON(), nullable=False),
        sa.Column("referral_departments", sa.JSON(), nullable=False),
        sa.Column("referral_reason", sa.Text(), nullable=True),
        sa.Column("reason_code", sa.String(length=8), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", _TZ, nullable=True),
        sa.Column("follows_suggestion", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("replied_on", sa.Date(), nullable=True),
        sa.Column("evaluation", sa.String(length=8), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "evaluation IS NULL OR evaluation IN ('满意', '基本满意', '不满意')",
            name=op.f("ck_proposals_evaluation"),
        ),
        sa.CheckConstraint("kind IN ('建议', '提案')", name=op.f("ck_proposals_kind")),
        sa.CheckConstraint(
            "reason_code IS NULL OR reason_code IN ('模型错误', '多部门', '职责调整', '其他')",
            name=op.f("ck_proposals_reason_code"),
        ),
        sa.CheckConstraint(
            "status IN ('待分办', '已分办', '办理中', '已答复', '已退办')",
            name=op.f("ck_proposals_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
        sa.UniqueConstraint("session", "number", name=op.f("uq_proposals_session")),
    )
    with op.batch_alter_table("proposals") as batch:
        batch.create_index(batch.f("ix_proposals_lead_unit"), ["lead_unit"], unique=False)
        batch.create_index(batch.f("ix_proposals_model_version"), ["model_version"], unique=False)
        batch.create_index(batch.f("ix_proposals_session"), ["session"], unique=False)
        batch.create_index("ix_proposals_status_due_on", ["status", "due_on"], unique=False)

    op.create_table(
        "proposal_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_proposal_events_proposal_id_proposals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_events")),
    )
    with op.batch_alter_table("proposal_events") as batch:
        batch.create_index(batch.f("ix_proposal_events_proposal_id"), ["proposal_id"], unique=False)


def downgrade() -> None:
    op.drop_table("proposal_events")
    op.drop_table("proposals")
