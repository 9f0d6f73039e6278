"""Calibration from the bureau's own decisions.

The shipped model's probabilities are calibrated on the corpus (sigmoid per class, fitted by
scikit-learn). Real proposals differ, so once the ledger holds enough decided items that carry
the serving model's own suggestion (``ROUTER_CALIBRATION_MIN_DECISIONS``, 300 by default),
two numbers are refitted on them, on top of the per-class sigmoids:

    z'_k = alpha * z_k + beta        (z_k = a_k * score_k + b_k, p_k ∝ 1 / (1 + exp(z'_k)))

``alpha`` sharpens or softens every class alike and ``beta`` shifts them; both fold exactly
into the scorer's sigmoid arrays (a'_k = alpha * a_k, b'_k = alpha * b_k + beta), so the
calibrated model is an ordinary version with the same weights, served by the same code.
Two parameters, not sixteen: 300 items cannot pin a sigmoid per class (辅警 may have ten).

The review and bulk-confirmation thresholds are refitted on the same items: the lowest
confidence at or above which the decided items were right at least the target share
(``ROUTER_CALIBRATION_REVIEW_PRECISION``, ``ROUTER_CALIBRATION_BULK_PRECISION``).

The calibration error (top-label ECE) is reported before and after, the "after" measured by
two-fold cross-fitting so that no item judges the parameters it helped fit. Only items routed
by the serving model's own weights count: those were not in its training data.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from router.core.text import prepare
from router.labels import load_labels
from router.learn.evaluate import expected_calibration_error
from router.learn.fit import TextModel
from router.learn.registry import Registry, RegistryError
from router.settings import Settings

MIN_BIN_ITEMS = 30  # a threshold is set only where at least this many items lie above it


class CalibrationError(RuntimeError):
    """Calibration cannot run; the message says why (Chinese)."""


@dataclass(frozen=True)
class Decided:
    title: str
    content: str
    label: str  # what the dispatcher decided (the outside label for a referral)
    model_version: str


@dataclass
class CalibrationResult:
    n: int
    needed: int
    fitted: bool
    alpha: float = 1.0
    beta: float = 0.0
    ece_before: float | None = None
    ece_after: float | None = None
    accuracy: float | None = None
    review_confidence: float | None = None
    bulk_confidence: float | None = None
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _logits(model: TextModel, texts: Sequence[str]) -> np.ndarray:
    """The per-class sigmoid arguments z_k = a_k * score_k + b_k (lower means likelier)."""
    scorer = model.scorer
    if scorer.sigmoid is None:
        raise CalibrationError("只有带 sigmoid 校准的模型（默认的 svm）可以用台帐重新校准。")
    x = scorer.transform(list(texts))
    scores = np.asarray(x @ scorer.weights, dtype=np.float64) + scorer.intercept
    a, b = scorer.sigmoid
    return np.asarray(a * scores + b)


def probabilities(z: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """The scorer's normalisation of per-class sigmoids, after the correction."""
    p = 1.0 / (1.0 + np.exp(np.clip(alpha * z + beta, -500, 500)))
    total = p.sum(axis=1, keepdims=True)
    return np.asarray(np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / p.shape[1]))


def fit_correction(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """alpha, beta minimising the log loss of the normalised probabilities of the true class."""
    from scipy.optimize import minimize

    rows = np.arange(len(y))

    def loss(params: np.ndarray) -> float:
        p = probabilities(z, float(params[0]), float(params[1]))
        return float(-np.log(np.clip(p[rows, y], 1e-12, None)).mean())

    best = minimize(loss, np.array([1.0, 0.0]), method="L-BFGS-B", bounds=[(0.05, 20.0), (-20, 20)])
    return float(best.x[0]), float(best.x[1])


def ece(proba: np.ndarray, y: np.ndarray) -> float:
    return expected_calibration_error(proba.max(axis=1), proba.argmax(axis=1) == y)


def threshold_for(confidence: np.ndarray, correct: np.ndarray, precision: float) -> float | None:
    """The lowest confidence t with at least ``precision`` right among items at or above t
    (and at least MIN_BIN_ITEMS of them); None when no such t exists."""
    order = np.argsort(-confidence)
    conf, ok = confidence[order], correct[order].astype(np.float64)
    share = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    good = [i for i in range(MIN_BIN_ITEMS - 1, len(conf)) if share[i] >= precision]
    if not good:
        return None
    return round(float(conf[max(good)]), 3)


def cross_fitted(z: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Each half's probabilities under the correction fitted on the other half."""
    rng = np.random.default_rng(seed)
    half = rng.permutation(len(y)) % 2 == 0
    out = np.zeros_like(z)
    for part in (half, ~half):
        alpha, beta = fit_correction(z[~part], y[~part])
        out[part] = probabilities(z[part], alpha, beta)
    return out


def eligible(decided: Sequence[Decided], versions: set[str]) -> list[Decided]:
    """Decided items whose suggestion was made by these versions (the serving weights)."""
    return [d for d in decided if d.model_version in versions and prepare(d.title, d.content)]


def ledger_decided(settings: Settings) -> list[Decided]:
    from router.db import make_engine, make_sessionmaker
    from router.ledger import decided_examples

    engine = make_engine(settings.db_url)
    try:
        with make_sessionmaker(engine)() as session:
            return [
                Decided(e.title, e.content, e.label, e.model_version)
                for e in decided_examples(session)
                if e.model_version
            ]
    finally:
        engine.dispose()


def calibrate(
    settings: Settings, decided: Sequence[Decided] | None = None, *, register: bool = True
) -> CalibrationResult:
    """Refit the calibration and thresholds of the serving model on the ledger's decisions.

    With fewer than the minimum, nothing is fitted and the shipped values stay. Otherwise a
    calibrated version (same weights) is registered, waiting for a person to promote it.
    """
    registry = Registry(settings.models_path)
    try:
        loaded = registry.load()
    except RegistryError as exc:
        raise CalibrationError(str(exc)) from exc
    weights_from = str(loaded.metadata.get("calibration", {}).get("weights_from", loaded.version))
    items = eligible(
        ledger_decided(settings) if decided is None else decided, {loaded.version, weights_from}
    )
    needed = settings.calibration_min_decisions
    if len(items) < needed:
        return CalibrationResult(len(items), needed, False)
    classes = list(loaded.model.classes)
    labels = load_labels()
    y_list = []
    kept = []
    for d in items:
        try:
            label = labels.canonical(d.label)
        except ValueError:
            continue
        if label in classes:
            y_list.append(classes.index(label))
            kept.append(d)
    y = np.array(y_list)
    z = _logits(loaded.model, [prepare(d.title, d.content) for d in kept])
    before = probabilities(z)
    after = cross_fitted(z, y, settings.split_seed)
    alpha, beta = fit_correction(z, y)
    conf, correct = after.max(axis=1), after.argmax(axis=1) == y
    result = CalibrationResult(
        len(kept),
        needed,
        True,
        alpha,
        beta,
        ece(before, y),
        ece(after, y),
        float(correct.mean()),
        threshold_for(conf, correct, settings.calibration_review_precision),
        threshold_for(conf, correct, settings.calibration_bulk_precision),
    )
    if register:
        result.version = _register(registry, loaded.model, loaded.version, weights_from, result)
    return result


def _register(
    registry: Registry,
    model: TextModel,
    serving: str,
    weights_from: str,
    result: CalibrationResult,
) -> str:
    scorer = copy.copy(model.scorer)
    assert scorer.sigmoid is not None
    a, b = scorer.sigmoid
    scorer.sigmoid = (a * result.alpha, b * result.alpha + result.beta)
    thresholds = {
        k: v
        for k, v in (
            ("review_confidence", result.review_confidence),
            ("bulk_confidence", result.bulk_confidence),
        )
        if v is not None
    }
    metadata = {
        **{k: v for k, v in registry.metadata(serving).items() if k in ("trained_on", "split")},
        "calibration": {
            **result.to_dict(),
            "weights_from": weights_from,
            "calibrated_from": serving,
            "thresholds": thresholds,
        },
        "retrain": {"status": "pending", "held_reasons": [], "serving_version": serving},
    }
    metrics = registry.metrics(serving)

    def report(folder: Path) -> None:
        (folder / "report.md").write_text(_report(serving, result, thresholds), encoding="utf-8")

    return registry.save(TextModel(scorer, model.config), metadata, metrics, report, tag="cal")


def _report(serving: str, r: CalibrationResult, thresholds: dict[str, float]) -> str:
    lines = [
        "# 校准报告：用台帐中的分办决定重新校准",
        "",
        "## 结论",
        "",
        f"- 依据服务中模型 `{serving}` 给出建议、已由分办人员决定的 {r.n} 件建议（下限 {r.needed} 件）。",
        f"- 校准误差（ECE，越小越好）：{r.ece_before:.3f} → {r.ece_after:.3f}（两折交叉估计）。",
        f"- 模型在这些建议上的准确率：{r.accuracy:.1%}。",
        "- 阈值："
        + ("；".join(f"{k} = {v:.3f}" for k, v in thresholds.items()) or "样本不足，沿用原值"),
        "- 权重不变，只调整置信度；状态：**待审批**，由管理员用 `router models promote` 启用。",
        "",
        f"校正参数：alpha = {r.alpha:.3f}，beta = {r.beta:.3f}（z' = alpha·z + beta）。",
        "",
    ]
    return "\n".join(lines)
