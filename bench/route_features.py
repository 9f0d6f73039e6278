"""What familiarity, police cues and local topics cost per decision on the hot path.

Usage: .venv/bin/python bench/route_features.py [--rows 2000] [--rounds 5]

Routes the same rows (TipDM messages when ../shared has them, else the shipped corpus) with
the shipped router and with each feature switched off: familiarity (no training rows, so no
similarity product), police cues (no patterns), local topics (no local jurisdiction). Each
round times every variant once, in turn, so that the machine's load falls on all alike; the
figures are medians over rounds, and the cost of a feature is the difference per decision,
in microseconds, for a batch (``route_many``, one process) and for one ``route()`` at a time.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import time
from typing import Any

from _common import PROPOSALS, report, settings_for, tipdm_frame, tipdm_items, trained_home


def _rows(n: int) -> tuple[list[tuple[str | None, str | None]], str]:
    df = tipdm_frame()
    if df is not None and len(df) >= n:
        return tipdm_items(df.head(n)), "TipDM messages (title and detail)"
    import pandas as pd

    corpus = pd.read_csv(PROPOSALS).sample(n=n, replace=True, random_state=3)
    return list(zip(corpus["title"], corpus["content"], strict=True)), "the shipped corpus"


def _variants(router: Any) -> dict[str, Any]:
    from router.core.rules import PoliceCues

    plain_model = copy.copy(router.model)
    plain_model.reference = None
    no_cues = PoliceCues(router.cues.version, ())
    return {
        "all on (shipped)": router,
        "familiarity off": dataclasses.replace(router, model=plain_model),
        "police cues off": dataclasses.replace(router, cues=no_cues),
        "local topics off": dataclasses.replace(router, local=None),
        "all three off": dataclasses.replace(router, model=plain_model, cues=no_cues, local=None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--single", type=int, default=300, help="rows routed one at a time")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from router.core.routing import route, route_many
    from router.core.text import init
    from router.learn.load import load_router

    with report("route_features"), trained_home() as home:
        router = load_router(settings_for(home))
        init()
        items, source = _rows(args.rows)
        variants = _variants(router)
        reference = router.model.reference
        print(
            f"{len(items)} rows from {source}; model {router.version} "
            f"({0 if reference is None else reference.shape[0]} training rows kept for "
            f"familiarity); local topics: {len(router.local.topics) if router.local else 0}; "
            f"cue units: {len(router.cues.patterns)}; medians of {args.rounds} rounds"
        )
        for r in variants.values():
            route_many(r, items[:200])  # warm-up: caches, lookups
        batch: dict[str, list[float]] = {k: [] for k in variants}
        single: dict[str, list[float]] = {k: [] for k in variants}
        one = items[: args.single]
        for _ in range(args.rounds):
            for name, r in variants.items():
                start = time.perf_counter()
                route_many(r, items)
                batch[name].append(time.perf_counter() - start)
                start = time.perf_counter()
                for title, content in one:
                    try:
                        route(r, title, content)
                    except ValueError:
                        pass
                single[name].append(time.perf_counter() - start)
        base_b = statistics.median(batch["all three off"]) / len(items)
        base_s = statistics.median(single["all three off"]) / len(one)
        on_b = statistics.median(batch["all on (shipped)"]) / len(items)
        on_s = statistics.median(single["all on (shipped)"]) / len(one)
        for name in variants:
            b = statistics.median(batch[name]) / len(items)
            s = statistics.median(single[name]) / len(one)
            spread = (max(batch[name]) - min(batch[name])) / statistics.median(batch[name])
            print(
                f"{name:18s}: batch {b * 1e6:7.1f} µs/decision "
                f"({on_b / b:.3f} x the shipped time; spread {spread:.0%}), "
                f"route() {s * 1e6:7.1f} µs/decision"
            )
        print(
            f"the three together cost {(on_b - base_b) * 1e6:.1f} µs per decision in a batch "
            f"({(on_b - base_b) / on_b:.1%} of it), {(on_s - base_s) * 1e6:.1f} µs per route() "
            f"({(on_s - base_s) / on_s:.1%})"
        )


if __name__ == "__main__":
    main()
