from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from router.cli import app
from router.settings import Settings

runner = CliRunner()


@pytest.fixture()
def env(settings: Settings) -> dict[str, str]:
    return {"ROUTER_HOME": str(settings.home), "ROUTER_CORPUS_PATH": str(settings.corpus)}


def test_route_prints_a_chinese_summary(env: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["route", "--title", "关于提高辅警待遇的建议", "辅警工资太低"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "建议承办单位：辅警" in result.output
    assert "模型版本" in result.output


def test_route_json_has_the_contract_fields(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["route", "--json", "加大电信网络诈骗打击力度"], env=env)
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    for key in (
        "unit",
        "confidence",
        "alternatives",
        "co_units",
        "jurisdiction",
        "departments",
        "evidence",
        "needs_review",
        "model_version",
    ):
        assert key in d
    assert d["unit"] == "刑侦"


def test_route_reads_a_file(env: dict[str, str], tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "p.txt"
    path.write_text("\ufeff小区楼道内电动车充电，火灾隐患大，消防通道被堵。", encoding="utf-8")
    result = runner.invoke(app, ["route", "--json", "--file", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["jurisdiction"] == "outside"


def test_jsonl_keeps_every_line_in_order(env: dict[str, str]) -> None:
    lines = [
        json.dumps({"title": "关于提高辅警待遇的建议", "content": ""}, ensure_ascii=False),
        "not json",
        json.dumps({"title": "", "content": ""}),
        json.dumps([1, 2]),
        json.dumps({"title": 3}),
        "",
        json.dumps({"content": "加大电信网络诈骗打击力度"}, ensure_ascii=False),
    ]
    result = runner.invoke(app, ["route", "--jsonl"], input="\n".join(lines) + "\n", env=env)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(lines)
    assert rows[0]["unit"] == "辅警"
    assert [r["line"] for r in rows[1:6]] == [2, 3, 4, 5, 6]
    assert all("error" in r for r in rows[1:6])
    assert "不能同时为空" in rows[2]["error"]["message"]
    assert rows[6]["unit"] == "刑侦"


@pytest.mark.parametrize("args", [["route", ""], ["route", "   "]])
def test_empty_text_exits_non_zero_with_a_sentence(env: dict[str, str], args: list[str]) -> None:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2
    assert "不能同时为空" in result.output


def test_missing_file_is_a_clear_error(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["route", "--file", "/nonexistent/x.txt"], env=env)
    assert result.exit_code == 2
    assert "无法读取文件" in result.output


def test_evaluate_prints_the_figures(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["evaluate"], env=env)
    assert result.exit_code == 0, result.output
    for label in ("宏 F1（全文）", "宏 F1（仅标题）", "ECE", "95% 准确率下可批量确认"):
        assert label in result.output


def test_models_list_marks_the_serving_version(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["models", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert "✔" in result.output


@pytest.mark.slow  # runs the command as a fresh process
def test_jsonl_on_both_cores_matches_one_core_line_for_line(
    env: dict[str, str], corpus: object, router: object
) -> None:
    """Over 1,000 lines the command forks; its output must equal the serial result exactly."""
    import os
    import subprocess
    import sys

    from router.core.routing import route_many_json

    rows = corpus.head(1500)  # type: ignore[attr-defined]
    items = list(zip(rows["title"], rows["content"], strict=True))
    lines = [json.dumps({"title": t, "content": c}, ensure_ascii=False) for t, c in items]
    lines[10] = "{broken"
    lines[1200] = json.dumps({"title": "", "content": " "})
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "route", "--jsonl"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    out = done.stdout.splitlines()
    assert len(out) == len(lines)
    assert json.loads(out[10])["line"] == 11 and json.loads(out[1200])["line"] == 1201
    good = [i for i in range(len(lines)) if i not in (10, 1200)]
    serial = route_many_json(router, [items[i] for i in good], processes=1)  # type: ignore[arg-type]
    assert [out[i] for i in good] == [payload for _, payload in serial]
