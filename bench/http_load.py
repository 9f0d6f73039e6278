"""The HTTP service on loopback under concurrent load: POST /api/v1/route.

Usage: .venv/bin/python bench/http_load.py [--seconds 10] [--connections 16 64]
                                           [--workers 1 N] [--generator wrk|httpx]

Starts `router serve` (ROUTER_API_TOKEN set, a temporary home with a trained model) on a
free 127.0.0.1 port, once with one uvicorn worker and once with one per core; waits for
/api/v1/readyz, warms up for 2 s, then loads it from a second process: `wrk` (Debian's
package `wrk`) when installed, else the bounded async httpx client in _httpx_load.py. Each
run is bounded in time (and the httpx client in count). Bodies cycle over the shipped
corpus's proposals (title and content). Prints requests per second, p50/p90/p99 latency,
errors (non-200 answers and socket errors) and the server's resident memory (all its
processes, now and peak). The server is always stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import BENCH, PROPOSALS, Server, report, trained_home, tree_memory_mb

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def bodies(limit: int = 300) -> list[dict[str, str]]:
    import pandas as pd

    df = pd.read_csv(PROPOSALS, dtype=str, keep_default_na=False).head(limit)
    return [{"title": t, "content": c} for t, c in zip(df["title"], df["content"], strict=True)]


def wrk_script(items: list[dict[str, str]]) -> str:
    lines = ["local bodies = {"]
    for item in items:
        text = json.dumps(item, ensure_ascii=False)
        level = "=" * 3
        while f"]{level}]" in text:
            level += "="
        lines.append(f"  [{level}[{text}]{level}],")
    lines += [
        "}",
        "local i = 0",
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/json"',
        "request = function()",
        "  i = i % #bodies + 1",
        '  return wrk.format(nil, "/api/v1/route", nil, bodies[i])',
        "end",
    ]
    return "\n".join(lines) + "\n"


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(base: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    threads = max(1, min(2, connections // 8))
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
        + ["--latency", "-s", str(script), base + "/api/v1/route"],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    result: dict[str, float] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    result["requests"] = float(m.group(1)) if m else float("nan")
    for q in ("50", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        result[f"p{q}_ms"] = _ms(m.group(1)) if m else float("nan")
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors += sum(int(g) for g in m.groups()) if m else 0
    result["errors"] = errors
    return result


def run_httpx(base: str, bodies_file: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(BENCH / "_httpx_load.py"), base + "/api/v1/route"]
        + [str(bodies_file), str(connections), str(seconds), "200000"],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    return dict(json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--generator", choices=["wrk", "httpx"], default=None)
    args = parser.parse_args()
    generator = args.generator or ("wrk" if shutil.which("wrk") else "httpx")

    with report("http_load"), trained_home() as home, tempfile.TemporaryDirectory() as tmp:
        items = bodies()
        script = Path(tmp) / "route.lua"
        script.write_text(wrk_script(items), encoding="utf-8")
        bodies_file = Path(tmp) / "bodies.json"
        bodies_file.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
        print(
            f"load generator: {generator} (second process); {len(items)} corpus proposals "
            f"cycled; {args.seconds} s per run; POST /api/v1/route on 127.0.0.1"
        )

        def load(base: str, connections: int, seconds: int) -> dict[str, float]:
            if generator == "wrk":
                return run_wrk(base, script, connections, seconds)
            return run_httpx(base, bodies_file, connections, seconds)

        for workers in dict.fromkeys(args.workers):
            with Server(home, workers) as server:
                ready = server.wait_ready()
                idle = tree_memory_mb(server.proc.pid)
                print(
                    f"\n== {workers} uvicorn worker(s): ready {ready:.2f} s after process start; "
                    f"RSS idle {sum(r for r, _ in idle.values()):.0f} MB "
                    f"({len(idle)} processes)"
                )
                load(server.base, 4, 2)  # warm-up, not reported
                for connections in args.connections:
                    r = load(server.base, connections, args.seconds)
                    mem = tree_memory_mb(server.proc.pid)
                    rss = sum(x for x, _ in mem.values())
                    biggest = max(h for _, h in mem.values())
                    print(
                        f"workers={workers} connections={connections}: {r['rps']:.0f} requests/s, "
                        f"p50 {r['p50_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms, "
                        f"p99 {r['p99_ms']:.1f} ms, errors {int(r['errors'])} of "
                        f"{int(r['requests'])}; server RSS {rss:.0f} MB in {len(mem)} "
                        f"processes (largest peak {biggest:.0f} MB)"
                    )
        print(
            "\ntarget: one worker >= 400 requests/s at 16 connections, p99 <= 40 ms, no errors; "
            "throughput grows with workers; RSS <= 300 MB"
        )


if __name__ == "__main__":
    main()
