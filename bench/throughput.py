"""Rows per second on real messages: in process, through `router route --jsonl`, and what
the router says about messages that are not police business.

Usage: .venv/bin/python bench/throughput.py [--rows 5000] [--repeat 3]

Reads ../shared/data/tipdm2020/labelled_union.csv (never copied into the repository); the
script skips with a message when it is absent. Figures:

- segmentation alone (normalise + rjieba) and `route_many` in process on the first rows
  (title plus detail), serial and with the default process count, and their ratio;
- `router route --jsonl` over the same rows as a fresh process: start, model load, routing
  and writing every decision included;
- the share of non-police messages (police_kw == False) judged outside or partial, and the
  rows per second on those texts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, report, settings_for, tipdm_frame, tipdm_items, trained_home


def best_of(repeat: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from router.core.routing import Decision, route_many
    from router.core.text import init, prepare, segment
    from router.learn.load import load_router

    with report("throughput"), trained_home() as home:
        df = tipdm_frame()
        if df is None:
            return
        settings = settings_for(home)
        router = load_router(settings)
        init()
        items = tipdm_items(df.head(args.rows))
        n = len(items)
        lengths = [len(prepare(t, c)) for t, c in items]
        print(
            f"model {router.version}; {n} messages (title + detail), "
            f"median {statistics.median(lengths):.0f} characters; best of {args.repeat} runs"
        )
        route_many(router, items[:200], processes=1)  # warm-up

        prep = best_of(args.repeat, lambda: [prepare(t, c) for t, c in items])
        texts = [prepare(t, c) for t, c in items]
        seg = best_of(args.repeat, lambda: [segment(t) for t in texts])
        both = prep + seg
        print(f"normalise only: {n / prep:,.0f} rows/s")
        print(f"segmentation only (rjieba, on normalised text): {n / seg:,.0f} rows/s")
        print(f"normalise + segmentation: {n / both:,.0f} rows/s ({both:.3f} s)")
        model = best_of(args.repeat, lambda: router.model.score_many(texts))  # + department model
        rules = best_of(args.repeat, lambda: [router.rules.match(t) for t in texts])
        print(
            f"model only (features + probabilities, score_many, normalised text): "
            f"{n / model:,.0f} rows/s; jurisdiction rules only: {n / rules:,.0f} rows/s"
        )
        serial = best_of(args.repeat, lambda: route_many(router, items, processes=1))
        print(
            f"route_many in process, 1 process: {n / serial:,.0f} rows/s ({serial:.3f} s; "
            f"{serial / both:.1f} x normalise + segmentation)"
        )
        cores = os.cpu_count() or 1
        start = time.perf_counter()
        route_many(router, items, processes=cores)  # the first call forks the workers it keeps
        cold = time.perf_counter() - start
        print(
            f"route_many in process, processes={cores}, first call (workers forked): "
            f"{n / cold:,.0f} rows/s ({cold:.3f} s)"
        )
        par = best_of(args.repeat, lambda: route_many(router, items, processes=cores))
        print(
            f"route_many in process, processes={cores} (workers kept from the first call): "
            f"{n / par:,.0f} rows/s ({par:.3f} s; {par / both:.1f} x normalise + segmentation)"
        )
        print("target: in process >= 8,000 rows/s")

        # -- the command line, a fresh process each time ------------------------------------
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
            for title, content in items:
                fh.write(json.dumps({"title": title, "content": content}, ensure_ascii=False))
                fh.write("\n")
            jsonl = Path(fh.name)
        router_bin = Path(sys.executable).with_name("router")
        env = {**os.environ, "ROUTER_HOME": str(home)}
        walls = []
        try:
            for _ in range(args.repeat):
                with jsonl.open("rb") as stdin:
                    start = time.perf_counter()
                    done = subprocess.run(
                        [str(router_bin), "route", "--jsonl"],
                        stdin=stdin,
                        capture_output=True,
                        env=env,
                        cwd=ROOT,
                        timeout=300,
                        check=True,
                    )
                    walls.append(time.perf_counter() - start)
            out_lines = done.stdout.decode("utf-8").splitlines()
            start = time.perf_counter()
            subprocess.run(
                [str(router_bin), "route", "--jsonl"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=env,
                cwd=ROOT,
                timeout=120,
                check=True,
            )
            empty = time.perf_counter() - start
        finally:
            jsonl.unlink()
        errors = sum('"error"' in line[:12] for line in out_lines)
        print(
            f"`router route --jsonl` < {n} messages: best {min(walls):.2f} s, median "
            f"{statistics.median(walls):.2f} s -> {n / min(walls):,.0f} rows/s (best), "
            f"{n / statistics.median(walls):,.0f} rows/s (median); {len(out_lines)} lines out, "
            f"{errors} errors"
        )
        print(f"`router route --jsonl` < empty input (start + model load only): {empty:.2f} s")
        print(
            "target: `router route --jsonl` >= 2,000 rows/s, process start and model load included"
        )

        # -- real non-police messages --------------------------------------------------------
        outside = df[~df["police_kw"].astype(bool)]
        real = tipdm_items(outside)
        start = time.perf_counter()
        decisions = route_many(router, real, processes=cores)
        took = time.perf_counter() - start
        judged = Counter(d.jurisdiction for d in decisions if isinstance(d, Decision))
        total = sum(judged.values())
        share = (judged["outside"] + judged["partial"]) / total
        print(
            f"non-police messages (police_kw == False): {total}; judged outside "
            f"{judged['outside'] / total:.1%}, partial {judged['partial'] / total:.1%}, police "
            f"{judged['police'] / total:.1%} -> outside or partial {share:.1%}; "
            f"{len(real) / took:,.0f} rows/s (route_many, processes={cores})"
        )
        by_label = (
            outside.assign(
                j=[d.jurisdiction if isinstance(d, Decision) else "error" for d in decisions]
            )
            .groupby("label")["j"]
            .apply(lambda s: f"{(s != 'police').mean():.1%} of {len(s)}")
        )
        print(
            "outside or partial by topic class: "
            + "; ".join(f"{k} {v}" for k, v in by_label.items())
        )


if __name__ == "__main__":
    main()
