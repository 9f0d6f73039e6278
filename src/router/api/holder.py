"""The serving model, kept in one place so that it can be swapped while the app runs.

Handlers read ``holder.current`` once per request and use that snapshot throughout; a reload
builds a new :class:`Serving` and stores it with :meth:`RouterHolder.swap`, a single attribute
assignment, so readers never take a lock and never see half a model.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from router.core.routing import Router
from router.learn.load import load_router
from router.learn.registry import Registry
from router.settings import Settings


@dataclass(frozen=True)
class Serving:
    router: Router
    metadata: dict[str, Any]
    metrics: dict[str, Any]
    loaded_at: datetime


def load_serving(settings: Settings, version: str | None = None) -> Serving:
    """Load (or, with an empty registry, train) the serving model and its registry record."""
    router = load_router(settings, version)
    registry = Registry(settings.models_path)
    return Serving(
        router,
        registry.metadata(router.version),
        registry.metrics(router.version),
        datetime.now(UTC),
    )


RELOAD_SIGNAL = ".reload"  # in models/: rewritten by /admin/reload so that every worker follows
POLL_SECONDS = 0.5  # a request looks at models/current and the signal at most this often


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _folder_stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when a version's files are repaired or replaced."""
    try:
        return tuple(
            sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir())
        )
    except OSError:
        return ()


def announce_reload(settings: Settings) -> None:
    """Tell every worker (every process serving from this models/ folder) to look again."""
    folder = settings.models_path
    tmp = folder / f"{RELOAD_SIGNAL}.{os.getpid()}.tmp"
    try:
        tmp.write_text(uuid.uuid4().hex + "\n", encoding="utf-8")
        os.replace(tmp, folder / RELOAD_SIGNAL)
    except OSError:
        tmp.unlink(missing_ok=True)


class RouterHolder:
    """The serving model of one process.

    Every worker process has its own; they all follow ``models/current``: a watcher task
    every ``ROUTER_MODEL_WATCH_SECONDS``, and requests themselves, which look at the pointer
    and at the reload signal (``models/.reload``, rewritten by ``/admin/reload`` in whichever
    worker got it) at most every half second and start a load in the background when either
    has changed. A version that failed to load is tried again once its files change (it was
    repaired) or a reload is asked for.
    """

    def __init__(self, serving: Serving) -> None:
        self._current = serving
        self._loading = threading.Lock()  # one load at a time; readers never wait on it
        # a promoted version that would not load, and its files then: retried when they change
        self._failed: tuple[str, tuple[tuple[str, int, int], ...]] | None = None
        self._seen: tuple[object, object] | None = None
        self._next_poll = 0.0
        self._poll_lock = threading.Lock()

    @property
    def current(self) -> Serving:
        return self._current

    def swap(self, serving: Serving) -> Serving:
        """Serve ``serving`` from the next request on; returns the one it replaces."""
        previous, self._current = self._current, serving
        return previous

    def reload(self, settings: Settings, version: str | None = None) -> tuple[str, str]:
        """Load ``version`` (default: what ``models/current`` names) beside the serving model
        and swap it in whole. Returns (previous, now serving); a failed load changes nothing.
        """
        with self._loading:
            target = version or Registry(settings.models_path).current()
            previous = self._current.router.version
            if target is None or target == previous:
                return previous, previous
            self.swap(load_serving(settings, target))
            return previous, target

    def follow_pointer(self, settings: Settings) -> bool:
        """Swap in the promoted version if ``models/current`` has moved; True if it did."""
        current = Registry(settings.models_path).current()
        if current is None or current == self._current.router.version:
            return False
        stamp = _folder_stamp(settings.models_path / current)
        if self._failed == (current, stamp):
            return False  # failed as it is; tried again once repaired
        try:
            before, after = self.reload(settings, current)
        except Exception:
            self._failed = (current, stamp)
            raise
        self._failed = None
        return before != after

    def forget_failures(self) -> None:
        self._failed = None

    def poll(self, settings: Settings) -> None:
        """Cheap, called by requests: when the pointer or the reload signal has changed since
        last seen, follow the pointer on a background thread (this request is not held up).
        With ``ROUTER_MODEL_WATCH_SECONDS=0`` only the reload signal is followed."""
        now = time.monotonic()
        if now < self._next_poll or not self._poll_lock.acquire(blocking=False):
            return
        try:
            self._next_poll = now + POLL_SECONDS
            folder = settings.models_path
            seen = (_stamp(folder / "current"), _stamp(folder / RELOAD_SIGNAL))
            failed = self._failed
            if seen == self._seen and (
                failed is None or _folder_stamp(folder / failed[0]) == failed[1]
            ):
                return  # nothing moved, and a failed version is as it was
            signalled = self._seen is not None and seen[1] != self._seen[1]
            self._seen = seen
            if signalled:
                self.forget_failures()
            elif settings.model_watch_seconds <= 0:
                return  # not following promotions by itself: only an explicit reload
            threading.Thread(target=self._follow_quietly, args=(settings,), daemon=True).start()
        finally:
            self._poll_lock.release()

    def _follow_quietly(self, settings: Settings) -> None:
        import logging

        try:
            if self.follow_pointer(settings):
                logging.getLogger("router.api").info(
                    "now serving model %s", self._current.router.version
                )
        except Exception:  # the old model serves; the watcher logs and retries on repair
            logging.getLogger("router.api").warning(
                "could not load the promoted model; keeping %s",
                self._current.router.version,
                exc_info=True,
            )
