"""Calibration from the ledger's decisions: the correction, the thresholds, the minimum."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from router.labels import load_labels
from router.learn.calibration import (
    Decided,
    calibrate,
    ece,
    fit_correction,
    probabilities,
    threshold_for,
)
from router.learn.load import load_router
from router.learn.registry import Registry
from router.learn.retrain import frozen_eval
from router.settings import Settings, get_settings
from tests.conftest import CORPUS


def test_the_correction_undoes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    z_true = rng.normal(0.0, 2.0, size=(4000, 5))
    p_true = probabilities(z_true)
    y = np.array([rng.choice(5, p=row) for row in p_true])
    z_seen = 3.0 * z_true  # a model three times too sure of itself
    alpha, beta = fit_correction(z_seen, y)
    assert alpha == pytest.approx(1 / 3, rel=0.15)
    assert ece(probabilities(z_seen, alpha, beta), y) < ece(probabilities(z_seen), y) / 2


def test_thresholds_are_where_the_share_right_reaches_the_target() -> None:
    confidence = np.linspace(0.99, 0.30, 100)
    correct = np.array([True] * 60 + [False, True] * 20)  # right above 0.58, half below
    t = threshold_for(confidence, correct, 0.97)
    assert t is not None and 0.55 <= t <= 0.6
    above = confidence >= t - 1e-9
    assert correct[above].mean() >= 0.97  # the defining property ...
    lower = confidence >= t - 0.01
    assert correct[lower].mean() < 0.97  # ... and one item lower breaks it
    assert threshold_for(confidence, correct, 0.999) is not None  # 60 right in a row
    assert threshold_for(confidence[:20], correct[:20], 0.9) is None  # too few items


@pytest.fixture()
def home(trained_home: Path, tmp_path: Path) -> Settings:
    shutil.copytree(trained_home / "models", tmp_path / "models")
    return get_settings({}, home=tmp_path, corpus_path=CORPUS, calibration_min_decisions=100)


def _decided(settings: Settings, version: str, n: int) -> list[Decided]:
    df = frozen_eval(settings, load_labels()).head(n)
    return [
        Decided(t, c, lab, version)
        for t, c, lab in zip(df["title"], df["content"], df["label"], strict=True)
    ]


def test_too_few_decisions_keep_the_shipped_values(home: Settings) -> None:
    registry = Registry(home.models_path)
    serving = registry.current()
    assert serving is not None
    decided = _decided(home, serving, 99) + _decided(home, "v20200101-000000", 50)
    result = calibrate(home, decided)
    assert not result.fitted and result.n == 99 and result.needed == 100
    assert registry.versions() == [serving]


def test_enough_decisions_register_a_calibrated_version_for_a_person(home: Settings) -> None:
    registry = Registry(home.models_path)
    serving = registry.current()
    assert serving is not None
    result = calibrate(home, _decided(home, serving, 300))
    assert result.fitted and result.n == 300 and result.version is not None
    assert result.ece_before is not None and result.ece_after is not None
    assert registry.current() == serving  # waits for a person
    assert registry.status(result.version)["state"] == "pending"
    meta = registry.metadata(result.version)
    assert meta["calibration"]["weights_from"] == serving
    assert "ECE" in (registry.root / result.version / "report.md").read_text(encoding="utf-8")
    router = load_router(home, result.version)
    if result.bulk_confidence is not None:
        assert router.thresholds.bulk_confidence == result.bulk_confidence
    # decisions on the calibrated version's suggestions count too: same weights
    again = calibrate(home, _decided(home, result.version, 300), register=False)
    assert not again.fitted  # the serving model is still the old one: its suggestions count
