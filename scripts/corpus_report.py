"""Print the corpus figures that data/corpus/README.md reports: counts, lengths, similarity.

Usage: .venv/bin/python scripts/corpus_report.py [data/corpus/proposals.csv]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from router.learn.dataset import load_corpus, split_list
from router.sheets.merge import max_jaccard


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "data/corpus/proposals.csv")
    df = load_corpus(path)
    print(f"rows: {len(df)}")
    print("\nper label (lead unit, or outside):")
    print(df["label"].value_counts().to_string())
    print("\nper jurisdiction:")
    print(df["jurisdiction"].value_counts().to_string())
    mixed = (df["co_units"] != "") | (df["jurisdiction"] == "partial")
    print(f"\nmixed rows (co-handling units or partial): {int(mixed.sum())}")
    print(f"  with co-handling units: {int((df['co_units'] != '').sum())}")
    print(f"  partial: {int((df['jurisdiction'] == 'partial').sum())}")
    print(f"rows with a hard-case note: {int((df['note'] != '').sum())}")
    deps = [d for v in df["departments"] for d in split_list(v)]
    print("\ndepartments named (partial and outside rows):")
    print(
        np.unique(deps, return_counts=True)[1].sum(),
        "mentions;",
        ", ".join(f"{d} {deps.count(d)}" for d in sorted(set(deps), key=lambda d: -deps.count(d))),
    )
    lengths = df["content"].str.len()
    print("\ncontent length (characters):")
    q = lengths.quantile([0.1, 0.25, 0.5, 0.75, 0.9]).astype(int).to_dict()
    print(
        f"  min {lengths.min()}, p10 {q[0.1]}, p25 {q[0.25]}, median {q[0.5]}, p75 {q[0.75]}, p90 {q[0.9]}, max {lengths.max()}"
    )
    bins = [
        (0, 0, "title only"),
        (1, 39, "1-39"),
        (40, 199, "40-199"),
        (200, 499, "200-499"),
        (500, 10**9, "500+"),
    ]
    for lo, hi, name in bins:
        print(f"  {name:>10}: {int(lengths.between(lo, hi).sum())}")
    tl = df["title"].str.len()
    print(f"title length: min {tl.min()}, median {int(tl.median())}, max {tl.max()}")
    i, j, s = max_jaccard(list(df["title"] + df["content"]))
    print(
        f"\nlargest character 5-gram Jaccard between two rows: {s:.3f} ({df['id'][i]} ~ {df['id'][j]})"
    )


if __name__ == "__main__":
    main()
