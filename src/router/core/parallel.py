"""Forked worker processes kept warm between batches.

Splitting a batch over processes pays, on every call, for forking and for the page copies a
fresh child makes as it writes to memory it shares with its parent: about a tenth of the
time of routing 5,000 proposals on two cores. A worker kept between calls pays that once.

A worker is forked holding the function it runs, so nothing it needs (a loaded model, say)
is pickled; only each call's input and output pass through its pipe. Workers are daemonic:
they end with their parent.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any, TypeVar

_T = TypeVar("_T")


def can_fork() -> bool:
    """Fork only where it is safe: a platform that has it and a process with one thread."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


class WorkerError(RuntimeError):
    """The worker died or its function raised; the caller can do the work itself."""


class Worker:
    """One forked process running ``fn`` on each payload sent to it, in order."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, theirs = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(fn, theirs, self._conn), daemon=True)
        self.process.start()
        theirs.close()

    def send(self, payload: Any) -> None:
        try:
            self._conn.send(payload)
        except Exception as exc:  # gone, or a payload that cannot be pickled
            raise WorkerError(f"worker {self.process.pid} cannot take the work: {exc}") from exc

    def receive(self) -> Any:
        try:
            ok, value = self._conn.recv()
        except (OSError, EOFError, ValueError) as exc:
            raise WorkerError(f"worker {self.process.pid} is gone: {exc}") from exc
        if not ok:
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


def run_forked(work: Callable[[], _T]) -> Callable[[], _T | None]:
    """Start ``work`` in a forked worker; the returned function waits for its result.

    It gives None when the worker did not deliver (killed, or failed): the caller then does
    the work itself, so that an error shows as it would have without the fork.
    """
    worker = Worker(lambda _payload: work())
    try:
        worker.send(None)
    except WorkerError:
        worker.close()
        return lambda: None

    def wait() -> _T | None:
        try:
            result: _T = worker.receive()
            return result
        except WorkerError:
            return None
        finally:
            worker.close()

    return wait


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

    def get(self, owner: object, count: int, fn: Callable[[Any], Any]) -> list[Worker]:
        """``count`` live workers for ``owner``: the ones kept, or new ones running ``fn``."""
        keep = [w for w in self._workers if w.alive()] if self._owner is owner else []
        self.discard(w for w in self._workers if w not in keep)
        keep += [Worker(fn) for _ in range(count - len(keep))]
        self._owner, self._workers = owner, keep
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


def _serve(fn: Callable[[Any], Any], conn: Connection, parent_end: Connection) -> None:
    parent_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which ends us
    while True:
        try:
            payload = conn.recv()
        except BaseException:  # the parent closed the pipe or is gone
            return
        try:
            reply = (True, fn(payload))
        except Exception as exc:  # reported to the caller, who can redo the work itself
            reply = (False, f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except BaseException:
            return


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
