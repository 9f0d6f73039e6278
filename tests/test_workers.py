"""Workers kept warm between batches: reused, replaced, and never a reason to lose a row."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
from typing import Any

import pandas as pd
import pytest

from router.core import parallel as workers
from router.core import routing
from router.core.parallel import Worker, WorkerError
from router.core.routing import Decision, InputError, Router, route_many
from tests.conftest import require_or_skip


def _double(state: int, x: int, tick: Any) -> int:
    if x < 0:
        raise ValueError("negative")
    tick(1)
    return state * x


def test_a_worker_runs_its_function_and_reports_failures() -> None:
    worker = Worker(2)  # forked holding its state: 2
    ticks: list[int] = []
    try:
        worker.send(_double, 21)
        assert worker.receive(ticks.append) == 42
        assert ticks == [1]
        worker.send(_double, -1)
        with pytest.raises(WorkerError, match="ValueError: negative"):
            worker.receive()
        worker.send(_double, 5)  # still serving after a failure
        assert worker.receive() == 10
        with pytest.raises(WorkerError, match="cannot take"):
            worker.send(_double, lambda: 1)  # cannot be pickled: nothing was written
        worker.send(_double, 4)
        assert worker.receive() == 8
        os.kill(worker.process.pid or 0, signal.SIGKILL)
        worker.process.join(timeout=5)
        assert not worker.alive()
        with pytest.raises(WorkerError):
            worker.send(_double, 1)
            worker.receive()
    finally:
        worker.close()


def _items(corpus: pd.DataFrame, n: int = 60) -> list[tuple[str | None, str | None]]:
    items: list[tuple[str | None, str | None]] = list(
        zip(corpus["title"][:n], corpus["content"][:n], strict=True)
    )
    items[-3] = ("", "")  # a bad row in the worker's share
    return items


def _plain(results: list[Decision | InputError]) -> list[Any]:
    return [r.model_dump() if isinstance(r, Decision) else str(r) for r in results]


@pytest.fixture
def mine(router: Router) -> Router:
    """The shipped model under an identity of its own: workers forked for this test."""
    if not workers.can_fork():
        require_or_skip("this process has other threads: route_many does not fork here")
    workers.close_workers()
    return dataclasses.replace(router)


def _pids() -> list[int | None]:
    return [w.process.pid for w in workers.POOL._workers]


def test_workers_are_kept_for_the_next_batch_and_replaced_for_another_router(
    mine: Router, router: Router, corpus: pd.DataFrame
) -> None:
    items = _items(corpus)
    serial = _plain(route_many(router, items))
    assert len(serial) == len(items) and "不能同时为空" in serial[-3]
    assert _plain(route_many(mine, items, processes=2)) == serial
    pids = _pids()
    assert len(pids) == 1
    assert _plain(route_many(mine, items, processes=2)) == serial
    assert _pids() == pids  # the same process served again
    other = dataclasses.replace(router)
    route_many(other, items, processes=2)
    assert workers.POOL._owner is other and _pids() != pids


def test_a_worker_that_died_between_batches_is_replaced(
    mine: Router, router: Router, corpus: pd.DataFrame
) -> None:
    items = _items(corpus)
    route_many(mine, items, processes=2)
    for w in workers.POOL._workers:
        os.kill(w.process.pid or 0, signal.SIGKILL)
        w.process.join(timeout=5)
    assert _plain(route_many(mine, items, processes=2)) == _plain(route_many(router, items))
    assert all(w.alive() for w in workers.POOL._workers)


def test_a_worker_failing_mid_batch_has_its_share_routed_here(
    mine: Router, router: Router, corpus: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = _items(corpus)
    calls: list[int] = []

    def broken(self: Worker, tick: object = None) -> object:
        calls.append(1)
        raise WorkerError("lost on the way")

    monkeypatch.setattr(Worker, "receive", broken)
    assert _plain(route_many(mine, items, processes=2)) == _plain(route_many(router, items))
    assert calls == [1]  # a worker was asked, and its share was done here


def test_an_interrupted_batch_leaves_no_reply_for_the_next(
    mine: Router, router: Router, corpus: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _items(corpus), _items(corpus.iloc[100:])
    route_many(mine, first, processes=2)  # a warm worker
    pids = _pids()
    real = routing._decide_many

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(routing, "_decide_many", interrupted)
    with pytest.raises(KeyboardInterrupt):
        route_many(mine, first, processes=2)  # the worker's reply is never read
    monkeypatch.setattr(routing, "_decide_many", real)
    assert _plain(route_many(mine, second, processes=2)) == _plain(route_many(router, second))
    assert _pids() != pids  # the worker out of step was ended, not reused


def _child_routes(router: Router, items: list[Any], conn: Any) -> None:
    conn.send(len(route_many(router, items, processes=2)))


def test_a_forked_child_leaves_its_parents_workers_alone(
    mine: Router, corpus: pd.DataFrame
) -> None:
    items = _items(corpus)
    route_many(mine, items, processes=2)
    pids = _pids()
    ctx = multiprocessing.get_context("fork")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_child_routes, args=(mine, items, theirs))
    child.start()
    assert ours.recv() == len(items)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert _pids() == pids and all(w.alive() for w in workers.POOL._workers)
