"""The session's main topics: the proposals grouped by their words and named by them.

Word TF-IDF over the router's own segmentation (the same as 并案 uses), k-means with a fixed
seed, each group named by the three words that weigh most in its centre. A simple grouping for
a report draft: the office renames the groups as it sees fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    words: tuple[str, ...]
    count: int

    @property
    def name(self) -> str:
        return "、".join(self.words)


def topics(texts: Sequence[str], *, max_topics: int = 6, seed: int = 0) -> list[Topic]:
    """Up to ``max_topics`` groups (about one per eight proposals), largest first."""
    if not texts:
        return []
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    from router.core.text import tokenize

    vectorizer = TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False, min_df=1)
    try:
        x = vectorizer.fit_transform(list(texts))
    except ValueError:  # no words at all
        return []
    k = max(1, min(max_topics, len(texts) // 8 or 1, x.shape[0]))
    terms = vectorizer.get_feature_names_out()
    if k == 1:
        centre = np.asarray(x.mean(axis=0)).ravel()
        return [Topic(tuple(str(terms[i]) for i in centre.argsort()[::-1][:3]), len(texts))]
    model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
    counts = np.bincount(model.labels_, minlength=k)
    out = []
    for c in range(k):
        top = model.cluster_centers_[c].argsort()[::-1][:3]
        out.append(Topic(tuple(str(terms[i]) for i in top), int(counts[c])))
    return sorted((t for t in out if t.count), key=lambda t: (-t.count, t.name))
