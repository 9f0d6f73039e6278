from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from router.model import ModelConfig, TextModel


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(classifier="svm"),
        ModelConfig(classifier="svm", char_ngrams=(2, 3)),
        ModelConfig(classifier="logreg", C=10.0, char_ngrams=(2, 3)),
    ],
    ids=["svm-words", "svm-words-chars", "logreg-words-chars"],
)
def test_fast_path_gives_the_pipeline_probabilities(
    corpus: pd.DataFrame, config: ModelConfig
) -> None:
    sample = corpus.sample(n=min(600, len(corpus)), random_state=1)
    train, held = sample.iloc[:450], sample.iloc[450:]
    model = TextModel.fit(list(train["text"]), list(train["label"]), config)
    texts = [*held["text"], "完全无关的词语组合", "x"]
    reference = model.predict_proba(texts)
    fast = np.vstack([model.score_one(t)[0] for t in texts])
    np.testing.assert_allclose(fast, reference, atol=1e-5)
    assert np.allclose(fast.sum(axis=1), 1.0)


def test_top_terms_are_the_document_terms_pushing_towards_the_class(corpus: pd.DataFrame) -> None:
    model = TextModel.fit(list(corpus["text"][:400]), list(corpus["label"][:400]), ModelConfig())
    text = "关于加强电信网络诈骗打击的建议"
    proba, row = model.score_one(text)
    k = int(proba.argmax())
    terms = model.top_terms(row, k)
    assert terms and all(w > 0 for _, w in terms)
    assert [w for _, w in terms] == sorted((w for _, w in terms), reverse=True)
    sparse_terms = model.top_terms(model.vectorize([text]), k)
    assert [t for t, _ in terms] == [t for t, _ in sparse_terms]
