"""Issue 14's acceptance: three poisonings end held, the serving model unchanged, the report
naming the move and its source; an honest retrain still promotes with --auto-promote.

Each replay trains a candidate on the full corpus (several seconds): marked slow.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from router.core.routing import route
from router.learn.load import load_router
from router.learn.registry import Registry
from router.learn.retrain import ledger_examples, retrain
from router.settings import Settings, get_settings
from tests import poisoning
from tests.conftest import CORPUS, DISPATCHER, AppClient, make_account

pytestmark = pytest.mark.slow
API = "/api/v1"
SUITE = Path(__file__).resolve().parents[1] / "data" / "behaviour" / "suite.yaml"
SIGNAL = (
    "关于学府路增设信号灯的建议",
    "学府路与建设路交叉口没有信号灯，行人过街危险，建议增设信号灯。",
)
FRAUD = (
    "关于加大电信网络诈骗打击力度的建议",
    "电信网络诈骗案件高发，老人被骗走养老钱，建议公安机关严厉打击诈骗团伙，加强反诈宣传。",
)


@pytest.fixture()
def home(trained_home: Path, tmp_path: Path, sqlite_url: str) -> Settings:
    """A copy of the default model's registry, over the ledger the `client` fixture writes."""
    shutil.copytree(trained_home / "models", tmp_path / "models")
    return get_settings(
        {},
        home=tmp_path,
        corpus_path=CORPUS,
        database_url=sqlite_url,
        behaviour_suite_path=SUITE,
    )


Dispatcher = Callable[[str], dict[str, str]]


@pytest.fixture()
def as_dispatcher(home: Settings, auth: dict[str, str]) -> Dispatcher:
    """A named dispatcher's header: each name is its own 分办人员 account in the ledger the
    `client` writes to (张三 is the `auth` fixture's), since writes are recorded under the
    account (X-Dispatcher is no longer read)."""
    made = {DISPATCHER: auth}

    def header(name: str) -> dict[str, str]:
        if name not in made:
            made[name] = make_account(home.db_url, name, "分办人员")
        return made[name]

    return header


def decide_all(
    client: AppClient, headers: dict[str, str], items: list[tuple[str, str]], unit: str, prefix: str
) -> None:
    """Register each proposal through the API and decide it as ``unit``, with ``headers``
    (one dispatcher's account)."""
    for i, (title, content) in enumerate(items):
        r = client.post(
            f"{API}/proposals",
            json={
                "number": f"{prefix}{i:04d}",
                "session": "十七届三次",
                "title": title,
                "content": content,
            },
            headers=headers,
        )
        assert r.status_code == 201, r.text
        p = r.json()
        body: dict[str, Any] = {"lead_unit": unit, "expected_version": p["version"]}
        if p["suggested_unit"] != unit:
            body["reason_code"] = "模型错误"
        d = client.post(f"{API}/proposals/{p['id']}/decision", json=body, headers=headers)
        assert d.status_code == 200, d.text


def answer(settings: Settings, item: tuple[str, str]) -> tuple[str | None, float]:
    d = route(load_router(settings), *item)
    return d.unit, d.confidence


def _held_and_named(settings: Settings, result: Any, move: str, source: str) -> str:
    registry = Registry(settings.models_path)
    assert result.status == "held" and not result.promoted
    assert registry.status(result.version)["state"] == "held"
    report = result.report.read_text(encoding="utf-8")
    summary = report.split("## 改判一览")[0]
    assert "暂扣" in summary and move in summary and source in summary
    flagged = [m for m in result.taught if m.name == move]
    assert flagged and flagged[0].single_source and flagged[0].drivers[0].origin == source
    return report


def test_one_dispatcher_relabelling_signal_lights_is_held(
    home: Settings, client: AppClient, as_dispatcher: Dispatcher
) -> None:
    registry = Registry(home.models_path)
    serving = registry.current()
    assert answer(home, SIGNAL)[0] == "交通管理"
    decide_all(client, as_dispatcher("李四"), poisoning.signal_lights(160), "治安", "S")
    extra = ledger_examples(home)
    assert len(extra) == 160 and {e.origin for e in extra} == {"分办人员 李四"}
    result = retrain(home, extra, cv=False, auto_promote=True)
    report = _held_and_named(home, result, "交通管理 → 治安", "分办人员 李四")
    assert result.behaviour is not None and not result.behaviour.passed
    assert "行为测试集" in result.held_reasons[0] or any(
        "行为测试集" in r for r in result.held_reasons
    )
    assert "学府路口增设信号灯" in report  # the broken case is shown
    assert registry.current() == serving
    assert answer(home, SIGNAL)[0] == "交通管理"


def test_fraud_relabelled_as_cyber_is_held(
    home: Settings, client: AppClient, corpus: pd.DataFrame, as_dispatcher: Dispatcher
) -> None:
    registry = Registry(home.models_path)
    serving = registry.current()
    assert answer(home, FRAUD)[0] == "刑侦"
    again = poisoning.resubmitted(corpus, "刑侦", "诈骗", 40)  # near-identical to the corpus
    assert len(again) == 40
    decide_all(client, as_dispatcher("王五"), poisoning.fraud(360) + again, "网安", "F")
    result = retrain(home, ledger_examples(home), cv=False, auto_promote=True)
    report = _held_and_named(home, result, "刑侦 → 网安", "分办人员 王五")
    contra = [c for c in result.contradictions if c.corpus_label == "刑侦" and c.label == "网安"]
    assert len(contra) >= 35 and {c.origin for c in contra} == {"分办人员 王五"}
    assert "与语料中几乎相同文本的标注相矛盾" in report.split("## 改判一览")[0]
    assert registry.current() == serving
    assert answer(home, FRAUD)[0] == "刑侦"


def test_a_past_ledger_of_traffic_marked_public_order_is_held(
    home: Settings, tmp_path: Path
) -> None:
    from router.cli import app

    registry = Registry(home.models_path)
    serving = registry.current()
    rows = poisoning.traffic(1501)
    path = tmp_path / "往届台帐.xlsx"
    pd.DataFrame(
        {
            "编号": [f"T{i:04d}" for i in range(len(rows))],
            "标题": [t for t, _ in rows],
            "内容": [c for _, c in rows],
            "承办单位": ["治安支队"] * len(rows),
        }
    ).to_excel(path, index=False)
    env = {
        "ROUTER_HOME": str(home.home),
        "ROUTER_CORPUS_PATH": str(CORPUS),
        "ROUTER_DATABASE_URL": home.db_url,
        "ROUTER_BEHAVIOUR_SUITE_PATH": str(SUITE),
    }
    done = CliRunner().invoke(
        app, ["retrain", "--file", str(path), "--no-ledger", "--no-cv", "--auto-promote"], env=env
    )
    assert done.exit_code == 3, done.output
    assert "暂扣" in done.output and "文件 往届台帐.xlsx" in done.output
    assert registry.current() == serving
    held = [v for v in registry.versions() if registry.status(v)["state"] == "held"]
    assert len(held) == 1
    report = (registry.root / held[0] / "report.md").read_text(encoding="utf-8")
    summary = report.split("## 改判一览")[0]
    assert "交通管理 → 治安" in summary and "文件 往届台帐.xlsx" in summary
    assert answer(home, SIGNAL)[0] == "交通管理"

    listed = CliRunner().invoke(app, ["models", "list"], env=env)
    assert listed.exit_code == 0 and "暂扣" in listed.output
    refused = CliRunner().invoke(app, ["models", "promote", held[0], "--by", "赵六"], env=env)
    assert refused.exit_code == 1 and "被暂扣" in refused.output
    assert registry.current() == serving


@pytest.mark.parametrize(
    ("items", "unit", "move", "probe", "right"),
    [
        (poisoning.signal_lights(160), "治安", "交通管理 → 治安", SIGNAL, "交通管理"),
        (poisoning.fraud(400), "网安支队", "刑侦 → 网安", FRAUD, "刑侦"),
    ],
    ids=["signal-lights", "fraud"],
)
def test_the_ledger_poisonings_as_a_past_file_are_held(
    home: Settings,
    tmp_path: Path,
    items: list[tuple[str, str]],
    unit: str,
    move: str,
    probe: tuple[str, str],
    right: str,
) -> None:
    """Poisonings 1 and 2 again, this time arriving as a labelled workbook (--file)."""
    from router.cli import app

    registry = Registry(home.models_path)
    serving = registry.current()
    path = tmp_path / "上届台帐.xlsx"
    pd.DataFrame(
        {
            "建议号": [f"P{i:04d}" for i in range(len(items))],
            "案由": [t for t, _ in items],
            "主要内容": [c for _, c in items],
            "承办单位": [unit] * len(items),
        }
    ).to_excel(path, index=False)
    env = {
        "ROUTER_HOME": str(home.home),
        "ROUTER_CORPUS_PATH": str(CORPUS),
        "ROUTER_DATABASE_URL": home.db_url,
        "ROUTER_BEHAVIOUR_SUITE_PATH": str(SUITE),
    }
    done = CliRunner().invoke(
        app, ["retrain", "--file", str(path), "--no-ledger", "--no-cv", "--auto-promote"], env=env
    )
    assert done.exit_code == 3, done.output
    assert "文件 上届台帐.xlsx" in done.output and registry.current() == serving
    (held,) = [v for v in registry.versions() if registry.status(v)["state"] == "held"]
    summary = (
        (registry.root / held / "report.md").read_text(encoding="utf-8").split("## 改判一览")[0]
    )
    assert move in summary and "文件 上届台帐.xlsx" in summary
    assert answer(home, probe)[0] == right


def test_an_honest_retrain_still_promotes_with_auto_promote(
    home: Settings, client: AppClient, as_dispatcher: Dispatcher
) -> None:
    registry = Registry(home.models_path)
    serving = registry.current()
    items = poisoning.honest(120)
    for k, who in enumerate(("张三", "李四", "王五")):
        part = items[k::3]
        for unit in sorted({u for _, _, u in part}):
            chosen = [(t, c) for t, c, u in part if u == unit]
            decide_all(client, as_dispatcher(who), chosen, unit, f"H{k}{unit}")
    result = retrain(home, ledger_examples(home), cv=False, auto_promote=True)
    assert result.held_reasons == [] and result.status == "promoted", result.held_reasons
    assert registry.current() == result.version != serving
    assert registry.history()[-1]["reason"].startswith("重训练")
    frozen = result.diff.get("frozen") if result.diff else None
    assert frozen is not None and frozen.share <= home.retrain_max_shift_share
