"""Start-up: process start to /readyz answering ready, model load time, artifact size.

Usage: .venv/bin/python bench/startup.py [--repeat 3]

Starts `router serve` (one worker, ROUTER_API_TOKEN set, a temporary home with a trained
model) on a free 127.0.0.1 port several times and times each from process start to
/api/v1/readyz answering 200; then, in this process, times the parts a start is made of
(imports, dictionary, loading the artifact) and prints the artifact's size on disk.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _common import Server, report, settings_for, trained_home, tree_memory_mb

_PARTS = r"""
import json, sys, time
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20
t0, m0 = time.perf_counter(), rss()
import router.api.app
t1, m1 = time.perf_counter(), rss()
from router.core.text import init
init()
t2, m2 = time.perf_counter(), rss()
from router.learn.registry import Registry
from router.settings import get_settings
loaded = Registry(get_settings().models_path).load()
t3, m3 = time.perf_counter(), rss()
print(json.dumps({"imports": t1 - t0, "dictionary": t2 - t1, "load": t3 - t2,
                  "mb_python": m0, "mb_imports": m1 - m0, "mb_dictionary": m2 - m1,
                  "mb_model": m3 - m2, "sklearn": "sklearn" in sys.modules,
                  "pandas": "pandas" in sys.modules}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from router.learn.registry import ARTIFACT, Registry

    with report("startup"), trained_home() as home:
        settings = settings_for(home)
        registry = Registry(settings.models_path)
        version = registry.current()
        assert version is not None
        artifact = registry.root / version / ARTIFACT
        print(f"artifact {artifact.name}: {artifact.stat().st_size / 1e6:.1f} MB (target <= 30 MB)")

        readies, rss = [], []
        for _ in range(args.repeat):
            with Server(home, 1) as server:
                readies.append(server.wait_ready())
                rss.append(sum(r for r, _ in tree_memory_mb(server.proc.pid).values()))
        print(
            "`router serve` (1 worker), process start -> /readyz 200: "
            + ", ".join(f"{r:.2f}" for r in readies)
            + f" s (median {statistics.median(readies):.2f} s; target <= 3 s); "
            f"RSS when ready {statistics.median(rss):.0f} MB"
        )

        parts = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, "-c", _PARTS],
                capture_output=True,
                text=True,
                env={**os.environ, "ROUTER_HOME": str(home)},
                check=True,
                timeout=120,
            ).stdout
            parts.append(json.loads(out))
        med = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
        print(
            f"in a fresh process (median of {args.repeat}): imports (the app, FastAPI, "
            f"SQLAlchemy, NumPy, SciPy) {med['imports']:.2f} s, segmentation dictionary "
            f"{med['dictionary']:.2f} s, model load (checksum, arrays, hash tables) "
            f"{med['load']:.2f} s"
        )
        print(
            f"resident memory: Python {med['mb_python']:.0f} MB, imports "
            f"{med['mb_imports']:.0f} MB, dictionary {med['mb_dictionary']:.0f} MB, model "
            f"{med['mb_model']:.0f} MB; scikit-learn imported: {parts[0]['sklearn']}, "
            f"pandas imported: {parts[0]['pandas']}"
        )
        start = time.perf_counter()
        registry.load(version)
        print(f"artifact load in a warm process: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
