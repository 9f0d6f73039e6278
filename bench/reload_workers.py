"""Does every worker follow a promotion? `router serve --workers N`, a second version promoted,
``POST /api/v1/admin/reload`` once, then /route answers counted by the model that gave them.

Usage: .venv/bin/python bench/reload_workers.py [--workers 2] [--requests 200]

Each request opens its own connection, so the kernel spreads them over the workers. Printed:
how many of the answers came from the old model right after the reload returned, one second
later and ten seconds later (the issue's figures before the fix: 66 and 49 of 200).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Server, report, settings_for, trained_home  # noqa: E402


def count(base: str, n: int) -> Counter[str]:
    import httpx

    body = {"title": "关于学府路拥堵的建议", "content": "建议交警部门增设信号灯、优化配时。"}
    seen: Counter[str] = Counter()
    for _ in range(n):
        r = httpx.post(base + "/api/v1/route", json=body, timeout=30)
        seen[r.json().get("model_version", f"HTTP {r.status_code}")] += 1
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--watch", default="5", help="ROUTER_MODEL_WATCH_SECONDS; 0: only /admin/reload moves"
    )
    args = parser.parse_args()
    import os

    os.environ["ROUTER_MODEL_WATCH_SECONDS"] = args.watch
    import httpx

    from router.learn.registry import Registry
    from router.learn.train import DEFAULT_CONFIG, train

    with report("reload_workers"), trained_home() as home:
        settings = settings_for(home)
        old = Registry(settings.models_path).current()
        new = train(
            settings, replace(DEFAULT_CONFIG, classifier="logreg"), promote=False, cv=False
        ).version
        with Server(home, workers=args.workers) as server:
            server.wait_ready()
            print(
                f"{args.workers} workers, ROUTER_MODEL_WATCH_SECONDS={args.watch}; serving {old}; "
                f"before: {dict(count(server.base, 50))}"
            )
            Registry(settings.models_path).promote(new)
            r = httpx.post(
                server.base + "/api/v1/admin/reload",
                headers={"Authorization": f"Bearer {Server.TOKEN}", "X-Dispatcher": "bench"},
                timeout=60,
            )
            print(f"/admin/reload: {r.status_code} {r.json()}")
            for label, wait in (("at once", 0.0), ("after 1 s", 1.0), ("after 10 s", 9.0)):
                time.sleep(wait)
                seen = count(server.base, args.requests)
                print(
                    f"{label:>11}: {seen.get(old, 0)} of {args.requests} answers from the old "
                    f"model {old}, {seen.get(new, 0)} from {new}"
                )
        Registry(settings.models_path).promote(old)  # a shared BENCH_HOME is left as found


if __name__ == "__main__":
    main()
