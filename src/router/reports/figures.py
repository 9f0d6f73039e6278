"""Every number of the annual report, counted from the ledger for one session."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.labels import load_labels
from router.ledger.cycle import extended_ids
from router.ledger.models import OPEN_STATUSES, Proposal


@dataclass(frozen=True)
class ItemRow:
    number: str
    kind: str
    title: str
    deputy: str
    lead: str  # the unit's name, 转出 with departments, or 待分办
    co: str
    status: str
    due_on: date | None
    replied_on: date | None
    extended: bool
    evaluation: str | None
    text: str


@dataclass(frozen=True)
class Figures:
    session: str
    today: date
    total: int
    by_kind: dict[str, int]
    by_unit: list[tuple[str, int]]  # unit name, lead items; most first, then label order
    undecided: int
    replied: int
    on_time: int
    late: int
    extended: int
    overdue: int
    open_in_time: int
    referred: int
    by_department: list[tuple[str, int]]
    evaluated: int
    evaluations: dict[str, int]
    satisfaction_rate: float | None
    items: list[ItemRow] = field(default_factory=list)

    def unit_sentence(self) -> str:
        """The report's own form: 其中交警支队 a 件；刑侦支队 b 件；……"""
        parts = [f"{u} {n} 件" for u, n in self.by_unit]
        if self.referred:
            parts.append(f"非公安职责转出 {self.referred} 件")
        if self.undecided:
            parts.append(f"尚未分办 {self.undecided} 件")
        return "其中" + "；".join(parts) + "。" if parts else ""


def sessions(db: Session) -> list[str]:
    return sorted(set(db.scalars(select(Proposal.session))))


def figures(db: Session, session: str, today: date) -> Figures:
    labels = load_labels()
    names = {u.label: u.unit for u in labels.units}
    rows = list(
        db.scalars(select(Proposal).where(Proposal.session == session).order_by(Proposal.id))
    )
    ext = extended_ids(db)
    unit_counts: Counter[str] = Counter()
    deps: Counter[str] = Counter()
    evals: Counter[str] = Counter()
    items = []
    on_time = late = overdue = open_in_time = referred = undecided = replied = extended = 0
    for p in rows:
        if p.id in ext:
            extended += 1
        if p.lead_unit is not None:
            unit_counts[p.lead_unit] += 1
        elif p.decided_at is not None:
            referred += 1
            deps.update(p.referral_departments)
        else:
            undecided += 1
        if p.status == "已答复":
            replied += 1
            if p.due_on is None or (p.replied_on is not None and p.replied_on <= p.due_on):
                on_time += 1
            else:
                late += 1
        elif p.status in OPEN_STATUSES:
            if p.due_on is not None and p.due_on < today:
                overdue += 1
            else:
                open_in_time += 1
        if p.evaluation:
            evals[p.evaluation] += 1
        if p.lead_unit is not None:
            lead = names.get(p.lead_unit, p.lead_unit)
        elif p.decided_at is not None:
            lead = "转出：" + "、".join(p.referral_departments)
        else:
            lead = "待分办"
        items.append(
            ItemRow(
                number=p.number,
                kind=p.kind,
                title=p.title,
                deputy=p.deputy_name,
                lead=lead,
                co="、".join(names.get(u, u) for u in p.co_units),
                status=p.status,
                due_on=p.due_on,
                replied_on=p.replied_on,
                extended=p.id in ext,
                evaluation=p.evaluation,
                text=f"{p.title}\n{p.content}",
            )
        )
    order = {u: i for i, u in enumerate(labels.unit_labels)}
    by_unit = [
        (names.get(u, u), n)
        for u, n in sorted(unit_counts.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99)))
    ]
    evaluated = sum(evals.values())
    good = evals["满意"] + evals["基本满意"]
    return Figures(
        session=session,
        today=today,
        total=len(rows),
        by_kind=dict(Counter(p.kind for p in rows)),
        by_unit=by_unit,
        undecided=undecided,
        replied=replied,
        on_time=on_time,
        late=late,
        extended=extended,
        overdue=overdue,
        open_in_time=open_in_time,
        referred=referred,
        by_department=sorted(deps.items(), key=lambda kv: (-kv[1], kv[0])),
        evaluated=evaluated,
        evaluations={k: evals[k] for k in ("满意", "基本满意", "不满意")},
        satisfaction_rate=good / evaluated if evaluated else None,
        items=items,
    )
