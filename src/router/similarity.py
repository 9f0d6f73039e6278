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


def tfidf_rows(texts: Sequence[str], *, words: bool = False) -> sparse.csr_matrix:
    """L2-normalised TF-IDF rows fitted on these texts themselves.

    Character bigrams by default (robust to segmentation and short titles); ``words`` uses
    the domain tokenizer. Fitting on the batch lets a phrase every row shares ("建议",
    "加强") weigh little, so two rows score high only when they share what is particular.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if words:
        from router.text import tokenize

        vec = TfidfVectorizer(
            tokenizer=tokenize, token_pattern=None, lowercase=False, sublinear_tf=True
        )
    else:
        vec = TfidfVectorizer(
            analyzer="char", ngram_range=(2, 2), lowercase=False, sublinear_tf=True
        )
    squeezed = ["".join(t.split()) for t in texts]
    try:
        return vec.fit_transform(squeezed).astype(np.float32).tocsr()
    except ValueError:  # no text long enough for one feature
        return sparse.csr_matrix((len(texts), 0), dtype=np.float32)


def cosine_pairs(
    rows: sparse.csr_matrix, threshold: float, block: int = 1000
) -> list[tuple[int, int, float]]:
    """Pairs (i < j) of L2-normalised rows whose cosine is at least ``threshold``.

    Computed a block of rows at a time, so that memory stays bounded on a ledger of
    tens of thousands of rows.
    """
    n = rows.shape[0]
    out: list[tuple[int, int, float]] = []
    if n < 2 or rows.shape[1] == 0:
        return out
    rows_t = rows.T.tocsc()
    for start in range(0, n, block):
        # only columns from `start` on: the pairs below the diagonal would be dropped anyway
        prod = (rows[start : start + block] @ rows_t[:, start:]).tocoo()
        i = prod.row + start
        j = prod.col + start
        keep = (j > i) & (prod.data >= threshold - 1e-6)
        out.extend(
            zip(
                i[keep].tolist(),
                j[keep].tolist(),
                np.minimum(prod.data[keep], 1.0).astype(float).tolist(),
                strict=True,
            )
        )
    return out
