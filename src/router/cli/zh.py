"""Chinese for the command line's own words: click's and typer's usage errors and help.

click marks its messages with gettext (``_("Missing argument")``) but ships no Chinese
catalogue, and the click that typer vendors writes them as plain f-strings. :func:`install`
points the ``_``/``ngettext`` click's modules call at :data:`ZH`, resets typer's panel
titles, puts 用法 before the usage line and the help option's text in Chinese, and turns an
error's message into Chinese by the patterns in :data:`ERRORS` just before typer prints it.
A message matched by nothing stays as it was (English): a newer typer can add English,
never break the command line.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from typing import Any

ZH: dict[str, str] = {
    # usage and errors (click.exceptions, click.core, click.parser, click.types)
    "Usage:": "用法：",
    "Try '{command} {option}' for help.": "请用“{command} {option}”查看帮助。",
    "Error: {message}": "错误：{message}",
    "Aborted!": "已中止。",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Missing command.": "缺少命令。",
    "No such command {name!r}.": "没有“{name}”这个命令。",
    "No such option {name!r}.": "没有 {name!r} 这个选项。",
    "No such option: {name}": "没有 {name} 这个选项。",
    "Invalid value: {message}": "取值无效：{message}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的取值无效：{message}",
    "Option {name!r} does not take a value.": "选项 {name!r} 不带值。",
    "Option {name!r} requires an argument.": "选项 {name!r} 需要一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name!r} 需要 {nargs} 个值。",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Got unexpected extra arguments ({args})": "多余的参数（{args}）",
    "Did you mean {possibility}?": "您是不是想用 {possibility}？",
    "(Did you mean one of: {possibilities}?)": "（您是不是想用其中之一：{possibilities}？）",
    "{value!r} is not {choice}.": "{value!r} 不是可选值 {choice}。",
    "{value!r} is not one of {choices}.": "{value!r} 不在可选值 {choices} 之中。",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的数字。",
    "{value!r} is not a valid boolean. Recognized values: {states}": "{value!r} 不是是/否值，可用：{states}",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是文件，不是文件夹。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是文件夹，不是文件。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 无法读取。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 无法写入。",
    "file": "文件",
    "directory": "文件夹",
    "path": "路径",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "argument": "参数",
    "option": "选项",
    "parameter": "参数",
    # help
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本并退出。",
    "Options": "选项",
    "Commands": "命令",
    "Positional arguments": "参数",
    "Arguments": "参数",
    "Error": "错误",
    "Aborted.": "已中止。",
    "(deprecated) ": "（已弃用）",
    "deprecated": "已弃用",
    "[default: {}]": "[默认：{}]",
    "[env var: {}]": "[环境变量：{}]",
    "[required]": "[必填]",
    "default: {default}": "默认：{default}",
    "env var: {var}": "环境变量：{var}",
    "required": "必填",
    "Try [blue]'{command_path} {help_option}'[/] for help.": "请用 [blue]“{command_path} {help_option}”[/] 查看帮助。",
}

_MODULES = (
    "click.core",
    "click.exceptions",
    "click.formatting",
    "click.parser",
    "click.types",
    "click.decorators",
    "click.termui",
    "typer.core",
    "typer.main",
    "typer.rich_utils",
)
_TYPER_CONSTANTS = {
    "DEPRECATED_STRING": "(deprecated) ",
    "DEFAULT_STRING": "[default: {}]",
    "ENVVAR_STRING": "[env var: {}]",
    "REQUIRED_LONG_STRING": "[required]",
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commands",
    "ERRORS_PANEL_TITLE": "Error",
    "ABORTED_TEXT": "Aborted.",
    "RICH_HELP": "Try [blue]'{command_path} {help_option}'[/] for help.",
}


def gettext(message: str) -> str:
    return ZH.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


_VALUE = [
    (re.compile(r"Input should be a valid integer.*", re.S), "应为整数"),
    (re.compile(r"Input should be a valid number.*", re.S), "应为数字"),
    (re.compile(r"'(.+)' is not a valid (?:integer|int)\.?"), "“\\1”不是整数"),
    (re.compile(r"'(.+)' is not a valid float\.?"), "“\\1”不是数字"),
    (re.compile(r"'(.+)' is not one of (.+?)\.?$"), "“\\1”不在可选值 \\2 之中"),
    (re.compile(r"'(.+)' is not (.+?)\.?$"), "“\\1”不是可选值 \\2"),
    (re.compile(r"(?:File|Path) '(.+)' does not exist\.?"), "文件“\\1”不存在"),
    (re.compile(r"Directory '(.+)' does not exist\.?"), "文件夹“\\1”不存在"),
    (re.compile(r"(?:File|Path) '(.+)' is a directory\.?"), "“\\1”是文件夹，不是文件"),
    (re.compile(r"(?:File|Path) '(.+)' is not readable\.?"), "文件“\\1”无法读取"),
]
ERRORS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"Missing (argument|option|parameter) '?([^'.]+)'?\.?(.*)", re.S),
        lambda m: f"缺少{'选项' if m[1] == 'option' else '参数'} {m[2]}。",
    ),
    (re.compile(r"No such command '(.+)'\."), lambda m: f"没有“{m[1]}”这个命令。"),
    (
        re.compile(r"No such option: (\S+)(?:\s+Did you mean (.+?)\?)?\s*$"),
        lambda m: f"没有 {m[1]} 这个选项。" + (f"是不是 {m[2]}？" if m[2] else ""),
    ),
    (
        re.compile(r"Invalid value for (.+?): (.*)", re.S),
        lambda m: f"{m[1]} 的取值无效：{_value(m[2])}。",
    ),
    (re.compile(r"Invalid value: (.*)", re.S), lambda m: f"取值无效：{_value(m[1])}。"),
    (
        re.compile(r"Got unexpected extra (?:arguments?|argument\(s\)) \((.+)\)"),
        lambda m: f"多余的参数：{m[1]}（含空格的文字请加引号）。",
    ),
    (re.compile(r"Option '(.+)' requires an argument\."), lambda m: f"选项 {m[1]} 需要一个值。"),
    (re.compile(r"Option '(.+)' does not take a value\."), lambda m: f"选项 {m[1]} 不带值。"),
    (re.compile(r"Missing command\."), lambda m: "缺少命令。"),
]


def _value(text: str) -> str:
    for pattern, repl in _VALUE:
        if pattern.fullmatch(text.strip()):
            return pattern.sub(repl, text.strip())
    return text.strip().rstrip(".")


def translate_error(message: str) -> str:
    """A click/typer usage error in Chinese; unknown ones unchanged."""
    text = message.strip()
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return message  # already ours
    for pattern, make in ERRORS:
        m = pattern.fullmatch(text)
        if m:
            return make(m)
    return message


def _patch_typer() -> None:
    try:
        from typer import rich_utils
        from typer._click import core as tcore
        from typer._click import exceptions as texc
        from typer._click import formatting as tfmt
    except ImportError:  # another typer: only click's gettext applies
        return
    if getattr(rich_utils, "_router_zh", False):
        return
    original_error = rich_utils.rich_format_error

    @functools.wraps(original_error)
    def rich_format_error(self: Any) -> None:
        message = translate_error(self.format_message())
        self.format_message = lambda: message
        original_error(self)

    rich_utils.rich_format_error = rich_format_error
    original_show = texc.ClickException.show

    def show(self: Any, file: Any = None) -> None:
        message = translate_error(self.format_message())
        self.format_message = lambda: message
        original_show(self, file)

    texc.ClickException.show = show  # type: ignore[method-assign]
    original_usage = tfmt.HelpFormatter.write_usage

    def write_usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        original_usage(self, prog, args, "用法：" if prefix is None else prefix)

    tfmt.HelpFormatter.write_usage = write_usage  # type: ignore[method-assign]
    original_help = tcore.Command.get_help_option

    def get_help_option(self: Any, ctx: Any) -> Any:
        option = original_help(self, ctx)
        if option is not None and option.help == "Show this message and exit.":
            option.help = "显示本帮助并退出。"
        return option

    tcore.Command.get_help_option = get_help_option  # type: ignore[method-assign]
    rich_utils._router_zh = True  # type: ignore[attr-defined]


def install() -> None:
    """Make click's and typer's messages Chinese in this process (idempotent)."""
    _patch_typer()
    patches: dict[str, Callable[..., str]] = {"_": gettext, "ngettext": ngettext}
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attr, fn in patches.items():
            if hasattr(module, attr):
                setattr(module, attr, fn)
        if name == "typer.rich_utils":
            for attr, english in _TYPER_CONSTANTS.items():
                if hasattr(module, attr):
                    setattr(module, attr, gettext(english))
