"""Evaluation: per-unit scores, confusion matrix, calibration and the accuracy-coverage curve."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_recall_fscore_support


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    """Top-label ECE: the gap between stated confidence and accuracy, weighted by bin size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (confidence > lo) & (confidence <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def reliability_table(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> list[dict[str, float]]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (confidence > lo) & (confidence <= hi)
        if mask.any():
            rows.append(
                {
                    "lo": float(lo),
                    "hi": float(hi),
                    "count": int(mask.sum()),
                    "confidence": float(confidence[mask].mean()),
                    "accuracy": float(correct[mask].mean()),
                }
            )
    return rows


def coverage_curve(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of the most confident k items, for every k (as a share of all items)."""
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    k = np.arange(1, len(order) + 1)
    return k / len(order), hits / k


def coverage_at(
    confidence: np.ndarray, correct: np.ndarray, target: float = 0.95
) -> dict[str, float]:
    """The largest share of items that can be confirmed in bulk with accuracy >= target."""
    cov, acc = coverage_curve(confidence, correct)
    ok = np.nonzero(acc >= target)[0]
    if ok.size == 0:
        return {"coverage": 0.0, "threshold": 1.0, "accuracy": 0.0}
    i = int(ok[-1])
    threshold = float(np.sort(confidence)[::-1][i])
    return {"coverage": float(cov[i]), "threshold": threshold, "accuracy": float(acc[i])}


def classification_metrics(
    y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    classes = list(classes)
    pred_idx = proba.argmax(axis=1)
    y_pred = [classes[i] for i in pred_idx]
    classes += sorted(set(y_true) - set(classes))  # a label the model never learned still counts
    confidence = proba.max(axis=1)
    correct = np.asarray([p == t for p, t in zip(y_pred, y_true, strict=True)], dtype=float)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    per_unit = {
        c: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, c in enumerate(classes)
    }
    return {
        "n": len(y_true),
        "accuracy": float(correct.mean()),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)
        ),
        "per_unit": per_unit,
        "ece": expected_calibration_error(confidence, correct),
        "reliability": reliability_table(confidence, correct),
        "coverage_95": coverage_at(confidence, correct, 0.95),
        "confusion": confusion(y_true, y_pred, classes).values.tolist(),
    }


def confusion(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> pd.DataFrame:
    classes = [*classes, *sorted(set(y_true) - set(classes))]
    table = pd.crosstab(
        pd.Categorical(list(y_true), categories=list(classes)),
        pd.Categorical(list(y_pred), categories=list(classes)),
        dropna=False,
    )
    table.index.name, table.columns.name = "真实", "预测"
    return table


CJK_FONTS = (
    "Noto Sans CJK SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "Droid Sans Fallback",
)
# Where Debian, Ubuntu and RHEL put them (fonts-wqy-zenhei, fonts-noto-cjk, ...). matplotlib's
# font cache is built once: a font installed after it is unknown until registered by file.
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


def cjk_font() -> str | None:
    """The name of a CJK font matplotlib can use, registering an installed file if need be."""
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((n for n in CJK_FONTS if n in names), None)

    found = known()
    if found is None:
        for path in CJK_FONT_FILES:
            if Path(path).is_file():
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = known()
    return found


class _QuietWeight(logging.Filter):
    """WenQuanYi Zen Hei has one weight (500); matplotlib logs in English each time it is used
    for "normal" text. The glyphs are right: the line is noise on the command line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("findfont: Failed to find font weight")


def _font() -> bool:
    """Use a CJK font when the machine has one; report whether it does."""
    import matplotlib

    matplotlib.rcParams["axes.unicode_minus"] = False
    name = cjk_font()
    if name is None:
        return False
    matplotlib.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
    fm_log = logging.getLogger("matplotlib.font_manager")
    if not any(isinstance(f, _QuietWeight) for f in fm_log.filters):
        fm_log.addFilter(_QuietWeight())
    return True


def write_plots(
    folder: Path, y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]
) -> list[str]:
    """Confusion matrix (CSV and PNG), reliability plot and accuracy-coverage plot."""
    classes = list(classes)
    y_pred = [classes[i] for i in proba.argmax(axis=1)]
    confusion(y_true, y_pred, classes).to_csv(folder / "confusion_matrix.csv", encoding="utf-8-sig")
    figures = {
        "confusion_matrix.png": confusion_figure(y_true, y_pred, classes),
        "reliability.png": reliability_figure(y_true, proba, classes),
        "coverage.png": coverage_figure(y_true, proba, classes),
    }
    for name, fig in figures.items():
        with _cjk_font():
            fig.savefig(folder / name, dpi=110)
    return ["confusion_matrix.csv", *figures]


class _cjk_font:  # noqa: N801 - used as a context manager
    """Use a CJK font when the machine has one; otherwise silence the per-glyph warnings."""

    def __enter__(self) -> None:
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        if not _font():
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


def confusion_figure(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> Any:
    from matplotlib.figure import Figure

    classes = [*classes, *sorted(set(y_true) - set(classes))]
    table = confusion(y_true, y_pred, classes)
    with _cjk_font():
        fig = Figure(figsize=(7, 6))
        ax = fig.subplots()
        ax.imshow(table.values, cmap="Blues")
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_yticks(range(len(classes)), classes)
        top = table.values.max()
        for i in range(len(classes)):
            for j in range(len(classes)):
                v = table.values[i, j]
                if v:
                    ax.text(
                        j,
                        i,
                        str(v),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if v > top / 2 else "black",
                    )
        ax.set_xlabel("预测")
        ax.set_ylabel("真实")
        ax.set_title("混淆矩阵")
        fig.tight_layout()
    return fig


def _top(
    y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    pred = [list(classes)[i] for i in proba.argmax(axis=1)]
    correct = np.asarray([p == t for p, t in zip(pred, y_true, strict=True)], dtype=float)
    return proba.max(axis=1), correct


def reliability_figure(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> Any:
    from matplotlib.figure import Figure

    confidence, correct = _top(y_true, proba, classes)
    rel = reliability_table(confidence, correct)
    with _cjk_font():
        fig = Figure(figsize=(5, 5))
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1], "--", color="grey", label="完全校准")
        ax.plot([r["confidence"] for r in rel], [r["accuracy"] for r in rel], "o-", label="模型")
        ax.set_xlabel("置信度")
        ax.set_ylabel("准确率")
        ax.set_title(f"可靠性图（ECE={expected_calibration_error(confidence, correct):.3f}）")
        ax.legend()
        fig.tight_layout()
    return fig


def coverage_figure(y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]) -> Any:
    from matplotlib.figure import Figure

    confidence, correct = _top(y_true, proba, classes)
    cov, acc = coverage_curve(confidence, correct)
    with _cjk_font():
        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        ax.plot(cov, acc)
        ax.axhline(0.95, color="grey", linestyle="--")
        ax.set_xlabel("覆盖率（按置信度从高到低确认的比例）")
        ax.set_ylabel("准确率")
        ax.set_ylim(0.5, 1.01)
        ax.set_title("准确率—覆盖率曲线")
        fig.tight_layout()
    return fig
