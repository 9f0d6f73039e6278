"""`router route`: one proposal, or JSON lines from standard input."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from router.cli.output import EXIT_INPUT, fail, out, serving_router
from router.files import os_reason
from router.settings import get_settings

_JSONL_CHUNK = 4000  # lines routed together: large enough to use both cores, small enough to stream


def route(
    text: Annotated[str | None, typer.Argument(help="建议正文（或标题+正文）")] = None,
    title: Annotated[str | None, typer.Option("--title", "-t", help="建议标题")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="从文本文件读取正文（UTF-8）")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出一个 JSON 对象")] = False,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="从标准输入逐行读取 JSON（title, content），逐行输出")
    ] = False,
) -> None:
    """为一条建议给出承办单位建议。"""
    from router.core.routing import route as do_route
    from router.core.suggestion import InputError

    settings = get_settings()
    if jsonl:
        if text or file or title:
            raise fail("--jsonl 从标准输入读取，不能同时给出正文、--title 或 --file。", EXIT_INPUT)
        router = serving_router(settings)
        _route_jsonl(router, sys.stdin.buffer, _JSONL_CHUNK)
        return
    content = text
    if file is not None:
        if text:
            raise fail("正文和 --file 只能给一个。", EXIT_INPUT)
        try:
            content = file.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise fail(f"无法读取文件 {file}：{os_reason(exc)}", EXIT_INPUT) from exc
        except UnicodeDecodeError as exc:
            raise fail(f"无法读取文件 {file}：不是 UTF-8 编码的文本", EXIT_INPUT) from exc
    router = serving_router(settings)
    try:
        decision = do_route(router, title, content)
    except InputError as exc:
        raise fail(str(exc), EXIT_INPUT) from exc
    if as_json:
        sys.stdout.write(decision.model_dump_json() + "\n")
    else:
        _print_decision(decision)


def _jsonl_items(lines: Any) -> Iterator[tuple[int, tuple[str | None, str | None] | str]]:
    """Each input line as (title, content), or as the Chinese reason it cannot be read.

    Lines may be bytes (standard input read as such): one that is not UTF-8 is an error of
    its own, not the end of the input.
    """
    from router.core.text import clean_text

    for n, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError:
                yield n, "不是 UTF-8 编码的文字"
                continue
        else:
            line = raw
        if not line.strip():
            yield n, "空行"
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield n, f"不是合法的 JSON：{getattr(exc, 'msg', '嵌套过深')}"
            continue
        if not isinstance(obj, dict):
            yield n, "每行应是一个 JSON 对象，含 title 和 content"
            continue
        title, content = obj.get("title"), obj.get("content")
        if not all(v is None or isinstance(v, str) for v in (title, content)):
            yield n, "title 和 content 必须是字符串"
            continue
        try:
            title = None if title is None else clean_text(title)
            content = None if content is None else clean_text(content)
        except ValueError as exc:
            yield n, str(exc)
            continue
        yield n, (title, content)


def _route_jsonl(router: Any, stream: Any, chunk: int) -> None:
    """Route in chunks (output keeps pace with input); large chunks use both cores."""
    from router.core.routing import route_many_json

    write = sys.stdout.write
    pending: list[tuple[int, tuple[str | None, str | None] | str]] = []
    processes = min(2, os.cpu_count() or 1)

    def error(n: int, message: str) -> str:
        return json.dumps({"line": n, "error": {"message": message}}, ensure_ascii=False)

    def decide(good: list[tuple[str | None, str | None]]) -> list[tuple[bool, str]]:
        try:
            return list(route_many_json(router, good, processes if len(good) >= 1000 else 1))
        except Exception:  # noqa: BLE001 - one line broke the chunk: route them one by one
            out: list[tuple[bool, str]] = []
            for item in good:
                try:
                    out.extend(route_many_json(router, [item], 1))
                except Exception as exc:  # noqa: BLE001 - that line's own error object
                    out.append((False, f"无法分办：{type(exc).__name__}"))
            return out

    def flush() -> None:
        good = [item for _, item in pending if not isinstance(item, str)]
        decided = iter(decide(good))
        lines = []
        for n, item in pending:
            if isinstance(item, str):
                lines.append(error(n, item))
                continue
            ok, payload = next(decided)
            lines.append(payload if ok else error(n, payload))
        write("\n".join(lines) + "\n" if lines else "")
        pending.clear()
        sys.stdout.flush()

    for n, item in _jsonl_items(stream):
        pending.append((n, item))
        if len(pending) >= chunk:
            flush()
    flush()


def _print_decision(d: Any) -> None:
    if d.jurisdiction == "outside":
        out.print(f"[bold yellow]非公安职责[/]（置信度 {d.confidence:.0%}）")
        out.print(f"建议转交：{'、'.join(d.departments) or '未能确定责任部门'}")
    else:
        out.print(
            f"建议承办单位：[bold green]{d.unit}[/]（{d.unit_name}），置信度 {d.confidence:.0%}"
        )
        if d.co_units:
            out.print(f"建议会办单位：{'、'.join(d.co_units)}")
        if d.jurisdiction == "partial":
            out.print(f"[yellow]部分内容非公安职责[/]，建议转交：{'、'.join(d.departments)}")
    if d.outside_parts:
        for p in d.outside_parts:
            out.print(f"  · {p.part} → {'、'.join(p.departments)}（依据：{'、'.join(p.words)}）")
    alts = "、".join(f"{a.unit} {a.confidence:.0%}" for a in d.alternatives)
    out.print(f"备选：{alts}")
    if d.top_terms:
        out.print(f"主要依据词：{'、'.join(t.term for t in d.top_terms)}")
    if d.needs_review:
        out.print(f"[bold red]需人工复核[/]：{'；'.join(d.review_reasons)}")
    else:
        out.print("可直接确认。")
    out.print(f"[dim]模型版本 {d.model_version}[/]")
