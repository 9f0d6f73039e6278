"""Every command-line message is Chinese: usage errors, help, file errors, a taken port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.cli import app
from router.cli.zh import translate_error

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["batch"], "缺少参数 INPUT"),
        (["nosuch"], "没有“nosuch”这个命令"),
        (["batch", "--nope", "x.xlsx"], "没有 --nope 这个选项"),
        (["serve", "--port", "abc"], "的取值无效：应为整数"),
        (["route", "a", "b", "c"], "多余的参数：b c"),
    ],
)
def test_usage_errors_are_chinese(args: list[str], expected: str) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    text = r.output
    assert expected in text, text
    assert "用法：" in text and "查看帮助" in text
    for english in ("Usage:", "Missing", "No such", "Try '", "Error", "Invalid value"):
        assert english not in text, text


@pytest.mark.parametrize("args", [["--help"], ["batch", "--help"], ["models", "--help"]])
def test_help_is_chinese(args: list[str]) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 0
    assert "用法：" in r.output and "显示本帮助并退出" in r.output
    for english in ("Usage:", "Show this message", "Options", "Commands", "Arguments"):
        assert english not in r.output, r.output


def test_a_missing_file_says_why_in_chinese(tmp_path: Path) -> None:
    r = runner.invoke(app, ["route", "--file", str(tmp_path / "无此文件.txt")])
    assert r.exit_code == 2
    assert "文件或文件夹不存在" in r.output and "No such file" not in r.output


def test_unknown_messages_are_left_alone() -> None:
    assert translate_error("something new") == "something new"
    assert translate_error("缺少参数 X。") == "缺少参数 X。"


def test_a_taken_port_is_a_chinese_sentence() -> None:
    from router.api.app import ConfigError
    from router.api.server import _check_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"端口 {port} 已被占用"):
            _check_port("127.0.0.1", port)
