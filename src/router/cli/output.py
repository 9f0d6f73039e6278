"""What every command shares: the consoles, the exit codes, failing in one Chinese sentence."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from router.settings import Settings

err = Console(stderr=True, soft_wrap=True)  # a sentence is never cut at 80 columns in a log
out = Console()

EXIT_INPUT = 2
EXIT_FAILURE = 1


def fail(message: str, code: int = EXIT_FAILURE) -> typer.Exit:
    err.print(f"[bold red]错误：[/]{message}")
    return typer.Exit(code)


def say(message: str) -> None:
    err.print(f"[dim]{message}[/]")


def serving_router(settings: Settings) -> Any:
    from router.learn.dataset import CorpusError
    from router.learn.load import load_router
    from router.learn.registry import RegistryError

    try:
        return load_router(settings, say=say)
    except (RegistryError, CorpusError) as exc:
        raise fail(str(exc)) from exc
