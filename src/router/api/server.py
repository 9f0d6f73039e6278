"""``router serve``: uvicorn with one process, or several workers built from the environment.

Everything that should happen once happens here before uvicorn starts: the token check,
training a model when the registry is empty, and the schema upgrade, so that workers
starting together neither train nor migrate at the same time. uvicorn starts its workers
with ``spawn``, not ``fork``, so each worker loads the model and the dictionary itself
(about a second); with one worker the dictionary loaded here is the one that serves.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.engine import make_url

from router.api.app import ConfigError, check_settings, create_app
from router.api.holder import Serving, load_serving
from router.core.text import init as init_text
from router.db import make_engine, upgrade
from router.learn.load import ensure_model
from router.settings import Settings, get_settings

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def app_from_env() -> FastAPI:
    """The factory each worker process calls: settings from ``ROUTER_*`` variables."""
    return create_app(get_settings())


def export_settings(
    settings: Settings, environ: dict[str, str] | os._Environ[str] = os.environ
) -> None:
    """Write the settings as ``ROUTER_*`` variables, which the worker processes inherit."""
    for name, value in settings.model_dump(exclude_none=True).items():
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, dict | list | tuple):
            text = json.dumps(value, ensure_ascii=False, default=str)
        elif isinstance(value, Path):
            text = str(value)
        else:
            text = str(value)
        environ[f"ROUTER_{name.upper()}"] = text


def _check_port(host: str, port: int) -> None:
    """Say in Chinese that the port is taken, instead of uvicorn's English and exit code 3."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"无法识别监听地址 {host}。") from exc
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"端口 {port} 已被占用（可能已有一个分办服务在运行）。"
                    "请先停止它（在它的窗口按 Ctrl+C），或用 --port 换一个端口。"
                ) from exc
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise ConfigError(f"没有权限监听端口 {port}；请用 1024 以上的端口。") from exc
            raise ConfigError(f"无法监听 {host}:{port}（系统错误 {exc.errno}）。") from exc


class StartupError(RuntimeError):
    """The server cannot start (no database, a model that does not load); one Chinese sentence."""


def check_model(settings: Settings, version: str) -> Serving:
    """Load the serving model once before uvicorn starts, so that a broken one is one sentence
    and exit 1 here rather than a lifespan traceback in each worker."""
    from router.learn.registry import RegistryError

    try:
        return load_serving(settings, version)
    except RegistryError as exc:
        raise StartupError(f"无法加载模型 {version}，服务未启动：{exc}") from exc
    except Exception as exc:  # noqa: BLE001 - any failure to load is the same for the operator
        raise StartupError(
            f"无法加载模型 {version}，服务未启动（{type(exc).__name__}：{str(exc)[:200]}）。"
            "请用 router models list 查看，router models promote 启用其他版本或重新训练。"
        ) from exc


def check_database(settings: Settings) -> None:
    """Connect and upgrade the ledger's schema once, before the workers start."""
    from sqlalchemy.exc import SQLAlchemyError

    where = make_url(settings.db_url).render_as_string(hide_password=True)
    try:
        engine = make_engine(settings.db_url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StartupError(f"台帐数据库地址 {where} 无法使用，服务未启动：{exc}") from exc
    try:
        upgrade(engine)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        raise StartupError(
            f"无法连接台帐数据库 {where}，服务未启动（{reason}）。请确认数据库已启动、地址和口令正确后再试。"
        ) from exc
    finally:
        engine.dispose()


def run(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    dev: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> None:
    """Serve until interrupted. ``dev`` is local development mode: no token needed."""
    import uvicorn

    if dev:
        settings = settings.model_copy(update={"dev_mode": True})
    check_settings(settings)
    host = host or settings.serve_host
    port = port or settings.serve_port
    workers = max(1, workers or settings.serve_workers)
    if settings.dev_mode and not settings.api_token and host not in _LOOPBACK:
        raise ConfigError(
            f"开发模式不检查令牌，只能监听本机（127.0.0.1），不能监听 {host}。请设置 ROUTER_API_TOKEN。"
        )
    _check_port(host, port)
    init_text()
    from router.learn.dataset import CorpusError

    try:
        version = ensure_model(settings, say)
    except CorpusError as exc:
        raise StartupError(f"注册表中没有模型，也无法训练默认模型，服务未启动：{exc}") from exc
    serving = check_model(settings, version)
    check_database(settings)
    say(
        f"模型 {version}，台账 {make_url(settings.db_url).render_as_string(hide_password=True)}；网页 http://{host}:{port}/ ，接口文档 /docs；按 Ctrl+C 停止服务"
    )
    if workers == 1:
        app = create_app(settings, serving=serving)
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    export_settings(settings)
    uvicorn.run(
        "router.api.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )
