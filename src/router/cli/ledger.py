"""The ledger's commands: `router users …` (accounts), `router report` and `router db upgrade`.

Presentation only, the work is in :mod:`router.ledger.accounts`, :mod:`router.reports` and
:mod:`router.db`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from router.settings import get_settings

users_app = typer.Typer(help="账号：新建、列出、停用、重置密码、个人令牌。", no_args_is_help=True)
db_app = typer.Typer(help="台账数据库：结构升级。", no_args_is_help=True)
err = Console(stderr=True)
out = Console()


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]错误：[/]{message}")
    return typer.Exit(code)


@contextmanager
def _db() -> Iterator[Any]:
    """A session on the migrated ledger; commits when the block ends without error."""
    from router.db import open_ledger
    from router.ledger.ops import LedgerError

    with open_ledger(get_settings().db_url) as db:
        try:
            yield db
            db.commit()
        except LedgerError as exc:
            db.rollback()
            raise _fail(exc.message) from exc


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise _fail("标准输入中没有读到密码。")
    return password


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="账号名（登录用，如姓名或工号）")],
    role: Annotated[str, typer.Option(help="分办人员、承办单位经办人、审核领导或管理员")],
    unit: Annotated[str | None, typer.Option(help="承办单位经办人所属单位，如 交通管理")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="从标准输入读一行作为密码")
    ] = False,
) -> None:
    """新建账号；不用 --password-stdin 时生成一个密码并只显示这一次。"""
    from router.ledger import accounts

    password = _read_password() if password_stdin else accounts.new_password()
    with _db() as db:
        user = accounts.add_user(db, name, role, unit=unit, password=password, actor="命令行")
        where = f"（{user.unit}）" if user.unit else ""
    out.print(f"已新建账号 {user.name}：{user.role}{where}。")
    if not password_stdin:
        out.print(f"初始密码（只显示这一次，请转交本人并提醒修改）：{password}")


@users_app.command("list")
def users_list() -> None:
    """列出全部账号。"""
    from router.ledger import accounts

    with _db() as db:
        rows = accounts.list_users(db)
        table = Table("账号", "角色", "单位", "状态", "新建")
        for u in rows:
            table.add_row(
                u.name,
                u.role,
                u.unit or "",
                "启用" if u.active else "停用",
                f"{u.created_at:%Y-%m-%d}",
            )
    out.print(table)


@users_app.command("disable")
def users_disable(name: str) -> None:
    """停用账号：其登录会话和个人令牌立即失效。"""
    from router.ledger import accounts

    with _db() as db:
        accounts.set_active(db, name, False)
    out.print(f"账号 {name} 已停用，其会话和令牌已失效。")


@users_app.command("enable")
def users_enable(name: str) -> None:
    """重新启用账号（原有令牌仍为撤销状态）。"""
    from router.ledger import accounts

    with _db() as db:
        accounts.set_active(db, name, True)
    out.print(f"账号 {name} 已启用。")


@users_app.command("reset")
def users_reset(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="从标准输入读新密码")
    ] = False,
) -> None:
    """重置密码（会话全部失效）；不用 --password-stdin 时生成一个并只显示这一次。"""
    from router.ledger import accounts

    password = _read_password() if password_stdin else accounts.new_password()
    with _db() as db:
        accounts.reset_password(db, name, password)
    out.print(f"账号 {name} 的密码已重置，原有登录已失效。")
    if not password_stdin:
        out.print(f"新密码（只显示这一次）：{password}")


@users_app.command("token")
def users_token(
    name: str,
    label: Annotated[str, typer.Option(help="令牌用途，如 批量导入脚本")] = "个人令牌",
) -> None:
    """为账号发放一个个人访问令牌（只显示这一次）。"""
    from router.ledger import accounts

    with _db() as db:
        token, plain = accounts.create_token(db, accounts.get_user(db, name), label)
        tid = token.id
    out.print(f"令牌 {tid}（{label}）已发放给 {name}，只显示这一次：")
    out.print(plain, soft_wrap=True)


@users_app.command("tokens")
def users_tokens(name: str) -> None:
    """列出账号的个人令牌。"""
    from router.ledger import accounts

    with _db() as db:
        table = Table("编号", "用途", "发放", "状态")
        for t in accounts.list_tokens(db, accounts.get_user(db, name)):
            table.add_row(
                str(t.id),
                t.label,
                f"{t.created_at:%Y-%m-%d %H:%M}",
                "已撤销" if t.revoked_at else "有效",
            )
    out.print(table)


@users_app.command("revoke")
def users_revoke(token_id: int) -> None:
    """撤销一个个人令牌（按编号），立即失效。"""
    from router.ledger import accounts

    with _db() as db:
        accounts.revoke_token(db, token_id)
    out.print(f"令牌 {token_id} 已撤销。")


def report(
    session: Annotated[str, typer.Option(help="届次，如 十七届三次")],
    output: Annotated[Path, typer.Option("-o", "--output", help="报告 .docx 的路径")],
    xlsx: Annotated[
        Path | None, typer.Option(help="同时写出整届一览表 .xlsx；不填则写在报告旁边")
    ] = None,
) -> None:
    """据台帐起草年度办理情况报告（.docx，数字全部取自台帐），并写出整届一览表（.xlsx）。"""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from router.reports.documents import report_docx
    from router.reports.figures import figures
    from router.reports.topics import topics
    from router.reports.workbook import ledger_xlsx

    if output.suffix.lower() != ".docx":
        raise _fail("报告的文件名应以 .docx 结尾。")
    settings = get_settings()
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    with _db() as db:
        f = figures(db, session, today)
    if f.total == 0:
        raise _fail(f"台帐中没有届次“{session}”的建议。")
    sheet = xlsx or output.with_name(output.stem + "-一览表.xlsx")
    output.write_bytes(report_docx(f, topics([r.text for r in f.items])))
    sheet.write_bytes(ledger_xlsx(f))
    out.print(f"{f.session}：共 {f.total} 件。{f.unit_sentence()}")
    out.print(f"报告已写入 {output}，一览表已写入 {sheet}。")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """把台账数据库结构升级到最新版本（服务启动时也会自动升级）。"""
    from sqlalchemy.engine import make_url

    from router.db import current_revision, make_engine, upgrade

    settings = get_settings()
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        revision = current_revision(engine)
    finally:
        engine.dispose()
    where = make_url(settings.db_url).render_as_string(hide_password=True)
    out.print(f"台账数据库 {where} 已是最新结构（{revision}）。")
