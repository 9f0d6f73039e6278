"""The fitted model's arithmetic on plain arrays: what serving loads instead of scikit-learn.

Training fits scikit-learn's TF-IDF vectorizers and linear models (:mod:`router.learn.fit`),
read into a scorer by :mod:`router.learn.export`. A prediction needs only their n-gram vocabularies, idf, weights and calibration, kept here as
numpy arrays in one ``.npz`` file that loads without pickle and without importing
scikit-learn, so a process that routes starts in a fraction of the time and memory.

Features of a whole batch are computed at once: each n-gram becomes an integer key (21 bits
per character or token), keys are found in a hash table probed with numpy, and counted with
one sort. Tests prove the features and probabilities equal scikit-learn's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, compress, repeat

import numpy as np
from scipy import sparse

try:  # scipy's compiled sparse kernels: private, so used with a fallback (see _product)
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover
    _sparsetools = None

from router.core.text import kept, raw_tokens

BITS = 21  # a code point (plus one) or a token id fits in 21 bits, three of them in 63
_SHIFT = np.uint64(BITS)
_MULT = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing
_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's char analyzer folds white space


class ScorerError(ValueError):
    """A fitted model this scorer cannot represent, or a damaged scorer file."""


class KeyIndex:
    """An open-addressing hash table from distinct non-zero uint64 keys to columns 0..n-1."""

    def __init__(self, keys: np.ndarray) -> None:
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        self.bits = max(4, int(np.ceil(np.log2(max(keys.size, 1)))) + 3)  # load <= 1/8
        self.mask = (1 << self.bits) - 1
        self._shift = np.uint64(64 - self.bits)
        self.slot_keys = np.zeros(1 << self.bits, dtype=np.uint64)
        self.slot_cols = np.full(1 << self.bits, -1, dtype=np.int32)
        pending = np.arange(keys.size)
        slot = self._home(keys)
        while pending.size:
            free = np.flatnonzero(self.slot_keys[slot] == 0)
            _, first = np.unique(slot[free], return_index=True)
            won = free[first]
            self.slot_keys[slot[won]] = keys[pending[won]]
            self.slot_cols[slot[won]] = pending[won]
            lost = np.ones(pending.size, dtype=bool)
            lost[won] = False
            # linear probing: every slot a key passes stays occupied, so lookups find it
            pending, slot = pending[lost], (slot[lost] + 1) & self.mask

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * _MULT) >> self._shift).view(np.int64)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The column of each key, -1 where a key is not in the table."""
        slot = self._home(keys)
        found = self.slot_keys[slot]
        out = np.where(found == keys, self.slot_cols[slot], -1)
        # the rest probe on: a key met another key at home (rare: the table is mostly empty)
        todo = np.flatnonzero((found != keys) & (found != 0))
        slot, wanted = (slot[todo] + 1) & self.mask, keys[todo]
        while todo.size:
            found = self.slot_keys[slot]
            hit = found == wanted
            out[todo[hit]] = self.slot_cols[slot[hit]]
            more = ~hit & (found != 0)
            todo, slot, wanted = todo[more], (slot[more] + 1) & self.mask, wanted[more]
        return out


def gram_key(symbols: Sequence[int]) -> int:
    """The integer key of one n-gram of symbols (code points or token ids, each >= 1)."""
    key = 0
    for s in symbols:
        key = (key << BITS) | s
    return key


def _ngram_keys(
    symbols: np.ndarray, doc: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keys of every n-gram (lo <= n <= hi) inside one document, with that document's index.

    A zero symbol (a token no n-gram of the vocabulary contains) ends every n-gram over it.
    """
    keys, docs = [], []
    size = symbols.size
    for n in range(lo, hi + 1):
        m = size - n + 1
        if m <= 0:
            break
        key = symbols[:m].copy()
        ok = (doc[:m] == doc[n - 1 : n - 1 + m]) & (key != 0)
        for i in range(1, n):
            nxt = symbols[i : i + m]
            key <<= _SHIFT
            key |= nxt
            ok &= nxt != 0
        keys.append(key[ok])
        docs.append(doc[:m][ok])
    if not keys:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(keys), np.concatenate(docs)


def _nested_terms(
    symbols: np.ndarray, doc: np.ndarray, part: Part
) -> tuple[np.ndarray, np.ndarray]:
    """(document, column) of every n-gram found (unigrams too when the part has them), trying
    a trigram only where both its bigrams were found (see :meth:`Part._nested`)."""
    first: list[tuple[np.ndarray, np.ndarray]] = []
    if part.lo == 1:
        table = part.first
        one = table[np.minimum(symbols, np.uint64(table.size - 1)).astype(np.intp)]
        hit1 = one >= 0  # (a symbol past the table's end meets its last entry, which is -1)
        first = [(doc[hit1], one[hit1].astype(np.int64))]
    if symbols.size < 2:
        empty = np.zeros(0, dtype=np.int64)
        first.append((empty, empty))
        return np.concatenate([d for d, _ in first]), np.concatenate([c for _, c in first])
    pair = (symbols[:-1] << _SHIFT) | symbols[1:]
    inside = np.flatnonzero((doc[:-1] == doc[1:]) & (symbols[:-1] != 0) & (symbols[1:] != 0))
    found = np.full(pair.size, -1, dtype=np.int32)
    found[inside] = part.index.get(pair[inside])
    two = found >= 0
    at = np.flatnonzero(two[:-1] & two[1:])  # both halves found, so both in one document
    three = part.index.get((pair[at] << _SHIFT) | symbols[at + 2])
    hit3 = three >= 0
    docs = np.concatenate([*(d for d, _ in first), doc[:-1][two], doc[at[hit3]]])
    cols = np.concatenate(
        [*(c for _, c in first), found[two].astype(np.int64), three[hit3].astype(np.int64)]
    )
    return docs, cols


@dataclass
class Part:
    """One TF-IDF vectorizer: its n-gram range, vocabulary keys (in column order) and idf."""

    kind: str  # "word" or "char"
    lo: int
    hi: int
    keys: np.ndarray
    idf: np.ndarray
    sublinear: bool
    lowercase: bool
    offset: int = 0

    def __post_init__(self) -> None:
        self.index = KeyIndex(self.keys)
        self.nested = self._nested()
        # one-symbol n-grams by symbol, for a nested part that has them (its last entry -1)
        one = self.keys[self.keys < np.uint64(1 << BITS)]
        self.first = self.unigrams(int(one.max()) + 1 if one.size else 0)

    def _nested(self) -> bool:
        """Whether both two-symbol halves of every three-symbol n-gram are in the vocabulary.

        They are whenever no n-gram was cut by ``max_features``: a trigram's document
        frequency never exceeds its halves'. Then a trigram need only be looked up where both
        halves were found (and one-symbol n-grams are found by indexing, not hashing).
        """
        if (self.lo, self.hi) not in ((1, 3), (2, 3)):
            return False
        tri = self.keys[self.keys >= np.uint64(1 << (2 * BITS))]
        low = np.uint64((1 << (2 * BITS)) - 1)
        halves = np.concatenate([tri >> _SHIFT, tri & low])
        return bool((self.index.get(halves) >= 0).all())

    @property
    def size(self) -> int:
        return int(self.keys.size)

    def unigrams(self, symbols: int) -> np.ndarray:
        """Column of each one-symbol n-gram by symbol 0..``symbols`` (-1: none)."""
        one = np.flatnonzero(self.keys < np.uint64(1 << BITS))
        table = np.full(symbols + 1, -1, dtype=np.int32)
        table[self.keys[one].astype(np.intp)] = one
        return table


def _sorted(keys: np.ndarray) -> np.ndarray:
    """Non-negative int64 keys in ascending order. Below 2**32 (a batch's (document, column)
    pairs), two stable passes of numpy's radix sort over 16-bit halves: about three times
    faster than sorting int64, and the same array."""
    if keys.size < 1 << 12 or int(keys.max()) >= 1 << 32:
        return np.sort(keys)
    k = keys.astype(np.uint32)
    low = np.argsort((k & np.uint32(0xFFFF)).astype(np.uint16), kind="stable")
    high = np.argsort((k >> np.uint32(16)).astype(np.uint16)[low], kind="stable")
    return keys[low[high]]


def _tfidf(
    docs: np.ndarray, cols: np.ndarray, n: int, part: Part
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document, column, value) of each distinct term, sorted, l2-normalised per document."""
    if not cols.size:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    width = np.int64(part.size)
    combined = _sorted(docs * width + cols)
    starts = np.flatnonzero(np.concatenate(([True], combined[1:] != combined[:-1])))
    counts = np.diff(np.append(starts, combined.size)).astype(np.float64)
    unique = combined[starts]
    d = unique // width
    c = unique - d * width
    tf = np.log(counts) + 1.0 if part.sublinear else counts
    val = tf * part.idf[c]
    norm = np.sqrt(np.bincount(d, weights=val * val, minlength=n))
    val /= norm[d]
    return d, c, val


class Scorer:
    """Features, unit probabilities, department probabilities and explanations of texts."""

    def __init__(
        self,
        *,
        classes: Sequence[str],
        tokens: Sequence[str],
        parts: Sequence[Part],
        weights: np.ndarray,
        intercept: np.ndarray,
        sigmoid: tuple[np.ndarray, np.ndarray] | None,
        departments: Sequence[str] = (),
        dept_rows: np.ndarray | None = None,
        dept_weights: np.ndarray | None = None,
        dept_intercept: np.ndarray | None = None,
        reference: sparse.csr_matrix | None = None,
    ) -> None:
        self.classes = tuple(classes)
        self.tokens = list(tokens)
        self._lookup = self._fresh_lookup()
        self._terms: dict[int, str] = {}
        self.parts = list(parts)
        # a word unigram's key is its token id, so its column is found by indexing, not hashing
        self._unigrams = next(
            (p.unigrams(len(self.tokens)) for p in self.parts if p.kind == "word" and p.lo == 1),
            None,
        )
        offset = 0
        for part in self.parts:
            part.offset = offset
            offset += part.size
        self.n_features = offset
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.sigmoid = sigmoid
        self.departments = tuple(departments)
        self.dept_rows = np.zeros(0, np.int32) if dept_rows is None else dept_rows
        self.dept_weights = (
            np.zeros((0, len(self.departments)), np.float32)
            if dept_weights is None
            else np.ascontiguousarray(dept_weights, dtype=np.float32)
        )
        self.dept_intercept = (
            np.zeros(len(self.departments)) if dept_intercept is None else dept_intercept
        )
        self.dept_map = np.full(self.n_features, -1, dtype=np.int32)
        self.dept_map[self.dept_rows] = np.arange(self.dept_rows.size, dtype=np.int32)
        if self.weights.shape != (self.n_features, len(self.classes)):
            raise ScorerError("weights do not match the vocabulary and classes")
        self.reference = reference
        self._transposed: tuple[sparse.csr_matrix, sparse.csr_matrix] | None = None

    def with_reference(self, texts: Sequence[str]) -> Scorer:
        """Keep the training texts' word rows, so that :meth:`familiarity` can tell how far a
        new text is from everything the model learnt from."""
        self.reference = _unit_rows(self.transform(texts)[:, : self.word_features])
        return self

    def familiarity(self, x: sparse.csr_matrix) -> np.ndarray | None:
        """Each row's largest cosine similarity (word n-grams) to a training text, or None
        for a model saved without its training rows."""
        if self.reference is None or self.reference.shape[0] == 0:
            return None
        rows = _unit_word_rows(x, self.word_features)
        columns = self._reference_columns(self.reference)
        n = x.shape[0]
        best = np.zeros(n)
        step = max(1, _DENSE_ENTRIES // columns.shape[1])  # rows whose product is made at once
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            ptr, at = rows[0][lo : hi + 1], rows[0][lo]
            part = (ptr - at, rows[1][at : ptr[-1]], rows[2][at : ptr[-1]])
            indptr, data = _product(part, columns)
            nz = np.flatnonzero(np.diff(indptr) > 0)
            if nz.size:
                best[lo + nz] = np.maximum.reduceat(data, indptr[:-1][nz])
        return best

    def _reference_columns(self, ref: sparse.csr_matrix) -> sparse.csr_matrix:
        """The training rows transposed, as the product needs them: made once per reference
        rather than on every call, which cost several milliseconds for one text."""
        if self._transposed is None or self._transposed[0] is not ref:
            self._transposed = (ref, sparse.csr_matrix(ref.T))
        return self._transposed[1]

    def _fresh_lookup(self) -> dict[str, int]:
        """Token -> id (>= 1); other tokens are added as seen: 0 kept, -1 dropped."""
        return {t: i + 1 for i, t in enumerate(self.tokens)}

    def _token_ids(self, flat: list[str]) -> np.ndarray:
        lookup = self._lookup
        ids = np.fromiter(map(lookup.get, flat, repeat(-2)), dtype=np.int64, count=len(flat))
        unseen = np.flatnonzero(ids == -2)
        if unseen.size:
            if len(lookup) > len(self.tokens) + 200_000:
                lookup = self._lookup = self._fresh_lookup()
            for i in unseen.tolist():
                tok = flat[i]
                ids[i] = lookup[tok] = 0 if kept(tok) else -1
        return ids

    @property
    def _words(self) -> Part:
        return next(p for p in self.parts if p.kind == "word")

    @property
    def word_features(self) -> int:
        """How many leading columns are word n-grams (the rest are character n-grams)."""
        return sum(p.size for p in self.parts if p.kind == "word")

    # -- features --------------------------------------------------------------------------
    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows (float32) of normalised texts, as the fitted vectorizers compute them."""
        return self.features(texts)[0]

    def features(
        self, texts: Sequence[str], *, tokens: bool = False
    ) -> tuple[sparse.csr_matrix, list[list[str]] | None]:
        """The TF-IDF rows and, with ``tokens``, each text's tokens
        (:func:`router.core.text.tokenize`), made on the way: 并案 reads them after routing."""
        n = len(texts)
        words: list[list[str]] | None = None
        found = []
        for part in self.parts:
            d, c, v, w = self._part_terms(part, texts, tokens)
            found.append((d, c, v))
            words = w if w is not None else words
        docs = np.concatenate([d for d, _, _ in found])
        cols = np.concatenate(
            [c + p.offset for (_, c, _), p in zip(found, self.parts, strict=True)]
        )
        vals = np.concatenate([v for _, _, v in found]).astype(np.float32)
        order = np.argsort(docs, kind="stable")  # each part is sorted by document already
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(docs, minlength=n), out=indptr[1:])
        x = sparse.csr_matrix(
            (vals[order], cols[order].astype(np.int32), indptr), shape=(n, self.n_features)
        )
        return x, words

    def _part_terms(
        self, part: Part, texts: Sequence[str], tokens: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[str]] | None]:
        words_of: list[list[str]] | None = None
        n = len(texts)
        if part.kind == "word":
            # tokenize() itself, with its filter folded into the vocabulary lookup
            toks = [raw_tokens(t) for t in texts]
            lengths = np.fromiter(map(len, toks), dtype=np.int64, count=n)
            flat = list(chain.from_iterable(toks))
            ids = self._token_ids(flat)
            kept_at = ids >= 0
            symbols = ids[kept_at].astype(np.uint64)
            doc = np.repeat(np.arange(n, dtype=np.int64), lengths)[kept_at]
            if tokens:
                words = list(compress(flat, kept_at.tolist()))
                ends = np.cumsum(np.bincount(doc, minlength=n)).tolist()
                words_of = [words[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
        else:
            folded = [_WHITE_SPACES.sub(" ", t) for t in texts]
            if part.lowercase:
                folded = [t.lower() for t in folded]
            lengths = np.fromiter(map(len, folded), dtype=np.int64, count=n)
            raw = "".join(folded).encode("utf-32-le", "surrogatepass")
            symbols = np.frombuffer(raw, dtype=np.uint32).astype(np.uint64) + np.uint64(1)
            doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
        if part.nested:
            return (*_tfidf(*_nested_terms(symbols, doc, part), n, part), words_of)
        lo, first = part.lo, []
        if part.kind == "word" and self._unigrams is not None:
            found = self._unigrams[symbols.astype(np.intp)]
            hit1 = found >= 0
            first, lo = [(doc[hit1], found[hit1])], 2
        keys, docs = _ngram_keys(symbols, doc, lo, part.hi)
        cols = part.index.get(keys)
        hit = cols >= 0
        docs_all = np.concatenate([d for d, _ in first] + [docs[hit]])
        cols_all = np.concatenate([c for _, c in first] + [cols[hit]]).astype(np.int64)
        return (*_tfidf(docs_all, cols_all, n, part), words_of)

    # -- probabilities ---------------------------------------------------------------------
    def score_many(
        self, texts: Sequence[str]
    ) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray | None]:
        """Unit probabilities, TF-IDF rows and department probabilities of normalised texts."""
        x = self.transform(texts)
        return self.proba(x), x, self.department_proba(x)

    def proba(self, x: sparse.csr_matrix) -> np.ndarray:
        """Calibrated unit probabilities of TF-IDF rows (one row per text)."""
        scores = _matvecs(x.indptr, x.indices, x.data, self.weights).astype(np.float64)
        scores += self.intercept
        if self.sigmoid is None:
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            return np.asarray(scores / scores.sum(axis=1, keepdims=True))
        a, b = self.sigmoid
        p = 1.0 / (1.0 + np.exp(a * scores + b))
        total = p.sum(axis=1, keepdims=True)
        safe = np.where(total > 0, total, 1.0)
        return np.asarray(np.where(total > 0, p / safe, 1.0 / p.shape[1]))

    def department_proba(self, x: sparse.csr_matrix) -> np.ndarray | None:
        """Probability of each outside department, one logistic regression each."""
        if not self.departments:
            return None
        rows = self.dept_map[x.indices]
        keep = rows >= 0
        lengths = np.diff(x.indptr)
        owner = np.repeat(np.arange(x.shape[0]), lengths)
        indptr = np.zeros(x.shape[0] + 1, dtype=rows.dtype)
        np.cumsum(np.bincount(owner[keep], minlength=x.shape[0]), out=indptr[1:])
        xd = (indptr, rows[keep], x.data[keep])
        scores = _matvecs(*xd, self.dept_weights).astype(np.float64) + self.dept_intercept
        return np.asarray(1.0 / (1.0 + np.exp(-scores)))

    # -- explanations ----------------------------------------------------------------------
    def term(self, column: int) -> str:
        """The word n-gram of a word column, tokens joined by a space."""
        name = self._terms.get(column)
        if name is None:
            if len(self._terms) >= 100_000:
                self._terms.clear()
            name = self._terms[column] = self._term(column)
        return name

    def _term(self, column: int) -> str:
        key = int(self._words.keys[column])
        ids = []
        while key:
            ids.append(key & ((1 << BITS) - 1))
            key >>= BITS
        return " ".join(self.tokens[i - 1] for i in reversed(ids))

    def top_terms(
        self, x: sparse.csr_matrix, classes: np.ndarray, k: int = 8
    ) -> list[list[tuple[str, float]]]:
        """For each row, the word n-grams whose value times weight pushed hardest towards
        that row's class, largest first (positive contributions only)."""
        n = x.shape[0]
        owner = np.repeat(np.arange(n), np.diff(x.indptr))
        cols = x.indices
        words = cols < self.word_features
        owner, cols = owner[words], cols[words]
        contrib = x.data[words].astype(np.float64) * self.weights[cols, classes[owner]]
        pos = contrib > 0
        owner, cols, contrib = owner[pos], cols[pos], contrib[pos]
        order = np.lexsort((-contrib, owner))
        owner, cols, contrib = owner[order], cols[order], contrib[order]
        first = np.searchsorted(owner, np.arange(n))
        rank = np.arange(owner.size) - first[owner]
        keep = rank < k
        out: list[list[tuple[str, float]]] = [[] for _ in range(n)]
        term = self.term
        for i, c, w in zip(
            owner[keep].tolist(),
            cols[keep].tolist(),
            np.round(contrib[keep], 4).tolist(),
            strict=True,
        ):
            out[i].append((term(c), w))
        return out


_DENSE_ENTRIES = 1 << 22  # at most this many entries (32 MB) of a product at once


Rows = tuple[np.ndarray, np.ndarray, np.ndarray]  # a CSR matrix's indptr, indices and data


def _matvecs(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, dense: np.ndarray
) -> np.ndarray:
    """``csr @ dense`` (float32) as scipy computes it, with scipy's own kernel but without
    building the sparse matrix: for one text the constructors cost more than the product."""
    m, k = indptr.size - 1, dense.shape[1]
    kernel = getattr(_sparsetools, "csr_matvecs", None) if _sparsetools is not None else None
    if kernel is None or data.dtype != np.float32 or dense.dtype != np.float32:
        x = sparse.csr_matrix((data, indices, indptr), shape=(m, dense.shape[0]))
        return np.asarray(x @ dense)
    index = np.int64 if max(indptr[-1], dense.shape[0]) >= 2**31 - 1 else np.int32
    out = np.zeros((m, k), dtype=np.float32)
    kernel(
        m,
        dense.shape[0],
        k,
        indptr.astype(index, copy=False),
        indices.astype(index, copy=False),
        data,
        np.ascontiguousarray(dense).ravel(),
        out.ravel(),
    )
    return out


def _unit_word_rows(x: sparse.csr_matrix, words: int) -> Rows:
    """``_unit_rows(x[:, :words])`` as plain arrays, the same numbers in the same order
    (the scaling product lists each row's columns last first), without the five sparse
    constructions that cost a single text more than the product with the training rows."""
    indptr = np.asarray(x.indptr, dtype=np.int64)
    keep = np.asarray(x.indices) < words
    data = np.asarray(x.data, dtype=np.float32)[keep]
    indices = np.asarray(x.indices)[keep]
    indptr = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))[indptr]
    # the norms as x.multiply(x).sum(axis=1): zero squares dropped, then one reduceat
    square = data * data
    kept = square != 0
    sq_ptr = np.concatenate(([0], np.cumsum(kept, dtype=np.int64)))[indptr]
    norms = np.zeros(indptr.size - 1, dtype=np.float32)
    filled = np.flatnonzero(np.diff(sq_ptr))
    if filled.size:
        norms[filled] = np.add.reduceat(square[kept], sq_ptr[filled])
    norms = np.sqrt(norms)
    norms[norms == 0] = 1.0
    scale = (1.0 / norms).astype(np.float32)
    lengths = np.diff(indptr)
    owner = np.repeat(np.arange(lengths.size), lengths)
    value = scale[owner] * data
    # each row's entries last first, as scipy's product of diags @ x leaves them
    order = indptr[owner + 1] - 1 - (np.arange(data.size) - indptr[owner])
    value, indices = value[order], indices[order]
    nonzero = value != 0
    out_ptr = np.concatenate(([0], np.cumsum(nonzero, dtype=np.int64)))[indptr]
    return out_ptr, indices[nonzero], value[nonzero]


def _product(a: Rows, b: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, data) of the sparse product ``a @ b`` (``a`` as its arrays), as scipy
    computes it.

    The product of a batch with the training rows is nearly dense, so scipy's first pass,
    which only counts its entries to size the output, cost a third of the time: here the
    output is sized for a dense product and scipy's own kernel fills it, the same numbers in
    the same order. Falls back to ``a @ b`` where that kernel is not at hand.
    """
    a_ptr, a_idx, a_val = a
    m, n = a_ptr.size - 1, b.shape[1]
    small = m * n < 2**31 - 1 and max(a_val.size, b.nnz) < 2**31 - 1
    kernel = getattr(_sparsetools, "csr_matmat", None) if _sparsetools is not None else None
    if not small or kernel is None or a_val.dtype != np.float32 or b.dtype != np.float32:
        left = sparse.csr_matrix((a_val, a_idx, a_ptr), shape=(m, b.shape[0]))
        c = sparse.csr_matrix(left @ b)
        return c.indptr, c.data
    i32 = np.int32
    indptr = np.empty(m + 1, dtype=i32)
    indices = np.empty(m * n, dtype=i32)
    data = np.empty(m * n, dtype=np.float32)
    kernel(
        m,
        n,
        a_ptr.astype(i32, copy=False),
        a_idx.astype(i32, copy=False),
        a_val,
        b.indptr.astype(i32, copy=False),
        b.indices.astype(i32, copy=False),
        b.data,
        indptr,
        indices,
        data,
    )
    return indptr, data[: indptr[-1]]


def _unit_rows(x: sparse.csr_matrix) -> sparse.csr_matrix:
    """Rows scaled to unit length (empty rows stay empty)."""
    x = sparse.csr_matrix(x, dtype=np.float32)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms).astype(np.float32) @ x)
