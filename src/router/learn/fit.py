"""The classifier: TF-IDF features and a linear model with calibrated probabilities.

It predicts one of the seven units or the outside label. The linear weights also explain a
decision: the terms whose TF-IDF value times weight pushed hardest towards the chosen class.

scikit-learn fits the model; a fitted model is then kept as a :class:`~router.core.scorer.Scorer`
(plain arrays), which is what predicts. scikit-learn is imported only to fit, so serving
never loads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import sparse

from router.core.scorer import Scorer
from router.core.text import tokenize
from router.learn.export import scorer_from_fitted

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

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
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

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
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    clf: Any
    if cfg.classifier == "svm":
        base = LinearSVC(C=cfg.C, class_weight="balanced", random_state=cfg.seed)
        clf = CalibratedClassifierCV(base, method="sigmoid", cv=cfg.calibration_cv, ensemble=False)
    elif cfg.classifier == "logreg":
        clf = LogisticRegression(
            C=cfg.C, class_weight="balanced", max_iter=2000, random_state=cfg.seed
        )
    else:
        raise ValueError(f"unknown classifier {cfg.classifier!r}")
    return Pipeline([("features", _features(cfg)), ("clf", clf)])


@dataclass(frozen=True)
class DepartmentModel:
    """Which outside department(s) an item points to, learned from the corpus's labels.

    One logistic regression per department on the same TF-IDF features, kept as plain
    arrays (the scorer keeps only the features they weigh). It backs up the keyword rules,
    which only know the words someone wrote down.
    """

    labels: tuple[str, ...]
    weights: np.ndarray  # (n_features, n_departments)
    intercept: np.ndarray

    @classmethod
    def fit(
        cls, x: sparse.csr_matrix, departments: Sequence[Sequence[str]], C: float = 4.0
    ) -> DepartmentModel | None:
        from sklearn.linear_model import LogisticRegression

        rows = [i for i, d in enumerate(departments) if d]
        names = sorted({d for i in rows for d in departments[i]})
        if len(rows) < 10 or len(names) < 2:
            return None
        xs = x[rows]
        weights = np.zeros((x.shape[1], len(names)), dtype=np.float32)
        intercept = np.zeros(len(names), dtype=np.float32)
        for j, name in enumerate(names):
            y = np.array([name in departments[i] for i in rows])
            if y.all() or not y.any():
                intercept[j] = 10.0 if y.all() else -10.0
                continue
            lr = LogisticRegression(C=C, class_weight="balanced", solver="liblinear").fit(xs, y)
            weights[:, j] = lr.coef_[0]
            intercept[j] = lr.intercept_[0]
        return cls(tuple(names), weights, intercept)


class TextModel:
    """A fitted model: its configuration and scorer, and right after fitting its pipeline."""

    def __init__(
        self, scorer: Scorer, config: ModelConfig, pipeline: Pipeline | None = None
    ) -> None:
        self.scorer = scorer
        self.config = config
        self.pipeline = pipeline  # only for comparisons with scikit-learn; never saved
        self.classes: tuple[str, ...] = scorer.classes
        self.departments: tuple[str, ...] = scorer.departments

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        config: ModelConfig,
        departments: Sequence[Sequence[str]] | None = None,
    ) -> TextModel:
        """Fit the unit classifier, and the department model when departments are given."""
        pipe = build_pipeline(config)
        x = pipe.named_steps["features"].fit_transform(list(texts))  # once, for both models
        pipe.named_steps["clf"].fit(x, list(labels))
        dept = DepartmentModel.fit(x, departments) if departments is not None else None
        scorer = scorer_from_fitted(pipe, dept).with_reference(list(texts))
        return cls(scorer, config, pipe)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.scorer.proba(self.scorer.transform(texts))
