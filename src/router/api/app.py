"""The app factory: the API under ``/api/v1``, the dispatcher's page at ``/``.

Nothing is loaded at import. The lifespan loads the model and the segmentation dictionary
once, upgrades the ledger's schema and opens the database; requests share them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router import __version__
from router.api import docs, errors
from router.api.deps import CurrentAccount, Reader, ledger_access
from router.api.holder import RouterHolder, Serving, load_serving
from router.api.routes import (
    accounts,
    admin,
    batch,
    desk,
    inbox,
    jurisdiction,
    ledger,
    meta,
    models,
    office,
    routing,
)
from router.core.text import init as init_text
from router.db import make_engine, make_sessionmaker, upgrade
from router.settings import Settings

API_PREFIX = "/api/v1"
log = logging.getLogger("router.api")
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class ConfigError(RuntimeError):
    """The settings cannot run a server; the message says what to set (Chinese)."""


def check_settings(settings: Settings) -> None:
    problem = settings.token_problem()
    if problem:
        raise ConfigError(problem)
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"未知的时区 ROUTER_TIMEZONE={settings.timezone!r}。") from exc


class _BodyLimit:
    """Refuse oversized request bodies with the Chinese message.

    A declared length is refused up front; a body sent without one is counted as it arrives
    and refused by an ``HTTPException`` that the error handlers turn into the same 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"请求内容过大，上限为 {self.max_bytes // (1024 * 1024)} MB。"
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, counted, send)


class _SecurityHeaders:
    """No sniffing, no framing; the page (not Swagger's /docs) may run only its own scripts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        strict = not str(scope.get("path", "")).startswith(("/docs", "/redoc"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                if strict:
                    headers += [
                        (b"content-security-policy", _CSP.encode()),
                        (b"x-frame-options", b"DENY"),
                    ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _pull_shared(settings: Settings, engine: Engine) -> None:
    """With the registry in the database, follow its pointer into the local registry."""
    if settings.registry_in_database:
        from router.learn.registry import Registry
        from router.learn.shared_registry import pull

        pull(engine, Registry(settings.models_path))


async def _follow_promotions(holder: RouterHolder, settings: Settings, engine: Engine) -> None:
    """Swap in a model promoted by `router retrain` or `router models promote`, no restart."""
    while True:
        await asyncio.sleep(settings.model_watch_seconds)
        try:
            await run_in_threadpool(_pull_shared, settings, engine)
            if await run_in_threadpool(holder.follow_pointer, settings):
                log.info("now serving model %s", holder.current.router.version)
        except Exception:  # a broken promotion must not stop the server; the old model serves
            log.exception(
                "could not load the promoted model; keeping %s", holder.current.router.version
            )


def _any_account(_who: CurrentAccount) -> None:
    """Route-level guard: any signed-in account."""


def _reader(_who: Reader) -> None:
    """Route-level guard: the office, leaders and administrators."""


def create_app(settings: Settings, *, serving: Serving | None = None) -> FastAPI:
    """Build the app; refuses settings without a usable token unless in development mode.

    ``serving`` lets a caller that already holds a loaded model (tests, a reload) skip loading.
    """
    check_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        init_text()
        engine = make_engine(settings.db_url)
        if serving is None:
            await run_in_threadpool(_pull_shared, settings, engine)
        loaded = serving if serving is not None else await run_in_threadpool(load_serving, settings)
        await run_in_threadpool(upgrade, engine)
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        holder = app.state.router_holder = RouterHolder(loaded)
        watcher = (
            asyncio.create_task(_follow_promotions(holder, settings, engine))
            if settings.model_watch_seconds > 0
            else None
        )
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            engine.dispose()

    max_bytes = settings.max_request_mb * 1024 * 1024
    app = FastAPI(
        title="人大代表建议分办助手",
        description="为人大代表建议和政协提案建议承办单位、判定是否属公安职责，并记录分办台账。",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # served from local files by router.api.docs: no CDN on an intranet
        redoc_url=None,
    )
    app.state.settings = settings
    errors.install(app)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.document_errors(plain_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    docs.install(app)
    # every endpoint needs an account except healthz, readyz and the unit list (in meta)
    signed_in = [Depends(_any_account)]
    readers = [Depends(_reader)]
    app.include_router(routing.router, prefix=API_PREFIX, dependencies=signed_in)
    app.include_router(ledger.router, prefix=API_PREFIX, dependencies=[Depends(ledger_access)])
    for module in (batch, desk, jurisdiction, models):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=readers)
    for module in (meta, admin, accounts, inbox, office):
        app.include_router(module.router, prefix=API_PREFIX)
    app.mount("/static", StaticFiles(packages=[("router", "static")]), name="static")
    pages = {
        name: resources.files("router")
        .joinpath("static", f"{name}.html")
        .read_text(encoding="utf-8")
        for name in ("index", "inbox", "office")
    }

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(pages["index"], headers={"Cache-Control": "no-cache"})

    @app.get("/inbox", response_class=HTMLResponse, include_in_schema=False)
    async def inbox_page() -> HTMLResponse:
        return HTMLResponse(pages["inbox"], headers={"Cache-Control": "no-cache"})

    @app.get("/office", response_class=HTMLResponse, include_in_schema=False)
    async def office_page() -> HTMLResponse:
        return HTMLResponse(pages["office"], headers={"Cache-Control": "no-cache"})

    app.add_middleware(_BodyLimit, max_bytes=max_bytes)
    app.add_middleware(_SecurityHeaders)
    return app
