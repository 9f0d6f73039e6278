"""Measuring the router on real text: the labelled citizen messages kept outside the repository.

The validation set (``dev_labels.csv`` beside ``messages_with_replies.xlsx``, from a public data
competition with no licence) is never copied into the project: it is read where it lies, and
everything here answers ``None`` where it is absent, as on a user's machine. Thresholds are chosen
on it (``scripts/choose_thresholds.py``); the messages it does not list stay held out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from router.core.routing import Router, route_many
from router.core.suggestion import Decision

DEV_LABELS = "dev_labels.csv"
MESSAGES = "messages_with_replies.xlsx"


@dataclass(frozen=True)
class RealSet:
    """Real items with their truth: ``unit`` is the police unit or "" when wholly outside."""

    ids: list[int]
    titles: list[str]
    contents: list[str]
    units: list[str]
    jurisdictions: list[str]


def load_dev_set(folder: Path | None) -> RealSet | None:
    """The labelled validation messages, or None when the folder or its files are absent."""
    if folder is None:
        return None
    labels_path, texts_path = folder / DEV_LABELS, folder / MESSAGES
    if not labels_path.is_file() or not texts_path.is_file():
        return None
    labels = pd.read_csv(labels_path, encoding="utf-8-sig", dtype={"label": str})
    texts = pd.read_excel(texts_path, engine="openpyxl")
    df = labels.merge(texts, on="留言编号", how="inner")
    return RealSet(
        ids=[int(x) for x in df["留言编号"]],
        titles=[_cell(x) for x in df["留言主题"]],
        contents=[_cell(x) for x in df["留言详情"]],
        units=[_cell(x) for x in df["label"]],
        jurisdictions=[str(x) for x in df["jurisdiction"]],
    )


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def is_right(decision: Decision, unit: str) -> bool:
    """The decision a dispatcher would confirm: the right unit, or "outside" for outside items."""
    if unit:
        return decision.unit == unit
    return decision.unit is None


def real_metrics(decisions: Sequence[Decision], real: RealSet, bins: int = 10) -> dict[str, Any]:
    """The figures the real-text targets are stated in."""
    units, jur = real.units, real.jurisdictions
    police = [i for i, j in enumerate(jur) if j == "police"]
    partial = [i for i, j in enumerate(jur) if j == "partial"]
    outside = [i for i, j in enumerate(jur) if j == "outside"]
    right = np.array([is_right(d, u) for d, u in zip(decisions, units, strict=True)])
    conf = np.array([d.confidence for d in decisions])
    bulk = np.array([d.bulk_confirmable for d in decisions])
    review = np.array([d.needs_review for d in decisions])
    n = len(decisions)
    return {
        "items": n,
        "police_items": len(police),
        "outside_items": len(outside),
        "unit_accuracy": _share(decisions[i].unit == units[i] for i in police),
        "outside_recall": _share(decisions[i].jurisdiction != "police" for i in outside),
        "police_called_outside": _share(decisions[i].jurisdiction == "outside" for i in police),
        "partial_unit_accuracy": _share(decisions[i].unit == units[i] for i in partial),
        "partial_flagged": _share(decisions[i].jurisdiction == "partial" for i in partial),
        "police_kept": _share(decisions[i].jurisdiction == "police" for i in police),
        "accuracy": float(right.mean()) if n else 0.0,
        "ece": expected_calibration_error(conf, right, bins),
        "bulk_coverage": float(bulk.mean()) if n else 0.0,
        "bulk_accuracy": float(right[bulk].mean()) if bulk.any() else 0.0,
        "review_share": float(review.mean()) if n else 0.0,
        "no_review_accuracy": float(right[~review].mean()) if (~review).any() else 0.0,
    }


def _share(flags: Any) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def expected_calibration_error(conf: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by their size."""
    if conf.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(right[mask].mean() - conf[mask].mean())
    return float(total / conf.size)


def evaluate_real(router: Router, folder: Path | None) -> dict[str, Any] | None:
    """Route the real validation set and measure it; None where the set is absent."""
    real = load_dev_set(folder)
    if real is None:
        return None
    return real_metrics(decide_real(router, real), real)


def decide_real(router: Router, real: RealSet, processes: int = 1) -> list[Decision]:
    """One decision per real item, in order; an item the router refuses is an error here,
    since every figure pairs decisions with labels by position."""
    results = route_many(
        router, list(zip(real.titles, real.contents, strict=True)), processes=processes
    )
    decisions = [r for r in results if isinstance(r, Decision)]
    if len(decisions) != len(results):
        raise ValueError("a real validation message could not be routed")
    return decisions
