"""Training time against corpus size: 1k, 10k and 50k rows.

Usage: .venv/bin/python bench/train_scaling.py [--sizes 1000 10000 50000]

The shipped corpus has about 2,300 rows, so every size is drawn from it by resampling rows
with replacement (seeded). Repeated rows add no new words: the vocabulary stops growing at
the corpus's own, so these figures show how the cost grows with rows, not with vocabulary.
For each size, the three steps of TextModel.fit (what `router train` fits): the features
(fit_transform of the TF-IDF vectorizers: segmentation and n-gram counting), the calibrated
unit classifier and the department model; and the number of features.
"""

from __future__ import annotations

import argparse
import time

from _common import CORPUS, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 50_000])
    args = parser.parse_args()

    from router.learn.dataset import load_corpus, split_list
    from router.learn.fit import DepartmentModel, build_pipeline
    from router.learn.train import DEFAULT_CONFIG

    with report("train_scaling"):
        corpus = load_corpus(CORPUS)
        print(f"corpus {len(corpus)} rows; config {DEFAULT_CONFIG.to_dict()}")
        previous = None
        for size in args.sizes:
            sample = corpus.sample(n=size, replace=size > len(corpus), random_state=size)
            texts, labels = list(sample["text"]), list(sample["label"])
            departments = [split_list(d) for d in sample["departments"]]
            pipe = build_pipeline(DEFAULT_CONFIG)
            start = time.perf_counter()
            x = pipe.named_steps["features"].fit_transform(texts)
            feat = time.perf_counter() - start
            start = time.perf_counter()
            pipe.named_steps["clf"].fit(x, labels)
            clf = time.perf_counter() - start
            start = time.perf_counter()
            DepartmentModel.fit(x, departments)
            dept = time.perf_counter() - start
            total = feat + clf + dept
            growth = (
                f"; x{total / previous[1]:.1f} time for x{size / previous[0]:.0f} rows"
                if previous
                else ""
            )
            print(
                f"{size:>6} rows (resampled): {total:.1f} s in all = features {feat:.1f} s "
                f"({size / feat:,.0f} rows/s) + unit classifier {clf:.1f} s + department "
                f"model {dept:.1f} s; {x.shape[1]:,} features{growth}"
            )
            previous = (size, total)


if __name__ == "__main__":
    main()
