"""并案 similarity: the fast TF-IDF and pair search give what the plain computations give.

The references are deliberately naive: scikit-learn's TfidfVectorizer for the rows, the dense
product of every row with every other for the pairs, a union-find over those pairs for the
groups. The texts are invented here: topics sharing everyday words, place names that only a
few rows share, copies with a word changed and rewordings.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from router.core import parallel as workers
from router.core.text import prepare, tokenize
from router.sheets import merge as similarity
from router.sheets.merge import (
    PLACE_REPEAT,
    MergeGroup,
    cosine_pair_arrays,
    cosine_pairs,
    group_similar,
    tfidf_rows,
)
from tests.conftest import one_thread

COMMON = ["建议", "加强", "管理", "部门", "群众", "安全", "问题", "解决", "希望", "有关"]
TOPICS = [
    ["交通", "信号灯", "路口", "拥堵", "停车位", "电动车", "头盔", "斑马线", "公交车", "早高峰"],
    ["治安", "巡逻", "盗窃", "监控", "探头", "夜间", "派出所", "民警", "小偷", "报警"],
    ["诈骗", "老年人", "养老", "投资", "宣传", "电话", "转账", "银行", "骗局", "保健品"],
    ["直播", "未成年人", "打赏", "平台", "游戏", "手机", "家长", "充值", "网络", "主播"],
    ["身份证", "户口", "迁移", "办理", "窗口", "材料", "证明", "预约", "排队", "大厅"],
    ["养犬", "遛狗", "牵绳", "犬只", "登记", "咬伤", "小区", "物业", "狂犬", "流浪狗"],
]
PLACES = (
    "海淀 朝阳 东城 西城 丰台 石景山 通州 顺义 昌平 大兴 怀柔 平谷 密云 延庆 房山 门头沟 浦东 "
    "黄浦 徐汇 长宁 静安 普陀 虹口 杨浦 宝山 嘉定 松江 青浦 奉贤 崇明 天河 越秀 荔湾 海珠 白云 "
    "番禺 花都 南沙 增城 福田 罗湖 南山 宝安 龙岗 盐田"
).split()
FILLER = (
    "学校 医院 公园 超市 菜市场 工厂 车站 广场 街道 农村 景区 河道 桥梁 隧道 高速 码头 机场 地铁 "
    "商场 餐馆 酒店 网吧 宾馆 工地 仓库 加油站 停车场 体育馆 图书馆 幼儿园 菜园 果园 鱼塘 农田 "
    "山林 水库 湿地 操场 食堂 宿舍 楼道 电梯 车库 门口 围墙 路灯 井盖 垃圾桶 公厕 长椅"
).split()


def _sentence(rng: random.Random, topic: list[str], places: list[str]) -> str:
    words = rng.sample(COMMON, 2) + rng.sample(topic, 2) + rng.sample(FILLER, 4)
    words += rng.sample(places, 1)
    rng.shuffle(words)
    return "，".join(words) + "。"


def synthetic_texts(n: int = 300, seed: int = 7) -> list[str]:
    """Proposals on a few topics, with copies (one word changed) and rewordings planted."""
    rng = random.Random(seed)
    texts: list[str] = []
    while len(texts) < n:
        topic = rng.choice(TOPICS)
        places = rng.sample(PLACES, 3)
        body = "".join(_sentence(rng, topic, places) for _ in range(rng.randint(1, 5)))
        text = prepare(f"关于{rng.choice(topic)}的建议", body)
        texts.append(text)
        roll = rng.random()
        if roll < 0.15:
            texts.append(text.replace(rng.choice(topic), rng.choice(topic), 1))
        elif roll < 0.3:
            texts.append(prepare("再谈" + rng.choice(topic), _sentence(rng, topic, places)))
        elif roll < 0.35:
            texts.append(text)
    return texts[:n]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return synthetic_texts() + ["", "。！？", "的了吗", "2023 123", "  关于 交通 信号灯  "]


def dense_pairs(rows: sparse.csr_matrix, threshold: float) -> dict[tuple[int, int], float]:
    full = rows.astype(np.float64).toarray()
    sims = full @ full.T
    i, j = np.nonzero(np.triu(sims >= threshold - 1e-6, k=1))
    return {(int(a), int(b)): float(sims[a, b]) for a, b in zip(i, j, strict=True)}


def as_dict(pairs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[tuple[int, int], float]:
    i, j, sim = pairs
    assert list(zip(i, j, strict=True)) == sorted(zip(i, j, strict=True))
    return {(int(a), int(b)): float(s) for a, b, s in zip(i, j, sim, strict=True)}


def assert_same_pairs(
    got: dict[tuple[int, int], float], want: dict[tuple[int, int], float]
) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(min(value, 1.0), abs=1e-9)


def reference_groups(texts: list[str], duplicate: float, related: float) -> list[MergeGroup]:
    """A union-find over the dense pairs, as group_similar first did it."""
    rows = tfidf_rows(texts, words=True, place_repeat=PLACE_REPEAT)  # as group_similar weighs
    pairs = dense_pairs(rows, min(duplicate, related))
    parent = list(range(len(texts)))

    def find(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    for i, j in pairs:
        a, b = find(i), find(j)
        parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for k in range(len(texts)):
        members.setdefault(find(k), []).append(k)
    groups = []
    for root in sorted(r for r, m in members.items() if len(m) > 1):
        rows_in = members[root]
        dups = {}
        for j in rows_in:
            earlier = [i for i in rows_in if i < j and pairs.get((i, j), 0.0) >= duplicate]
            if earlier:
                dups[j] = min(earlier)
        top = max(min(s, 1.0) for (i, _), s in pairs.items() if find(i) == root)
        groups.append(MergeGroup(f"并案{len(groups) + 1}", tuple(rows_in), dups, round(top, 3)))
    return groups


def test_word_rows_are_scikit_learns(texts: list[str]) -> None:
    vec = TfidfVectorizer(
        tokenizer=tokenize, token_pattern=None, lowercase=False, sublinear_tf=True
    )
    want = vec.fit_transform(texts).astype(np.float32)
    got = tfidf_rows(texts, words=True)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert (abs(got - want) > 1e-7).nnz == 0
    assert (got != 0).sum() == (want != 0).sum()


@pytest.mark.parametrize("threshold", [0.2, 0.35, 0.5, 0.8, 0.999])
def test_pairs_are_those_of_the_dense_product(texts: list[str], threshold: float) -> None:
    rows = tfidf_rows(texts, words=True)
    want = dense_pairs(rows, threshold)
    assert want  # the planted copies at least
    for block in (1000, 37):
        assert_same_pairs(as_dict(cosine_pair_arrays(rows, threshold, block=block)), want)
    listed = cosine_pairs(rows, threshold)
    assert [(i, j) for i, j, _ in listed] == sorted(want)


@pytest.mark.parametrize("seed", range(6))
def test_pairs_that_only_frequent_columns_make_are_found(seed: int) -> None:
    """Rows mostly of columns in every row, where the bound on the frequent part decides."""
    rng = np.random.default_rng(seed)
    n, frequent, rare = 150, 12, 300
    dense = rng.random((n, frequent)) * (rng.random((n, frequent)) < 0.7)
    sparse_part = rng.random((n, rare)) * (rng.random((n, rare)) < 0.01) * 3
    full = np.hstack([dense, sparse_part])
    full[5] = full[9] * 1.1  # a pair that shares only frequent columns, at cosine 1
    full[:, frequent:][[5, 9]] = 0.0
    full /= np.maximum(np.linalg.norm(full, axis=1, keepdims=True), 1e-12)
    rows = sparse.csr_matrix(full.astype(np.float32))
    for threshold in (0.3, 0.6, 0.9, 0.97):
        want = dense_pairs(rows, threshold)
        assert_same_pairs(as_dict(cosine_pair_arrays(rows, threshold, block=40)), want)
    assert (5, 9) in as_dict(cosine_pair_arrays(rows, 0.97))


def test_pairs_by_norms_lists_every_pair_over_the_bound() -> None:
    rng = np.random.default_rng(1)
    norms = np.r_[rng.random(200) ** 2, 0.0, 0.0, 1.0]
    i, j = similarity._pairs_by_norms(norms, 0.3)
    want = {(a, b) for a in range(norms.size) for b in range(a + 1, norms.size)}
    want = {(a, b) for a, b in want if norms[a] * norms[b] >= 0.3}
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == want
    assert similarity._count_by_norms(norms, 0.3).sum() == len(want)


def test_signed_rows_and_tiny_thresholds_use_the_plain_product() -> None:
    rng = np.random.default_rng(3)
    full = rng.normal(size=(80, 30)) * (rng.random((80, 30)) < 0.3)
    full /= np.maximum(np.linalg.norm(full, axis=1, keepdims=True), 1e-12)
    rows = sparse.csr_matrix(full)
    assert_same_pairs(as_dict(cosine_pair_arrays(rows, 0.4, block=25)), dense_pairs(rows, 0.4))
    positive = sparse.csr_matrix(np.abs(full))
    tiny = as_dict(cosine_pair_arrays(positive, 1e-5))
    assert_same_pairs(tiny, {k: v for k, v in dense_pairs(positive, 1e-5).items() if v > 0})


def test_groups_are_the_reference_union_find(texts: list[str]) -> None:
    for duplicate, related in ((0.8, 0.35), (0.8, 0.5), (0.9, 0.6), (0.5, 0.7)):
        groups = group_similar(texts, duplicate, related)
        assert groups == reference_groups(texts, duplicate, related)
    kinds = {g.kind for g in group_similar(texts, 0.8, 0.5)}
    assert kinds == {"重复", "相关", "重复+相关"}


def test_title_and_body_pairs_are_prepared_first(texts: list[str]) -> None:
    pairs = [(t.split("\n", 1)[0] or None, (t.split("\n", 1) + [""])[1] or None) for t in texts]
    prepared = [prepare(title, body) for title, body in pairs]
    for words in (True, False):
        want = tfidf_rows(prepared, words=words)
        assert (tfidf_rows(pairs, words=words) != want).nnz == 0
    assert group_similar(pairs, 0.8, 0.5) == group_similar(prepared, 0.8, 0.5)


def test_edge_cases() -> None:
    assert tfidf_rows([], words=True).shape == (0, 0)
    assert tfidf_rows(["。。", ""], words=True).shape == (2, 0)
    for rows in (sparse.csr_matrix((0, 5)), sparse.csr_matrix((1, 5)), sparse.csr_matrix((4, 0))):
        assert all(a.size == 0 for a in cosine_pair_arrays(rows, 0.35))
    assert all(a.size == 0 for a in cosine_pair_arrays(sparse.csr_matrix((6, 3)), 0.35))
    assert cosine_pairs(sparse.csr_matrix((3, 3)), 0.5) == []
    assert group_similar([], 0.8, 0.35) == []
    assert group_similar(["关于交通信号灯的建议"], 0.8, 0.35) == []
    assert group_similar(["。", "！！", "", "的"], 0.8, 0.35) == []
    same = ["关于加强文明养犬管理的建议\n小区遛狗不牵绳。"] * 5
    assert group_similar(same, 0.8, 0.35) == [
        MergeGroup("并案1", (0, 1, 2, 3, 4), {1: 0, 2: 0, 3: 0, 4: 0}, 1.0)
    ]


def test_a_second_process_gives_the_same(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    one_thread()
    if not workers.can_fork():
        pytest.skip("this process cannot fork safely (no fork, or other threads running)")
    monkeypatch.setattr(similarity, "PARALLEL_MIN_ROWS", 0)
    one = tfidf_rows(texts, words=True)
    for threshold in (0.35, 0.8):
        serial = as_dict(cosine_pair_arrays(one, threshold, block=29))
        assert as_dict(cosine_pair_arrays(one, threshold, block=29, processes=2)) == serial
    assert group_similar(texts, 0.8, 0.35, processes=2) == group_similar(texts, 0.8, 0.35)
    pairs = [(t[:9], t[9:]) for t in texts]
    assert group_similar(pairs, 0.8, 0.5, processes=2) == group_similar(pairs, 0.8, 0.5)


def test_a_failed_child_is_made_up_for(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    one_thread()
    if not workers.can_fork():
        pytest.skip("this process cannot fork safely (no fork, or other threads running)")
    monkeypatch.setattr(similarity, "PARALLEL_MIN_ROWS", 0)
    calls: list[int] = []

    def lost(self: workers.Worker, tick: object = None) -> object:
        calls.append(1)
        raise workers.WorkerError("lost on the way")

    monkeypatch.setattr(workers.Worker, "receive", lost)
    assert group_similar(texts, 0.8, 0.35, processes=2) == group_similar(texts, 0.8, 0.35)
    rows = tfidf_rows(texts, words=True)
    serial = as_dict(cosine_pair_arrays(rows, 0.35, block=29))
    assert as_dict(cosine_pair_arrays(rows, 0.35, block=29, processes=2)) == serial
    assert calls  # a worker was asked, and its share was done here


def test_tokens_handed_over_give_the_groups_of_segmenting_again() -> None:

    base = "城关镇学府路与建设路交叉口早晚高峰拥堵严重，建议增设信号灯并优化配时"
    texts = [
        base,
        base + "，同时加强交警现场疏导",
        "关于加强电信网络诈骗防范宣传的建议，老年人受骗案件多发",
        "电信网络诈骗防范宣传要进社区，老年人受骗案件多发需重视",
        "辅警待遇偏低，建议提高辅警工资",
    ]
    plain = group_similar(texts, 0.8, 0.35)
    handed = group_similar(texts, 0.8, 0.35, tokens=[tokenize(t) for t in texts])
    assert plain and handed == plain
    with pytest.raises(ValueError, match="one token list per text"):
        group_similar(texts, 0.8, 0.35, tokens=[[]])


def test_routing_tokens_and_grouping_read_the_text_alike() -> None:
    """并案 segments the prepared text as the router does (title and body apart, white
    space kept), so the tokens routing hands over give exactly its groups."""
    items: list[tuple[str | None, str | None]] = [
        ("建议加强交通", "安全宣传，提高市民交通 安全意识"),
        ("关于交通安全宣传的建议", "提高市民交通安全意识"),
        ("关于辅警待遇的建议", "辅警工资 偏低"),
        ("辅警待遇", "辅警工资偏低，建议提高"),
    ]
    handed = [tokenize(prepare(t, c)) for t, c in items]
    assert group_similar(items, 0.8, 0.35) == group_similar(items, 0.8, 0.35, tokens=handed)
    texts = [prepare(t, c) for t, c in items]
    assert group_similar(texts, 0.8, 0.35) == group_similar(items, 0.8, 0.35)


def test_place_counts_more_than_wording() -> None:
    """The same crossing in other words is grouped; one template at other crossings is not."""
    template = (
        "{a}与{b}交叉口车流量大，行人过街困难，建议交警部门增设信号灯，优化配时，保障通行安全。"
    )
    texts = [
        prepare(f"关于{a}与{b}交叉口增设信号灯的建议", template.format(a=a, b=b))
        for a, b in (("人民路", "解放路"), ("长江路", "黄河路"), ("东风路", "和平路"))
    ]
    texts.append(
        prepare(
            "解放路人民路路口红绿灯问题",
            "每天早上解放路和人民路路口车辆排队很长，过马路要等很久，希望调整红绿灯时间。",
        )
    )
    groups = group_similar(texts, duplicate=0.8, related=0.35)
    assert [g.positions for g in groups] == [(0, 3)]
    wording_only = group_similar(texts, duplicate=0.8, related=0.35, place_repeat=0)
    assert any(set(g.positions) >= {0, 1, 2} for g in wording_only)  # the old behaviour
