"""A bounded load generator for loopback only, used when `wrk` is not installed.

Usage: .venv/bin/python bench/_httpx_load.py URL BODIES.json CONNECTIONS SECONDS [MAX_REQUESTS]

Keeps CONNECTIONS requests in flight (one coroutine per connection) until SECONDS have
passed or MAX_REQUESTS were sent, then prints one JSON object: requests, errors, seconds,
latencies (p50, p90, p99 in ms). Refuses any host other than 127.0.0.1 / localhost / ::1.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

import httpx
import numpy as np


async def run(url: str, bodies: list[bytes], connections: int, seconds: float, cap: int) -> dict:  # type: ignore[type-arg]
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:

        async def worker(k: int) -> None:
            nonlocal errors, sent
            i = k
            while time.perf_counter() < deadline and sent < cap:
                sent += 1
                body = bodies[i % len(bodies)]
                i += connections
                start = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    if response.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(connections)))
        took = time.perf_counter() - started
    arr = np.asarray(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": took,
        "rps": len(latencies) / took,
        "p50_ms": float(np.percentile(arr, 50)),
        "p90_ms": float(np.percentile(arr, 90)),
        "p99_ms": float(np.percentile(arr, 99)),
    }


def main() -> None:
    url, bodies_path, connections, seconds = sys.argv[1:5]
    cap = int(sys.argv[5]) if len(sys.argv) > 5 else 200_000
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only")
    with open(bodies_path, encoding="utf-8") as fh:
        bodies = [json.dumps(b, ensure_ascii=False).encode("utf-8") for b in json.load(fh)]
    result = asyncio.run(run(url, bodies, int(connections), float(seconds), cap))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
