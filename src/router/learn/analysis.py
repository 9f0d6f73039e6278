"""Error analysis of a registered model, for the notebook: predictions on its evaluation set."""

from __future__ import annotations

from typing import Any

import pandas as pd

from router.labels import load_labels
from router.learn.registry import Registry
from router.learn.retrain import frozen_eval
from router.settings import Settings


def evaluation_frame(settings: Settings, version: str | None = None) -> tuple[pd.DataFrame, Any]:
    """The frozen evaluation set with the model's prediction and confidence for each row."""
    loaded = Registry(settings.models_path).load(version)
    df = frozen_eval(settings, load_labels())
    proba = loaded.model.predict_proba(list(df["text"]))
    classes = loaded.model.classes
    df = df.assign(
        predicted=[classes[i] for i in proba.argmax(axis=1)],
        confidence=proba.max(axis=1),
    )
    return df, proba


def worst_confusions(df: pd.DataFrame, k: int = 8, examples: int = 2) -> pd.DataFrame:
    """The most frequent (true, predicted) mistakes, each with its most confident example texts."""
    wrong = df[df["label"] != df["predicted"]]
    rows = []
    for (true, pred), group in wrong.groupby(["label", "predicted"]):
        top = group.sort_values("confidence", ascending=False).head(examples)
        rows.append(
            {
                "真实": true,
                "预测": pred,
                "次数": len(group),
                "例子": " ／ ".join(
                    (t or c[:40]) + f"（{p:.2f}）"
                    for t, c, p in zip(top["title"], top["content"], top["confidence"], strict=True)
                ),
            }
        )
    out = pd.DataFrame(rows, columns=["真实", "预测", "次数", "例子"])
    return out.sort_values("次数", ascending=False).head(k).reset_index(drop=True)
