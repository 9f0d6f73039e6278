"""route() in process: latency of one title-only proposal and of a 600-character one.

Usage: .venv/bin/python bench/route_latency.py [--calls 5000] [--warmup 500]

Texts come from the shipped (invented) corpus: titles for the title-only case, and 200
distinct 600-character texts (a title and body, extended with the next rows' bodies) for
the long case, cycled so that no single text is cached. Garbage collection stays on.
"""

from __future__ import annotations

import argparse
import time

from _common import fmt_ms, percentiles, report, settings_for, trained_home


def long_texts(corpus, n: int = 200, chars: int = 600) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    out = []
    rows = list(zip(corpus["title"], corpus["content"], strict=True))
    for i in range(n):
        title, body = rows[i % len(rows)]
        j = i + 1
        while len(title) + 1 + len(body) < chars:
            body += rows[j % len(rows)][1]
            j += 1
        out.append((title, body[: chars - len(title) - 1]))
    return out


def measure(router, items, calls: int, warmup: int) -> list[float]:  # type: ignore[no-untyped-def]
    from router.core.routing import route

    for i in range(warmup):
        route(router, *items[i % len(items)])
    samples = []
    clock = time.perf_counter
    for i in range(calls):
        title, content = items[i % len(items)]
        start = clock()
        route(router, title, content)
        samples.append(clock() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    args = parser.parse_args()

    from router.core.text import prepare
    from router.learn.dataset import load_corpus
    from router.learn.load import load_router

    with report("route_latency"), trained_home() as home:
        settings = settings_for(home)
        router = load_router(settings)
        print(f"model {router.version}")
        corpus = load_corpus(settings.corpus)
        titles = [(t, None) for t in corpus["title"]]
        longs = long_texts(corpus)
        lengths = sorted(len(prepare(t, c)) for t, c in longs)
        print(
            f"calls per case: {args.calls} after {args.warmup} warm-up calls; "
            f"long texts: {len(longs)} distinct, {lengths[0]}-{lengths[-1]} characters"
        )
        for name, items in (("title only", titles), ("600 characters", longs)):
            stats = percentiles(measure(router, items, args.calls, args.warmup))
            print(f"route() {name}: {fmt_ms(stats)}")
        print("target (2 cores): 600 characters p50 <= 1 ms and p99 <= 4 ms")


if __name__ == "__main__":
    main()
