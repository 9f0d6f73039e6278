"""From a fitted scikit-learn pipeline to the plain arrays serving reads (:mod:`router.core.scorer`).

Training fits scikit-learn's TF-IDF vectorizers and linear models (:mod:`router.learn.fit`);
this reads what they learnt (n-gram vocabularies, idf, weights, sigmoid calibration) into a
:class:`~router.core.scorer.Scorer`, refusing any setting the scorer would not reproduce
exactly. Tests prove the scorer's features and probabilities equal scikit-learn's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from router.core.scorer import BITS, Part, Scorer, ScorerError, gram_key
from router.core.text import tokenize


def scorer_from_fitted(pipeline: Any, departments: Any = None) -> Scorer:
    """From a fitted pipeline (TF-IDF features, then a linear classifier) and the
    department model's arrays, without importing scikit-learn."""
    features = pipeline.named_steps["features"]
    vectorizers = (
        [v for _, v in features.transformer_list]
        if hasattr(features, "transformer_list")
        else [features]
    )
    tokens: dict[str, int] = {}
    parts = [_part_from_vectorizer(v, tokens) for v in vectorizers]
    clf = pipeline.named_steps["clf"]
    sigmoid = None
    if hasattr(clf, "calibrated_classifiers_"):
        if len(clf.calibrated_classifiers_) != 1:
            raise ScorerError("only one sigmoid-calibrated estimator is supported")
        inner = clf.calibrated_classifiers_[0]
        if inner.method != "sigmoid":
            raise ScorerError("only sigmoid calibration is supported")
        est = inner.estimator
        if list(est.classes_) != list(clf.classes_):
            raise ScorerError("class order differs between estimator and calibration")
        sigmoid = (
            np.array([c.a_ for c in inner.calibrators], dtype=np.float64),
            np.array([c.b_ for c in inner.calibrators], dtype=np.float64),
        )
    elif type(clf).__name__ == "LogisticRegression":
        est = clf
    else:
        raise ScorerError(f"unsupported classifier {type(clf).__name__}")
    coef = np.asarray(est.coef_)
    if coef.shape[0] != len(clf.classes_):
        raise ScorerError("a binary classifier is not supported")
    dept: dict[str, Any] = {}
    if departments is not None:
        full = np.asarray(departments.weights, dtype=np.float32)
        rows = np.flatnonzero(np.any(full != 0, axis=1)).astype(np.int32)
        dept = {
            "departments": departments.labels,
            "dept_rows": rows,
            "dept_weights": full[rows],
            "dept_intercept": np.asarray(departments.intercept, dtype=np.float64),
        }
    return Scorer(
        classes=[str(c) for c in clf.classes_],
        tokens=list(tokens),
        parts=parts,
        weights=coef.T,
        intercept=np.asarray(est.intercept_, dtype=np.float64),
        sigmoid=sigmoid,
        **dept,
    )


def _part_from_vectorizer(vec: Any, tokens: dict[str, int]) -> Part:
    """One fitted TfidfVectorizer as keys and idf; word tokens are added to ``tokens``."""
    lo, hi = vec.ngram_range
    plain = (
        vec.preprocessor is None
        and vec.strip_accents is None
        and vec.input == "content"
        and vec.norm == "l2"
        and vec.use_idf
        and not vec.binary
        and 1 <= lo <= hi <= 3
    )
    vocab: dict[str, int] = vec.vocabulary_
    grams = sorted(vocab, key=vocab.__getitem__)
    if plain and vec.analyzer == "word" and vec.tokenizer is tokenize:
        if vec.lowercase or vec.stop_words is not None:
            raise ScorerError("word features must not lowercase or drop stop words again")
        kind = "word"
        keys = np.zeros(len(grams), dtype=np.uint64)
        for col, gram in enumerate(grams):
            parts = gram.split(" ")
            if not lo <= len(parts) <= hi or "" in parts:
                raise ScorerError(f"cannot split word n-gram {gram!r}")
            keys[col] = gram_key([tokens.setdefault(t, len(tokens) + 1) for t in parts])
        if len(tokens) >= 1 << BITS or any("\n" in t for t in tokens):
            raise ScorerError("too many distinct tokens, or a token with a line break")
    elif plain and vec.analyzer == "char":
        kind = "char"
        keys = np.fromiter(
            (gram_key([ord(ch) + 1 for ch in gram]) for gram in grams),
            dtype=np.uint64,
            count=len(grams),
        )
    else:
        raise ScorerError(f"unsupported vectorizer (analyzer {vec.analyzer!r}, n-grams {lo}-{hi})")
    return Part(
        kind=kind,
        lo=lo,
        hi=hi,
        keys=keys,
        idf=np.asarray(vec.idf_, dtype=np.float64),
        sublinear=bool(vec.sublinear_tf),
        lowercase=bool(vec.lowercase),
    )
