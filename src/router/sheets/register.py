"""Registering a routed ledger in the ledger database: the only bridge from sheets to the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from router.core.suggestion import Decision
from router.sheets.read import TableError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

from router.sheets.batch import BatchResult, Problem, Registration, column_values

_REG_FIELDS = {
    "number": "编号",
    "session": "届次",
    "title": "标题",
    "content": "内容",
    "deputy_name": "代表姓名",
    "deputy_unit": "代表单位",
}


def register_and_write(
    db_url: str,
    result: BatchResult,
    session_name: str,
    *,
    actor: str,
    kind: str,
    write: Callable[[], None],
) -> None:
    """Register every row and write the output in one transaction on the (migrated) ledger.

    It commits only once ``write`` has written the output, so a failed write registers
    nothing; a number registered meanwhile by another writer is found on the one retry.
    """
    from router.db import open_ledger
    from router.ledger import commit_retrying

    with open_ledger(db_url) as db:

        def work() -> None:
            register_rows(db, result, session_name, actor=actor, kind=kind)
            write()

        commit_retrying(db, work)


def register_rows(
    db: Session,
    result: BatchResult,
    session_name: str,
    *,
    actor: str,
    kind: str = "建议",
) -> Registration:
    """Register every routed row in the ledger, inside the caller's transaction.

    A (届次, 编号) already in the ledger is not registered again, so running a file twice
    registers nothing twice. Rows that cannot be registered (no number, a number repeated
    with other text, a field too long) are listed as problems; nothing is committed here.
    """
    from pydantic import ValidationError

    from router.ledger import ProposalCreate, register_proposals

    if result.columns.number is None:
        raise TableError(
            "登记台账需要“编号”列（编号、建议号或序号），表中没有找到；可用 --number-col 指定。"
        )
    cols = result.columns
    df = result.table.frame
    reg = Registration(session=session_name)
    items: list[Any] = []
    suggestions: list[Decision] = []
    texts: list[str] = []
    where: list[int] = []
    seen: dict[str, tuple[int, str]] = {}
    values = {
        role: column_values(df, cols.get(role))
        for role in ("number", "title", "content", "deputy_name", "deputy_unit")
    }
    for pos, decision in enumerate(result.decisions):
        row = result.table.rows[pos]
        number, title = values["number"][pos], values["title"][pos]
        if result.routed[pos] is None:
            continue  # already a 分办 problem: not registered, listed once
        if decision is None or not result.texts:
            raise ValueError("route_table(..., keep_decisions=True) is needed to register")
        try:
            item = ProposalCreate(
                number=number,
                session=session_name,
                kind=kind,  # type: ignore[arg-type]
                deputy_name=values["deputy_name"][pos],
                deputy_unit=values["deputy_unit"][pos],
                title=title,
                content=values["content"][pos],
            )
        except ValidationError as exc:
            reg.problems.append(
                Problem(row, number, title, "无法登记：" + _validation_reason(exc), "登记")
            )
            continue
        text = result.texts[pos]  # as routed: not prepared again
        if item.number in seen:
            first_row, first_text = seen[item.number]
            if first_text != text:
                reg.problems.append(
                    Problem(
                        row,
                        number,
                        title,
                        f"无法登记：编号“{item.number}”与第 {first_row} 行相同而内容不同",
                        "登记",
                    )
                )
                continue
        else:
            seen[item.number] = (row, text)
        items.append(item)
        suggestions.append(decision)
        texts.append(text)
        where.append(pos)
    outcomes = register_proposals(db, items, suggestions, actor=actor, texts=texts)
    counted: set[tuple[str, str]] = set()
    for pos, item, outcome in zip(where, items, outcomes, strict=True):
        key = (item.session, item.number)
        if outcome.created:
            reg.created += 1
            counted.add(key)
        elif key in counted or outcome.same:
            reg.existing += 1
        else:
            reg.problems.append(
                Problem(
                    result.table.rows[pos],
                    item.number,
                    item.title,
                    f"未登记：台账中届次“{item.session}”编号“{item.number}”已有内容不同的建议，未作修改",
                    "登记",
                )
            )
    result.registration = reg
    return reg


def _validation_reason(exc: Any) -> str:
    parts = []
    for err in exc.errors()[:3]:
        name = _REG_FIELDS.get(str(err.get("loc", ("",))[0]), str(err.get("loc", ("",))[0]))
        kind = err.get("type", "")
        ctx = err.get("ctx") or {}
        if kind in ("string_too_short", "missing") or (
            kind == "value_error" and "不能为空" in str(ctx.get("error", ""))
        ):
            parts.append(f"{name}为空")
        elif kind == "string_too_long":
            parts.append(f"{name}超过 {ctx.get('max_length')} 字")
        elif kind == "value_error" and ctx.get("error"):
            parts.append(f"{name}{ctx['error']}")
        else:
            parts.append(f"{name}格式不正确")
    return "；".join(parts) or "内容不符合台账要求"
