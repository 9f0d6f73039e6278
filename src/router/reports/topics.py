"""The session's main topics: the proposals grouped by their words and named by them.

Word TF-IDF (sublinear) over the router's own segmentation (the same as 并案 uses), k-means
with a fixed seed, each group named by the words that set its centre apart from the average. A simple grouping for
a report draft: the office renames the groups as it sees fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Topic:
    words: tuple[str, ...]
    count: int

    @property
    def name(self) -> str:
        return "、".join(self.words)


def topics(texts: Sequence[str], *, max_topics: int = 8, seed: int = 0) -> list[Topic]:
    """About √n groups (at most ``max_topics``), largest first, each named by the three words
    of two or more characters that weigh most in its centre above the session's average."""
    if not texts:
        return []
    import math

    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    from router.core.text import tokenize

    vectorizer = TfidfVectorizer(
        tokenizer=tokenize, token_pattern=None, lowercase=False, sublinear_tf=True
    )
    try:
        x = vectorizer.fit_transform(list(texts))
    except ValueError:  # no words at all
        return []
    terms = vectorizer.get_feature_names_out()
    named = np.array([len(str(t)) >= 2 for t in terms])
    mean = np.asarray(x.mean(axis=0)).ravel()
    k = max(1, min(max_topics, round(math.sqrt(len(texts))), x.shape[0]))

    def name(centre: Any) -> tuple[str, ...]:
        score = np.where(named, centre - (mean if k > 1 else 0), -np.inf)
        return tuple(str(terms[i]) for i in score.argsort()[::-1][:3] if np.isfinite(score[i]))

    if k == 1:
        return [Topic(name(mean), len(texts))]
    model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
    counts = np.bincount(model.labels_, minlength=k)
    out = [Topic(name(model.cluster_centers_[c]), int(counts[c])) for c in range(k)]
    return sorted((t for t in out if t.count), key=lambda t: (-t.count, t.name))
