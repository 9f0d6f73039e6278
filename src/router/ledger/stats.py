"""The figures of the office's annual report, computed from the ledger.

Aggregated in Python over a handful of columns: a session has hundreds of items, and one
pass keeps the per-unit, per-status and satisfaction figures consistent with each other.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.labels import load_labels
from router.ledger.models import EVALUATIONS, KINDS, OPEN_STATUSES, STATUSES, Proposal
from router.ledger.ops import query_text
from router.ledger.schemas import OverdueItem, Stats, UnitStats, from_row

_SATISFIED = ("满意", "基本满意")


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def ledger_stats(
    db: Session, *, session: str | None = None, today: date | None = None, overdue_limit: int = 100
) -> Stats:
    """Counts per unit and status, referrals, satisfaction and overdue items (one session or all)."""
    today = today or date.today()
    labels = load_labels()
    stmt = select(
        Proposal.id,
        Proposal.number,
        Proposal.session,
        Proposal.title,
        Proposal.kind,
        Proposal.lead_unit,
        Proposal.co_units,
        Proposal.referral_departments,
        Proposal.status,
        Proposal.due_on,
        Proposal.evaluation,
        Proposal.decided_at,
        Proposal.follows_suggestion,
    )
    session = query_text(session, "届次") or None
    if session:
        stmt = stmt.where(Proposal.session == session)
    rows = db.execute(stmt).all()
    sessions = list(db.scalars(select(Proposal.session).distinct().order_by(Proposal.session)))

    by_status = Counter(r.status for r in rows)
    by_kind = Counter(r.kind for r in rows)
    decided = [r for r in rows if r.decided_at is not None]
    evaluations = Counter(r.evaluation for r in rows if r.evaluation)
    departments = Counter(d for r in decided for d in r.referral_departments)
    overdue = sorted(
        (
            from_row(OverdueItem, r, days_overdue=(today - r.due_on).days)
            for r in rows
            if r.status in OPEN_STATUSES and r.due_on is not None and r.due_on < today
        ),
        key=lambda o: (-o.days_overdue, o.id),
    )
    late_units = Counter(o.lead_unit for o in overdue)
    per_unit = []
    for unit in labels.units:
        lead = [r for r in decided if r.lead_unit == unit.label]
        evaluated = [r for r in lead if r.evaluation]
        satisfied = sum(r.evaluation in _SATISFIED for r in evaluated)
        per_unit.append(
            UnitStats(
                unit=unit.label,
                unit_name=unit.unit,
                lead=len(lead),
                co=sum(unit.label in r.co_units for r in decided),
                replied=sum(r.status == "已答复" for r in lead),
                overdue=late_units[unit.label],
                evaluated=len(evaluated),
                satisfied=satisfied,
                satisfaction_rate=_rate(satisfied, len(evaluated)),
            )
        )
    n_evaluated = sum(evaluations.values())
    return Stats(
        session=session,
        sessions=sessions,
        total=len(rows),
        by_status={s: by_status[s] for s in STATUSES},
        by_unit=per_unit,
        by_kind={k: by_kind[k] for k in KINDS},
        referrals=sum(r.lead_unit is None for r in decided),
        partial_referrals=sum(
            r.lead_unit is not None and bool(r.referral_departments) for r in decided
        ),
        by_department=dict(departments.most_common()),
        evaluations={e: evaluations[e] for e in EVALUATIONS},
        satisfaction_rate=_rate(sum(evaluations[e] for e in _SATISFIED), n_evaluated),
        overdue=len(overdue),
        overdue_items=overdue[:overdue_limit],
        decided=len(decided),
        suggestion_followed_rate=_rate(
            sum(bool(r.follows_suggestion) for r in decided), len(decided)
        ),
    )
