"""The speed-ups give exactly what the plain code gives (bench/ measures how much faster)."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pytest

from router.core import text
from router.core.routing import Decision, InputError, Router, route, route_items, route_many
from router.learn.fit import ModelConfig, TextModel
from router.learn.train import DEFAULT_CONFIG


def test_fold_table_leaves_nfkc_unchanged(corpus: pd.DataFrame) -> None:
    table = text._fold_table()
    assert ord("，") in table and ord("Ａ") in table and ord("…") in table
    # every folded character alone, between letters, and next to combining marks
    samples = [chr(c) for c in table]
    samples += [f"a{chr(c)}\u0301b{chr(c)}\u3099" for c in table]
    samples += ["が\u3099ＡＢ\uff9e", "e\u0301\u0327", "①②㎡…", "\u3000（一）１２"]
    samples += list(corpus["content"])
    for s in samples:
        assert unicodedata.normalize("NFKC", s.translate(table)) == unicodedata.normalize(
            "NFKC", s
        ), repr(s)


def test_tokenize_filter_matches_the_plain_rule(corpus: pd.DataFrame) -> None:
    keep = re.compile(r"[\u4e00-\u9fff]|[a-z]{2,}|[0-9]")
    digits = re.compile(r"^[0-9.]+$")
    stop = text.stopwords()
    for t in list(corpus["text"][:300]) + ["关于 2023 年的建议：我们希望 ABC 3.5 万元"]:
        plain = [
            tok
            for tok in text.segment(t.lower())
            if not (tok in stop or not keep.search(tok) or digits.match(tok))
        ]
        assert text.tokenize(t) == plain


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(classifier="svm", char_ngrams=(2, 3)),
        DEFAULT_CONFIG,
        pytest.param(ModelConfig(classifier="logreg", C=10.0), marks=pytest.mark.slow),
    ],
    ids=["words-chars", "default", "words-logreg"],
)
def test_fast_features_are_the_vectorizers_features(
    corpus: pd.DataFrame, config: ModelConfig
) -> None:
    sample = corpus.sample(n=min(500, len(corpus)), random_state=2)
    train, held = sample.iloc[:350], sample.iloc[350:]
    model = TextModel.fit(list(train["text"]), list(train["label"]), config)
    texts = [*held["text"], "x", "", "ABC  Def\n\n  ghi\t\tJK", "完全无关的词语组合"]
    assert model.pipeline is not None
    reference = model.pipeline.named_steps["features"].transform(texts).tocsr()
    proba, fast, _ = model.scorer.score_many(texts)
    reference.sort_indices()
    fast = fast.copy()
    fast.sort_indices()
    np.testing.assert_array_equal(fast.indptr, reference.indptr)
    np.testing.assert_array_equal(fast.indices, reference.indices)
    np.testing.assert_allclose(fast.data, reference.data, atol=1e-6)
    np.testing.assert_allclose(proba, model.pipeline.predict_proba(texts), atol=1e-5)
    one = np.vstack([model.scorer.score_many([t])[0] for t in texts])
    np.testing.assert_allclose(proba, one, atol=1e-12)


def test_route_many_over_forked_processes_gives_the_serial_results(
    router: Router, corpus: pd.DataFrame
) -> None:
    items: list[tuple[str | None, str | None]] = list(
        zip(corpus["title"][:40], corpus["content"][:40], strict=True)
    )
    items[5] = ("", "  ")
    serial = route_many(router, items, processes=1)
    forked = route_many(router, items, processes=2)
    assert len(forked) == len(serial) == len(items)
    for a, b in zip(serial, forked, strict=True):
        if isinstance(a, InputError):
            assert isinstance(b, InputError) and str(a) == str(b)
        else:
            assert isinstance(b, Decision) and a.model_dump() == b.model_dump()
    single = route(router, *items[0])
    assert isinstance(serial[0], Decision)
    assert serial[0].model_dump() == single.model_dump()


def test_rules_written_out_and_gated_find_the_same_evidence(
    corpus: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib import resources

    import yaml

    from router.core import rules

    raw = yaml.safe_load(
        resources.files("router").joinpath("resources/jurisdiction_rules.yaml").read_text("utf-8")
    )
    fast = rules.parse_rules(raw)
    gate = fast._gate
    assert gate.keys.size > 0 and gate.always == 0  # every shipped rule can be gated
    with monkeypatch.context() as m:
        m.setattr(rules, "_branches", lambda p: [p])
        plain = rules.parse_rules(raw)
    assert [r.pattern.pattern for r in fast.rules if r.pattern] != [
        r.pattern.pattern for r in plain.rules if r.pattern
    ]
    texts = [*corpus["text"], "道路破损坑洼，公交站点太少", "医院门口违停严重，路灯不亮", "", "道"]
    gates = fast.candidates(texts)
    assert 0 < sum(g == 0 for g in gates) < len(texts)  # the gate does skip rules
    everything = (1 << len(plain.rules)) - 1
    masks, starts = fast.openings(texts)
    assert masks == gates and any(any(s) for s in starts)  # the scans do start later
    for t, gate, start in zip(texts, gates, starts, strict=True):
        got = [(h.rule.id, h.evidence) for h in fast.match(t, gate)]
        assert got == [(h.rule.id, h.evidence) for h in plain.match(t, everything)], t[:40]
        assert got == [(h.rule.id, h.evidence) for h in fast.match(t)]
        assert got == [(h.rule.id, h.evidence) for h in fast.match(t, gate, start)], t[:40]
        for k, rule in enumerate(fast.rules):  # no match of a rule begins before its start
            for pat in (rule.pattern, rule.ambiguous):
                if pat is not None and gate >> k & 1:
                    assert all(m.start() >= start[k] for m in pat.finditer(t))
    assert rules._branches("(?:a|b)+c") == ["(?:a|b)+c"]
    assert rules._branches("(?:a|b)c|d") == ["(?:a|b)c|d"]
    assert rules._branches("(?:a|b)(c)") == ["(?:a|b)(c)"]
    assert rules._branches("(?:道路|公路)(?:破损|坑洼)") == [
        "道路(?:破损|坑洼)",
        "公路(?:破损|坑洼)",
    ]


def test_large_batches_are_scored_in_chunks_with_the_same_decisions(
    router: Router, corpus: pd.DataFrame
) -> None:
    from router.core import routing

    rows = corpus.sample(n=routing._CHUNK * 2 + 40, replace=True, random_state=5)
    items: list[tuple[str | None, str | None]] = list(
        zip(rows["title"], rows["content"], strict=True)
    )
    batch = route_many(router, items)
    assert len(batch) == len(items)
    for i in (0, routing._CHUNK - 1, routing._CHUNK, routing._CHUNK + 1, len(items) - 1):
        single = route(router, *items[i])
        got = batch[i]
        assert isinstance(got, Decision) and got.model_dump() == single.model_dump()


def test_the_gate_knows_which_pairs_a_pattern_can_begin_with() -> None:
    from router.core.rules import _leading_pairs

    def pairs(p: str) -> set[str] | None:
        return _leading_pairs(re.compile(p))

    assert pairs("道路(?:破损|坑洼)") == {"道路"}
    assert pairs("(?:增设|开通)(?:\\S{0,6})公交") == {"增设", "开通"}
    assert pairs("排水(?:管网|设施)?|内涝") == {"排水", "内涝"}
    assert pairs("公交车?站") == {"公交"}
    assert pairs("(?:道|路)口") == {"道口", "路口"}
    assert pairs("[甲乙]方") == {"甲方", "乙方"}
    assert pairs("[^甲]方") is None and pairs("\\w方") is None  # then the rule is always tried
    assert pairs("路?灯") is None
    assert pairs("灯") is None  # one character: no pair to require
    assert pairs("(?i)app下载") is None


def test_routing_can_hand_over_the_tokens_it_segmented(
    router: Router, corpus: pd.DataFrame
) -> None:
    items: list[tuple[str | None, str | None]] = list(
        zip(corpus["title"][:30], corpus["content"][:30], strict=True)
    )
    items[3] = ("", "")
    routed = route_items(router, items)
    words = [r.tokens for r in routed]
    results = [r.result for r in routed]
    assert len(words) == len(items) and words[3] == [] and isinstance(results[3], InputError)
    assert routed[3].text == ""
    for (title, content), got, item in zip(items, words, routed, strict=True):
        if title or content:
            assert got == text.tokenize(text.prepare(title, content))
            assert item.text == text.prepare(title, content)
    assert [r.model_dump() if isinstance(r, Decision) else str(r) for r in results] == [
        r.model_dump() if isinstance(r, Decision) else str(r) for r in route_many(router, items)
    ]


@pytest.mark.parametrize("where", ["last", "first"])
def test_forked_routing_copes_with_one_row_holding_most_characters(
    router: Router, where: str
) -> None:
    long_row: tuple[str | None, str | None] = ("关于电信诈骗的建议", "冒充客服骗钱。" * 700)
    short: list[tuple[str | None, str | None]] = [("辅警待遇", "提高辅警工资")] * 5
    items = [*short, long_row] if where == "last" else [long_row, *short]
    serial = route_many(router, items, processes=1)
    forked = route_many(router, items, processes=2)
    assert [d.model_dump() for d in forked if isinstance(d, Decision)] == [
        d.model_dump() for d in serial if isinstance(d, Decision)
    ]
    assert len(forked) == len(items)


def test_the_gate_holds_for_more_rules_than_one_mask_word() -> None:
    from router.core import rules

    words = [chr(0x4E00 + 7 * k) + chr(0x4E01 + 7 * k) for k in range(70)]
    raw = {
        "rules": [
            {"id": f"r{k}", "departments": ["城管局"], "patterns": [w]} for k, w in enumerate(words)
        ]
        + [{"id": "loose", "departments": ["城管局"], "patterns": ["[^a]z"]}]
    }
    book = rules.parse_rules(raw)
    texts = [words[0] + "x", words[65] + words[69] + "qz", "", words[64][0]]
    gates = book.candidates(texts)
    assert gates[0] >> 0 & 1 and gates[1] >> 65 & 1 and gates[1] >> 69 & 1
    assert all(g >> 70 & 1 for g in gates)  # the ungated rule is always tried
    everything = (1 << len(book.rules)) - 1
    masks, starts = book.openings(texts)
    assert masks == gates and starts[1][65] == 0 and starts[1][69] == 2 and starts[1][70] == 0
    for t, gate, start in zip(texts, gates, starts, strict=True):
        want = [h.rule.id for h in book.match(t, everything)]
        assert [h.rule.id for h in book.match(t, gate)] == want
        assert [h.rule.id for h in book.match(t, gate, start)] == want
    assert [h.rule.id for h in book.match(texts[1])] == ["r65", "r69", "loose"]


def test_the_collector_is_paused_for_large_batches_only_and_always_restored() -> None:
    import gc

    from router.core.parallel import paused

    assert gc.isenabled()
    with paused(10):
        assert gc.isenabled()
    with paused(1000):
        assert not gc.isenabled()
        with paused(1000):
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause leaves it to the outer one
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused(1000):
        raise RuntimeError("a batch that fails")
    assert gc.isenabled()


def test_local_topics_gated_find_what_every_topic_finds(corpus: pd.DataFrame) -> None:
    from router.core.local import LocalJurisdiction

    local = LocalJurisdiction(None)
    assert local._gate.keys.size > 0 and local._gate.always == 0  # every topic can be gated
    texts = [*corpus["text"], "网吧噪音扰民", "楼上扔垃圾", "学生之间被欺负", "", "网"]
    gates = local.candidates(texts)
    assert 0 < sum(g == 0 for g in gates) < len(texts)  # the gate does skip topics
    everything = (1 << len(local.topics)) - 1
    found = 0
    for t, gate in zip(texts, gates, strict=True):
        want = [(m.topic.id, m.words) for m in local.match(t, {}, everything)]
        assert [(m.topic.id, m.words) for m in local.match(t, {}, gate)] == want, t[:40]
        assert [(m.topic.id, m.words) for m in local.match(t, {})] == want
        found += bool(want)
    assert found >= 3


def test_compiled_yaml_parser_reads_every_shipped_file_as_safe_load() -> None:
    from importlib import resources

    import yaml

    from router import yamltext

    files = [f for f in resources.files("router.resources").iterdir() if f.name.endswith(".yaml")]
    assert len(files) >= 5
    for f in files:
        raw = f.read_text("utf-8")
        assert yamltext.safe_load(raw) == yaml.safe_load(raw), f.name
    tricky = "a: 1.0\nb: yes\nc: 2026-12-05\nd: ~\ne: '010'\nf: 0o17\ng: [1, '2', 三]\n"
    assert yamltext.safe_load(tricky) == yaml.safe_load(tricky)


def test_segmentation_uses_one_dictionary_with_the_domain_words() -> None:
    """The cutter is rjieba's own instance with the domain dictionary added (twice is the
    same as once): it segments as a fresh instance with the dictionary does."""
    import rjieba

    fresh = rjieba.Jieba()
    for word, freq in text.user_dictionary():
        fresh.add_word(word, freq, None)
    again = text._make_cutter("rjieba")
    words = [w for w, _ in text.user_dictionary()]
    samples = [f"关于{w}的问题和{w}整治" for w in words] + ["市民反映小区噪音扰民，请求处理"]
    for s in samples:
        assert text.segment(s, "rjieba") == list(again(s)) == fresh.cut(s, False), s


def test_scores_without_sparse_constructions_are_scipys(
    corpus: pd.DataFrame, router: Router
) -> None:
    """Unit and department scores and the familiarity rows, made from the arrays with
    scipy's kernels, equal what the sparse matrices give, bit for bit."""
    from scipy import sparse

    from router.core import scorer as sc

    s = router.model
    assert s.departments and s.reference is not None
    texts = [text.prepare(t, None) for t in corpus["text"][:300]] + ["", "的", "了了了"]
    for batch in (texts, texts[:1], texts[-3:], texts[5:6]):
        x = s.transform([t or "空" for t in batch])
        plain = np.asarray(x @ s.weights, dtype=np.float64) + s.intercept
        fast = sc._matvecs(x.indptr, x.indices, x.data, s.weights).astype(np.float64)
        assert np.array_equal(fast + s.intercept, plain)
        dense = np.asarray(s.weights[:, :3], order="C")
        assert np.array_equal(sc._matvecs(x.indptr, x.indices, x.data, dense), x @ dense)
        rows = s.dept_map[x.indices]
        keep = rows >= 0
        owner = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        ptr = np.zeros(x.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[keep], minlength=x.shape[0]), out=ptr[1:])
        xd = sparse.csr_matrix(
            (x.data[keep], rows[keep], ptr), shape=(x.shape[0], s.dept_rows.size)
        )
        plain_dept = 1.0 / (
            1.0 + np.exp(-(np.asarray(xd @ s.dept_weights, dtype=np.float64) + s.dept_intercept))
        )
        assert np.array_equal(s.department_proba(x), plain_dept)
        ref = sc._unit_rows(x[:, : s.word_features])
        ptr, idx, val = sc._unit_word_rows(x, s.word_features)
        assert np.array_equal(ptr, ref.indptr) and np.array_equal(idx, ref.indices)
        assert np.array_equal(val, ref.data) and val.dtype == ref.data.dtype
        columns = sparse.csr_matrix(ref.T)
        assert all(
            np.array_equal(a, b)
            for a, b in zip(
                sc._product((ptr, idx, val), columns), _plain_product(ref, columns), strict=True
            )
        )


def _plain_product(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    from scipy import sparse

    c = sparse.csr_matrix(a @ b)  # type: ignore[operator]
    return c.indptr, c.data


def test_meaningful_characters_of_a_batch_are_those_of_each_text(corpus: pd.DataFrame) -> None:
    """A word character other than "_" is exactly what str.isalnum() accepts, on every code
    point; and the batch count equals the regular expression's on each text."""
    from router.core import routing

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert re.findall(r"[^\W_]", every) == [c for c in every if c.isalnum()]
    texts = [text.prepare(t, c) for t, c in zip(corpus["title"], corpus["content"], strict=True)]
    texts += ["", "_", "___ab_12", "①②③ ⅣⅤ ½ ２０２６年", "\ud800x\udfff", every[:5000]]
    counts = routing._meaningful_many(texts)
    assert counts == [routing._meaningful_chars(t) for t in texts]


def _places_plain(tokens: list[str]) -> list[str]:
    """places() as first written: the character test before the cheap ones."""
    from router.core import places as pl

    found: list[str] = []
    previous = ""
    for tok in tokens:
        name = ""
        if tok in pl._KINDS:
            if pl._cjk(previous) and previous not in pl._NOT_NAMES and len(previous) >= 2:
                name = previous + tok
        elif (
            len(tok) >= 3
            and pl._cjk(tok)
            and tok.endswith(pl._SUFFIXES)
            and tok not in pl._GENERIC
            and tok not in pl._KINDS
        ):
            name = tok
        if name and name not in found:
            found.append(name)
        previous = tok
    return found


def test_places_with_the_cheap_tests_first_are_the_same(corpus: pd.DataFrame) -> None:
    from router.core.places import places

    lists = [text.raw_tokens(text.prepare(t, None)) for t in corpus["text"]]
    lists += [
        ["学府路", "与", "建设路", "交叉口", "实验", "小学", "附近", "小学", "道路"],
        ["２号路", "3号路", "a路", "东风桥", "桥", "12", "中学", "", "路", "大道", "光明大道"],
        ["小区", "小区", "周边", "医院", "第一人民", "医院", "立交", "高速", "京港澳高速"],
    ]
    assert sum(bool(_places_plain(t)) for t in lists) > 10
    for tokens in lists:
        assert places(tokens) == _places_plain(tokens), tokens[:20]
