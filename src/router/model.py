"""The classifier: TF-IDF features and a linear model with calibrated probabilities.

It predicts one of the seven units or the outside label. The linear weights also explain a
decision: the terms whose TF-IDF value times weight pushed hardest towards the chosen class.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
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


_Counts = Callable[[str], tuple[np.ndarray, np.ndarray]]
_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's char analyzer folds white space


def _word_ngrams(tokens: list[str], lo: int, hi: int) -> list[str]:
    """scikit-learn's word n-grams (no stop words): n = lo..hi in turn, each in text order."""
    if hi == 1:
        return tokens
    out = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
        out += map(" ".join, zip(*(tokens[i:] for i in range(n)), strict=False))
    return out


def _counter(vec: TfidfVectorizer) -> _Counts:
    """Vocabulary columns and counts of one text, as ``vec`` counts them.

    The two analyzers this project fits are computed directly (words: our tokenizer and
    n-grams joined in C; characters: n-grams as integer keys looked up with numpy);
    anything else goes through the vectorizer's own analyzer.
    """
    vocab = vec.vocabulary_
    lo, hi = vec.ngram_range
    plain = (
        vec.preprocessor is None
        and vec.strip_accents is None
        and vec.input == "content"
        and 1 <= lo <= hi
    )
    if plain and vec.analyzer == "word" and vec.tokenizer is tokenize and not vec.lowercase:
        if vec.stop_words is None:
            get = vocab.get

            def count_words(text: str) -> tuple[np.ndarray, np.ndarray]:
                found = Counter(map(get, _word_ngrams(tokenize(text), lo, hi)))
                found.pop(None, None)  # counted in C, unknown n-grams as None, then dropped
                return (
                    np.fromiter(found.keys(), dtype=np.int64, count=len(found)),
                    np.fromiter(found.values(), dtype=np.float64, count=len(found)),
                )

            return count_words
    if plain and vec.analyzer == "char" and hi <= 3:
        # An n-gram of code points c1..cn is the integer sum of (ci + 1) << 21 * (n - i):
        # 21 bits per character, at most 63 bits, distinct across lengths.
        grams = list(vocab)
        keys = np.zeros(len(grams), dtype=np.uint64)
        for i, gram in enumerate(grams):
            key = 0
            for ch in gram:
                key = (key << 21) | (ord(ch) + 1)
            keys[i] = key
        order = np.argsort(keys)
        sorted_keys = keys[order]
        columns = np.fromiter(vocab.values(), dtype=np.int64, count=len(grams))[order]
        lower = bool(vec.lowercase)
        shift = np.uint64(21)

        def count_chars(text: str) -> tuple[np.ndarray, np.ndarray]:
            if lower:
                text = text.lower()
            text = _WHITE_SPACES.sub(" ", text)
            codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            codes = codes.astype(np.uint64) + np.uint64(1)
            size = codes.size
            parts = []
            for n in range(lo, min(hi, size) + 1):
                key = codes[: size - n + 1].copy()
                for i in range(1, n):
                    key <<= shift
                    key |= codes[i : size - n + 1 + i]
                parts.append(key)
            if not parts or sorted_keys.size == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
            key, counts = np.unique(np.concatenate(parts), return_counts=True)
            pos = np.minimum(np.searchsorted(sorted_keys, key), sorted_keys.size - 1)
            hit = sorted_keys[pos] == key  # sorted needles: each search starts at the last
            return columns[pos[hit]], counts[hit].astype(np.float64)

        return count_chars
    analyzer, get = vec.build_analyzer(), vocab.get

    def count_any(text: str) -> tuple[np.ndarray, np.ndarray]:
        found = Counter(map(get, analyzer(text)))
        found.pop(None, None)
        return (
            np.fromiter(found.keys(), dtype=np.int64, count=len(found)),
            np.fromiter(found.values(), dtype=np.float64, count=len(found)),
        )

    return count_any


class _FastScorer:
    """The fitted pipeline's arithmetic, without scikit-learn's per-call checks.

    scikit-learn spends about a millisecond validating inputs on every call; for one
    proposal the arithmetic itself takes a fraction of that. This reuses the fitted
    vocabularies, idf, weights and calibrators as they are, counts n-grams faster than
    the vectorizers do, and tests prove it gives the pipeline's features and probabilities.
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
                    _counter(vec),
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
        for count, idf, offset, sublinear in self.parts:
            idx, tf = count(text)
            if not idx.size:
                continue
            if sublinear:
                tf = np.log(tf) + 1.0
            val = tf * idf[idx]
            val /= np.sqrt(val @ val)
            all_idx.append(idx + offset)
            all_val.append(val)
        if not all_idx:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return np.concatenate(all_idx), np.concatenate(all_val)

    def features_many(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The TF-IDF rows of many texts (float64), each as :meth:`features` computes it."""
        rows = [self.features(t) for t in texts]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([idx.size for idx, _ in rows], out=indptr[1:])
        indices = np.concatenate([idx for idx, _ in rows]) if rows else np.zeros(0, np.int64)
        data = np.concatenate([val for _, val in rows]) if rows else np.zeros(0)
        shape = (len(rows), self.weights.shape[0])
        return sparse.csr_matrix((data, indices, indptr), shape=shape)

    def proba_many(self, x: sparse.csr_matrix) -> np.ndarray:
        """:meth:`proba` for every row of ``x`` at once."""
        scores = np.asarray(x @ self.weights) + self.intercept
        if self.sigmoid is None:
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            return np.asarray(scores / scores.sum(axis=1, keepdims=True))
        a, b = self.sigmoid
        p = 1.0 / (1.0 + np.exp(a * scores + b))
        total = p.sum(axis=1, keepdims=True)
        safe = np.where(total > 0, total, 1.0)
        return np.asarray(np.where(total > 0, p / safe, 1.0 / p.shape[1]))

    def proba(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        scores = val @ self.weights[idx] + self.intercept
        if self.sigmoid is None:
            scores = np.exp(scores - scores.max())
            return np.asarray(scores / scores.sum())
        a, b = self.sigmoid
        p = 1.0 / (1.0 + np.exp(a * scores + b))
        total = p.sum()
        return np.asarray(p / total) if total > 0 else np.full_like(p, 1.0 / p.size)


@dataclass(frozen=True)
class DepartmentModel:
    """Which outside department(s) an item points to, learned from the corpus's labels.

    One logistic regression per department on the same TF-IDF features, kept as plain
    arrays. It backs up the keyword rules, which only know the words someone wrote down.
    """

    labels: tuple[str, ...]
    weights: np.ndarray  # (n_features, n_departments)
    intercept: np.ndarray

    @classmethod
    def fit(
        cls, x: sparse.csr_matrix, departments: Sequence[Sequence[str]], C: float = 4.0
    ) -> DepartmentModel | None:
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

    def proba(self, x: sparse.csr_matrix) -> np.ndarray:
        scores = np.asarray(x @ self.weights) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-scores)))

    def proba_one(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        scores = val @ self.weights[idx] + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-scores)))

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "weights": self.weights, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DepartmentModel | None:
        if not data:
            return None
        return cls(
            tuple(data["labels"]), np.asarray(data["weights"]), np.asarray(data["intercept"])
        )


class TextModel:
    """A fitted pipeline plus what routing needs from it: classes, weights, feature names."""

    def __init__(
        self, pipeline: Pipeline, config: ModelConfig, departments: DepartmentModel | None = None
    ) -> None:
        self.pipeline = pipeline
        self.config = config
        self.departments = departments
        self.classes: tuple[str, ...] = tuple(str(c) for c in pipeline.classes_)
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

    def score_many(self, texts: Sequence[str]) -> tuple[np.ndarray, sparse.csr_matrix]:
        """Probabilities and feature rows of many texts: :meth:`score_one`'s figures, batched."""
        x = self.fast.features_many(texts)
        return self.fast.proba_many(x), x

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
        return cls(pipe, config, dept)

    def artifact(self) -> dict[str, Any]:
        """What the registry writes: plain objects, loaded back by :meth:`from_artifact`."""
        return {
            "pipeline": self.pipeline,
            "departments": self.departments.to_dict() if self.departments else None,
        }

    @classmethod
    def from_artifact(cls, data: dict[str, Any], config: ModelConfig) -> TextModel:
        return cls(data["pipeline"], config, DepartmentModel.from_dict(data.get("departments")))

    def vectorize(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self.pipeline.named_steps["features"].transform(list(texts))

    def proba_from_features(self, x: sparse.csr_matrix) -> np.ndarray:
        return np.asarray(self.pipeline.named_steps["clf"].predict_proba(x))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.proba_from_features(self.vectorize(texts))

    @property
    def word_features(self) -> int:
        """How many leading feature columns are words (the rest are character n-grams)."""
        features = self.pipeline.named_steps["features"]
        if isinstance(features, FeatureUnion):
            return len(features.transformer_list[0][1].vocabulary_)
        return len(features.vocabulary_)

    @property
    def feature_names(self) -> np.ndarray:
        if self._names is None:
            self._names = np.asarray(self.pipeline.named_steps["features"].get_feature_names_out())
        return self._names

    def top_terms(
        self, row: sparse.csr_matrix | tuple[np.ndarray, np.ndarray], class_index: int, k: int = 8
    ) -> list[tuple[str, float]]:
        """Words of one document that weighed most for one class (value times weight).

        Character n-grams also carry weight but read poorly to a dispatcher ("路", "信号"), so
        only word features are shown.
        """
        if isinstance(row, tuple):
            idx, data = row
        else:
            csr = row.tocsr()
            idx, data = csr.indices, csr.data
        words = idx < self.word_features
        idx, data = idx[words], data[words]
        if idx.size == 0:
            return []
        contrib = data * self.fast.weights[idx, class_index]  # the scorer's weights, not a copy
        order = np.argsort(-contrib)[:k]
        names = self.feature_names
        out = []
        for i in order:
            if contrib[i] <= 0:
                break
            name = str(names[idx[i]])
            out.append((name.split("__", 1)[-1], round(float(contrib[i]), 4)))
        return out
