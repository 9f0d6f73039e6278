"""Password hashing: secure by default, cheap only in the test suite, portable across costs."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type
from argon2.profiles import RFC_9106_LOW_MEMORY
from pydantic import ValidationError

from router.db import make_engine, make_sessionmaker
from router.ledger import accounts
from router.settings import Settings, get_settings

PASSWORD = "correct-horse-battery"
COST = ("ROUTER_PASSWORD_TIME_COST", "ROUTER_PASSWORD_MEMORY_KIB", "ROUTER_PASSWORD_PARALLELISM")


@pytest.fixture()
def production(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a server without the suite's ROUTER_PASSWORD_* gets them."""
    for name in COST:
        monkeypatch.delenv(name)
    return get_settings({})


def test_production_defaults_are_rfc_9106_argon2id(production: Settings) -> None:
    hasher = accounts.password_hasher(production)
    assert hasher.type is Type.ID
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost,
        RFC_9106_LOW_MEMORY.memory_cost,
        RFC_9106_LOW_MEMORY.parallelism,
    )
    assert hasher.memory_cost >= 65536 and hasher.time_cost >= 3


def test_the_cost_comes_from_the_environment() -> None:
    env = {
        "ROUTER_PASSWORD_TIME_COST": "2",
        "ROUTER_PASSWORD_MEMORY_KIB": "1024",
        "ROUTER_PASSWORD_PARALLELISM": "2",
    }
    hasher = accounts.password_hasher(get_settings(env))
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (2, 1024, 2)
    with pytest.raises(ValidationError, match="8 倍"):
        get_settings({"ROUTER_PASSWORD_MEMORY_KIB": "8", "ROUTER_PASSWORD_PARALLELISM": "2"})


def test_the_suite_runs_cheap() -> None:
    """conftest.py lowers the cost for the whole run; this says so if it stops working."""
    assert accounts._hasher().time_cost == 1 and accounts._hasher().memory_cost == 8


def test_hashes_verify_across_costs(production: Settings) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    secure = accounts.password_hasher(production)
    made_cheap, made_secure = cheap.hash(PASSWORD), secure.hash(PASSWORD)
    assert "m=8,t=1,p=1" in made_cheap and "m=65536,t=3,p=4" in made_secure
    assert secure.verify(made_cheap, PASSWORD) and cheap.verify(made_secure, PASSWORD)
    assert secure.check_needs_rehash(made_cheap) and not secure.check_needs_rehash(made_secure)


def test_a_login_rehashes_a_cheap_hash_at_the_production_cost(
    sqlite_url: str, production: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap = accounts._hasher()
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as db:
            accounts.add_user(db, "王督查", "分办人员", password=PASSWORD, actor="测试")
            db.commit()
            assert "m=8,t=1,p=1" in accounts.get_user(db, "王督查").password_hash
        secure = accounts.password_hasher(production)
        monkeypatch.setattr(accounts, "_hasher", lambda: secure)
        with sessions() as db:
            assert accounts.authenticate(db, "王督查", "wrong-password-1") is None
            user = accounts.authenticate(db, "王督查", PASSWORD)
            assert user is not None
            assert "m=65536,t=3,p=4" in user.password_hash
            assert not secure.check_needs_rehash(user.password_hash)
            db.commit()
        monkeypatch.setattr(accounts, "_hasher", lambda: cheap)
        with sessions() as db:  # and back: the secure hash verifies at the suite's cost
            user = accounts.authenticate(db, "王督查", PASSWORD)
            assert user is not None and "m=8,t=1,p=1" in user.password_hash
    finally:
        engine.dispose()
