"""Shared dependencies as ``Annotated`` aliases: settings, the model, a database session, the writer."""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from router.api.holder import Serving
from router.core.routing import Router, route
from router.core.suggestion import Decision, InputError
from router.settings import Settings

DEV_DISPATCHER = "本地开发"
_bearer = HTTPBearer(
    auto_error=False, description="ROUTER_API_TOKEN：写操作（登记、分办、状态、评价）需要"
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


def _writer(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_dispatcher: Annotated[
        str | None,
        Header(description="调度员姓名，UTF-8 百分号编码（如 encodeURIComponent('张三')）"),
    ] = None,
) -> str:
    """Who is writing: a valid bearer token (constant-time check) and a dispatcher's name.

    A configured token is always required; only local development mode without a token
    lets writes through, under the name 本地开发 when none is given.
    """
    token = settings.api_token
    open_dev = settings.dev_mode and not token
    if not open_dev:
        given = credentials.credentials if credentials is not None else ""
        if not token or not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
            raise HTTPException(
                401,
                "需要有效的访问令牌（请求头 Authorization: Bearer <令牌>）。",
                headers={"WWW-Authenticate": "Bearer"},
            )
    name = decode_dispatcher(x_dispatcher)
    if not name:
        if open_dev:
            return DEV_DISPATCHER
        raise HTTPException(400, "请填写调度员姓名（请求头 X-Dispatcher，UTF-8 百分号编码）。")
    return name


Dispatcher = Annotated[str, Depends(_writer)]


def input_problem(exc: InputError) -> HTTPException:
    """413 for a text over the limit, 422 for an empty one; the message is the core's own."""
    return HTTPException(413 if exc.kind == "too_long" else 422, str(exc))


def route_checked(r: Router, title: str | None, content: str | None) -> Decision:
    try:
        return route(r, title, content)
    except InputError as exc:
        raise input_problem(exc) from exc
