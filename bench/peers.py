"""Peers on the same fixed split, side by side: macro-F1, training time, predictions per
second and model size.

Usage: .venv/bin/python bench/peers.py

The split is the one `router train` uses (stratified, seeded by ROUTER_SPLIT_SEED, 20 %
held out). Every model reads the same normalised text; the word-based ones the same
segmentation (router.core.text.tokenize: rjieba with the domain dictionary, stop words out).

- router (default config): the unit classifier `router train` fits (the department model,
  which only names outside departments, is left out so that all rows compare one task);
- router, words only: the same without character n-grams, to show what they cost and buy;
- fastText supervised (fasttext-wheel): tokens joined by spaces, word bigrams hashed into
  200,000 buckets (the default 2,000,000 makes an 800 MB model), 100 dimensions, 50 epochs,
  learning rate 0.5, one thread (deterministic);
- character n-gram (1-3) TF-IDF with logistic regression (scikit-learn, C=10).

Predictions per second: every held-out text scored ten times over, in one batch call per
pass (router: the fast batch path that route_many uses). Size: the router's model.npz (as
the registry writes it), the other scikit-learn model pickled and gzipped at level 3, or
fastText's own .bin file.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import CORPUS, report, settings_for


def gz_size(obj: Any) -> int:
    return len(gzip.compress(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), 3))


def npz_size(model: Any) -> int:
    """The router's artifact as the registry writes it (model.npz)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        from router.core import artifact

        artifact.save(model.scorer, path)
        return path.stat().st_size


def rate(predict: Callable[[Sequence[str]], Any], texts: Sequence[str], passes: int = 10) -> float:
    predict(texts[:20])
    start = time.perf_counter()
    for _ in range(passes):
        predict(texts)
    return passes * len(texts) / (time.perf_counter() - start)


def main() -> None:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import Pipeline

    from router.core.text import tokenize
    from router.learn.dataset import load_corpus, split_corpus
    from router.learn.fit import ModelConfig, TextModel
    from router.learn.train import DEFAULT_CONFIG

    with report("peers"):
        settings = settings_for(Path(tempfile.gettempdir()))
        corpus = load_corpus(CORPUS)
        train, test = split_corpus(corpus, settings.split_seed, settings.test_size)
        xtr, ytr = list(train["text"]), list(train["label"])
        xte, yte = list(test["text"]), list(test["label"])
        print(
            f"corpus {len(corpus)} rows: train {len(train)}, held out {len(test)} "
            f"(seed {settings.split_seed}); {len(set(ytr))} classes"
        )
        rows = []

        def add(name: str, fit_s: float, pred: list[str], pps: float, size: int) -> None:
            rows.append(
                (
                    name,
                    f1_score(yte, pred, average="macro"),
                    accuracy_score(yte, pred),
                    fit_s,
                    pps,
                    size,
                )
            )

        for name, cfg in (
            ("router (default: words 1-2 + chars 2-3, svm)", DEFAULT_CONFIG),
            ("router, words 1-2 only (svm)", ModelConfig(classifier="svm")),
        ):
            start = time.perf_counter()
            model = TextModel.fit(xtr, ytr, cfg)
            fit_s = time.perf_counter() - start
            proba = model.predict_proba(xte)
            pred = [model.classes[i] for i in proba.argmax(axis=1)]
            pps = rate(lambda t, m=model: m.score_many(t), xte)
            add(name, fit_s, pred, pps, npz_size(model))

        # fastText on the same segmented text
        import fasttext

        seg_start = time.perf_counter()
        seg_tr = [" ".join(tokenize(t)) for t in xtr]
        seg_s = time.perf_counter() - seg_start
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "train.txt"
            path.write_text(
                "".join(
                    f"__label__{y} {s}\n" for y, s in zip(ytr, seg_tr, strict=True) if s.strip()
                ),
                encoding="utf-8",
            )
            start = time.perf_counter()
            ft = fasttext.train_supervised(
                str(path),
                epoch=50,
                lr=0.5,
                wordNgrams=2,
                bucket=200_000,
                dim=100,
                minCount=1,
                thread=1,
                seed=0,
                verbose=0,
            )
            fit_s = time.perf_counter() - start + seg_s  # segmentation included, as for router
            bin_path = Path(tmp) / "model.bin"
            ft.save_model(str(bin_path))
            size = bin_path.stat().st_size

            def ft_predict(texts: Sequence[str]) -> list[str]:
                labels, _ = ft.predict([" ".join(tokenize(t)) for t in texts])
                return [lab[0].removeprefix("__label__") for lab in labels]

            pred = ft_predict(xte)
            add(
                "fastText supervised (segmented text, bigrams)",
                fit_s,
                pred,
                rate(ft_predict, xte),
                size,
            )

        pipe = Pipeline(
            [
                (
                    "tfidf",
                    TfidfVectorizer(
                        analyzer="char", ngram_range=(1, 3), sublinear_tf=True, dtype=np.float32
                    ),
                ),
                ("lr", LogisticRegression(C=10.0, max_iter=2000)),
            ]
        )
        start = time.perf_counter()
        pipe.fit(xtr, ytr)
        fit_s = time.perf_counter() - start
        add(
            "char 1-3 TF-IDF + logistic regression",
            fit_s,
            list(pipe.predict(xte)),
            rate(pipe.predict, xte),
            gz_size(pipe),
        )

        print(
            f"\n{'model':50s} {'macro-F1':>8s} {'accuracy':>8s} {'train s':>8s} "
            f"{'pred/s':>9s} {'size MB':>8s}"
        )
        for name, f1, acc, fit_s, pps, size in rows:
            print(f"{name:50s} {f1:8.3f} {acc:8.3f} {fit_s:8.1f} {pps:9,.0f} {size / 1e6:8.2f}")
        print(f"(fastText threads: 1; os.cpu_count()={os.cpu_count()})")
        print("target: router macro-F1 at least fastText's on the same split")


if __name__ == "__main__":
    main()
