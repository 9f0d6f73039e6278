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
        clf = LogisticRegression(
            C=cfg.C, class_weight="balanced", max_iter=2000, random_state=cfg.seed
        )
    else:
        raise ValueError(f"unknown classifier {cfg.classifier!r}")
    return Pipeline([("features", _features(cfg)), ("clf", clf)])


class _FastScorer:
    """The fitted pipeline's arithmetic for one text, without scikit-learn's per-call checks.

    scikit-learn spends about a millisecond validating inputs on every call; for one
    proposal the arithmetic itself takes a fraction of that. This reuses the fitted
    analyzers, vocabularies, idf, weights and calibrators as they are, and a test proves it
    gives the same probabilities as the pipeline.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        features = pipeline.named_steps["features"]
        vectorizers = (
            [v for _, v in features.transformer_list]
            if isinstance(features, FeatureUnion)
            else [features]
        )
        self.parts = []
        offset = 0
        for vec in vectorizers:
            if vec.norm != "l2" or not vec.use_idf:
                raise ValueError("fast path supports l2-normalised TF-IDF only")
            self.parts.append(
                (
                    vec.build_analyzer(),
                    vec.vocabulary_,
                    np.asarray(vec.idf_, dtype=np.float64),
                    offset,
                    vec.sublinear_tf,
                )
            )
            offset += len(vec.vocabulary_)
        clf = pipeline.named_steps["clf"]
        self.sigmoid: tuple[np.ndarray, np.ndarray] | None = None
        if isinstance(clf, CalibratedClassifierCV):
            inner = clf.calibrated_classifiers_[0]
            if inner.method != "sigmoid" or len(clf.calibrated_classifiers_) != 1:
                raise ValueError("fast path supports one sigmoid-calibrated estimator only")
            est = inner.estimator
            order = [list(clf.classes_).index(c) for c in est.classes_]
            if order != list(range(len(order))):
                raise ValueError("class order differs between estimator and calibration")
            self.sigmoid = (
                np.array([c.a_ for c in inner.calibrators], dtype=np.float64),
                np.array([c.b_ for c in inner.calibrators], dtype=np.float64),
            )
        elif isinstance(clf, LogisticRegression):
            est = clf
        else:
            raise ValueError(f"fast path does not support {type(clf).__name__}")
        self.weights = np.ascontiguousarray(np.asarray(est.coef_, dtype=np.float64).T)
        self.intercept = np.asarray(est.intercept_, dtype=np.float64)

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and TF-IDF values of one text, as the pipeline would compute them."""
        all_idx, all_val = [], []
        for analyzer, vocab, idf, offset, sublinear in self.parts:
            counts: dict[int, int] = {}
            for feat in analyzer(text):
                j = vocab.get(feat)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if sublinear:
                tf = np.log(tf) + 1.0
            val = tf * idf[idx]
            val /= np.sqrt(val @ val)
            all_idx.append(idx + offset)
            all_val.append(val)
        if not all_idx:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return np.concatenate(all_idx), np.concatenate(all_val)

    def proba(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        scores = val @ self.weights[idx] + self.intercept
        if self.sigmoid is None:
            scores = np.exp(scores - scores.max())
            return np.asarray(scores / scores.sum())
        a, b = self.sigmoid
        p = 1.0 / (1.0 + np.exp(a * scores + b))
        total = p.sum()
        return np.asarray(p / total) if total > 0 else np.full_like(p, 1.0 / p.size)


class TextModel:
    """A fitted pipeline plus what routing needs from it: classes, weights, feature names."""

    def __init__(self, pipeline: Pipeline, config: ModelConfig) -> None:
        self.pipeline = pipeline
        self.config = config
        self.classes: tuple[str, ...] = tuple(str(c) for c in pipeline.classes_)
        self._coef: np.ndarray | None = None
        self._names: np.ndarray | None = None
        self._fast: _FastScorer | None = None

    @property
    def fast(self) -> _FastScorer:
        if self._fast is None:
            self._fast = _FastScorer(self.pipeline)
        return self._fast

    def score_one(self, text: str) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Probabilities and the sparse feature row of one text (the single-proposal path)."""
        idx, val = self.fast.features(text)
        return self.fast.proba(idx, val), (idx, val)

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

    def top_terms(
        self, row: sparse.csr_matrix | tuple[np.ndarray, np.ndarray], class_index: int, k: int = 8
    ) -> list[tuple[str, float]]:
        """Terms of one document that weighed most for one class (value times weight)."""
        if isinstance(row, tuple):
            idx, data = row
        else:
            csr = row.tocsr()
            idx, data = csr.indices, csr.data
        if idx.size == 0:
            return []
        contrib = data * self.coef[class_index, idx]
        order = np.argsort(-contrib)[:k]
        names = self.feature_names
        out = []
        for i in order:
            if contrib[i] <= 0:
                break
            name = str(names[idx[i]])
            out.append((name.split("__", 1)[-1], round(float(contrib[i]), 4)))
        return out
