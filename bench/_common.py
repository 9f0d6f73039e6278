"""Helpers shared by the benchmark scripts: machine line, raw-output file, a trained home.

Every script prints its figures and tees them to ``bench/results/<script>-<date>.txt``.
A trained model is made once into a temporary folder (or reused from ``BENCH_HOME``, which
``run_all.sh`` sets so that the scripts share one model).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
CORPUS = ROOT / "data" / "corpus"
PROPOSALS = CORPUS / "proposals.csv"  # one file of it, for benches that need plain rows
# the shared data beside the checkout; BENCH_SHARED points elsewhere (a git worktree)
SHARED = Path(os.environ.get("BENCH_SHARED") or ROOT.parent / "shared")
TIPDM = SHARED / "data" / "tipdm2020"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine_line() -> str:
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    return (
        f"machine: {platform.system()} {platform.machine()}, {cpu_model()}, "
        f"os.cpu_count()={os.cpu_count()}{mem}, Python {platform.python_version()}"
    )


class _Tee:
    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


@contextlib.contextmanager
def report(name: str) -> Iterator[Path]:
    """Tee stdout to bench/results/<name>-<date>.txt; print the header and the load."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    today = dt.date.today().isoformat()
    path = RESULTS / f"{name}-{today}.txt"
    with path.open("w", encoding="utf-8") as fh:
        old = sys.stdout
        sys.stdout = _Tee(old, fh)  # type: ignore[assignment]
        try:
            print(f"# {name} — {dt.datetime.now().isoformat(timespec='seconds')}")
            print(machine_line())
            print(f"load average at start: {load_average()}")
            yield path
            print(f"load average at end: {load_average()}")
        finally:
            sys.stdout.flush()
            sys.stdout = old
    print(f"(raw output written to {path.relative_to(ROOT)})")


def percentiles(samples: Sequence[float], qs: Sequence[float] = (50, 90, 99)) -> dict[str, float]:
    arr = np.asarray(samples, dtype=np.float64)
    out = {f"p{q:g}": float(np.percentile(arr, q)) for q in qs}
    out["max"] = float(arr.max())
    out["mean"] = float(arr.mean())
    return out


def fmt_ms(stats: dict[str, float]) -> str:
    return ", ".join(f"{k} {v * 1000:.3f} ms" for k, v in stats.items())


def settings_for(home: Path) -> Any:
    from router.settings import get_settings

    return get_settings({}, home=home, corpus_path=CORPUS)


@contextlib.contextmanager
def trained_home() -> Iterator[Path]:
    """A project home whose registry serves a model trained on the shipped corpus."""
    given = os.environ.get("BENCH_HOME")
    if given and (Path(given) / "models" / "current").is_file():
        yield Path(given)
        return
    from router.learn.train import train

    home = Path(tempfile.mkdtemp(prefix="router-bench-"))
    try:
        started = time.perf_counter()
        result = train(settings_for(home), cv=False)
        print(
            f"(trained model {result.version} into a temporary home in "
            f"{time.perf_counter() - started:.1f} s)"
        )
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def tipdm_frame() -> Any | None:
    """The TipDM messages, or None (with a message) when ../shared is absent."""
    path = TIPDM / "labelled_union.csv"
    if not path.is_file():
        print(f"SKIP: {path} is absent; the real-message figures are not measured.")
        return None
    import pandas as pd

    return pd.read_csv(path, dtype={"留言主题": str, "detail": str}, keep_default_na=False)


def tipdm_items(df: Any) -> list[tuple[str | None, str | None]]:
    return [(t or None, d or None) for t, d in zip(df["留言主题"], df["detail"], strict=True)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MB."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def _tree(pid: int) -> list[int]:
    out = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            for child in children:
                out += _tree(int(child))
    return out


def tree_memory_mb(pid: int) -> dict[int, tuple[float, float]]:
    """RSS and peak RSS (VmHWM) in MB of a process and all its descendants."""
    out = {}
    for p in _tree(pid):
        rss = hwm = 0.0
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
        out[p] = (rss, hwm)
    return out


class Server:
    """`router serve` on a free loopback port, in its own process group; always stopped."""

    TOKEN = "bench-token-0123456789abcdef"

    def __init__(self, home: Path, workers: int = 1) -> None:
        import subprocess

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="router-serve-", suffix=".log", delete=False)
        env = {
            **os.environ,
            "ROUTER_HOME": str(home),
            "ROUTER_API_TOKEN": self.TOKEN,
            "ROUTER_CORPUS_PATH": str(CORPUS),
        }
        exe = Path(sys.executable).with_name("router")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--workers", str(workers)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from process start to /api/v1/readyz answering 200."""
        import httpx

        deadline = self.started + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {Path(self.log.name).read_text()[-2000:]}")
                try:
                    if client.get(self.base + "/api/v1/readyz").status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
        raise TimeoutError(f"not ready in {timeout} s: {Path(self.log.name).read_text()[-2000:]}")

    def stop(self) -> None:
        import signal
        import subprocess

        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
