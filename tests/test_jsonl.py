"""JSON lines routing (router.core.jsonl): every line answered in order, bad lines by an error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.core import jsonl
from router.core.jsonl import jsonl_items, route_jsonl
from router.core.routing import Router


def _lines(blocks: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in "".join(blocks).splitlines()]


def test_each_bad_line_has_its_own_reason() -> None:
    lines = [
        '\ufeff{"title": "路灯", "content": "学府路路灯不亮"}'.encode(),
        b"\xff\xfe",
        b"   ",
        b"not json",
        b"[1, 2]",
        b'{"content": 3}',
        b'{"content": "\\ud800"}',
        '{"content": "增设信号灯"}',
    ]
    items = list(jsonl_items(lines))
    assert [n for n, _ in items] == list(range(1, 9))
    assert items[0][1] == ("路灯", "学府路路灯不亮")
    assert items[1][1] == "不是 UTF-8 编码的文字"
    assert items[2][1] == "空行"
    assert str(items[3][1]).startswith("不是合法的 JSON：")
    assert items[4][1] == "每行应是一个 JSON 对象，含 title 和 content"
    assert items[5][1] == "title 和 content 必须是字符串"
    assert isinstance(items[6][1], str)
    assert items[7][1] == (None, "增设信号灯")


def test_chunks_stream_and_join_to_the_whole(router: Router) -> None:
    lines = [
        json.dumps({"content": f"建议交警在第{i}路口增设信号灯"}, ensure_ascii=False)
        for i in range(7)
    ]
    lines[4] = "{broken"
    blocks = list(route_jsonl(router, lines, chunk=3))
    assert len(blocks) == 3 and all(b.endswith("\n") for b in blocks)
    assert blocks == list(route_jsonl(router, lines, chunk=3))
    whole = list(route_jsonl(router, lines))
    assert len(whole) == 1 and "".join(blocks) == whole[0]
    out = _lines(blocks)
    assert out[4] == {"line": 5, "error": {"message": out[4]["error"]["message"]}}
    assert all("unit" in o for i, o in enumerate(out) if i != 4)
    assert list(route_jsonl(router, [])) == []


def test_a_line_that_breaks_its_chunk_is_routed_alone(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = jsonl.route_many_json

    def fragile(r: Router, items: list[Any], processes: int = 1) -> list[tuple[bool, str]]:
        if any(content == "坏" for _, content in items):
            if len(items) > 1:
                raise RuntimeError("the chunk breaks")
            raise KeyError("this line")
        return real(r, items, processes)

    monkeypatch.setattr(jsonl, "route_many_json", fragile)
    lines = ['{"content": "建议交警增设信号灯"}', '{"content": "坏"}', '{"content": "路灯不亮"}']
    out = _lines(list(route_jsonl(router, lines)))
    assert "unit" in out[0] and "unit" in out[2]
    assert out[1] == {"line": 2, "error": {"message": "无法分办：KeyError"}}
