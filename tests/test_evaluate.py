from __future__ import annotations

import numpy as np
import pytest

from router.learn.evaluate import classification_metrics, coverage_at, expected_calibration_error


def test_ece_is_zero_when_confidence_matches_accuracy() -> None:
    conf = np.array([0.75] * 4)
    correct = np.array([1, 1, 1, 0], dtype=float)
    assert expected_calibration_error(conf, correct) == pytest.approx(0.0)


def test_ece_measures_overconfidence() -> None:
    conf = np.array([0.95] * 10)
    correct = np.array([1] * 5 + [0] * 5, dtype=float)
    assert expected_calibration_error(conf, correct) == pytest.approx(0.45)


def test_coverage_stops_where_accuracy_falls_below_target() -> None:
    conf = np.array([0.99, 0.98, 0.97, 0.5, 0.4])
    correct = np.array([1, 1, 1, 0, 1], dtype=float)
    cov = coverage_at(conf, correct, 0.95)
    assert cov["coverage"] == pytest.approx(0.6)
    assert cov["threshold"] == pytest.approx(0.97)


def test_classification_metrics_per_unit() -> None:
    classes = ["甲", "乙"]
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    m = classification_metrics(["甲", "乙", "乙"], proba, classes)
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["per_unit"]["乙"]["recall"] == pytest.approx(0.5)
    assert m["confusion"] == [[1, 0], [1, 1]]
