"""`router serve`: refuses to start without a token, passes settings on to worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.api import ConfigError
from router.api.server import app_from_env, export_settings, run
from router.cli import app
from router.settings import Settings, get_settings


def test_serve_refuses_to_start_without_a_token(settings: Settings) -> None:
    env = {"ROUTER_HOME": str(settings.home), "ROUTER_API_TOKEN": "", "ROUTER_DEV_MODE": "0"}
    result = CliRunner().invoke(app, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 2
    assert "ROUTER_API_TOKEN" in result.output and "--dev" in result.output


def test_run_checks_before_anything_else(settings: Settings) -> None:
    with pytest.raises(ConfigError):
        run(settings.model_copy(update={"api_token": None, "dev_mode": False}), port=1)


def test_development_mode_without_a_token_listens_on_this_machine_only(settings: Settings) -> None:
    dev = settings.model_copy(update={"api_token": None, "dev_mode": True})
    with pytest.raises(ConfigError, match="只能监听本机"):
        run(dev, host="0.0.0.0", port=1)


def test_settings_reach_the_worker_processes_through_the_environment(
    settings: Settings, tmp_path: Path
) -> None:
    original = settings.model_copy(
        update={
            "api_token": "a-long-enough-token-123",
            "dev_mode": True,
            "database_url": f"sqlite:///{tmp_path / 'x.db'}",
            "due_days": 60,
        }
    )
    env: dict[str, str] = {}
    export_settings(original, env)
    assert env["ROUTER_DEV_MODE"] == "1" and env["ROUTER_DUE_DAYS"] == "60"
    assert get_settings(env) == original


def test_the_worker_factory_builds_the_app_from_the_environment(
    settings: Settings, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = settings.model_copy(
        update={"api_token": "a-long-enough-token-123", "database_url": sqlite_url}
    )
    for key, value in {
        "ROUTER_HOME": str(configured.home),
        "ROUTER_API_TOKEN": "a-long-enough-token-123",
        "ROUTER_DATABASE_URL": sqlite_url,
    }.items():
        monkeypatch.setenv(key, value)
    built = app_from_env()
    assert built.state.settings.db_url == sqlite_url
