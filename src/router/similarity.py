"""Character n-gram similarity: near-duplicate checks on the corpus and 并案 grouping."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer


def shingle_matrix(texts: Sequence[str], n: int = 5) -> sparse.csr_matrix:
    """Binary character n-gram sets, one row per text (white space removed first)."""
    squeezed = ["".join(t.split()) for t in texts]
    vec = CountVectorizer(
        analyzer="char", ngram_range=(n, n), binary=True, lowercase=False, dtype=np.int32
    )
    try:
        return vec.fit_transform(squeezed).tocsr()
    except ValueError:  # every text shorter than n
        return sparse.csr_matrix((len(texts), 0), dtype=np.int32)


def jaccard_pairs(
    texts: Sequence[str], threshold: float, n: int = 5
) -> list[tuple[int, int, float]]:
    """All pairs (i < j) whose character n-gram Jaccard similarity is at least ``threshold``."""
    m = shingle_matrix(texts, n)
    sizes = np.asarray(m.sum(axis=1)).ravel()
    inter = (m @ m.T).tocoo()
    out = []
    for i, j, common in zip(inter.row, inter.col, inter.data, strict=True):
        if i < j:
            union = sizes[i] + sizes[j] - common
            sim = float(common / union) if union else 0.0
            if sim >= threshold:
                out.append((int(i), int(j), sim))
    return sorted(out, key=lambda p: -p[2])


def max_jaccard(texts: Sequence[str], n: int = 5) -> tuple[int, int, float]:
    pairs = jaccard_pairs(texts, 0.0, n)
    return pairs[0] if pairs else (-1, -1, 0.0)
