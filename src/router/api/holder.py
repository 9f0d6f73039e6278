"""The serving model, kept in one place so that it can be swapped while the app runs.

Handlers read ``holder.current`` once per request and use that snapshot throughout; a reload
builds a new :class:`Serving` and stores it with :meth:`RouterHolder.swap`, a single attribute
assignment, so readers never take a lock and never see half a model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
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


class RouterHolder:
    def __init__(self, serving: Serving) -> None:
        self._current = serving
        self._loading = threading.Lock()  # one load at a time; readers never wait on it
        self._failed: str | None = None  # a promoted version that would not load: not retried

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
        if current is None or current in (self._current.router.version, self._failed):
            return False
        try:
            before, after = self.reload(settings, current)
        except Exception:
            self._failed = current
            raise
        return before != after
