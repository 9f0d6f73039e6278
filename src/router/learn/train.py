"""Training: fit on the fixed split, evaluate honestly, write a new registry version."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from router.core.routing import Router, Thresholds, route_many
from router.core.rules import RuleBook, load_rules
from router.core.suggestion import Decision
from router.core.text import prepare
from router.labels import LabelSet, load_labels
from router.learn.dataset import corpus_files, load_corpus, split_corpus, split_list
from router.learn.evaluate import classification_metrics, write_plots
from router.learn.fit import ModelConfig, TextModel
from router.learn.registry import Registry, file_sha256
from router.settings import Settings

Say = Callable[[str], None]

# Chosen by 5-fold cross-validation on the training split only (`router evaluate --compare`
# prints the candidates): character 1-3-grams beside the words, at C=1, give macro-F1 0.949
# against 0.944 for characters 2-3 at C=0.5; single characters carry the short ledger lines
# (交警, 户口, 网吧) that word n-grams split badly. LinearSVC with sigmoid calibration.
DEFAULT_CONFIG = ModelConfig(classifier="svm", C=1.0, char_ngrams=(1, 3))


@dataclass(frozen=True)
class TrainResult:
    version: str
    metrics: dict[str, Any]
    seconds: float


def jurisdiction_metrics(decisions: list[Decision], test: pd.DataFrame) -> dict[str, Any]:
    gold = list(test["jurisdiction"])
    pred = [d.jurisdiction for d in decisions]
    dep_rows = [
        (set(split_list(g)), set(d.departments))
        for g, d, j in zip(test["departments"], decisions, gold, strict=True)
        if j != "police"
    ]
    return {
        "accuracy": float(np.mean([p == g for p, g in zip(pred, gold, strict=True)])),
        "macro_f1": float(
            f1_score(
                gold,
                pred,
                labels=["police", "partial", "outside"],
                average="macro",
                zero_division=0,
            )
        ),
        "outside_recall": float(
            np.mean(
                [p != "police" for p, g in zip(pred, gold, strict=True) if g == "outside"]
                or [False]
            )
        ),
        "department_hit_rate": float(np.mean([bool(g & p) for g, p in dep_rows] or [False])),
        "needs_review_share": float(np.mean([d.needs_review for d in decisions])),
    }


def evaluate_model(
    model: TextModel,
    test: pd.DataFrame,
    rules: RuleBook,
    labels: LabelSet,
    settings: Settings,
    version: str = "candidate",
) -> tuple[dict[str, Any], np.ndarray]:
    """Every figure `router evaluate` prints, on one evaluation set."""
    proba = model.predict_proba(list(test["text"]))
    full = classification_metrics(list(test["label"]), proba, model.classes)
    titles = [
        prepare(t, None) or prepare(None, c)
        for t, c in zip(test["title"], test["content"], strict=True)
    ]
    title_only = classification_metrics(
        list(test["label"]), model.predict_proba(titles), model.classes
    )
    router = Router(model.scorer, version, rules, labels, Thresholds.from_settings(settings))
    decisions = [
        d
        for d in route_many(router, list(zip(test["title"], test["content"], strict=True)))
        if isinstance(d, Decision)
    ]
    metrics = {
        "full": full,
        "title_only": {
            k: title_only[k]
            for k in ("n", "accuracy", "macro_f1", "ece", "coverage_95", "per_unit")
        },
        "jurisdiction": jurisdiction_metrics(decisions, test),
    }
    return metrics, proba


def cross_validate(
    train: pd.DataFrame, config: ModelConfig, seed: int, folds: int = 5
) -> dict[str, float]:
    scores = []
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for tr, va in skf.split(train["text"], train["label"]):
        model = TextModel.fit(list(train["text"].iloc[tr]), list(train["label"].iloc[tr]), config)
        proba = model.predict_proba(list(train["text"].iloc[va]))
        pred = [model.classes[i] for i in proba.argmax(axis=1)]
        scores.append(f1_score(list(train["label"].iloc[va]), pred, average="macro"))
    return {
        "macro_f1_mean": float(np.mean(scores)),
        "macro_f1_std": float(np.std(scores)),
        "folds": folds,
    }


CANDIDATES: dict[str, ModelConfig] = {
    "svm words 1-2": ModelConfig(classifier="svm"),
    "svm words 1-2 + chars 2-3": ModelConfig(classifier="svm", char_ngrams=(2, 3)),
    "svm words 1-2 + chars 1-3, C=1": DEFAULT_CONFIG,
    "svm words 1-2 + chars 1-3, C=2": ModelConfig(classifier="svm", C=2.0, char_ngrams=(1, 3)),
    "svm words 1": ModelConfig(classifier="svm", word_ngrams=(1, 1)),
    "logreg words 1-2": ModelConfig(classifier="logreg", C=10.0),
    "logreg words 1-2 + chars 2-3": ModelConfig(classifier="logreg", C=10.0, char_ngrams=(2, 3)),
}


def compare_configs(
    settings: Settings, configs: dict[str, ModelConfig] | None = None, say: Say = lambda _m: None
) -> dict[str, dict[str, float]]:
    """Cross-validated macro-F1 and fit time of each candidate, on the training split only."""
    corpus = load_corpus(settings.corpus)
    train_df, _ = split_corpus(corpus, settings.split_seed, settings.test_size)
    results = {}
    for name, cfg in (configs or CANDIDATES).items():
        started = time.perf_counter()
        cv = cross_validate(train_df, cfg, settings.split_seed)
        cv["seconds"] = (time.perf_counter() - started) / cv["folds"]
        say(
            f"{name}: 宏 F1 {cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f}，每折 {cv['seconds']:.1f} 秒"
        )
        results[name] = cv
    return results


def fit_frame(df: pd.DataFrame, config: ModelConfig) -> tuple[TextModel, float]:
    """Fit on a frame with ``text``, ``label`` and ``departments``; returns the model and seconds."""
    started = time.perf_counter()
    model = TextModel.fit(
        list(df["text"]), list(df["label"]), config, [split_list(d) for d in df["departments"]]
    )
    return model, time.perf_counter() - started


def train(
    settings: Settings,
    config: ModelConfig = DEFAULT_CONFIG,
    *,
    corpus: pd.DataFrame | None = None,
    data_files: list[Path] | None = None,
    promote: bool = True,
    cv: bool = True,
    say: Say = lambda _msg: None,
    extra_metadata: dict[str, Any] | None = None,
) -> TrainResult:
    """Fit on the training split, evaluate on the held-out split, register (and promote)."""
    labels, rules = load_labels(), load_rules()
    data_files = data_files or corpus_files(settings.corpus)
    if corpus is None:
        corpus = load_corpus(settings.corpus, labels)
    train_df, test_df = split_corpus(corpus, settings.split_seed, settings.test_size)
    say(
        f"语料 {len(corpus)} 条：训练 {len(train_df)} 条，留出评估 {len(test_df)} 条（随机种子 {settings.split_seed}）。"
    )
    model, seconds = fit_frame(train_df, config)
    say(f"训练用时 {seconds:.1f} 秒。正在评估……")
    metrics, proba = evaluate_model(model, test_df, rules, labels, settings)
    metrics["train_seconds"] = seconds
    if cv:
        metrics["cross_validation"] = cross_validate(train_df, config, settings.split_seed)
    metadata = {
        "trained_on": {
            "files": [
                {"path": str(p), "sha256": file_sha256(p)} for p in data_files if p.is_file()
            ],
            "rows": len(corpus),
            "train_rows": len(train_df),
            "test_rows": len(test_df),
            "label_counts": {str(k): int(v) for k, v in corpus["label"].value_counts().items()},
        },
        "split": {"seed": settings.split_seed, "test_size": settings.test_size},
        "labels_version": labels.version,
        "rules_version": rules.version,
        "train_seconds": round(seconds, 3),
        **(extra_metadata or {}),
    }
    registry = Registry(settings.models_path)

    def extras(folder: Path) -> None:
        write_plots(folder, list(test_df["label"]), proba, model.classes)
        test_df[["id", "title", "content", "label", "jurisdiction", "departments"]].to_csv(
            folder / "eval_set.csv", index=False, encoding="utf-8-sig"
        )

    version = registry.save(model, metadata, metrics, extras)
    if promote:
        registry.promote(version, reason="train")
    return TrainResult(version, metrics, seconds)
