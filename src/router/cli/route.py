"""`router route`: one proposal, or JSON lines from standard input."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from router.cli.output import EXIT_INPUT, fail, out, serving_router
from router.files import os_reason
from router.settings import get_settings


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
    from router.core.jsonl import route_jsonl
    from router.core.routing import route as do_route
    from router.core.suggestion import InputError

    settings = get_settings()
    if jsonl:
        if text or file or title:
            raise fail("--jsonl 从标准输入读取，不能同时给出正文、--title 或 --file。", EXIT_INPUT)
        router = serving_router(settings)
        for block in route_jsonl(router, sys.stdin.buffer):
            sys.stdout.write(block)
            sys.stdout.flush()
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
