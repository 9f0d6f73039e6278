"""The serving model, kept in one place so that it can be swapped while the app runs.

Handlers read ``holder.current`` once per request and use that snapshot throughout; a reload
builds a new :class:`Serving` and stores it with :meth:`RouterHolder.swap`, a single attribute
assignment, so readers never take a lock and never see half a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from router.registry import Registry
from router.routing import Router
from router.serving import load_router
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

    @property
    def current(self) -> Serving:
        return self._current

    def swap(self, serving: Serving) -> Serving:
        """Serve ``serving`` from the next request on; returns the one it replaces."""
        previous, self._current = self._current, serving
        return previous
