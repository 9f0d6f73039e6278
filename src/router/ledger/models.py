"""The ledger's tables: one row per proposal (suggestion, decision, status) and its audit trail.

The domain's own words (状态, 评价, 原因) are stored as they are read, in Chinese, so that an
export of the database is readable by the office without a code book.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

KINDS = ("建议", "提案")
STATUSES = ("待分办", "已分办", "办理中", "已答复", "已退办")
EVALUATIONS = ("满意", "基本满意", "不满意")
REASON_CODES = ("模型错误", "多部门", "职责调整", "其他")
OPEN_STATUSES = ("已分办", "办理中")  # a due date runs only while a unit is handling the item


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would otherwise return naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Named constraints, so that migrations can alter them on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = (
        UniqueConstraint("session", "number"),
        CheckConstraint(_in("kind", KINDS), name="kind"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(
            f"evaluation IS NULL OR {_in('evaluation', EVALUATIONS)}", name="evaluation"
        ),
        CheckConstraint(
            f"reason_code IS NULL OR {_in('reason_code', REASON_CODES)}", name="reason_code"
        ),
        Index("ix_proposals_status_due_on", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    session: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    deputy_name: Mapped[str] = mapped_column(String(100))
    deputy_unit: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    content: Mapped[str] = mapped_column(Text)
    received_on: Mapped[date | None] = mapped_column(Date)

    # The model's suggestion, as made at registration. ``suggested_unit`` is NULL when the
    # model judged the item wholly outside police jurisdiction.
    suggested_unit: Mapped[str | None] = mapped_column(String(32))
    suggested_confidence: Mapped[float]
    suggested_jurisdiction: Mapped[str] = mapped_column(String(16))
    needs_review: Mapped[bool]
    model_version: Mapped[str] = mapped_column(String(64), index=True)
    suggestion: Mapped[dict[str, Any]] = mapped_column(JSON)

    # The dispatcher's decision. ``lead_unit`` NULL with departments means referred out.
    lead_unit: Mapped[str | None] = mapped_column(String(32), index=True)
    co_units: Mapped[list[str]] = mapped_column(JSON)
    referral_departments: Mapped[list[str]] = mapped_column(JSON)
    referral_reason: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(String(8))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follows_suggestion: Mapped[bool | None]

    status: Mapped[str] = mapped_column(String(8))
    due_on: Mapped[date | None] = mapped_column(Date)
    replied_on: Mapped[date | None] = mapped_column(Date)
    evaluation: Mapped[str | None] = mapped_column(String(8))

    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Optimistic concurrency: every UPDATE checks and bumps it, so a concurrent write fails.
    version: Mapped[int] = mapped_column(Integer)

    events: Mapped[list[ProposalEvent]] = relationship(
        back_populates="proposal", order_by="ProposalEvent.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}


class ProposalEvent(Base):
    """One change to a proposal, with who made it and what was there before."""

    __tablename__ = "proposal_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    proposal: Mapped[Proposal] = relationship(back_populates="events")
