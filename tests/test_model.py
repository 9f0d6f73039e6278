from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from router.learn.fit import ModelConfig, TextModel
from router.learn.train import DEFAULT_CONFIG


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(classifier="svm"),
        ModelConfig(classifier="svm", char_ngrams=(2, 3)),
        DEFAULT_CONFIG,
        pytest.param(
            ModelConfig(classifier="logreg", C=10.0, char_ngrams=(2, 3)), marks=pytest.mark.slow
        ),
    ],
    ids=["svm-words", "svm-words-chars", "default", "logreg-words-chars"],
)
def test_fast_path_gives_the_pipeline_probabilities(
    corpus: pd.DataFrame, config: ModelConfig
) -> None:
    sample = corpus.sample(n=min(600, len(corpus)), random_state=1)
    train, held = sample.iloc[:450], sample.iloc[450:]
    model = TextModel.fit(list(train["text"]), list(train["label"]), config)
    texts = [*held["text"], "完全无关的词语组合", "x"]
    assert model.pipeline is not None
    reference = model.pipeline.predict_proba(texts)
    fast = model.predict_proba(texts)
    np.testing.assert_allclose(fast, reference, atol=1e-5)
    assert np.allclose(fast.sum(axis=1), 1.0)


def test_top_terms_are_the_document_terms_pushing_towards_the_class(corpus: pd.DataFrame) -> None:
    model = TextModel.fit(list(corpus["text"][:400]), list(corpus["label"][:400]), ModelConfig())
    text = "关于加强电信网络诈骗打击的建议"
    proba, row, _ = model.scorer.score_many([text])
    k = int(proba[0].argmax())
    terms = model.scorer.top_terms(row, np.array([k]))[0]
    assert terms and all(w > 0 for _, w in terms)
    assert [w for _, w in terms] == sorted((w for _, w in terms), reverse=True)
    # the plain definition: every word feature's value times its weight, largest first
    words = row.indices < model.scorer.word_features
    contrib = row.data[words] * model.scorer.weights[row.indices[words], k]
    plain = sorted(zip(contrib.tolist(), row.indices[words].tolist(), strict=True), reverse=True)
    assert [t for t, _ in terms] == [model.scorer.term(c) for w, c in plain if w > 0][:8]
    assert model.pipeline is not None
    names = model.pipeline.named_steps["features"].get_feature_names_out()
    assert {t for t, _ in terms} <= {str(n).split("__", 1)[-1] for n in names}
