"""`router serve`: the web service."""

from __future__ import annotations

from typing import Annotated

import typer

from router.cli.output import EXIT_FAILURE, EXIT_INPUT, fail, say
from router.settings import get_settings


def serve(
    host: Annotated[str | None, typer.Option(help="监听地址，默认 127.0.0.1（仅本机）")] = None,
    port: Annotated[int | None, typer.Option(help="端口，默认 8000")] = None,
    workers: Annotated[int | None, typer.Option(help="工作进程数，默认 1")] = None,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev", help="本地开发模式：未设置 ROUTER_API_TOKEN 时写操作无需令牌，仅供本机试用"
        ),
    ] = False,
) -> None:
    """启动分办服务：网页 http://127.0.0.1:8000/ ，接口 /api/v1，文档 /docs。"""
    from router.api.app import ConfigError
    from router.api.server import StartupError, run
    from router.learn.registry import RegistryError

    try:
        run(get_settings(), host, port, workers, dev, say=say)
    except (ConfigError, RegistryError, StartupError) as exc:
        raise fail(str(exc), EXIT_INPUT if isinstance(exc, ConfigError) else EXIT_FAILURE) from exc
