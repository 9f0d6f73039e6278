"""JSON lines in, one decision (or one error object) per line out: `router route --jsonl`.

A bad line is answered by its own error object and never stops the stream; lines are routed
in chunks so that output keeps pace with input, and a large chunk uses both cores.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator

from router.core.routing import Router, route_many_json
from router.core.text import clean_text

CHUNK = 4000  # lines routed together: large enough to use both cores, small enough to stream
_FORK_FROM = 1000  # a chunk this long is worth forking for

Item = tuple[str | None, str | None]


def jsonl_items(lines: Iterable[bytes | str]) -> Iterator[tuple[int, Item | str]]:
    """Each input line as (title, content), or as the Chinese reason it cannot be read.

    Lines may be bytes (standard input read as such): one that is not UTF-8 is an error of
    its own, not the end of the input.
    """
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


def route_jsonl(router: Router, lines: Iterable[bytes | str], chunk: int = CHUNK) -> Iterator[str]:
    """The output for each chunk of input lines, as one block of text ending in a newline."""
    pending: list[tuple[int, Item | str]] = []
    processes = min(2, os.cpu_count() or 1)

    def error(n: int, message: str) -> str:
        return json.dumps({"line": n, "error": {"message": message}}, ensure_ascii=False)

    def decide(good: list[Item]) -> list[tuple[bool, str]]:
        try:
            return list(route_many_json(router, good, processes if len(good) >= _FORK_FROM else 1))
        except Exception:  # noqa: BLE001 - one line broke the chunk: route them one by one
            out: list[tuple[bool, str]] = []
            for item in good:
                try:
                    out.extend(route_many_json(router, [item], 1))
                except Exception as exc:  # noqa: BLE001 - that line's own error object
                    out.append((False, f"无法分办：{type(exc).__name__}"))
            return out

    def flush() -> str:
        good = [item for _, item in pending if not isinstance(item, str)]
        decided = iter(decide(good))
        lines = []
        for n, item in pending:
            if isinstance(item, str):
                lines.append(error(n, item))
                continue
            ok, payload = next(decided)
            lines.append(payload if ok else error(n, payload))
        pending.clear()
        return "\n".join(lines) + "\n" if lines else ""

    for n, item in jsonl_items(lines):
        pending.append((n, item))
        if len(pending) >= chunk:
            yield flush()
    block = flush()
    if block:
        yield block
