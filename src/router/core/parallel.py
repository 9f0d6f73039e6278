"""The one way the package runs work in parallel: forked workers kept warm between batches.

Splitting a batch over processes pays, on every call, for forking and for the page copies a
fresh child makes as it writes to memory it shares with its parent: about a tenth of the
time of routing 5,000 proposals on two cores. A worker kept between calls pays that once.

A worker is forked holding a state (a loaded router, say), so that is never pickled; each
call sends a module-level function (pickled by name) and its share of the items, and reads
back the result. While it works it sends ticks (items done), so a caller's progress follows
every process, whatever threads the caller runs. Forking needs a process with one thread
(:func:`can_fork`); workers already forked serve whatever threads there are since. Workers
are daemonic: they end with their parent.

:func:`split` is the executor: routing (``route_many``), batches and 并案 all go through it.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any, TypeVar

_S = TypeVar("_S")
_I = TypeVar("_I")
_L = TypeVar("_L")
_R = TypeVar("_R")

Progress = Callable[[int, int], None]  # (items done, items in all), never decreasing
Tick = Callable[[int], None]  # this many more items of a share are done


def can_fork() -> bool:
    """Fork only where it is safe: a platform that has it and a process with one thread."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


class WorkerError(RuntimeError):
    """The worker died or its function raised; the caller can do the work itself."""


def _no_tick(_done: int) -> None:
    return None


class Worker:
    """One forked process holding ``state``; runs each ``fn(state, share, tick, *args)`` sent."""

    def __init__(self, state: object = None) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, theirs = ctx.Pipe()
        self._reply: tuple[str, Any] | None = None
        self.process = ctx.Process(target=_serve, args=(state, theirs, self._conn), daemon=True)
        self.process.start()
        theirs.close()

    def send(self, fn: Callable[..., Any], share: Any, args: tuple[Any, ...] = ()) -> None:
        try:
            self._conn.send((fn, share, args))
        except Exception as exc:  # gone, or a payload that cannot be pickled
            raise WorkerError(f"worker {self.process.pid} cannot take the work: {exc}") from exc

    def _next(self) -> tuple[str, Any]:
        try:
            message: tuple[str, Any] = self._conn.recv()
        except (OSError, EOFError, ValueError) as exc:
            raise WorkerError(f"worker {self.process.pid} is gone: {exc}") from exc
        return message

    def poll(self, tick: Tick = _no_tick) -> None:
        """Read the ticks that have come, without waiting; keep a result that has."""
        try:
            while self._reply is None and self._conn.poll():
                kind, value = self._next()
                if kind == "tick":
                    tick(value)
                else:
                    self._reply = (kind, value)
        except (OSError, EOFError, ValueError, WorkerError):
            return  # receive() will say so

    def receive(self, tick: Tick = _no_tick) -> Any:
        """The result of the work sent, passing on its ticks until it comes."""
        while self._reply is None:
            kind, value = self._next()
            if kind == "tick":
                tick(value)
            else:
                self._reply = (kind, value)
        (kind, value), self._reply = self._reply, None
        if kind != "ok":
            raise WorkerError(f"worker {self.process.pid} failed: {value}")
        return value

    def alive(self) -> bool:
        return self.process.is_alive() and not self._conn.closed

    def close(self) -> None:
        """Stop the worker now: it holds no state worth a graceful end, and a sibling forked
        after it may hold its pipe open, so it might never read the end of its input."""
        self._conn.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)


def _serve(state: object, conn: Connection, parent_end: Connection) -> None:
    parent_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which ends us

    def tick(done: int) -> None:
        conn.send(("tick", done))

    while True:
        try:
            fn, share, args = conn.recv()
        except BaseException:  # the parent closed the pipe or is gone
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(state, share, tick, *args))
        except Exception as exc:  # reported to the caller, who can redo the work itself
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except BaseException:
            return


ANY = object()  # an owner that any warm worker serves: work that needs no state of its own


class WarmPool:
    """Workers forked for one owner (a router, say), kept for that owner's next batches."""

    def __init__(self) -> None:
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        """A new pool, as in a forked child: its parent's workers and lock are not its own."""
        self.lock = threading.Lock()
        self._owner: object | None = None
        self._workers: list[Worker] = []
        self._pid = os.getpid()

    def get(self, owner: object, count: int) -> list[Worker]:
        """Up to ``count`` live workers for ``owner``: the ones kept, and new ones forked
        holding it where forking is safe. ``owner`` :data:`ANY` takes whatever is kept."""
        mine = owner is ANY or owner is self._owner
        keep = [w for w in self._workers if w.alive()] if mine else []
        self.discard(w for w in self._workers if w not in keep)
        if not keep:
            self._owner = None if owner is ANY else owner
        if len(keep) < count and can_fork():
            keep += [Worker(self._owner) for _ in range(count - len(keep))]
        self._workers = keep
        return keep[:count]

    def discard(self, workers: Iterable[Worker]) -> None:
        """Close these workers, say because a reply was left unread: out of step with us."""
        for worker in list(workers):
            worker.close()
            if worker in self._workers:
                self._workers.remove(worker)

    def close(self) -> None:
        if self._pid == os.getpid():
            self.discard(self._workers)
        self._owner, self._workers = None, []


POOL = WarmPool()  # the process's workers, kept for the next batch of the same owner


def split(
    work: Callable[..., _R],
    items: Sequence[_I],
    processes: int,
    *,
    state: _S,
    local: Callable[..., _L],
    args: tuple[Any, ...] = (),
    cost: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> tuple[_L, list[_R]]:
    """``local(state, first share, tick, *args)`` here and ``work(state, share, tick, *args)``
    for each other share on a warm worker: (the first share's result, the others' in order).

    ``local`` gives what this process wants (objects, say); ``work``, a module-level
    function, what passes cheaply through a pipe (JSON, say), and is what redoes here the
    share of a worker that fails. Shares are contiguous and equal in ``cost`` (one per item
    by default); where no worker can be had (none kept and forking unsafe) everything runs
    here, with the same results. ``progress(done, total)`` is called in this thread, from 0
    to ``total``, as any process finishes a part of its share. ``state`` :data:`ANY` lets
    any kept worker serve, for work that needs nothing forked with it.
    """
    total = len(items)
    counts: dict[int, int] = {}
    shown = [-1]

    def show() -> None:
        if progress is not None:
            done = min(total, sum(counts.values()))
            if done > shown[0]:
                shown[0] = done
                progress(done, total)

    def ticker(key: int, poll: Sequence[tuple[int, Worker]] = ()) -> Tick:
        """Count a share's items done; the local share's ticks also read the workers'."""

        def tick(done: int) -> None:
            counts[key] = counts.get(key, 0) + done
            for k, w in poll:
                w.poll(ticker(k))
            show()

        return tick

    def alone() -> tuple[_L, list[_R]]:
        result = local(state, items, ticker(0), *args)
        counts[0] = total
        show()
        return result, []

    show()
    if processes < 2 or total < 2:
        return alone()
    with POOL.lock:
        workers = POOL.get(state, processes - 1)
        bounds = _bounds(total, len(workers) + 1, cost)
        workers = workers[: len(bounds) - 2]
        if not workers:
            return alone()
        spans = list(zip(bounds[1:-1], bounds[2:], strict=True))
        unread: list[Worker] = []
        try:
            for worker, (lo, hi) in zip(workers, spans, strict=True):
                try:
                    worker.send(work, items[lo:hi], args)
                    unread.append(worker)
                except WorkerError:
                    pass
            sent = [(k, w) for k, w in enumerate(workers, start=1) if w in unread]
            own = local(state, items[: bounds[1]], ticker(0, sent), *args)
            counts[0] = bounds[1]
            show()
            others: list[_R] = []
            for k, (worker, (lo, hi)) in enumerate(zip(workers, spans, strict=True), start=1):
                reply: list[_R] = []
                if worker in unread:
                    try:
                        reply = [worker.receive(ticker(k))]
                    except WorkerError:
                        pass
                    unread.remove(worker)
                if not reply:
                    POOL.discard([worker])
                    counts[k] = 0
                    reply = [work(state, items[lo:hi], ticker(k), *args)]
                counts[k] = hi - lo
                show()
                others += reply
        except BaseException:
            POOL.discard(unread)  # their replies would come to the next batch
            raise
    return own, others


def _bounds(total: int, parts: int, cost: Sequence[int] | None) -> list[int]:
    """Cuts of ``total`` items into at most ``parts`` contiguous shares of equal cost, each
    of one item at least, however costly the last items are: [0, ..., total]."""
    ends: list[int] = []
    running = 0
    for c in cost if cost is not None else [1] * total:
        running += c
        ends.append(running)
    per = running / parts
    cuts, k = [], 0
    for p in range(1, parts):
        while k < total and ends[k] < per * p:  # first item whose end reaches the cut
            k += 1
        cuts.append(min(k + 1, total - 1))
    return sorted({0, *cuts, total})


SMALL = 64  # fewer items than this: not worth touching the collector


@contextmanager
def paused(size: int = SMALL) -> Iterator[None]:
    """No cyclic garbage collection for the duration, when ``size`` items are coming.

    What a batch makes (decisions, token lists) holds no reference cycles, yet making so
    many objects runs the collector again and again over everything alive: a fifth of the
    time of a batch. Nested pauses leave it to the outermost. The switch is process-wide,
    so other threads run without the collector meanwhile; that delays only cyclic garbage.
    """
    if size < SMALL or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
