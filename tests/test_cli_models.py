"""router models promote --by / rollback / list / diff, and router calibrate below its minimum."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from router.cli import app
from router.learn.registry import Registry
from tests.conftest import CORPUS

SUITE = Path(__file__).resolve().parents[1] / "data" / "behaviour" / "suite.yaml"
runner = CliRunner()


@pytest.fixture()
def env(small_trained_home: Path, tmp_path: Path) -> dict[str, str]:
    """A home with the small model: these commands move versions about, which any model shows
    (saving another version of the small one is a fifth of the full one's time)."""
    shutil.copytree(small_trained_home / "models", tmp_path / "models")
    return {
        "ROUTER_HOME": str(tmp_path),
        "ROUTER_CORPUS_PATH": str(CORPUS),
        "ROUTER_BEHAVIOUR_SUITE_PATH": str(SUITE),
        "ROUTER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
    }


def _two_more(env: dict[str, str]) -> tuple[Registry, str, str, str]:
    registry = Registry(Path(env["ROUTER_HOME"]) / "models")
    first = registry.current()
    assert first is not None
    model = registry.load(first).model
    return (
        registry,
        first,
        registry.save(model, {}, {}, tag="b"),
        registry.save(model, {}, {}, tag="c"),
    )


def test_promote_by_a_person_and_roll_back_twice(env: dict[str, str]) -> None:
    registry, first, second, third = _two_more(env)
    r = runner.invoke(
        app, ["models", "promote", second, "--by", "张科长", "--reason", "周报审核"], env=env
    )
    assert r.exit_code == 0 and "张科长" in r.output
    r = runner.invoke(app, ["models", "promote", third], env=env)  # the OS user is recorded
    assert r.exit_code == 0
    assert (
        registry.history()[-2]["by"] == "张科长" and registry.history()[-2]["reason"] == "周报审核"
    )
    assert registry.history()[-1]["by"]
    r = runner.invoke(app, ["models", "rollback", "--by", "李处长"], env=env)
    assert r.exit_code == 0 and second in r.output
    r = runner.invoke(app, ["models", "rollback"], env=env)
    assert r.exit_code == 0 and first in r.output
    assert registry.current() == first
    r = runner.invoke(app, ["models", "rollback"], env=env)
    assert r.exit_code == 1 and "没有可以回退" in r.output
    listed = runner.invoke(app, ["models", "list"], env=env)
    assert listed.exit_code == 0 and "启用链" in listed.output


def test_a_held_candidate_needs_force_and_is_recorded_as_forced(env: dict[str, str]) -> None:
    registry = Registry(Path(env["ROUTER_HOME"]) / "models")
    serving = registry.current()
    assert serving is not None
    meta = {"retrain": {"status": "held", "held_reasons": ["行为测试集有 2 条未通过"]}}
    held = registry.save(registry.load(serving).model, meta, {}, tag="rt")
    r = runner.invoke(app, ["models", "promote", held, "--by", "王五"], env=env)
    assert r.exit_code == 1 and "行为测试集有 2 条未通过" in r.output
    assert registry.current() == serving
    r = runner.invoke(
        app, ["models", "promote", held, "--by", "王五", "--force", "--reason", "已核对"], env=env
    )
    assert r.exit_code == 0 and registry.current() == held
    assert registry.history()[-1]["forced"] is True and registry.history()[-1]["by"] == "王五"


def test_unknown_version_is_refused_in_chinese(env: dict[str, str]) -> None:
    r = runner.invoke(app, ["models", "promote", "v20990101-000000"], env=env)
    assert r.exit_code == 1 and "不存在" in r.output


@pytest.mark.slow
def test_models_diff_prints_the_three_sets(env: dict[str, str]) -> None:
    _, first, second, _ = _two_more(env)
    r = runner.invoke(app, ["models", "diff", first, second, "--json"], env=env)
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert [s["name"] for s in body["sets"]] == ["frozen", "behaviour", "recent"]
    assert all(s["moved"] == 0 for s in body["sets"])  # same weights, nothing moves


def test_calibrate_keeps_the_shipped_values_below_the_minimum(env: dict[str, str]) -> None:
    r = runner.invoke(app, ["calibrate"], env=env)
    assert r.exit_code == 0, r.output
    assert "少于 300 件" in r.output and "沿用" in r.output


def test_grow_eval_adds_a_checked_ledger_once(env: dict[str, str], tmp_path: Path) -> None:
    """The frozen evaluation set grows only when asked, by a file, and never twice by one text."""
    import csv

    from router.learn.retrain import eval_path
    from router.settings import get_settings

    ledger = tmp_path / "已核定台账.csv"
    with ledger.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["编号", "标题", "内容", "承办单位"])
        w.writerow(
            ["1", "关于东湖小区增设路口信号灯的建议", "东湖小区门口路口没有信号灯。", "交警支队"]
        )
        w.writerow(["2", "关于加强辅警社保缴纳的建议", "部分辅警社保基数偏低。", "辅警"])
    settings = get_settings(env)
    first = runner.invoke(app, ["models", "grow-eval", str(ledger)], env=env)
    assert first.exit_code == 0, first.output
    assert "新增 2 条" in first.output
    size = len(eval_path(settings).read_text("utf-8-sig").splitlines())
    again = runner.invoke(app, ["models", "grow-eval", str(ledger)], env=env)
    assert again.exit_code == 0 and "新增 0 条" in again.output
    assert len(eval_path(settings).read_text("utf-8-sig").splitlines()) == size
    missing = runner.invoke(app, ["models", "grow-eval", str(tmp_path / "无.xlsx")], env=env)
    assert missing.exit_code == 2 and "无法读取" in missing.output
