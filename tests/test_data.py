"""Data tests on the shipped corpus: schema, vocabulary, counts and near-duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from router.labels import load_labels
from router.learn.dataset import COLUMNS, corpus_files, load_corpus, split_list
from router.sheets.merge import jaccard_pairs, max_jaccard
from tests.conftest import CORPUS

# Two rows whose character 5-gram sets overlap this much are paraphrases, not two proposals.
NEAR_DUPLICATE_JACCARD = 0.5
# Style alone (lengths, person, register markers) may not separate outside items better than this.
STYLE_AUC_LIMIT = 0.65


def test_files_open_in_excel_as_utf8_with_bom() -> None:
    files = corpus_files(CORPUS)
    assert len(files) >= 1
    for path in files:
        assert path.read_bytes()[:3] == b"\xef\xbb\xbf", path.name


def test_schema_and_vocabulary(corpus: pd.DataFrame) -> None:
    labels = load_labels()
    assert list(corpus.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert corpus["id"].is_unique
    assert set(corpus["jurisdiction"]) <= {"police", "partial", "outside"}
    assert (corpus["text"].str.len() > 0).all()
    units = set(labels.unit_labels)
    deps = set(labels.departments)
    for row in corpus.itertuples():
        co = split_list(row.co_units)
        dep = split_list(row.departments)
        assert set(co) <= units and row.unit not in co, row.id
        assert set(dep) <= deps, row.id
        if row.jurisdiction == "outside":
            assert row.unit == "" and dep, row.id
        elif row.jurisdiction == "partial":
            assert row.unit in units and dep, row.id
        else:
            assert row.unit in units and not dep, row.id


def test_counts_per_label(corpus: pd.DataFrame) -> None:
    assert len(corpus) >= 1800
    counts = corpus["label"].value_counts()
    for unit in ("交通管理", "刑侦", "网安", "治安", "政务服务"):
        assert counts[unit] >= 250, unit
    for unit in ("人事", "辅警"):
        assert counts[unit] >= 150, unit
    assert (corpus["jurisdiction"] == "outside").sum() >= 350
    mixed = (corpus["co_units"] != "") | (corpus["jurisdiction"] == "partial")
    assert mixed.sum() >= 200
    assert (corpus["note"] != "").sum() >= 300


def test_lengths_vary(corpus: pd.DataFrame) -> None:
    lengths = corpus["content"].str.len()
    assert (lengths == 0).sum() >= 50  # title-only rows, as some ledgers carry
    assert (lengths.between(1, 40)).sum() >= 100
    assert (lengths > 500).sum() >= 50


@pytest.mark.slow  # every pair of the whole corpus's rows: a check of the data, run in CI
def test_no_near_duplicates(corpus: pd.DataFrame) -> None:
    texts = list(corpus["title"] + corpus["content"])
    pairs = jaccard_pairs(texts, NEAR_DUPLICATE_JACCARD)
    shown = [(corpus["id"][i], corpus["id"][j], round(s, 3)) for i, j, s in pairs[:5]]
    assert not pairs, f"near-duplicate rows: {shown}"


def test_similarity_measure_catches_a_paraphrase() -> None:
    a = "建议在实验小学门口增设护学岗，上下学高峰安排民警值守，保障学生安全。"
    b = "建议在实验小学门口增设护学岗，上下学高峰安排辅警值守，保障学生安全。"
    c = "小区楼道里给电动车充电，火灾隐患很大。"
    assert max_jaccard([a, b])[2] >= NEAR_DUPLICATE_JACCARD
    assert max_jaccard([a, c])[2] < 0.1
    assert load_corpus(CORPUS).shape[0] > 0


_STYLE_MARKERS = (
    "我",
    "我们",
    "我家",
    "代表",
    "委员",
    "建议",
    "希望",
    "盼复",
    "谢谢",
    "请问",
    "关于",
    "反映",
    "？",
    "！",
    "\n",
)


def style_features(titles: list[str], contents: list[str]) -> np.ndarray:
    """What a text's register shows regardless of its topic: lengths, person, markers."""
    rows = []
    for title, content in zip(titles, contents, strict=True):
        text = title + content
        rows.append(
            [
                np.log1p(len(title)),
                np.log1p(len(content)),
                float(not content),
                float(title.endswith(("建议", "提案"))),
                *(text.count(m) / (1 + len(text) / 100) for m in _STYLE_MARKERS),
            ]
        )
    return np.array(rows)


def test_style_does_not_predict_jurisdiction(corpus: pd.DataFrame) -> None:
    """A classifier that sees only style (length, person, register markers) cannot tell police
    items from outside ones: each register carries both, in the same voice."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    x = style_features(list(corpus["title"]), list(corpus["content"]))
    y = (corpus["jurisdiction"] == "outside").to_numpy()
    proba = cross_val_predict(
        LogisticRegression(max_iter=2000), x, y, cv=5, method="predict_proba"
    )[:, 1]
    auc = roc_auc_score(y, proba)
    assert auc < STYLE_AUC_LIMIT, f"style alone separates outside items: AUC {auc:.3f}"
    # the registers themselves are there: style does tell a short summary from a long message
    long_message = (corpus["content"].str.len() >= 200).to_numpy()
    assert 0.95 < roc_auc_score(long_message, x[:, 1])
