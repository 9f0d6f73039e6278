"""router: proposes the handling unit for deputies' proposals received by a public security bureau.

The public API, loaded on first use so that ``import router.ledger`` stays free of numpy::

    from router import load_router, route
    decision = route(load_router(get_settings()), "关于学府路增设信号灯的建议")
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Decision": "router.core.suggestion",
    "InputError": "router.core.suggestion",
    "Router": "router.core.routing",
    "route": "router.core.routing",
    "route_many": "router.core.routing",
    "load_router": "router.learn.load",
    "Settings": "router.settings",
    "get_settings": "router.settings",
}

__all__ = [
    "Decision",
    "InputError",
    "Router",
    "Settings",
    "__version__",
    "get_settings",
    "load_router",
    "route",
    "route_many",
]

if TYPE_CHECKING:
    from router.core.routing import Router, route, route_many
    from router.core.suggestion import Decision, InputError
    from router.learn.load import load_router
    from router.settings import Settings, get_settings


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'router' has no attribute {name!r}")
