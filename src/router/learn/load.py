"""Getting a ready :class:`~router.core.routing.Router`: load the serving model, train one if none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from router.core.local import LocalJurisdiction
from router.core.routing import Router, Thresholds
from router.core.rules import load_rules
from router.core.text import init as init_text
from router.labels import load_labels
from router.learn.registry import Registry
from router.settings import Settings


def ensure_model(settings: Settings, say: Callable[[str], None] = lambda _m: None) -> str:
    """The serving version; when the registry is empty, train one from data/ and say so."""
    registry = Registry(settings.models_path)
    current = registry.current()
    if current is not None:
        return current
    say(f"注册表 {settings.models_path} 中还没有模型，正在用 {settings.corpus} 训练默认模型……")
    from router.learn.train import (
        train,  # scikit-learn and pandas: only when there is training to do
    )

    result = train(settings, cv=False, say=say)
    say(f"已训练并启用模型 {result.version}。")
    return result.version


def load_router(
    settings: Settings, version: str | None = None, say: Callable[[str], None] = lambda _m: None
) -> Router:
    init_text()
    if version is None:
        version = ensure_model(settings, say)
    loaded = Registry(settings.models_path).load(version)
    return Router(
        loaded.model.scorer,
        loaded.version,
        load_rules(),
        load_labels(),
        thresholds_for(settings, loaded.metadata),
        LocalJurisdiction(settings.local_jurisdiction_path),
    )


def thresholds_for(settings: Settings, metadata: dict[str, Any]) -> Thresholds:
    """The settings' thresholds, with those a calibration on the ledger refitted for this
    version (``metadata["calibration"]["thresholds"]``) in their place."""
    base = Thresholds.from_settings(settings)
    refitted = (metadata.get("calibration") or {}).get("thresholds") or {}
    if not refitted:
        return base
    return replace(
        base,
        review_confidence=float(refitted.get("review_confidence", base.review_confidence)),
        bulk_confidence=float(refitted.get("bulk_confidence", base.bulk_confidence)),
    )
