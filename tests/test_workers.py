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
from tests.conftest import one_thread, require_or_skip


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


def _close_workers() -> None:
    """Start from no kept workers (they would otherwise end with this process)."""
    with workers.POOL.lock:
        workers.POOL.close()


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
    one_thread()
    if not workers.can_fork():
        require_or_skip("this process has other threads: route_many does not fork here")
    _close_workers()
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


def _squares(state: int, share: list[int], tick: Any, offset: int = 0) -> list[int]:
    out = []
    for x in share:
        out.append(state * x * x + offset)
        tick(1)
    return out


def _monotone_to(calls: list[tuple[int, int]], total: int) -> None:
    done = [d for d, _ in calls]
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    assert done == sorted(done) and len(set(done)) == len(done)


def test_split_gives_the_serial_results_and_progress_up_to_the_total() -> None:
    one_thread()
    if not workers.can_fork():
        require_or_skip("this process has other threads: split does not fork here")
    _close_workers()
    items = list(range(101))
    want = _squares(3, items, lambda _n: None, 7)
    for processes in (1, 2, 3):
        calls: list[tuple[int, int]] = []
        own, others = workers.split(
            _squares,
            items,
            processes,
            state=3,
            local=_squares,
            args=(7,),
            cost=[1 + x % 5 for x in items],
            progress=lambda d, t: calls.append((d, t)),  # noqa: B023
        )
        assert [*own, *(x for share in others for x in share)] == want
        assert len(others) == processes - 1
        _monotone_to(calls, len(items))
    _close_workers()


def test_split_runs_here_when_no_worker_can_be_had(monkeypatch: pytest.MonkeyPatch) -> None:
    _close_workers()
    monkeypatch.setattr(workers, "can_fork", lambda: False)
    calls: list[tuple[int, int]] = []
    own, others = workers.split(
        _squares,
        list(range(10)),
        2,
        state=2,
        local=_squares,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert own == _squares(2, list(range(10)), lambda _n: None) and others == []
    _monotone_to(calls, 10)


def test_route_many_reports_progress_serial_and_forked(
    mine: Router, router: Router, corpus: pd.DataFrame
) -> None:
    items = _items(corpus, 1200)  # more than one scoring chunk per process
    serial_calls: list[tuple[int, int]] = []
    serial = _plain(route_many(router, items, progress=lambda d, t: serial_calls.append((d, t))))
    _monotone_to(serial_calls, len(items))
    assert len(serial_calls) >= 4  # 0, then each chunk of 512
    calls: list[tuple[int, int]] = []
    forked = route_many(mine, items, processes=2, progress=lambda d, t: calls.append((d, t)))
    assert _plain(forked) == serial
    assert len(workers.POOL._workers) == 1
    _monotone_to(calls, len(items))
    # at least one report between the start and the end; how many depends on when the
    # worker's reports arrive (one may come with this process's own)
    assert len(calls) >= 3


def test_route_items_forked_gives_the_serial_decisions_texts_and_tokens(
    mine: Router, router: Router, corpus: pd.DataFrame
) -> None:
    from router.core.routing import route_items
    from router.core.text import prepare, tokenize

    items = _items(corpus, 80)
    items[70] = ("过长", "字" * (router.thresholds.max_chars + 1))  # in the worker's share
    serial = route_items(router, items)
    forked = route_items(mine, items, processes=2, chunk=7)
    assert len(workers.POOL._workers) == 1
    kinds = [r.result.kind if isinstance(r.result, InputError) else "" for r in forked]
    assert kinds.count("too_long") == 1 and kinds.count("empty") == 1
    assert kinds == [r.result.kind if isinstance(r.result, InputError) else "" for r in serial]
    plain = route_many(mine, items, processes=2)
    assert [r.kind if isinstance(r, InputError) else "" for r in plain] == kinds
    assert [(_plain([r.result]), r.text, r.tokens) for r in forked] == [
        (_plain([r.result]), r.text, r.tokens) for r in serial
    ]
    assert _plain([r.result for r in serial]) == _plain(route_many(router, items))
    for (title, content), r in zip(items, serial, strict=True):
        if isinstance(r.result, Decision):
            assert r.text == prepare(title, content) and r.tokens == tokenize(r.text)
        else:
            assert r.text == "" and r.tokens == []


def test_kept_workers_serve_a_process_that_has_other_threads_since(
    mine: Router, router: Router, corpus: pd.DataFrame
) -> None:
    import threading

    items = _items(corpus)
    route_many(mine, items, processes=2)  # forked while this process has one thread
    pids = _pids()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)  # a progress bar's refresh thread, say
    thread.start()
    try:
        assert not workers.can_fork()
        calls: list[tuple[int, int]] = []
        got = route_many(mine, items, processes=2, progress=lambda d, t: calls.append((d, t)))
        assert _plain(got) == _plain(route_many(router, items))
        assert _pids() == pids  # the kept worker served; nothing was forked
        _monotone_to(calls, len(items))
    finally:
        stop.set()
        thread.join()
