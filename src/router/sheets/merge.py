"""Similarity: character n-grams for near-duplicate checks on the corpus, word TF-IDF for 并案.

并案 must stay fast on a ledger of ten thousand proposals, where most pairs share some common
word and the full product of the TF-IDF rows has tens of millions of entries:
:func:`tfidf_rows` builds the word matrix straight from :func:`router.core.text.tokenize` (with
scikit-learn's values), and :func:`cosine_pair_arrays` multiplies only the rarer words exactly
and bounds what the frequent ones can add, which a second process can share
(:func:`router.core.parallel.split`). After routing a ledger, the tokens the router made are
handed over, so nothing is segmented twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from router.core.parallel import ANY, paused, split

PARALLEL_MIN_ROWS = 2000  # below this a second process costs more than it saves
# 并案's exact search, bounded: beyond this many candidate products (a ledger of thousands of
# rows all alike), the bounded neighbour search instead; see bench/upload_limits.py
MIN_BUDGET = 2_000_000
PAIRS_PER_ROW = 200
_TOLERANCE = 1e-6  # a pair at threshold - 1e-6 still counts, as float32 rounding may put it there
_SLACK = 1e-4  # bounds are checked this much below the cut, far above any rounding error

Pairs = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]
Source = str | tuple[str | None, str | None]  # a text, or a title and body to prepare


def shingle_matrix(texts: Sequence[str], n: int = 5) -> sparse.csr_matrix:
    """Binary character n-gram sets, one row per text (white space removed first)."""
    squeezed = ["".join(t.split()) for t in texts]
    from sklearn.feature_extraction.text import CountVectorizer  # corpus checks only

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


def tfidf_rows(
    texts: Sequence[Source],
    *,
    words: bool = False,
    tokens: Sequence[Sequence[str]] | None = None,
    place_repeat: int = 0,
) -> sparse.csr_matrix:
    """L2-normalised float32 TF-IDF rows fitted on these texts themselves.

    Character bigrams by default (robust to segmentation and short titles); ``words`` uses
    the domain tokenizer. Fitting on the batch lets a phrase every row shares ("建议",
    "加强") weigh little, so two rows score high only when they share what is particular.
    Either way the values are scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``: over
    the characters with white space removed, or over the words as the router reads them
    (:func:`router.core.text.tokenize` of the prepared text, title and body segmented apart), so
    that the tokens made while routing serve again. A (title, body) pair stands for ``prepare(title, body)``, prepared where
    it is segmented. ``tokens`` (with ``words``) are the texts' tokens already made, say
    while routing them: then nothing is segmented again. ``place_repeat`` (with ``words``)
    adds each named place that many times (:func:`with_places`).
    """
    if words:
        return _word_tfidf(texts, tokens, place_repeat)
    from sklearn.feature_extraction.text import TfidfVectorizer

    squeezed = ["".join(_text(t).split()) for t in texts]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 2), lowercase=False, sublinear_tf=True)
    try:
        return vec.fit_transform(squeezed).astype(np.float32).tocsr()
    except ValueError:  # no text long enough for one feature
        return sparse.csr_matrix((len(texts), 0), dtype=np.float32)


def cosine_pairs(
    rows: sparse.csr_matrix, threshold: float, block: int = 1000
) -> list[tuple[int, int, float]]:
    """Pairs (i < j) of L2-normalised rows whose cosine is at least ``threshold``, by (i, j)."""
    i, j, sim = cosine_pair_arrays(rows, threshold, block=block)
    return list(zip(i.tolist(), j.tolist(), sim.tolist(), strict=True))


def cosine_pair_arrays(
    rows: sparse.spmatrix,
    threshold: float,
    *,
    block: int = 1000,
    processes: int = 1,
    budget: int | None = None,
) -> Pairs:
    """Pairs (i < j) whose dot product (the cosine of L2-normalised rows) is ``threshold`` or
    more (less 1e-6), as arrays sorted by (i, j), with the values capped at 1.

    Exact without the full product. With F the columns in more than ``d`` rows and R the
    others, x·y = r + f, r the sum over R and f over F, and f <= |x_F| |y_F| (Cauchy-Schwarz).
    So a pair reaches t only if r + |x_F| |y_F| >= t: either it is an entry of the product
    over R (cheap: those columns are short), or |x_F| |y_F| >= t alone, which the norms
    list without any product (``d`` is raised until such pairs are few). Each candidate
    then gets its exact dot product. ``block`` rows at a time keep the memory bounded.

    ``budget`` bounds the work: when the product over R yields more candidates than that
    (thousands of rows all alike, whose pairs grow with the square of their number),
    the search falls back to :func:`_bounded_pairs`, which finds each row's pairs among a
    few neighbours only, in time linear in the rows.
    """
    n = rows.shape[0]
    if n < 2 or rows.shape[1] == 0:
        return _no_pairs()
    x = sparse.csr_matrix(rows, copy=True)
    x.sum_duplicates()
    cut = threshold - _TOLERANCE
    starts = range(0, n, block)
    tiles = [(row, col) for row in starts for col in starts if col >= row]
    loose = cut - _SLACK
    if loose <= 0 or x.data.min(initial=0) < 0:  # the bound needs both positive
        i, j, _ = _product_pairs(x, tiles, block, np.zeros(n), loose)
        return _exact(x, i, j, cut)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(x.indptr))
    frequent, norms = _frequent_columns(x, owner, loose)
    rare = _entries(x, ~frequent, owner)
    try:
        if processes > 1 and n >= PARALLEL_MIN_ROWS and len(tiles) > 1:
            # every other tile each: further down, a row of tiles has fewer of them
            half = None if budget is None else budget // 2
            mine, theirs = split(
                _tile_pairs,
                [*tiles[0::2], *tiles[1::2]],
                2,
                state=ANY,
                local=_tile_pairs,
                args=(rare, block, norms, loose, half),
            )
            found = [mine, *theirs]
            ri, rj, rv = (np.concatenate(p) for p in zip(*found, strict=True))
        else:
            ri, rj, rv = _product_pairs(rare, tiles, block, norms, loose, budget)
    except _TooMany:
        return _bounded_pairs(x, cut)
    zi, zj = _pairs_by_norms(norms, loose)
    alone = ~np.isin(zi * n + zj, ri * n + rj)  # no rare column in common: r = 0
    ci = np.concatenate([ri, zi[alone]])
    cj = np.concatenate([rj, zj[alone]])
    near = np.concatenate([rv, np.zeros(int(alone.sum()))])
    near += _row_dots(_entries(x, frequent, owner).astype(np.float64), ci, cj)
    keep = near >= loose  # r was summed in float32; the exact value decides
    return _exact(x, ci[keep], cj[keep], cut)


class _TooMany(Exception):
    """The exact search found more candidates than its budget."""


BOUNDED_WORDS = 6  # a row's most particular words that look for its neighbours
BOUNDED_WINDOW = 6  # the earlier rows sharing such a word that are compared with it


def _bounded_pairs(x: sparse.csr_matrix, cut: float) -> Pairs:
    """Pairs reaching ``cut`` among bounded candidates: each row is compared with the
    ``BOUNDED_WINDOW`` rows before it that share one of its ``BOUNDED_WORDS`` heaviest words.

    At most n x 36 exact dot products, whatever the rows: many rows alike still end in one
    group (each is linked to its neighbours), a copy is still marked, though maybe as a copy
    of a nearer row than the earliest; a pair of rows far apart among thousands sharing the
    same words may be missed. Used only when the exact search would cost too much.
    """
    n = x.shape[0]
    lengths = np.diff(x.indptr)
    owner = np.repeat(np.arange(n, dtype=np.int64), lengths)
    # rank each entry within its row by weight, heaviest first; keep the first few
    order = np.lexsort((-x.data, owner))
    rank = np.arange(order.size) - np.repeat(x.indptr[:-1], lengths)
    keep = order[rank < BOUNDED_WORDS]
    rows_, cols = owner[keep], x.indices[keep].astype(np.int64)
    by_col = np.lexsort((rows_, cols))
    rows_, cols = rows_[by_col], cols[by_col]
    found_i: list[NDArray[np.int64]] = []
    found_j: list[NDArray[np.int64]] = []
    for back in range(1, BOUNDED_WINDOW + 1):
        same = cols[back:] == cols[:-back]
        found_i.append(rows_[:-back][same])
        found_j.append(rows_[back:][same])
    if not found_i:
        return _no_pairs()
    i = np.concatenate(found_i)
    j = np.concatenate(found_j)
    key = np.unique(np.minimum(i, j) * n + np.maximum(i, j))
    key = key[key // n != key % n]
    return _exact(x, key // n, key % n, cut)


def _no_pairs() -> Pairs:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)


def _exact(x: sparse.csr_matrix, i: NDArray[np.int64], j: NDArray[np.int64], cut: float) -> Pairs:
    """The candidates whose float64 dot product reaches ``cut``, sorted by (i, j)."""
    sim = _row_dots(x.astype(np.float64), i, j)
    keep = sim >= cut
    i, j, sim = i[keep], j[keep], sim[keep]
    order = np.lexsort((j, i))
    return i[order], j[order], np.minimum(sim[order], 1.0)


def _frequent_columns(
    x: sparse.csr_matrix, owner: NDArray[np.int64], bound: float
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Which entries are in a frequent column, and each row's norm over those columns.

    The cut-off starts at 4% of the rows and rises until at most max(100,000, 10 n) pairs
    have a product of norms reaching ``bound``; a higher cut-off makes the exact product
    over the rare columns dearer, a lower one lists more pairs from the norms alone.
    """
    n = x.shape[0]
    df = np.bincount(x.indices, minlength=x.shape[1])[x.indices]
    squares = x.data.astype(np.float64) ** 2
    limit = max(100_000, 10 * n)
    cutoff = max(16, n // 25)
    while True:
        frequent = df > cutoff
        norms = np.sqrt(np.bincount(owner[frequent], weights=squares[frequent], minlength=n))
        if _count_by_norms(norms, bound).sum() <= limit:
            return frequent, norms
        cutoff = cutoff * 3 // 2 + 1


def _count_by_norms(norms: NDArray[np.float64], bound: float) -> NDArray[np.int64]:
    """In descending order of norm, how many later rows each row's norm times theirs reaches."""
    desc = np.sort(norms)[::-1]
    with np.errstate(divide="ignore"):
        need = bound / desc
    reach: NDArray[np.int64] = np.searchsorted(-desc, -need, side="right").astype(np.int64)
    later: NDArray[np.int64] = reach - np.arange(1, norms.size + 1, dtype=np.int64)
    return np.maximum(later, 0)


def _pairs_by_norms(
    norms: NDArray[np.float64], bound: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Every pair (i < j) with norms[i] * norms[j] >= bound, give or take rounding."""
    order = np.argsort(-norms, kind="stable")
    count = _count_by_norms(norms, bound)
    first = np.repeat(np.arange(norms.size), count)
    offset = np.arange(first.size) - np.repeat(np.cumsum(count) - count, count)
    a, b = order[first], order[first + 1 + offset]
    return np.minimum(a, b), np.maximum(a, b)


def _entries(
    x: sparse.csr_matrix, mask: NDArray[np.bool_], owner: NDArray[np.int64]
) -> sparse.csr_matrix:
    """The same matrix with only the masked entries."""
    n = x.shape[0]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner[mask], minlength=n), out=indptr[1:])
    return sparse.csr_matrix((x.data[mask], x.indices[mask], indptr), shape=x.shape)


def _product_pairs(
    x: sparse.csr_matrix,
    tiles: Sequence[tuple[int, int]],
    block: int,
    norms: NDArray[np.float64],
    bound: float,
    budget: int | None = None,
) -> Pairs:
    """Entries (i < j) of x x^T in the given tiles (first row, first column; ``block`` square)
    that might reach ``bound`` once the other columns add at most norms[i] * norms[j]
    (x non-negative). More than ``budget`` of them raise :class:`_TooMany`.

    Most entries are small: one comparison with a bound per row drops them before the
    exact test on the few left.
    """
    n = x.shape[0]
    top = float(norms.max(initial=0.0))
    floor = bound - norms * top
    columns: dict[int, sparse.csr_matrix] = {}
    found: list[Pairs] = []
    total = 0
    for row, col in tiles:
        if col not in columns:
            columns[col] = sparse.csr_matrix(x[col : col + block].T)
        prod = sparse.csr_matrix(x[row : row + block] @ columns[col])
        low = floor[row : min(row + block, n)].astype(prod.dtype)
        hit = np.flatnonzero(prod.data >= np.repeat(low, np.diff(prod.indptr)))
        i = np.searchsorted(prod.indptr, hit, side="right").astype(np.int64) - 1 + row
        j = prod.indices[hit].astype(np.int64) + col
        value = prod.data[hit].astype(np.float64)
        keep = (j > i) & (value + norms[i] * norms[j] >= bound)
        found.append((i[keep], j[keep], value[keep]))
        total += int(keep.sum())
        if budget is not None and total > budget:
            raise _TooMany
    if not found:
        return _no_pairs()
    i_all, j_all, v_all = (np.concatenate(p) for p in zip(*found, strict=True))
    return i_all, j_all, v_all


def _tile_pairs(
    _state: object,
    tiles: Sequence[tuple[int, int]],
    _tick: Callable[[int], None],
    x: sparse.csr_matrix,
    block: int,
    norms: NDArray[np.float64],
    bound: float,
    budget: int | None,
) -> Pairs:
    """:func:`_product_pairs` as a share of :func:`router.core.parallel.split`."""
    return _product_pairs(x, tiles, block, norms, bound, budget)


def _row_dots(
    m: sparse.csr_matrix, i: NDArray[np.int64], j: NDArray[np.int64], chunk: int = 65536
) -> NDArray[np.float64]:
    """m[i[k]] · m[j[k]] for every k."""
    out = np.zeros(i.size)
    for s in range(0, i.size, chunk):
        a, b = m[i[s : s + chunk]], m[j[s : s + chunk]]
        out[s : s + chunk] = np.asarray(a.multiply(b).sum(axis=1), dtype=np.float64).ravel()
    return out


# -- word TF-IDF ---------------------------------------------------------------------------
class _Index(dict[str, int]):
    """Token -> column, a new column for each token not seen before."""

    def __missing__(self, token: str) -> int:
        column = self[token] = len(self)
        return column


_Counts = tuple[list[str], NDArray[np.int64], NDArray[np.int32]]


PLACE_REPEAT = 5  # a named place counts as this many mentions (sublinear: 1 + ln 5 ≈ 2.6)


def with_places(tokens: Sequence[str], repeat: int = PLACE_REPEAT) -> list[str]:
    """The tokens plus each named place (road, crossing, school...) ``repeat`` times.

    A place is rare in a batch, so its IDF is high already; repeating it makes two texts
    about the same crossing alike however they are worded, and two texts of one template
    about different crossings less alike (each keeps its own place).
    """
    from router.core.places import places

    found = places(tokens)
    if not found:
        return list(tokens)
    return [*tokens, *("§" + name for name in found for _ in range(repeat))]


def _word_tfidf(
    texts: Sequence[Source],
    tokens: Sequence[Sequence[str]] | None = None,
    place_repeat: int = 0,
) -> sparse.csr_matrix:
    """scikit-learn's word TF-IDF (sublinear tf, smooth idf, l2), without its overhead."""
    n = len(texts)
    if place_repeat > 0:
        if tokens is None:
            from router.core.text import tokenize

            with paused():
                tokens = [tokenize(_text(t)) for t in texts]
        tokens = [with_places(t, place_repeat) for t in tokens]
    if tokens is not None:
        if len(tokens) != n:
            raise ValueError("one token list per text")
        vocab, lengths, ids = _indexed(tokens)
    else:
        vocab, lengths, ids = _tokens(texts)
    if not vocab:
        return sparse.csr_matrix((n, 0), dtype=np.float32)
    order = sorted(range(len(vocab)), key=vocab.__getitem__)  # scikit-learn's column order
    column = np.empty(len(vocab), dtype=np.int32)
    column[order] = np.arange(len(vocab), dtype=np.int32)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    counts = sparse.csr_matrix(
        (np.ones(ids.size), column[ids], indptr), shape=(n, len(vocab)), dtype=np.float64
    )
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=len(vocab))
    idf = np.log((n + 1) / (df + 1.0)) + 1.0
    data = (np.log(counts.data) + 1.0) * idf[counts.indices]
    owner = np.repeat(np.arange(n), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(owner, weights=data * data, minlength=n))
    norms[norms == 0.0] = 1.0
    data /= norms[owner]
    return sparse.csr_matrix(
        (data.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape
    )


def _tokens(texts: Sequence[Source]) -> _Counts:
    """The same, on one process: the tokens the router reads (see :func:`tfidf_rows`)."""
    from router.core.text import tokenize

    with paused():
        tokens = [tokenize(_text(t)) for t in texts]
    return _indexed(tokens)


def _indexed(tokens: Sequence[Sequence[str]]) -> _Counts:
    index = _Index()
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    ids = np.fromiter(
        map(index.__getitem__, chain.from_iterable(tokens)),
        dtype=np.int32,
        count=int(lengths.sum()),
    )
    return list(index), lengths, ids


def _text(source: Source) -> str:
    if isinstance(source, str):
        return source
    from router.core.text import prepare

    return prepare(*source)


@dataclass(frozen=True)
class MergeGroup:
    """Rows about the same issue; ``duplicates`` maps a row to the earlier row it copies."""

    name: str
    positions: tuple[int, ...]
    duplicates: dict[int, int]
    max_similarity: float

    @property
    def kind(self) -> str:
        if len(self.duplicates) == len(self.positions) - 1:
            return "重复"
        return "重复+相关" if self.duplicates else "相关"


def group_similar(
    texts: Sequence[Source],
    duplicate: float,
    related: float,
    *,
    processes: int = 1,
    tokens: Sequence[Sequence[str]] | None = None,
    place_repeat: int = PLACE_REPEAT,
    progress: Callable[[int, int], None] | None = None,
) -> list[MergeGroup]:
    """并案 groups: connected rows whose similarity reaches ``related``; copies marked.

    Positions are indices into ``texts`` (prepared texts, or (title, body) pairs, which are
    then prepared where they are segmented); a row is a duplicate of the earliest row in its
    group it resembles at ``duplicate`` or more. ``processes`` > 1 lets a large batch share
    the pair search with a second process; ``tokens``, each text's tokens from routing it, spare
    segmenting the texts again. Named places weigh ``place_repeat`` mentions (0: wording only).
    ``progress(step, 3)`` is called after each step: word weights, pairs, groups.
    """
    n = len(texts)
    step = progress or (lambda _done, _total: None)
    if n < 2:
        step(3, 3)
        return []
    step(0, 3)
    rows = tfidf_rows(texts, words=True, tokens=tokens, place_repeat=place_repeat)
    step(1, 3)
    budget = max(MIN_BUDGET, PAIRS_PER_ROW * n)
    i, j, sim = cosine_pair_arrays(
        rows, min(related, duplicate), processes=processes, budget=budget
    )
    step(2, 3)
    if i.size == 0:
        step(3, 3)
        return []
    edges = sparse.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    count, label = connected_components(edges, directed=False)
    size = np.bincount(label, minlength=count)
    root = np.full(count, n)
    np.minimum.at(root, label, np.arange(n))
    top = np.zeros(count)
    np.maximum.at(top, label[i], sim)
    copy = sim >= duplicate
    first = np.lexsort((i[copy], j[copy]))  # by copy, then by the row it copies
    copies, originals = j[copy][first], i[copy][first]
    earliest = np.ones(copies.size, dtype=bool)
    earliest[1:] = copies[1:] != copies[:-1]
    best_dup = dict(zip(copies[earliest].tolist(), originals[earliest].tolist(), strict=True))
    members = np.argsort(label, kind="stable")
    bounds = np.r_[0, np.cumsum(size)]
    groups: list[MergeGroup] = []
    for k in sorted(np.flatnonzero(size > 1).tolist(), key=lambda k: int(root[k])):
        positions = tuple(members[bounds[k] : bounds[k + 1]].tolist())
        dups = {p: best_dup[p] for p in positions if p in best_dup}
        groups.append(
            MergeGroup(f"并案{len(groups) + 1}", positions, dups, round(float(top[k]), 3))
        )
    step(3, 3)
    return groups
