"""Workers kept warm between batches: reused, replaced, and never a reason to lose a row."""

from __future__ import annotations

import dataclasses
import os
import signal

import pandas as pd
import pytest

from router import routing
from router.routing import Decision, Router, route_many
from router.workers import Worker, WorkerError


def _double(x: int) -> int:
    if x < 0:
        raise ValueError("negative")
    return 2 * x


def test_a_worker_runs_its_function_and_reports_failures() -> None:
    worker = Worker(_double)
    try:
        worker.send(21)
        assert worker.receive() == 42
        worker.send(-1)
        with pytest.raises(WorkerError, match="ValueError: negative"):
            worker.receive()
        worker.send(5)  # still serving after a failure
        assert worker.receive() == 10
        os.kill(worker.process.pid or 0, signal.SIGKILL)
        worker.process.join(timeout=5)
        assert not worker.alive()
        with pytest.raises(WorkerError, match="gone"):
            worker.send(1)
            worker.receive()
    finally:
        worker.close()


def _items(corpus: pd.DataFrame, n: int = 60) -> list[tuple[str | None, str | None]]:
    return list(zip(corpus["title"][:n], corpus["content"][:n], strict=True))


def test_workers_are_kept_for_the_next_batch_and_replaced_for_another_router(
    router: Router, corpus: pd.DataFrame
) -> None:
    if not routing._can_fork():
        pytest.skip("this process has other threads: route_many does not fork here")
    items = _items(corpus)
    serial = [d.model_dump() for d in route_many(router, items) if isinstance(d, Decision)]
    mine = dataclasses.replace(router)  # the same model under another identity
    first = [
        d.model_dump() for d in route_many(mine, items, processes=2) if isinstance(d, Decision)
    ]
    pids = [w.process.pid for w in routing._Warm.workers]
    again = [
        d.model_dump() for d in route_many(mine, items, processes=2) if isinstance(d, Decision)
    ]
    assert first == again == serial
    assert [w.process.pid for w in routing._Warm.workers] == pids  # the same processes
    other = dataclasses.replace(router)
    route_many(other, items, processes=2)
    assert routing._Warm.router is other
    assert [w.process.pid for w in routing._Warm.workers] != pids


def test_a_worker_that_died_costs_no_row(router: Router, corpus: pd.DataFrame) -> None:
    if not routing._can_fork():
        pytest.skip("this process has other threads: route_many does not fork here")
    items = _items(corpus)
    mine = dataclasses.replace(router)
    route_many(mine, items, processes=2)
    for w in routing._Warm.workers:
        os.kill(w.process.pid or 0, signal.SIGKILL)
        w.process.join(timeout=5)
    again = route_many(mine, items, processes=2)  # dead workers are replaced
    assert [d.model_dump() for d in again if isinstance(d, Decision)] == [
        d.model_dump() for d in route_many(router, items) if isinstance(d, Decision)
    ]
    assert all(w.alive() for w in routing._Warm.workers)


def test_a_worker_failing_mid_batch_has_its_share_routed_here(
    router: Router, corpus: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not routing._can_fork():
        pytest.skip("this process has other threads: route_many does not fork here")
    items = _items(corpus)
    mine = dataclasses.replace(router)

    def broken(self: Worker) -> object:
        raise WorkerError("lost on the way")

    monkeypatch.setattr(Worker, "receive", broken)
    got = route_many(mine, items, processes=2)
    assert [d.model_dump() for d in got if isinstance(d, Decision)] == [
        d.model_dump() for d in route_many(router, items) if isinstance(d, Decision)
    ]
