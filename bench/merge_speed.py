"""并案 speed: ``group_similar`` on N real texts, the implementation before against the current.

Usage: .venv/bin/python bench/merge_speed.py [--rows 10000] [--repeat 3]

The texts are the TipDM messages in ../shared (labelled_union.csv, then
messages_with_replies.xlsx, title and detail joined by ``prepare``), never copied into the
repository. Without ../shared it resamples the shipped corpus (copies of the same rows, so far
more pairs and groups than a real ledger; the script says so).

Figures, best of ``--repeat``: the previous implementation (scikit-learn's TfidfVectorizer,
the full product block by block, a Python loop over the pairs; kept here to compare), then the
current one on one process and on ``os.cpu_count()`` processes, each with its two steps
(TF-IDF rows, pairs), and whether the groups, duplicates and top similarities are identical.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from _common import CORPUS, TIPDM, report
from scipy import sparse

DUPLICATE, RELATED = 0.8, 0.35  # BatchOptions' defaults


def texts_for(rows: int) -> tuple[list[str], str]:
    import pandas as pd

    from router.core.text import prepare

    union = TIPDM / "labelled_union.csv"
    replies = TIPDM / "messages_with_replies.xlsx"
    if union.is_file():
        df = pd.read_csv(union, dtype=str, keep_default_na=False)
        pairs = list(zip(df["留言主题"], df["detail"], strict=True))
        if len(pairs) < rows and replies.is_file():
            extra = pd.read_excel(replies, dtype=str, engine="calamine").fillna("")
            pairs += list(zip(extra["留言主题"], extra["留言详情"], strict=True))
        if len(pairs) >= rows:
            source = "TipDM messages from ../shared (title and detail)"
            return [prepare(t, d) for t, d in pairs[:rows]], source
    print(
        f"SKIP real texts: {TIPDM} is absent (or has fewer than {rows} rows); "
        "resampling the shipped corpus, whose copies make far more pairs than a real ledger"
    )
    df = pd.read_csv(CORPUS, dtype=str, keep_default_na=False)
    df = df.sample(n=rows, replace=rows > len(df), random_state=0)
    return [prepare(t, c) for t, c in zip(df["title"], df["content"], strict=True)], (
        "the shipped corpus, resampled"
    )


def previous_group_similar(texts: Sequence[str], duplicate: float, related: float) -> list[Any]:
    """``router.sheets.merge.group_similar`` as it was before the fast path (scikit-learn TF-IDF and
    the whole product), on the same tokens, to compare with."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from router.core.text import tokenize
    from router.sheets.merge import MergeGroup

    if len(texts) < 2:
        return []
    vec = TfidfVectorizer(
        tokenizer=tokenize, token_pattern=None, lowercase=False, sublinear_tf=True
    )
    rows = vec.fit_transform(list(texts)).astype(np.float32).tocsr()
    n, threshold = rows.shape[0], min(related, duplicate)
    pairs: list[tuple[int, int, float]] = []
    rows_t = rows.T.tocsc()
    for start in range(0, n, 1000):
        prod = sparse.coo_matrix(rows[start : start + 1000] @ rows_t[:, start:])
        i, j = prod.row + start, prod.col + start
        keep = (j > i) & (prod.data >= threshold - 1e-6)
        pairs += zip(
            i[keep].tolist(),
            j[keep].tolist(),
            np.minimum(prod.data[keep], 1.0).astype(float).tolist(),
            strict=True,
        )
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    best_dup: dict[int, int] = {}
    for i, j, sim in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
        if sim >= duplicate and (j not in best_dup or i < best_dup[j]):
            best_dup[j] = i
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(find(i), []).append(i)
    top: dict[int, float] = {}
    for i, _j, sim in pairs:
        top[find(i)] = max(top.get(find(i), 0.0), sim)
    groups = []
    for root in sorted(r for r, m in members.items() if len(m) > 1):
        dups = {j: best_dup[j] for j in members[root] if j in best_dup}
        groups.append(
            MergeGroup(f"并案{len(groups) + 1}", tuple(members[root]), dups, round(top[root], 3))
        )
    return groups


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from router.core.text import init
    from router.sheets.merge import cosine_pair_arrays, group_similar, tfidf_rows

    cores = os.cpu_count() or 1
    with report("merge_speed"):
        texts, source = texts_for(args.rows)
        init()
        lengths = [len(t) for t in texts]
        print(
            f"{len(texts)} texts from {source}; median {np.median(lengths):.0f} characters; "
            f"thresholds duplicate {DUPLICATE}, related {RELATED}; best of {args.repeat} runs; "
            f"os.cpu_count()={cores}"
        )
        old_time, old = best_of(
            args.repeat, lambda: previous_group_similar(texts, DUPLICATE, RELATED)
        )
        print(f"previous implementation: {old_time:.3f} s, {len(old)} groups")
        for processes in dict.fromkeys((1, cores)):
            t_rows, rows = best_of(args.repeat, lambda: tfidf_rows(texts, words=True))
            t_pairs, pairs = best_of(
                args.repeat,
                lambda p=processes, m=rows: cosine_pair_arrays(
                    m, min(DUPLICATE, RELATED), processes=p
                ),
            )
            # wording only (place_repeat=0), as the previous implementation compared
            total, groups = best_of(
                args.repeat,
                lambda p=processes: group_similar(
                    texts, DUPLICATE, RELATED, processes=p, place_repeat=0
                ),
            )
            print(
                f"current, processes={processes}: {total:.3f} s ({old_time / total:.1f} x faster; "
                f"TF-IDF rows {t_rows:.3f} s, pairs {t_pairs:.3f} s); {len(pairs[0])} pairs, "
                f"{len(groups)} groups; identical to the previous: {groups == old}"
            )
            placed_time, placed = best_of(
                args.repeat,
                lambda p=processes: group_similar(texts, DUPLICATE, RELATED, processes=p),
            )
            print(
                f"  with places (the default, segmenting again): {placed_time:.3f} s, "
                f"{len(placed)} groups"
            )


if __name__ == "__main__":
    main()
