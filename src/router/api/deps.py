"""Shared dependencies as ``Annotated`` aliases: settings, the model, a database session, the writer."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Annotated
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from fastapi import Depends, Header, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from router.api.holder import Serving
from router.core.routing import Router, check_text, route_text
from router.core.suggestion import Decision, InputError
from router.ledger import accounts, cycle
from router.ledger.accounts import OFFICE_ROLES, READ_ALL_ROLES, Account
from router.ledger.schemas import INT_MAX
from router.settings import Settings

DEV_DISPATCHER = "本地开发"
# a row's id in a path: the ledger's integer columns hold no more (beyond, SQLite overflows)
RowId = Annotated[int, Path(ge=1, le=INT_MAX, description="序号")]
_bearer = HTTPBearer(
    auto_error=False,
    description="个人访问令牌（router users token）；ROUTER_API_TOKEN 只用于创建第一个管理员",
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


def _serving(request: Request) -> Serving:
    holder = request.app.state.router_holder
    settings: Settings = request.app.state.settings
    holder.poll(settings)  # every worker follows a reload (and a promotion), whatever their number
    serving: Serving = holder.current
    return serving


ServingDep = Annotated[Serving, Depends(_serving)]


def _db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as db:
        yield db


DbDep = Annotated[Session, Depends(_db)]


def office_today(settings: Settings) -> date:
    """Today on the office's calendar, not the server's: due dates are days in China."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


def _today(settings: SettingsDep) -> date:
    return office_today(settings)


TodayDep = Annotated[date, Depends(_today)]


def decode_dispatcher(raw: str | None) -> str:
    """The dispatcher's name from the header: percent-encoded UTF-8, or raw UTF-8 bytes."""
    if not raw:
        return ""
    try:
        if any(ord(c) > 0x7F for c in raw):
            raw = raw.encode("latin-1").decode("utf-8")
        name = unquote(raw, errors="strict")
    except (UnicodeDecodeError, UnicodeEncodeError) as exc:
        raise HTTPException(
            400, "调度员姓名的编码无效，请用 UTF-8 百分号编码（encodeURIComponent）。"
        ) from exc
    name = unicodedata.normalize("NFKC", name).strip()
    if len(name) > 100 or any(unicodedata.category(c).startswith("C") for c in name):
        raise HTTPException(400, "调度员姓名无效：不超过 100 字，且不含控制字符。")
    return name


SESSION_COOKIE = "router_session"
CSRF_COOKIE = "router_csrf"
CSRF_HEADER = "X-CSRF-Token"
BOOTSTRAP = "初始管理员"  # the role and name of ROUTER_API_TOKEN before any administrator exists
_SAFE = ("GET", "HEAD", "OPTIONS")
_LOGIN = "需要登录，或使用个人访问令牌（请求头 Authorization: Bearer <令牌>）。"


def _unauthorized(detail: str = _LOGIN) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _account(
    request: Request,
    settings: SettingsDep,
    db: DbDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_dispatcher: Annotated[
        str | None, Header(description="仅本地开发模式（--dev，无账号）下记录的姓名")
    ] = None,
) -> Account:
    """Who is asking: a personal token, a page session (with its CSRF token for writes),
    ROUTER_API_TOKEN while no administrator exists (to create one), or local development."""
    if credentials is not None:
        given = credentials.credentials
        token = settings.api_token
        if token and accounts.same_secret(given, token):
            if accounts.has_active_admin(db):
                raise _unauthorized(
                    "已有管理员账号，ROUTER_API_TOKEN 不再有效；请登录或使用个人访问令牌。"
                )
            return Account(None, BOOTSTRAP, BOOTSTRAP, None, "bootstrap")
        user = accounts.user_for_token(db, given)
        if user is None:
            raise _unauthorized("访问令牌无效、已撤销或账号已停用。")
        return accounts.account_of(user, "token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = accounts.user_for_session(db, cookie)
        if found is None:
            raise _unauthorized("登录已过期，请重新登录。")
        user, csrf = found
        if request.method not in _SAFE:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not accounts.same_secret(sent, csrf):
                raise HTTPException(403, "缺少或无效的 CSRF 令牌，请刷新页面后重试。")
        return accounts.account_of(user, "session")
    if settings.dev_mode and not settings.api_token:
        return Account(
            None, decode_dispatcher(x_dispatcher) or DEV_DISPATCHER, "管理员", None, "dev"
        )
    raise _unauthorized()


AnyCaller = Annotated[Account, Depends(_account)]


def _signed_in(who: AnyCaller) -> Account:
    """Any account; ROUTER_API_TOKEN alone only creates the first administrator."""
    if who.via == "bootstrap":
        raise HTTPException(
            403,
            "ROUTER_API_TOKEN 只能用来创建第一个管理员账号（POST /api/v1/users 或 router users add）；"
            "请用个人令牌或登录。",
        )
    return who


CurrentAccount = Annotated[Account, Depends(_signed_in)]


def roles(*allowed: str, what: str) -> Callable[[Account], Account]:
    """A dependency that lets only ``allowed`` roles through, refusing with ``what`` said."""

    def check(who: CurrentAccount) -> Account:
        if who.role not in allowed:
            raise HTTPException(403, f"没有权限：{what}仅限{'、'.join(allowed)}。")
        return who

    return check


Office = Annotated[Account, Depends(roles(*OFFICE_ROLES, what="登记、分办和审批"))]
Reader = Annotated[Account, Depends(roles(*READ_ALL_ROLES, what="查看全部台帐"))]
Admin = Annotated[Account, Depends(roles("管理员", what="账号和系统设置"))]


def _office_name(who: Office) -> str:
    return who.name


# The ledger's writers: the office's account name goes into the audit trail.
Dispatcher = Annotated[str, Depends(_office_name)]


def ledger_access(request: Request, who: CurrentAccount, db: DbDep) -> None:
    """Reads of the ledger: the office and leaders see all; a unit only its own items."""
    if who.reads_all:
        return
    pid = request.path_params.get("proposal_id")
    if request.method in _SAFE and pid is not None and str(pid).isdigit():
        if cycle.can_read(db, int(pid), who):
            return
        raise HTTPException(403, "没有权限：该建议不是本单位承办的。")
    raise HTTPException(403, "没有权限：承办单位只能查看本单位的收件箱。")


def input_problem(exc: InputError) -> HTTPException:
    """413 for a text over the limit, 422 for an empty one; the message is the core's own."""
    return HTTPException(413 if exc.kind == "too_long" else 422, str(exc))


def checked_text(r: Router, title: str | None, content: str | None) -> str:
    """The prepared text, or 413/422 in Chinese for one that cannot be routed."""
    try:
        return check_text(title, content, r.thresholds.max_chars)
    except InputError as exc:
        raise input_problem(exc) from exc


def route_checked(r: Router, title: str | None, content: str | None) -> Decision:
    return route_text(r, checked_text(r, title, content))
