"""Which units hold a decided proposal: one row per unit, as 主办 or 会办, with its 签收.

Kept in step with the decision by :func:`sync_assignments`, which :func:`router.ledger.ops.decide`
calls: a unit that stays keeps its 签收 and opinion, a unit dropped loses its row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from router.ledger.models import Base, Proposal, UTCDateTime

LEAD, CO = "主办", "会办"


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("proposal_id", "unit"),
        CheckConstraint("role IN ('主办', '会办')", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    unit: Mapped[str] = mapped_column(String(32), index=True)
    role: Mapped[str] = mapped_column(String(4))
    assigned_on: Mapped[date] = mapped_column(Date)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by: Mapped[str | None] = mapped_column(String(100))
    opinion: Mapped[str | None] = mapped_column(Text)
    opinion_by: Mapped[str | None] = mapped_column(String(100))
    opinion_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def sync_assignments(db: Session, p: Proposal, today: date) -> None:
    """Make the proposal's assignment rows match its decision (none for a referral)."""
    wanted: dict[str, str] = {}
    if p.lead_unit is not None and p.status not in ("待分办", "已退办"):
        wanted[p.lead_unit] = LEAD
        for u in p.co_units:
            wanted.setdefault(u, CO)
    rows = {a.unit: a for a in db.query(Assignment).filter(Assignment.proposal_id == p.id)}
    for unit, row in rows.items():
        if unit not in wanted:
            db.delete(row)
        elif row.role != wanted[unit]:
            row.role = wanted[unit]
            row.assigned_on = today
    for unit, role in wanted.items():
        if unit not in rows:
            db.add(Assignment(proposal_id=p.id, unit=unit, role=role, assigned_on=today))
    db.flush()
