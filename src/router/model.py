"""The classifier: TF-IDF features and a linear model with calibrated probabilities.

It predicts one of the seven units or the outside label. The linear weights also explain a
decision: the terms whose TF-IDF value times weight pushed hardest towards the chosen class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from router.text import tokenize

Classifier = Literal["svm", "logreg"]


@dataclass(frozen=True)
class ModelConfig:
    """Every choice that shapes the model; stored with each artifact."""

    classifier: Classifier = "svm"
    C: float = 0.5
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = None
    min_df: int = 1
    max_features: int | None = 200_000
    calibration_cv: int = 5
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        data = dict(data)
        for key in ("word_ngrams", "char_ngrams"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)


def _features(cfg: ModelConfig) -> Any:
    word = TfidfVectorizer(
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        ngram_range=cfg.word_ngrams,
        min_df=cfg.min_df,
        max_features=cfg.max_features,
        sublinear_tf=True,
        dtype=np.float32,
    )
    if cfg.char_ngrams is None:
        return word
    char = TfidfVectorizer(
        analyzer="char",
        ngram_range=cfg.char_ngrams,
        min_df=max(2, cfg.min_df),
        max_features=cfg.max_features,
        sublinear_tf=True,
        dtype=np.float32,
    )
    return FeatureUnion([("word", word), ("char", char)])


def build_pipeline(cfg: ModelConfig) -> Pipeline:
    clf: Any
    if cfg.classifier == "svm":
        base = LinearSVC(C=cfg.C, class_weight="balanced", random_state=cfg.seed)
        clf = CalibratedClassifierCV(base, method="sigmoid", cv=cfg.calibration_cv, ensemble=False)
    elif cfg.classifier == "logreg":
        clf = LogisticRegression(C=cfg.C, class_weight="balanced", max_iter=2000, random_state=cfg.seed)
    else:
        raise ValueError(f"unknown classifier {cfg.classifier!r}")
    return Pipeline([("features", _features(cfg)), ("clf", clf)])


class TextModel:
    """A fitted pipeline plus what routing needs from it: classes, weights, feature names."""

    def __init__(self, pipeline: Pipeline, config: ModelConfig) -> None:
        self.pipeline = pipeline
        self.config = config
        self.classes: tuple[str, ...] = tuple(str(c) for c in pipeline.classes_)
        self._coef: np.ndarray | None = None
        self._names: np.ndarray | None = None

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], config: ModelConfig) -> TextModel:
        pipe = build_pipeline(config)
        pipe.fit(list(texts), list(labels))
        return cls(pipe, config)

    def vectorize(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self.pipeline.named_steps["features"].transform(list(texts))

    def proba_from_features(self, x: sparse.csr_matrix) -> np.ndarray:
        return np.asarray(self.pipeline.named_steps["clf"].predict_proba(x))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.proba_from_features(self.vectorize(texts))

    @property
    def coef(self) -> np.ndarray:
        """Linear weights, one row per class, in ``self.classes`` order."""
        if self._coef is None:
            clf = self.pipeline.named_steps["clf"]
            if isinstance(clf, CalibratedClassifierCV):
                est = clf.calibrated_classifiers_[0].estimator
            else:
                est = clf
            self._coef = np.asarray(est.coef_, dtype=np.float32)
        return self._coef

    @property
    def feature_names(self) -> np.ndarray:
        if self._names is None:
            self._names = np.asarray(self.pipeline.named_steps["features"].get_feature_names_out())
        return self._names

    def top_terms(self, x_row: sparse.csr_matrix, class_index: int, k: int = 8) -> list[tuple[str, float]]:
        """Terms of one document that weighed most for one class (value times weight)."""
        row = x_row.tocsr()
        idx = row.indices
        if idx.size == 0:
            return []
        contrib = row.data * self.coef[class_index, idx]
        order = np.argsort(-contrib)[:k]
        names = self.feature_names
        out = []
        for i in order:
            if contrib[i] <= 0:
                break
            name = str(names[idx[i]])
            out.append((name.split("__", 1)[-1], round(float(contrib[i]), 4)))
        return out
