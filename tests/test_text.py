from __future__ import annotations

import pandas as pd
import pytest

from router.core import text


def test_normalize_folds_full_width_and_controls() -> None:
    raw = "\ufeff关于（一）ＡＢＣ路口\u3000\u3000增设信号灯，\x07共１２处\r\n\r\n  二是......"
    out = text.normalize(raw)
    assert out == "关于(一)ABC路口 增设信号灯,共12处\n二是......"
    assert text.normalize("路口。“增设”、【信号灯】") == '路口."增设",[信号灯]'


def test_prepare_joins_title_and_body_and_skips_empty() -> None:
    assert text.prepare("标题", "正文") == "标题\n正文"
    assert text.prepare("  ", "正文") == "正文"
    assert text.prepare(None, None) == ""


def test_domain_dictionary_keeps_terms_whole() -> None:
    tokens = text.tokenize("建议加大电信网络诈骗打击力度，增设护学岗，推进雪亮工程和一网通办")
    for term in ("电信网络诈骗", "护学岗", "雪亮工程", "一网通办"):
        assert term in tokens


def test_tokenize_drops_stopwords_punctuation_and_numbers() -> None:
    tokens = text.tokenize("关于 2023 年的建议：我们希望，进一步加强管理！")
    assert "的" not in tokens and "建议" not in tokens and "2023" not in tokens
    assert not any(t in ",:!:" for t in tokens)
    assert "管理" in tokens


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown segmentation backend"):
        text.segment("测试", backend="nope")


@pytest.mark.slow  # the whole corpus through pure-Python jieba: a check of the dependency, run in CI
def test_rjieba_matches_jieba_on_whole_corpus(corpus: pd.DataFrame) -> None:
    """The fast segmenter must give exactly the reference tokens, dictionary included."""
    mismatches = [
        t for t in corpus["text"] if text.segment(t, "rjieba") != text.segment(t, "jieba")
    ]
    assert not mismatches, f"{len(mismatches)} texts differ, first: {mismatches[0][:60]}"
