"""Does jieba's HMM step matter for accuracy? And what does each segmenter cost?

Usage: .venv/bin/python bench/segmenter_hmm.py [--folds 5]

The router segments with rjieba without HMM (jieba without HMM is the reference, with a
parity test). ROUTER_SEGMENTER=jieba-hmm selects jieba with HMM, which finds words outside
the dictionary. Figures:

- segmentation speed of rjieba, jieba (HMM off) and jieba (HMM on), on the corpus and,
  when ../shared is present, on the first 5,000 TipDM messages; the share of texts (and of
  tokens) on which each differs from rjieba;
- cross-validated macro-F1 on the training split (router.learn.train.cross_validate, the same
  folds for every backend), for the default configuration and for words only, where the
  segmentation weighs the most.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

from _common import CORPUS, report, settings_for, tipdm_frame, tipdm_items

BACKENDS = ("rjieba", "jieba", "jieba-hmm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    from router.core.text import init, prepare, segment
    from router.learn.dataset import load_corpus, split_corpus
    from router.learn.fit import ModelConfig
    from router.learn.train import DEFAULT_CONFIG, cross_validate

    with report("segmenter_hmm"):
        corpus = load_corpus(CORPUS)
        sets = {"corpus": list(corpus["text"])}
        df = tipdm_frame()
        if df is not None:
            sets["tipdm 5,000"] = [prepare(t, c) for t, c in tipdm_items(df.head(5000))]
        for backend in BACKENDS:
            init(backend)
        for name, texts in sets.items():
            reference = [segment(t, "rjieba") for t in texts]
            for backend in BACKENDS:
                start = time.perf_counter()
                tokens = [segment(t, backend) for t in texts]
                took = time.perf_counter() - start
                differ = sum(a != b for a, b in zip(tokens, reference, strict=True)) / len(texts)
                common = sum(
                    sum((Counter(a) & Counter(b)).values())
                    for a, b in zip(tokens, reference, strict=True)
                )
                share = 1 - common / sum(len(b) for b in reference)
                print(
                    f"{name}: {backend:9s} {len(texts) / took:9,.0f} texts/s; differs from "
                    f"rjieba on {differ:.1%} of {len(texts)} texts, {share:.1%} of tokens"
                )

        settings = settings_for(Path("."))
        train, _ = split_corpus(corpus, settings.split_seed, settings.test_size)
        print(
            f"\ncross-validated macro-F1, {args.folds} folds on the training split "
            f"({len(train)} rows, seed {settings.split_seed}):"
        )
        configs = {
            "default (words 1-2 + chars 2-3)": DEFAULT_CONFIG,
            "words 1-2 only": ModelConfig(classifier="svm"),
        }
        saved = os.environ.get("ROUTER_SEGMENTER")
        try:
            for cname, cfg in configs.items():
                for backend in ("rjieba", "jieba-hmm"):
                    os.environ["ROUTER_SEGMENTER"] = backend
                    start = time.perf_counter()
                    cv = cross_validate(train, cfg, settings.split_seed, args.folds)
                    print(
                        f"  {cname:32s} {backend:9s} macro-F1 {cv['macro_f1_mean']:.4f} "
                        f"± {cv['macro_f1_std']:.4f} ({time.perf_counter() - start:.0f} s)"
                    )
        finally:
            if saved is None:
                os.environ.pop("ROUTER_SEGMENTER", None)
            else:
                os.environ["ROUTER_SEGMENTER"] = saved


if __name__ == "__main__":
    main()
