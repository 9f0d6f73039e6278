"""The scorer: the fitted model as plain arrays, and what serving loads instead of scikit-learn."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from router.core import artifact, text
from router.core.scorer import KeyIndex, ScorerError, gram_key
from router.learn.export import scorer_from_fitted
from router.learn.fit import DepartmentModel, ModelConfig, TextModel


def test_key_index_finds_every_key_and_nothing_else() -> None:
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(1, 2**63, size=20_000, dtype=np.uint64))
    index = KeyIndex(keys)
    np.testing.assert_array_equal(index.get(keys), np.arange(keys.size))
    others = np.setdiff1d(rng.integers(1, 2**63, size=5_000, dtype=np.uint64), keys)
    assert (index.get(others) == -1).all()
    mixed = np.concatenate([others[:100], keys[::-7], others[100:200]])
    expect = np.concatenate([np.full(100, -1), np.arange(keys.size)[::-7], np.full(100, -1)])
    np.testing.assert_array_equal(index.get(mixed), expect)


def test_key_index_probes_past_keys_that_share_a_home_slot() -> None:
    index = KeyIndex(np.arange(1, 65, dtype=np.uint64))
    # keys whose home slot is 0 in a table of this size: each must probe past the others
    crowded = np.array([k for k in range(1, 2000) if index._home(np.array([k], np.uint64))[0] == 0])
    assert crowded.size >= 3
    table = KeyIndex(crowded.astype(np.uint64))  # fewer slots, the same home: the top bits
    np.testing.assert_array_equal(table.get(crowded.astype(np.uint64)), np.arange(crowded.size))
    assert table.get(np.array([0xFFFF_FFFF], np.uint64))[0] == -1
    assert KeyIndex(np.zeros(0, np.uint64)).get(np.array([1, 2], np.uint64)).tolist() == [-1, -1]


def test_key_index_wraps_past_the_last_slot() -> None:
    """Keys whose home is the last slot go on from slot 0, past keys at home there."""
    probe = KeyIndex(np.arange(1, 65, dtype=np.uint64))  # the table size these keys get
    homes = {k: int(probe._home(np.array([k], np.uint64))[0]) for k in range(1, 6000)}
    last = [k for k, h in homes.items() if h == probe.mask][:4]
    first = [k for k, h in homes.items() if h == 0][:3]
    filler = [k for k, h in homes.items() if 0 < h < probe.mask][:57]
    keys = np.array(last + first + filler, dtype=np.uint64)
    table = KeyIndex(keys)
    assert table.bits == probe.bits and len(last) == 4 and len(first) == 3
    np.testing.assert_array_equal(table.get(keys), np.arange(keys.size))
    others = np.arange(6000, 9000, dtype=np.uint64)
    assert (table.get(others) == -1).all()
    assert (table.slot_keys != 0).sum() == keys.size


def test_gram_keys_differ_across_lengths() -> None:
    """Symbols are >= 1, so an n-gram's leading symbol lifts it above every shorter key."""
    top = (1 << 21) - 1
    assert gram_key([top]) < gram_key([1, 1]) and gram_key([top, top]) < gram_key([1, 1, 1])
    assert len({gram_key([1]), gram_key([1, 1]), gram_key([1, 1, 1])}) == 3


@pytest.fixture(scope="module")
def fitted_full(corpus: pd.DataFrame) -> tuple[TextModel, DepartmentModel]:
    """A model with departments, and its department model as fitted: all the features, before
    the scorer keeps the ones it weighs (recorded, not fitted a second time)."""
    sample = corpus.sample(n=min(500, len(corpus)), random_state=3)
    departments = [[d for d in str(v).split(";") if d] for v in sample["departments"]]
    made: list[DepartmentModel | None] = []
    fit = DepartmentModel.fit

    def record(*args: Any, **kwargs: Any) -> DepartmentModel | None:
        made.append(fit(*args, **kwargs))
        return made[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DepartmentModel, "fit", record)
        model = TextModel.fit(
            list(sample["text"]),
            list(sample["label"]),
            ModelConfig(char_ngrams=(2, 3)),
            departments,
        )
    (full,) = made
    assert full is not None
    return model, full


@pytest.fixture(scope="module")
def fitted(fitted_full: tuple[TextModel, DepartmentModel]) -> TextModel:
    return fitted_full[0]


def test_a_saved_scorer_loads_back_with_the_same_figures(
    fitted: TextModel, corpus: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "model.npz"
    artifact.save(fitted.scorer, path)
    loaded = artifact.load(path)
    texts = [*corpus["text"][:200], "", "x", "完全无关的词语组合"]
    x_a, x_b = fitted.scorer.transform(texts), loaded.transform(texts)
    assert (x_a != x_b).nnz == 0
    np.testing.assert_array_equal(fitted.scorer.proba(x_a), loaded.proba(x_b))
    dept_a, dept_b = fitted.scorer.department_proba(x_a), loaded.department_proba(x_b)
    assert dept_a is not None and dept_b is not None
    np.testing.assert_array_equal(dept_a, dept_b)
    chosen = fitted.scorer.proba(x_a).argmax(axis=1)
    assert fitted.scorer.top_terms(x_a, chosen) == loaded.top_terms(x_b, chosen)
    assert loaded.classes == fitted.classes and loaded.departments == fitted.departments


def test_department_probabilities_are_the_full_weight_matrix(
    fitted_full: tuple[TextModel, DepartmentModel], corpus: pd.DataFrame
) -> None:
    """The scorer keeps only the features a department weighs; nothing else changes."""
    fitted, full = fitted_full
    texts = list(corpus["text"][:300])
    xs = fitted.scorer.transform(texts)
    plain = 1.0 / (1.0 + np.exp(-(np.asarray(xs @ full.weights) + full.intercept)))
    got = fitted.scorer.department_proba(xs)
    assert got is not None
    np.testing.assert_allclose(got, plain, atol=1e-6)
    assert fitted.scorer.dept_rows.size < fitted.scorer.n_features


def test_a_file_that_is_not_a_scorer_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(ScorerError):
        artifact.load(bad)
    np.savez(bad, meta=np.frombuffer(b'{"format": 99}', np.uint8))
    with pytest.raises(ScorerError, match="format"):
        artifact.load(bad)


def test_unsupported_pipelines_are_refused(corpus: pd.DataFrame) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    pipe = Pipeline(
        [("features", TfidfVectorizer(analyzer="char_wb")), ("clf", LogisticRegression())]
    )
    pipe.fit(list(corpus["text"][:100]), list(corpus["label"][:100]))
    with pytest.raises(ScorerError, match="unsupported vectorizer"):
        scorer_from_fitted(pipe)


def test_serving_imports_neither_scikit_learn_nor_pandas(small_trained_home: Path) -> None:
    code = (
        "import sys\n"
        "import router.api.app\n"
        "from router.core.routing import route\n"
        "from router.learn.load import load_router\n"
        "from router.settings import get_settings\n"
        "d = route(load_router(get_settings()), '电信诈骗', '有人冒充客服骗钱')\n"
        "print(d.unit, sorted(m for m in ('sklearn', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "ROUTER_HOME": str(small_trained_home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    unit, loaded = out.stdout.strip().split(" ", 1)
    assert unit != "None" and loaded == "[]", out.stdout + out.stderr


def _plain_normalize(s: str) -> str:
    """normalize() as first written: two translations over every character."""
    s = unicodedata.normalize("NFKC", s).translate(text._PUNCT)
    s = text._CONTROL.sub("", s).replace("\r\n", "\n").replace("\r", "\n")
    s = text._SPACES.sub(" ", s)
    return text._NEWLINES.sub("\n", s).strip()


def test_normalize_is_the_plain_definition(corpus: pd.DataFrame) -> None:
    samples = [*corpus["title"], *corpus["content"]]
    samples += [chr(c) for c in text._fold_table()] + ["｡", "︒", "﹁引号﹂", "“Ａ”。、【１】"]
    samples += ["e\u0301\u0327。", "a\u3000\u3000b\r\n\r\nc", "\ufeff（一）１２％"]
    for s in samples:
        assert text.normalize(s) == _plain_normalize(s), repr(s[:40])


def test_trigrams_are_looked_up_only_where_both_halves_were_found(
    fitted: TextModel, corpus: pd.DataFrame
) -> None:
    """The shortcut applies when no n-gram was cut from the vocabulary, and changes nothing."""
    chars = next(p for p in fitted.scorer.parts if p.kind == "char")
    assert chars.nested
    texts = [*corpus["text"][:300], "", "x", "ab", "完全无关"]
    fast = fitted.scorer.transform(texts)
    chars.nested = False
    try:
        plain = fitted.scorer.transform(texts)
    finally:
        chars.nested = True
    assert (fast != plain).nnz == 0
    cut = ModelConfig(char_ngrams=(2, 3), max_features=2000)
    small = TextModel.fit(list(corpus["text"][:300]), list(corpus["label"][:300]), cut)
    assert small.pipeline is not None
    reference = small.pipeline.named_steps["features"].transform(texts)
    got = small.scorer.transform(texts)
    np.testing.assert_allclose(got.toarray(), reference.toarray(), atol=1e-6)


@pytest.mark.parametrize(
    "damage",
    [
        {"meta": np.frombuffer(b"[1, 2]", np.uint8)},
        {"dept_rows": np.array([10**9], np.int32)},
        {"idf1": np.ones(3)},
        {"intercept": np.zeros(2)},
    ],
    ids=["meta-not-a-mapping", "department-row-out-of-range", "idf-length", "intercept"],
)
def test_a_scorer_with_arrays_of_the_wrong_shape_is_refused_on_load(
    fitted: TextModel, tmp_path: Path, damage: dict[str, np.ndarray]
) -> None:
    path = tmp_path / "model.npz"
    artifact.save(fitted.scorer, path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(damage)
    np.savez(path, **arrays)  # type: ignore[arg-type]
    with pytest.raises(ScorerError):
        artifact.load(path)
    with pytest.raises(ScorerError):
        artifact.load(path.read_bytes())


def test_the_radix_sort_of_keys_is_numpys_sort() -> None:
    from router.core.scorer import _sorted

    rng = np.random.default_rng(0)
    for top in (1 << 10, 1 << 20, (1 << 32) - 1, 1 << 40):
        for size in (0, 5, 5000, 100_000):
            keys = rng.integers(0, top, size=size, dtype=np.int64)
            assert np.array_equal(_sorted(keys), np.sort(keys))


def test_nested_character_terms_with_unigrams_equal_the_plain_lookup() -> None:
    from router.core.scorer import Part, _nested_terms, _ngram_keys, gram_key

    texts = ["道路破损坑洼", "公交站点太少", "路灯不亮", "道", "", "a😀b道路"]
    grams = {t[i : i + n] for t in texts for n in (1, 2, 3) for i in range(len(t) - n + 1)}
    vocab = sorted(g for g in grams if "少" not in g)  # some n-grams are missing
    keys = np.array([gram_key([ord(ch) + 1 for ch in g]) for g in vocab], dtype=np.uint64)
    part = Part("char", 1, 3, keys, np.ones(keys.size), False, False)
    assert part.nested
    raw = "".join(texts).encode("utf-32-le")
    symbols = np.frombuffer(raw, dtype=np.uint32).astype(np.uint64) + np.uint64(1)
    doc = np.repeat(np.arange(len(texts)), [len(t) for t in texts])
    all_keys, all_docs = _ngram_keys(symbols, doc, 1, 3)
    cols = part.index.get(all_keys)
    want = sorted(zip(all_docs[cols >= 0].tolist(), cols[cols >= 0].tolist(), strict=True))
    d, c = _nested_terms(symbols, doc, part)
    assert sorted(zip(d.tolist(), c.tolist(), strict=True)) == want
