"""The HTTP service: routing API, ledger API and the dispatcher's page."""

from router.api.app import API_PREFIX, ConfigError, create_app
from router.api.holder import RouterHolder, Serving, load_serving

__all__ = ["API_PREFIX", "ConfigError", "RouterHolder", "Serving", "create_app", "load_serving"]
