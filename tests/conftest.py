"""Shared fixtures: the corpus, and a model trained on it once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from router.dataset import load_corpus
from router.routing import Router
from router.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus" / "proposals.csv"


def require_or_skip(reason: str) -> None:
    """Skip, except in CI (ROUTER_TEST_REQUIRE_ALL=1), where a missing dependency must fail."""
    if os.environ.get("ROUTER_TEST_REQUIRE_ALL") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def corpus() -> pd.DataFrame:
    return load_corpus(CORPUS)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project home whose registry holds one model trained on the shipped corpus."""
    from router.train import train

    home = tmp_path_factory.mktemp("home")
    settings = get_settings({}, home=home, corpus_path=CORPUS)
    train(settings, cv=False)
    return home


@pytest.fixture(scope="session")
def settings(trained_home: Path) -> Settings:
    return get_settings({}, home=trained_home, corpus_path=CORPUS)


@pytest.fixture(scope="session")
def router(settings: Settings) -> Router:
    from router.serving import load_router

    return load_router(settings)


@pytest.fixture()
def fresh_home(tmp_path: Path) -> Iterator[Settings]:
    """An empty home (no models yet) that still reads the shipped corpus."""
    yield get_settings({}, home=tmp_path, corpus_path=CORPUS)
