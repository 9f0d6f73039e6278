"""`router jurisdiction …`: 本地职责, who handles the contested topics here."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from router.cli.output import EXIT_INPUT, fail, out
from router.settings import get_settings

local_app = typer.Typer(
    help="本地职责：各地分工不同的事项（网吧、校园欺凌、高空抛物……）由本局设定承办方。",
    no_args_is_help=True,
)


@local_app.command("list")
def jurisdiction_list() -> None:
    """列出各地分工不同的事项、候选承办方和本局的设定。"""
    from router.core.local import load_topics, read_state

    choices = read_state(get_settings().local_jurisdiction_path).choices
    table = Table(title="本地职责设定")
    for col in ("事项", "名称", "候选承办方", "本局设定", "设定人", "设定时间"):
        table.add_column(col)
    for t in load_topics():
        c = choices.get(t.id)
        table.add_row(
            t.id,
            t.name,
            "、".join(t.candidates),
            c.handler if c else "未设定（提示人工复核）",
            c.by if c else "",
            c.at if c else "",
        )
    out.print(table)


def _set_local(topic: str, handler: str | None, by: str | None, reason: str) -> None:
    import getpass

    from router.core.local import LocalError, set_choice

    path = get_settings().local_jurisdiction_path
    assert path is not None
    try:
        entry = set_choice(path, topic, handler, by=by or getpass.getuser(), reason=reason)
    except LocalError as exc:
        raise fail(str(exc), EXIT_INPUT) from exc
    what = f"由 {handler} 承办" if handler else "取消本地设定，恢复提示人工复核"
    out.print(f"“{entry['name']}”已设为{what}（第 {entry['version']} 版，{entry['by']}）。")


@local_app.command("set")
def jurisdiction_set(
    topic: Annotated[str, typer.Argument(help="事项编号，见 router jurisdiction list")],
    handler: Annotated[str, typer.Argument(help="候选承办方之一")],
    by: Annotated[str | None, typer.Option("--by", help="设定人，默认为当前系统用户")] = None,
    reason: Annotated[str, typer.Option("--reason", help="设定依据，如文件号")] = "",
) -> None:
    """设定某一事项的本地承办方；此后的分办建议按此设定，并注明依据。"""
    _set_local(topic, handler, by, reason)


@local_app.command("clear")
def jurisdiction_clear(
    topic: Annotated[str, typer.Argument(help="事项编号")],
    by: Annotated[str | None, typer.Option("--by", help="设定人，默认为当前系统用户")] = None,
    reason: Annotated[str, typer.Option("--reason", help="取消的原因")] = "",
) -> None:
    """取消某一事项的本地设定。"""
    _set_local(topic, None, by, reason)


@local_app.command("history")
def jurisdiction_history() -> None:
    """本地职责设定的全部变更记录。"""
    from router.core.local import history

    path = get_settings().local_jurisdiction_path
    assert path is not None
    table = Table(title="本地职责变更记录")
    for col in ("版本", "事项", "原设定", "新设定", "设定人", "时间", "依据"):
        table.add_column(col)
    for e in history(path):
        table.add_row(
            str(e["version"]),
            e["name"],
            e["previous"] or "未设定",
            e["handler"] or "未设定",
            e["by"],
            e["at"],
            e["reason"],
        )
    out.print(table)
