"""Measure the 并案 thresholds: what similarity separates duplicates, related and unrelated.

    .venv/bin/python bench/merge_thresholds.py

Three populations of pairs:

* duplicates: one proposal and a copy of it as it reaches a ledger a second time (identical;
  re-typed punctuation and spaces; a few characters changed; a sentence added or dropped;
  another title over the same body), made from the invented issues in
  ``bench/data/merge_issues.yaml`` and from corpus rows;
* related: two deputies' proposals about the same issue in their own words (the issues file);
* unrelated: proposals about different issues, both the hard ones (same unit, different
  issue, from the issues file) and every pair of a 600-row slice of the corpus.

Each population is scored with the measures :mod:`router.sheets.merge` offers, inside a batch
that mixes the issues with corpus rows (the TF-IDF weights are fitted on the batch, as in
:mod:`router.sheets.batch`). Prints the percentiles and writes ``bench/results/merge_thresholds.json``.
"""

from __future__ import annotations

import json
import random
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from router.core.text import prepare
from router.sheets.merge import PLACE_REPEAT, shingle_matrix, tfidf_rows

ROOT = Path(__file__).resolve().parents[1]
RNG = random.Random(20261127)


def _sentences(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        cur += ch
        if ch in "。！？；":
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def _retype(text: str) -> str:
    """Half-width punctuation, stray spaces and a line break: how a copy is often re-keyed."""
    table = str.maketrans({"，": ",", "。": ". ", "：": ":", "（": "(", "）": ")"})
    return "  " + text.translate(table).replace("建议", "建议 ", 1) + "\n"


def _typos(text: str, k: int = 3) -> str:
    chars = list(text)
    for _ in range(k):
        i = RNG.randrange(len(chars))
        chars[i] = RNG.choice(
            "的一是在不了有和人这中大为上个以要时来用们生到作地于出就分对成会可主发年动同工也能下过"
        )
    return "".join(chars)


def duplicate_variants(title: str, content: str) -> dict[str, tuple[str, str]]:
    sents = _sentences(content)
    out = {
        "identical": (title, content),
        "retyped": (_retype(title), _retype(content)),
        "three_chars_changed": (title, _typos(content, 3) if content else _typos(title, 1)),
        "other_title": (
            "关于" + title.removeprefix("关于").removesuffix("的建议") + "问题的提案",
            content,
        ),
    }
    if len(sents) >= 3:
        out["sentence_dropped"] = (title, "".join(sents[:-1]))
        out["sentence_added"] = (title, content + "以上建议请有关部门研究采纳，并及时答复。")
    return out


ROADS = ["人民路", "解放路", "建设路", "学府路", "中山路", "长江路", "黄河路", "东风路", "和平路",
         "胜利路", "文化路", "新华路", "滨江路", "青年路", "朝阳路", "光明路", "幸福路", "振兴路",
         "红旗路", "育才路"]  # fmt: skip
# One concern at ten crossings: a templated ledger (the same wording, another crossing) and
# the same crossing in a second deputy's words.
PLACE_TEMPLATE = (
    "关于{a}与{b}交叉口增设信号灯的建议",
    "{a}与{b}交叉口车流量大，行人过街困难，建议交警部门增设信号灯，优化配时，保障通行安全。",
)
PLACE_REWORDED = (
    "{b}{a}路口红绿灯问题",
    "每天早上{b}和{a}路口车辆排队很长，过马路要等很久，希望调整红绿灯时间。",
)


def place_texts() -> tuple[list[tuple[str, str]], list[tuple[int, int]], list[tuple[int, int]]]:
    """Texts, same-place pairs (related) and other-crossing pairs of one template (unrelated)."""
    crossings = [(ROADS[2 * k], ROADS[2 * k + 1]) for k in range(10)]
    texts: list[tuple[str, str]] = []
    for a, b in crossings:
        texts.append((PLACE_TEMPLATE[0].format(a=a, b=b), PLACE_TEMPLATE[1].format(a=a, b=b)))
        texts.append((PLACE_REWORDED[0].format(a=a, b=b), PLACE_REWORDED[1].format(a=a, b=b)))
    same = [(2 * k, 2 * k + 1) for k in range(10)]
    other = [(2 * k, 2 * m) for k, m in combinations(range(10), 2)]
    other += [(2 * k + 1, 2 * m + 1) for k, m in combinations(range(10), 2)]
    return texts, same, other


def pair_scores(texts: list[str]) -> dict[str, np.ndarray]:
    """Every measure as a dense pair matrix (the bench batch is small enough)."""
    out: dict[str, np.ndarray] = {}
    for n in (3, 5):
        m = shingle_matrix(texts, n)
        inter = (m @ m.T).toarray().astype(np.float64)
        sizes = np.diag(inter)
        union = sizes[:, None] + sizes[None, :] - inter
        out[f"jaccard{n}"] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    for name, words in (("tfidf_cosine", False), ("tfidf_words_cosine", True)):
        x = tfidf_rows(texts, words=words)
        out[name] = (x @ x.T).toarray()
    # what 并案 uses: words, each named place counted PLACE_REPEAT times
    x = tfidf_rows(texts, words=True, place_repeat=PLACE_REPEAT)
    out["tfidf_words_places_cosine"] = (x @ x.T).toarray()
    return out


def main() -> None:
    issues = yaml.safe_load(
        (ROOT / "bench" / "data" / "merge_issues.yaml").read_text(encoding="utf-8")
    )["issues"]
    corpus = pd.read_csv(
        ROOT / "data" / "corpus" / "proposals.csv", dtype=str, keep_default_na=False
    )
    sample = corpus.sample(n=min(600, len(corpus)), random_state=7).reset_index(drop=True)

    issue_texts: list[tuple[str, str, str]] = [
        (name, v["title"], v["content"]) for name, variants in issues.items() for v in variants
    ]
    batch: list[str] = [prepare(t, c) for _, t, c in issue_texts]
    n_issue = len(batch)
    batch += [prepare(t, c) for t, c in zip(sample["title"], sample["content"], strict=True)]
    n_base = len(batch)

    # duplicates: each issue text and 150 corpus rows, copied in every way
    dup_pairs: dict[str, list[tuple[int, int]]] = {}
    bases = [(i, t, c) for i, (_, t, c) in enumerate(issue_texts)]
    bases += [(n_issue + i, sample["title"][i], sample["content"][i]) for i in range(150)]
    for i, title, content in bases:
        for kind, (t2, c2) in duplicate_variants(title, content).items():
            batch.append(prepare(t2, c2))
            dup_pairs.setdefault(kind, []).append((i, len(batch) - 1))

    related = [
        (i, j) for i, j in combinations(range(n_issue), 2) if issue_texts[i][0] == issue_texts[j][0]
    ]
    start = len(batch)
    places, same_place, other_crossing = place_texts()
    batch += [prepare(t, c) for t, c in places]
    same_place = [(start + i, start + j) for i, j in same_place]
    other_crossing = [(start + i, start + j) for i, j in other_crossing]
    hard = [
        (i, j) for i, j in combinations(range(n_issue), 2) if issue_texts[i][0] != issue_texts[j][0]
    ]
    corpus_pairs = list(combinations(range(n_issue, n_base), 2))

    scores = pair_scores(batch)
    result: dict[str, dict[str, dict[str, float]]] = {}

    def describe(name: str, pairs: list[tuple[int, int]]) -> None:
        if not pairs:
            return
        rows = np.array([i for i, _ in pairs])
        cols = np.array([j for _, j in pairs])
        result[name] = {}
        for measure, mat in scores.items():
            vals = np.asarray(mat[rows, cols]).ravel()
            q = np.percentile(vals, [0, 1, 5, 50, 95, 99, 99.9, 100])
            result[name][measure] = {
                "n": len(vals),
                **{
                    f"p{p}": round(float(v), 3)
                    for p, v in zip((0, 1, 5, 50, 95, 99, 99.9, 100), q, strict=True)
                },
            }

    for kind, pairs in dup_pairs.items():
        describe(f"duplicate:{kind}", pairs)
    describe("duplicate:all", [p for pairs in dup_pairs.values() for p in pairs])
    describe("related", related)
    describe("related:same crossing, other words", same_place)
    describe("unrelated:templated (same words, other crossing)", other_crossing)
    describe("unrelated:hard (issues file)", hard)
    describe("unrelated:corpus (all pairs of 600 rows)", corpus_pairs)

    for measure in scores:
        print(f"\n== {measure}")
        print(
            f"{'population':<42} {'n':>7} {'min':>6} {'p1':>6} {'p5':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'p99.9':>6} {'max':>6}"
        )
        for name, by_measure in result.items():
            s = by_measure[measure]
            print(
                f"{name:<42} {s['n']:>7} {s['p0']:>6.3f} {s['p1']:>6.3f} {s['p5']:>6.3f} {s['p50']:>6.3f} "
                f"{s['p95']:>6.3f} {s['p99']:>6.3f} {s['p99.9']:>6.3f} {s['p100']:>6.3f}"
            )
    dest = ROOT / "bench" / "results" / "merge_thresholds.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    # recall and false pairs at candidate thresholds (false pairs scaled to a 1,000-row batch)
    per_1000 = 1000 * 999 / 2 / len(corpus_pairs)
    cp = (np.array([i for i, _ in corpus_pairs]), np.array([j for _, j in corpus_pairs]))
    hp = (np.array([i for i, _ in hard]), np.array([j for _, j in hard]))
    rp = (np.array([i for i, _ in related]), np.array([j for _, j in related]))
    dp = [p for pairs in dup_pairs.values() for p in pairs]
    dpp = (np.array([i for i, _ in dp]), np.array([j for _, j in dp]))
    sp = (np.array([i for i, _ in same_place]), np.array([j for _, j in same_place]))
    op = (np.array([i for i, _ in other_crossing]), np.array([j for _, j in other_crossing]))
    grid: dict[str, list[dict[str, float]]] = {}
    for measure, mat in scores.items():
        print(
            f"\n== {measure}: threshold, duplicate recall, related recall, hard false pairs, corpus false pairs per 1,000 rows,"
            " same-crossing recall, templated other-crossing false pairs (of 90)"
        )
        grid[measure] = []
        for t in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9):
            row = {
                "threshold": t,
                "duplicate_recall": float(np.mean(mat[dpp] >= t)),
                "related_recall": float(np.mean(mat[rp] >= t)),
                "hard_false_pairs": int(np.sum(mat[hp] >= t)),
                "corpus_false_pairs_per_1000_rows": round(
                    float(np.sum(mat[cp] >= t)) * per_1000, 1
                ),
                "same_crossing_recall": float(np.mean(mat[sp] >= t)),
                "templated_other_crossing_pairs": int(np.sum(mat[op] >= t)),
                "templated_other_crossing_duplicates": int(np.sum(mat[op] >= 0.8)),
            }
            grid[measure].append(row)
            print(
                f"  {t:4.2f}  {row['duplicate_recall']:6.3f}  {row['related_recall']:6.3f}  {row['hard_false_pairs']:4d}  {row['corpus_false_pairs_per_1000_rows']:8.1f}"
                f"  {row['same_crossing_recall']:6.3f}  {row['templated_other_crossing_pairs']:4d}"
            )
    dest.write_text(
        json.dumps({"populations": result, "thresholds": grid}, ensure_ascii=False, indent=2)
        + "\n",
        encoding="utf-8",
    )

    # the closest unrelated corpus pairs, to read by eye
    mat = scores["tfidf_cosine"]
    top = sorted(corpus_pairs, key=lambda p: -mat[p[0], p[1]])[:8]
    print("\nclosest corpus pairs by tfidf_cosine:")
    for i, j in top:
        print(f"  {mat[i, j]:.3f}  {batch[i][:40]!r}  ~  {batch[j][:40]!r}")
    mat = scores["tfidf_cosine"]
    low = sorted(related, key=lambda p: mat[p[0], p[1]])[:5]
    print("\nleast similar related pairs by tfidf_cosine:")
    for i, j in low:
        print(f"  {mat[i, j]:.3f}  {batch[i][:40]!r}  ~  {batch[j][:40]!r}")


if __name__ == "__main__":
    main()
