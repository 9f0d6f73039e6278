"""Retraining: data assembly, the no-regression gate, --force, the lock and crash safety."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from router.core.text import prepare
from router.labels import load_labels
from router.learn.dataset import load_corpus
from router.learn.registry import Registry
from router.learn.retrain import (
    Example,
    RetrainError,
    assemble,
    frozen_eval,
    gate,
    grow_eval,
    retrain,
)
from router.settings import Settings, get_settings

pytestmark = pytest.mark.slow  # every test here trains models


@pytest.fixture()
def home(small_trained_home: Path, small_corpus: Path, tmp_path: Path) -> Settings:
    """A copy of a trained home on the small corpus, so each test may promote freely."""
    shutil.copytree(small_trained_home / "models", tmp_path / "models")
    # The small evaluation set has 8 to 20 items per unit, so one item moves a unit's recall by
    # up to 12.5% and macro-F1 by about 0.01: refitting with one more example (a new split of
    # the calibration folds) moves that much. The small model is not held to the behaviour
    # suite (tests/test_poisoning.py uses the full one) nor to the shift limits: these tests
    # are about the gate and the registry; the gate's own arithmetic is tested above.
    return get_settings(
        {},
        home=tmp_path,
        corpus_path=small_corpus,
        retrain_recall_margin=0.13,
        retrain_macro_f1_margin=0.02,
        behaviour_suite_path=_tiny_suite(tmp_path),
        retrain_max_shift_share=1.0,
        retrain_max_move=10_000,
    )


def _tiny_suite(folder: Path) -> Path:
    path = folder / "suite.yaml"
    path.write_text(
        "mft:\n  - expect: 辅警\n    cases:\n"
        "      - {title: 关于提高辅警工资待遇的建议, content: 辅警工资低，建议提高辅警工资待遇。}\n",
        encoding="utf-8",
    )
    return path


def _bad_corrections(corpus: pd.DataFrame) -> list[Example]:
    """A dispatcher who sends every traffic proposal to 治安: a candidate that must be refused."""
    rows = corpus[corpus["label"] == "交通管理"]
    return [
        Example(t, c, "治安", "ledger") for t, c in zip(rows["title"], rows["content"], strict=True)
    ]


def test_assemble_dedupes_and_lets_the_dispatcher_win() -> None:
    labels = load_labels()
    examples = [
        Example("甲", "同一条建议", "治安", "corpus"),
        Example("甲", "同一条建议", "交通管理", "ledger"),
        Example("乙", "评估集里的建议", "刑侦", "ledger"),
        Example("丙", "旧单位名", "交警支队", "file"),
        Example("丁", "不认识的单位", "宣传处", "file"),
    ]
    df, counts = assemble(examples, {prepare("乙", "评估集里的建议")}, labels)
    assert dict(zip(df["text"], df["label"], strict=True)) == {
        "甲\n同一条建议": "交通管理",
        "丙\n旧单位名": "交通管理",
    }
    assert counts["corpus"]["duplicates"] == 1
    assert counts["ledger"] == {
        "gathered": 2,
        "unknown_label": 0,
        "in_eval_set": 1,
        "duplicates": 0,
        "used": 1,
    }
    assert counts["file"]["unknown_label"] == 1


def test_gate_names_the_unit_that_got_worse() -> None:
    serving = {
        "full": {"macro_f1": 0.90, "per_unit": {"刑侦": {"recall": 0.9}, "网安": {"recall": 0.8}}}
    }
    better = {
        "full": {
            "macro_f1": 0.895,
            "per_unit": {"刑侦": {"recall": 0.88}, "网安": {"recall": 0.85}},
        }
    }
    worse = {
        "full": {"macro_f1": 0.85, "per_unit": {"刑侦": {"recall": 0.7}, "网安": {"recall": 0.8}}}
    }
    assert gate(serving, better, 0.01, 0.05).passed
    verdict = gate(serving, worse, 0.01, 0.05)
    assert not verdict.passed
    assert any("宏 F1" in r for r in verdict.reasons)
    assert any(r.startswith("刑侦 召回率从 0.900 降到 0.700") for r in verdict.reasons)


def test_retrain_waits_for_a_person_unless_asked_to_promote(home: Settings) -> None:
    registry = Registry(home.models_path)
    before = registry.current()
    extra = [Example("关于给辅警发放夜班补贴的建议", "辅警夜班多，没有补贴。", "辅警", "ledger")]
    waiting = retrain(home, extra, cv=False)
    assert waiting.status == "pending" and not waiting.promoted
    assert registry.current() == before
    assert registry.status(waiting.version)["state"] == "pending"
    assert "待审批" in waiting.report.read_text(encoding="utf-8")

    result = retrain(home, extra, cv=False, auto_promote=True)
    assert result.verdict.passed and result.promoted and not result.forced
    assert result.status == "promoted"
    assert registry.current() == result.version != before
    assert registry.status(waiting.version)["state"] == "pending"  # still listed for a person
    assert result.counts["ledger"]["used"] == 1
    report = result.report.read_text(encoding="utf-8")
    assert "数据来源" in report and "交通管理" in report
    # a plain summary first, in the office's words, before any figure table
    assert report.index("## 结论") < report.index("## 冻结评估集上的对比") < report.index("宏 F1")
    assert "已启用" in report and "台账中的分办决定 1 条" in report and "| ledger |" not in report
    assert (registry.root / result.version / "confusion_matrix.png").is_file()


def test_worse_candidate_is_refused_then_forced(home: Settings) -> None:
    corpus = load_corpus(home.corpus)
    registry = Registry(home.models_path)
    before = registry.current()
    refused = retrain(home, _bad_corrections(corpus), cv=False, auto_promote=True)
    assert not refused.verdict.passed and not refused.promoted and refused.status == "held"
    assert registry.current() == before
    assert any(r.startswith("交通管理 召回率") for r in refused.verdict.reasons)
    assert refused.version in registry.versions()  # kept for inspection, not serving
    assert registry.status(refused.version)["state"] == "held"

    forced = retrain(home, _bad_corrections(corpus), cv=False, force=True)
    assert forced.promoted and forced.forced
    assert registry.current() == forced.version
    assert registry.history()[-1]["forced"] is True
    assert registry.metadata(forced.version)["retrain"]["forced"] is True
    assert "强制启用" in forced.report.read_text(encoding="utf-8")


def test_two_retrains_cannot_run_at_once(home: Settings) -> None:
    from filelock import FileLock

    with (
        FileLock(str(home.models_path / ".retrain.lock")),
        pytest.raises(RetrainError, match="正在进行"),
    ):
        retrain(home, cv=False)


def test_frozen_eval_set_grows_only_on_request(home: Settings) -> None:
    labels = load_labels()
    first = frozen_eval(home, labels)
    retrain(home, [Example("新的建议", "关于辅警", "辅警", "ledger")], cv=False)
    assert len(frozen_eval(home, labels)) == len(first)
    added = grow_eval(
        home,
        [
            Example("新增评估样本", "辅警工资", "辅警", "ledger"),
            Example(first["title"][0], first["content"][0], first["label"][0], "x"),
        ],
    )
    assert added == 1
    assert len(frozen_eval(home, labels)) == len(first) + 1


def test_a_killed_retrain_leaves_the_serving_model_as_it_was(home: Settings) -> None:
    registry = Registry(home.models_path)
    before, versions = registry.current(), registry.versions()
    env = {**os.environ, "ROUTER_HOME": str(home.home), "ROUTER_CORPUS_PATH": str(home.corpus)}
    for delay in (0.5, 1.5, 3.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "router.cli", "retrain", "--no-ledger"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if proc.poll() is not None:
            break  # finished before we could kill it: a complete run, nothing to check here
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        current = registry.current()
        assert current == before or current not in versions  # never a half-written pointer
        registry.load(current)  # whatever serves loads and passes its checksum
    result = retrain(home, cv=False)  # the lock died with the process
    assert result.version in registry.versions()
    assert not list(registry.root.glob(".tmp-*"))
